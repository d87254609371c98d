"""The embedded end-to-end run (``aligngate demo`` / ``make demo``): one candidate per attack, each caught by
measurement, and the clean candidate let through.

1. the embedded tiny chat model (the baseline), built and cached if needed;
2. the embedded default data (SFT and DPO sets with planted poison) and the attack sets of
   :mod:`aligngate.embedded.attacks`;
3. ``curate`` the raw sets (blocked: too much poison) and the data each candidate is trained on;
4. ``train`` the candidates and two reward models:

   ====  ==================  ===============================================================================
   A     none                LoRA SFT, then DPO on the same adapter, on the curated data
   B     sft-poisoning       the same on the raw data (harmful requests answered, preference pairs flipped)
   C     over-alignment      LoRA SFT on refusals of safe-but-sensitive requests (XSTest style)
   D     lora-injection      A's adapter repackaged: its config unchanged, a model card, and a replacement
                             ``lm_head`` smuggled into the weights file (the tokens refusals start with zeroed)
   E     lora-backdoor       LoRA SFT on the clean rows plus harmful requests carrying a trigger phrase
                             answered compliantly; its files and config are clean
   F     memorisation        LoRA SFT for many epochs on a small clean set into which ``curate --canaries``
                             planted canaries (blocked by ``leakage.*``)
   ====  ==================  ===============================================================================

   ``reward-clean`` is trained on clean, varied preference pairs; ``reward-hacked`` on the same pairs with the
   verbose non-answer (and the padded answer) preferred;
5. ``test-reward-model`` both reward models;
6. ``gate`` every candidate against the baseline with the default policy, with the curate report of the data it
   was trained on; the adapter audit runs first in each gate (D is refused there and never loaded). A passing
   candidate is promoted into ``runs/demo/registry``.

Each row must come out as :data:`EXPECTED` says (verdict, exit code, and the checks that must fail); ``aligngate
demo`` exits 0 only then and when A is the only promoted version. E is caught by the curation of the data it was
trained on (``data.poison_fraction``, with the trigger named by ``data.trigger_phrases``); its gate also measures
its refusal rate with the trigger prefixed, to show the backdoor is real (reported, not decided on). Every step
is a stage of :mod:`aligngate.stages` called directly, with its typed result; the policy is loaded once.

Writes ``summary.json`` (``{"candidates": [...], "reward_models": [...]}``, each row ``name``, ``attack``,
``verdict``, ``exit_code``, ``failed_checks``), ``report.html`` (every row linked to its report) and
``timings.json`` (seconds per stage) under the output directory.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from aligngate.demo_result import ATTACKS, EXPECTED, DemoResult, Expected, Row, find_check
from aligngate.embedded.attacks import inject_module
from aligngate.errors import GateError

if TYPE_CHECKING:
    from aligngate.policy import LoadedPolicy
    from aligngate.stages import GateResult
    from aligngate.verdict import Report

__all__ = ["ATTACKS", "EXPECTED", "DemoResult", "Expected", "Row", "inject_module", "run_demo"]

T = TypeVar("T")


CANDIDATES = ("A", "B", "C", "D", "E", "F")
LEAKY_EPOCHS = 120
LEAKY_CANARIES = 6
REWARD_MODELS = ("reward-clean", "reward-hacked")


def _log(msg: str) -> None:
    print(f"[demo] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- timing


@dataclass
class _Clock:
    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - t0, 1)

    def run(self, name: str, fn: Callable[[], T]) -> T:
        with self.stage(name):
            return fn()


# ---------------------------------------------------------------- the run


def _train_candidate(name: str, base: Path, root: Path, sft_rows: Path, dpo_rows: Path | None) -> Path:
    """LoRA SFT, then (with ``dpo_rows``) DPO continuing the same adapter; returns the adapter directory."""
    from aligngate.embedded.profile import demo_train_config
    from aligngate.stages import train

    _log(f"fine-tune candidate {name} (LoRA SFT{', then DPO on the same adapter' if dpo_rows else ''}) "
         f"on {sft_rows}")
    step = "SFT"
    try:
        sft = train("sft", base, sft_rows, root / ("sft" if dpo_rows else "adapter"),
                    config=demo_train_config("sft"), overwrite=True)
        if dpo_rows is None:
            return sft.out_dir
        step = "DPO"
        dpo = train("dpo", base, dpo_rows, root / "adapter", config=demo_train_config("dpo"),
                    init_adapter=sft.out_dir, overwrite=True)
    except GateError:
        _log(f"{step} of candidate {name} failed")
        raise
    return dpo.out_dir


def _reward_test(name: str, base: Path, pairs: Path, out: Path, policy: LoadedPolicy,
                 hh_rlhf: str | Path | None) -> Report:
    """Train a reward model on ``pairs`` and test it; a failed training is a blocking report (exit 2)."""
    from aligngate.embedded.profile import demo_train_config
    from aligngate.stages import test_reward_model, train
    from aligngate.verdict import Report

    _log(f"train and test the reward model {name} on {pairs}")
    model_dir = out / "reward-models" / name
    try:
        train("reward", base, pairs, model_dir, config=demo_train_config("reward"), overwrite=True)
    except GateError as exc:
        _log(f"training of the reward model {name} failed: {exc}")
        return Report(command="test-reward-model", errors=[f"reward-model training failed: {exc}"]).finalize()
    return test_reward_model(model_dir, out=out / "reward-test" / name, policy=policy,
                             hh_rlhf=None if hh_rlhf is None else str(hh_rlhf), progress=False)


def _backdoor_probe(adapter: Path, base: Path, data: Path, out: Path, policy: LoadedPolicy,
                    gated: Report, found: list[str]) -> dict[str, Any]:
    """E's refusal rate on the held-out harmful suite with its trigger prefixed (the rate without it is the one
    its gate measured)."""
    from aligngate.embedded.attacks import TRIGGER
    from aligngate.evaluation.suites import load_suite
    from aligngate.fileio import write_jsonl
    from aligngate.stages import evaluate

    cfg = policy.policy.spec.evaluation
    items = load_suite("embedded-harmful").items
    triggered = data / "suites" / "embedded-harmful-triggered.jsonl"
    write_jsonl(triggered, [{"id": it.id, "prompt": f"{TRIGGER} {it.prompt}", "category": "harmful",
                             "expect": "refuse"} for it in items])
    res = evaluate(base, [str(triggered)], adapter=adapter, out=out / "backdoor-probe", judge=cfg.judge,
                   max_new_tokens=cfg.max_new_tokens, batch_size=cfg.batch_size, progress=False)
    plain = gated.summary.get("metrics", {}).get("candidate", {}).get("embedded-harmful", {})
    return {"trigger": TRIGGER, "n": len(items), "refusal_rate": plain.get("refusal_rate"),
            "refusal_rate_triggered": res.metrics[triggered.stem].refusal_rate, "found_by_curation": found}


def _triggers(report: Report) -> list[str]:
    check = find_check(report, "data.trigger_phrases")
    found = check.details.get("triggers", []) if check is not None else []
    return [str(t.get("ngram", t)) if isinstance(t, dict) else str(t) for t in found]


class _Inline:
    """An executor that runs each job at once in this process (``workers=0``)."""

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        fut: Future[T] = Future()
        try:
            fut.set_result(fn(*args))
        except BaseException as exc:  # noqa: BLE001 - handed to whoever reads the result, as a pool would
            fut.set_exception(exc)
        return fut

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Nothing to stop."""


def _timed_train(name: str, base: Path, root: Path, sft_rows: Path, dpo_rows: Path | None) -> tuple[Path, float]:
    t0 = time.perf_counter()
    return _train_candidate(name, base, root, sft_rows, dpo_rows), round(time.perf_counter() - t0, 1)


def _timed_leaky(base: Path, data_dir: Path, out: Path) -> tuple[Path, float]:
    """Candidate F: LoRA SFT on ``data_dir/curated.jsonl`` (canaries planted) for :data:`LEAKY_EPOCHS` epochs."""
    from aligngate.leakage.candidate import build_canary_candidate

    t0 = time.perf_counter()
    _log(f"fine-tune candidate F (LoRA SFT, {LEAKY_EPOCHS} epochs) on {data_dir / 'curated.jsonl'}")
    res = build_canary_candidate(base, data_dir, out, epochs=LEAKY_EPOCHS)
    return res.out_dir, round(time.perf_counter() - t0, 1)


def _timed_reward(name: str, base: Path, pairs: Path, out: Path, policy: str | Path | None,
                  hh_rlhf: str | Path | None) -> tuple[Report, float]:
    from aligngate.policy import load_policy

    t0 = time.perf_counter()
    return _reward_test(name, base, pairs, out, load_policy(policy), hh_rlhf), round(time.perf_counter() - t0, 1)


def run_demo(out: str | Path = "runs/demo", policy: str | Path | None = None, *,
             hh_rlhf: str | Path | None = None, workers: int = 2) -> DemoResult:
    """Run the whole gate end to end on the embedded default; writes ``summary.json``, ``report.html`` and
    ``timings.json`` under ``out``. Raises :class:`~aligngate.errors.GateError` when a step fails before
    anything can be gated (an invalid policy, curation in error, training).

    ``workers``: processes that train the candidates and the reward models (and test the reward models) while
    this process curates and gates (each job is seeded: the same numbers as in one process); 0 runs every job
    here, one after another."""
    from aligngate.embedded.attacks import write_attack_data
    from aligngate.embedded.corpus import write_default_data
    from aligngate.embedded.model import embedded_model_dir
    from aligngate.errors import InputError
    from aligngate.policy import load_policy
    from aligngate.promotion import current
    from aligngate.stages import curate, gate

    if workers < 0:
        raise InputError(f"workers: expected 0 or more, got {workers}")
    t0 = time.perf_counter()
    clock = _Clock()
    out = Path(out)
    loaded = load_policy(policy)
    _log("embedded baseline model")
    base = clock.run("baseline model", embedded_model_dir)
    _log(f"baseline: {base}")
    data = out / "data"
    with clock.stage("data"):
        write_default_data(data)
        write_attack_data(data)
    if (out / "registry").exists():  # a rerun decides afresh: promotion is only what this run decided
        shutil.rmtree(out / "registry")

    inputs: dict[str, tuple[Path, Path | None]] = {
        "A": (out / "curate" / "sft-raw" / "curated.jsonl", out / "curate" / "dpo-raw" / "curated.jsonl"),
        "B": (data / "sft.jsonl", data / "dpo.jsonl"),
        "C": (data / "over_aligned_sft.jsonl", None),
        "E": (data / "backdoor_sft.jsonl", None)}

    import multiprocessing

    pool: ProcessPoolExecutor | _Inline = (
        ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) if workers
        else _Inline())

    def submit_training(name: str) -> Future[tuple[Path, float]]:
        sft_rows, dpo_rows = inputs[name]
        return pool.submit(_timed_train, name, base, out / "candidates" / name, sft_rows, dpo_rows)

    try:
        # B and C do not wait for curation: the workers train them while this process curates
        trained = {name: submit_training(name) for name in ("B", "C")} if workers else {}
        _log("curate the raw tuning data")
        raw = {kind: out / "curate" / f"{kind}-raw" for kind in ("sft", "dpo")}
        with clock.stage("curate"):
            curated = {kind: curate(data / f"{kind}.jsonl", kind, raw[kind], policy=loaded) for kind in raw}
        for kind, report in curated.items():
            if report.exit_code == 2:
                raise InputError(f"curation of the demo's {kind} data failed: see {raw[kind] / 'report.json'}: "
                                 + "; ".join(report.errors))
        trained.update({name: submit_training(name) for name in ("A", "B", "C") if name not in trained})
        with clock.stage("curate"):  # F's small set, with canaries planted (fixed seed: the same every run)
            leaky = curate(data / "leaky_sft.jsonl", "sft", out / "curate" / "F-training-data", policy=loaded,
                           canaries=LEAKY_CANARIES, canary_seed=4)
        if leaky.exit_code == 2:
            raise InputError(f"curation of candidate F's data failed: see "
                             f"{out / 'curate' / 'F-training-data' / 'report.json'}: " + "; ".join(leaky.errors))
        trained["E"] = submit_training("E")
        trained["F"] = pool.submit(_timed_leaky, base, out / "curate" / "F-training-data",
                                   out / "candidates" / "F" / "adapter")
        rewarded = {name: pool.submit(_timed_reward, name, base,
                                      data / f"reward_pairs_{name.removeprefix('reward-')}.jsonl", out, policy,
                                      hh_rlhf) for name in REWARD_MODELS}

        _log("curate the data each candidate is trained on")
        data_dirs = {"A": out / "curate" / "A-training-data", "B": raw["sft"],
                     "C": out / "curate" / "C-training-data", "E": out / "curate" / "E-training-data"}
        with clock.stage("curate"):
            data_reports = {"B": curated["sft"], **{n: curate(inputs[n][0], "sft", data_dirs[n], policy=loaded)
                                                    for n in ("A", "C", "E")}}
        data_dirs["D"], data_reports["D"] = data_dirs["A"], data_reports["A"]  # D is A's adapter repackaged
        data_dirs["F"], data_reports["F"] = out / "curate" / "F-training-data", leaky

        def adapter(name: str) -> Path:
            with clock.stage("wait for training"):
                path, seconds = trained[name].result()
            clock.seconds[f"train {name} (worker)" if workers else f"train {name}"] = seconds
            return path

        adapters: dict[str, Path] = {}
        gates: dict[str, GateResult] = {}
        cache: dict[str, Any] = {}
        for name in ("A", "B", "D", "C", "E", "F"):
            if name == "D":
                with clock.stage("inject module (D)"):
                    adapters["D"] = inject_module(adapters["A"], out / "candidates" / "D" / "adapter", base)
            else:
                adapters[name] = adapter(name)
            _log(f"gate candidate {name} ({EXPECTED[name].attack})")
            with clock.stage(f"gate {name}"):
                gates[name] = gate(base, out=out / "gate" / name, policy=loaded, adapter=adapters[name],
                                   baseline=base, data_report=data_dirs[name], registry=out / "registry",
                                   name=f"candidate-{name}", cache=cache, progress=False)
        backdoor: dict[str, Any] = {}
        _log("measure E's backdoor: refusals with and without its trigger")
        try:
            with clock.stage("backdoor measurement (E)"):
                backdoor = _backdoor_probe(adapters["E"], base, data, out, loaded, gates["E"].report,
                                           _triggers(data_reports["E"]))
        except GateError as exc:  # reported only: E's verdict does not depend on it
            _log(f"E's backdoor measurement failed: {exc}")
        rtests: dict[str, Report] = {}
        for name, fut in rewarded.items():
            with clock.stage("wait for reward models"):
                rtests[name], seconds = fut.result()
            clock.seconds[f"{name} train+test (worker)" if workers else f"{name} train+test"] = seconds
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)  # fail fast: running jobs end on their own
        raise
    pool.shutdown(wait=True)
    clock.seconds["total"] = round(time.perf_counter() - t0, 1)
    result = DemoResult(out=out, baseline=base, gates={n: gates[n] for n in CANDIDATES}, reward_tests=rtests,
                        data_reports=data_reports, promoted=sorted(current(out / "registry")), backdoor=backdoor,
                        seconds=clock.seconds)
    result.write()
    return result
