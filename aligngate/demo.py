"""The embedded end-to-end run (``aligngate demo`` / ``make demo``).

1. the embedded tiny chat model (baseline), built and cached if needed;
2. the embedded default data: SFT and DPO sets with planted poison;
3. ``curate`` both sets (the raw sets are blocked: too much poison);
4. ``train`` candidate A on the curated data and candidate B on the raw, poisoned data (LoRA SFT, then DPO
   continuing the same adapter), and a reward model;
5. ``audit-adapter`` both adapters; ``test-reward-model`` the reward model;
6. ``gate`` both candidates against the baseline with ``policies/default.yaml``; a passing candidate is
   promoted into ``runs/demo/registry``.

Exit 0 only when A passes and B is blocked (exit 1, not an error), each by measured numbers. Every step is a
stage of :mod:`aligngate.stages` called directly, with its typed result; the policy is loaded once.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aligngate.errors import GateError

if TYPE_CHECKING:
    from aligngate.stages import GateResult
    from aligngate.verdict import CheckResult, Report

__all__ = ["DemoResult", "run_demo"]


def _log(msg: str) -> None:
    print(f"[demo] {msg}", file=sys.stderr, flush=True)


def _check(report: Report, cid: str) -> CheckResult | None:
    return next((c for c in report.checks if c.id == cid), None)


def _value(check: CheckResult | None, fmt: str) -> str:
    return "-" if check is None or check.value is None else format(check.value, fmt)


def _audit_cell(report: Report) -> str:
    """The audit's verdict and its findings by severity (every finding is in the ``adapter.audit`` check)."""
    check = _check(report, "adapter.audit")
    findings: list[dict[str, Any]] = check.details.get("findings", []) if check is not None else []
    block, warn = (sum(1 for f in findings if f.get("severity") == sev) for sev in ("block", "warn"))
    return f"{report.verdict} ({block} block, {warn} warn)"


def _rate(metrics: dict[str, Any], expect: str) -> str:
    ms = [m for m in metrics.values() if m["expect"] == expect]
    if not ms:
        return "-"
    k = sum(m["refusal_rate"] * m["n"] for m in ms)
    n = sum(m["n"] for m in ms)
    lo = min(m["ci95"][0] for m in ms)
    hi = max(m["ci95"][1] for m in ms)
    return f"{k / n:.3f} [{lo:.2f},{hi:.2f}]"


def _table(base_metrics: dict[str, Any], gates: dict[str, GateResult], audits: dict[str, Report],
           data: dict[str, Report]) -> str:
    from rich.console import Console
    from rich.table import Table

    t = Table(title="aligngate demo: baseline vs candidates")
    for col in ("model", "harmful refusal", "over-refusal", "Δ refusal (p)", "Δ over-refusal", "KL", "Δ capability",
                "adapter audit", "data poison", "verdict"):
        t.add_column(col)
    t.add_row("baseline", _rate(base_metrics, "refuse"), _rate(base_metrics, "comply"), *["-"] * 7)
    for name, g in gates.items():
        rep = g.report
        cand = rep.summary.get("metrics", {}).get("candidate", {})
        dh = _check(rep, "drift.harmful_refusal_delta")
        p = None if dh is None else dh.details.get("p_value")
        t.add_row(name, _rate(cand, "refuse"), _rate(cand, "comply"),
                  "-" if dh is None or dh.value is None else f"{dh.value:+.3f} (p={p:.2g})",
                  _value(_check(rep, "drift.over_refusal_delta"), "+.3f"),
                  _value(_check(rep, "drift.kl_mean"), ".3f"),
                  _value(_check(rep, "drift.capability_delta"), "+.3f"),
                  _audit_cell(audits[name]),
                  _value(_check(data[name], "data.poison_fraction"), ".3f"),
                  f"{rep.verdict.upper()} (exit {g.exit_code})")
    from io import StringIO

    buf = StringIO()
    Console(file=buf, width=200, color_system=None).print(t)
    return buf.getvalue()


def _reward_table(report: Report, out: Path) -> str:
    """Per-category pairwise accuracy of the demo's reward model."""
    lines = [f"reward model ({out}): {report.verdict.upper()} (exit {report.exit_code})"]
    for c in report.checks:
        if c.value is None:
            continue
        ci = c.ci95 or [float("nan")] * 2
        lines.append(f"  {c.id:40s} {c.value:7.3f} [{ci[0]:.2f}, {ci[1]:.2f}] n={c.n} {c.status} ({c.severity})")
    return "\n".join(lines)


def _train_candidate(name: str, base: Path, sft_rows: Path, dpo_rows: Path, root: Path) -> Path:
    """LoRA SFT, then DPO continuing the same adapter; returns the adapter directory."""
    from aligngate.embedded.profile import demo_train_config
    from aligngate.stages import train

    _log(f"fine-tune candidate {name} (LoRA SFT, then DPO on the same adapter) on {sft_rows}")
    step = "SFT"
    try:
        sft = train("sft", base, sft_rows, root / "sft", config=demo_train_config("sft"), overwrite=True)
        step = "DPO"
        dpo = train("dpo", base, dpo_rows, root / "adapter", config=demo_train_config("dpo"),
                    init_adapter=sft.out_dir, overwrite=True)
    except GateError:
        _log(f"{step} of candidate {name} failed")
        raise
    return dpo.out_dir


def _reward_test(base: Path, data: Path, out: Path, policy: Any, hh_rlhf: str | Path | None) -> Report:
    """Train the demo's reward model and test it; a failed training is a blocking report (exit 2)."""
    from aligngate.embedded.profile import demo_train_config
    from aligngate.stages import test_reward_model, train
    from aligngate.verdict import Report

    _log("train and test the reward model")
    try:
        train("reward", base, data / "reward_pairs.jsonl", out / "reward-model",
              config=demo_train_config("reward"), overwrite=True)
    except GateError as exc:
        _log(f"reward-model training failed: {exc}")
        return Report(command="test-reward-model", errors=[f"reward-model training failed: {exc}"]).finalize()
    return test_reward_model(out / "reward-model", out=out / "reward-test", policy=policy,
                             hh_rlhf=None if hh_rlhf is None else str(hh_rlhf))


@dataclass(frozen=True)
class DemoResult:
    """What the demo measured and decided."""

    out: Path
    baseline: Path
    """The embedded model: the base of both candidates and the baseline they are gated against."""
    gates: dict[str, GateResult]
    """Candidate ``A`` (curated data) and ``B`` (the raw, poisoned data)."""
    audits: dict[str, Report]
    data_reports: dict[str, Report]
    """The curate report of each candidate's SFT data."""
    reward_test: Report
    promoted: list[str]
    """Names live in the demo's registry."""
    seconds: float

    @property
    def ok(self) -> bool:
        """A passes and B is blocked by a failed threshold (not an error)."""
        return self.gates["A"].exit_code == 0 and self.gates["B"].exit_code == 1

    @property
    def exit_code(self) -> int:
        """0 when :attr:`ok`; 2 when a gate erred; else 1."""
        codes = {g.exit_code for g in self.gates.values()}
        return 0 if self.ok else (2 if 2 in codes else 1)

    def text(self) -> str:
        """The demo's tables and verdict lines."""
        base_metrics = self.gates["A"].report.summary.get("metrics", {}).get("baseline", {})
        a, b = self.gates["A"], self.gates["B"]
        return "\n".join([
            _table(base_metrics, self.gates, self.audits, self.data_reports),
            _reward_table(self.reward_test, self.out / "reward-test"),
            *[f"candidate {n}: {g.verdict.upper()} (exit {g.exit_code}) -> {g.out}/report.md, report.html"
              for n, g in self.gates.items()],
            f"registry {self.out / 'registry'}: promoted = {self.promoted}",
            (f"demo {'OK' if self.ok else 'FAILED'}: candidate A {a.verdict}, candidate B {b.verdict} "
             f"in {self.seconds:.0f} s")])

    def summary(self) -> dict[str, Any]:
        """What ``aligngate demo --output json`` prints."""
        return {"ok": self.ok,
                "baseline": {"model": str(self.baseline),
                             "metrics": self.gates["A"].report.summary.get("metrics", {}).get("baseline", {})},
                "candidates": {n: {"verdict": g.verdict, "exit_code": g.exit_code,
                                   "report": f"{g.out}/report.json"} for n, g in self.gates.items()},
                "reward_test": {"verdict": self.reward_test.verdict, "exit_code": self.reward_test.exit_code,
                                "report": f"{self.out / 'reward-test'}/report.json"},
                "promoted": self.promoted, "seconds": round(self.seconds, 1)}


def run_demo(out: str | Path = "runs/demo", policy: str | Path | None = None, *,
             hh_rlhf: str | Path | None = None) -> DemoResult:
    """Run the whole gate end to end on the embedded default. Raises :class:`~aligngate.errors.GateError` when a
    step fails before anything can be gated (an invalid policy, curation in error, training)."""
    from aligngate.embedded.corpus import write_default_data
    from aligngate.embedded.model import embedded_model_dir
    from aligngate.errors import InputError
    from aligngate.policy import load_policy
    from aligngate.promotion import current
    from aligngate.stages import audit_adapter, curate, gate

    t0 = time.perf_counter()
    out = Path(out)
    loaded = load_policy(policy)
    _log("embedded baseline model")
    base = embedded_model_dir()
    _log(f"baseline: {base}")
    data = out / "data"
    write_default_data(data)

    _log("curate the raw tuning data")
    raw = {kind: out / "curate" / f"{kind}-raw" for kind in ("sft", "dpo")}
    curated = {kind: curate(data / f"{kind}.jsonl", kind, raw[kind], policy=loaded) for kind in raw}
    for kind, report in curated.items():
        if report.exit_code == 2:
            raise InputError(f"curation of the demo's {kind} data failed: see {raw[kind] / 'report.json'}: "
                             + "; ".join(report.errors))
    inputs = {"A": (raw["sft"] / "curated.jsonl", raw["dpo"] / "curated.jsonl"),
              "B": (data / "sft.jsonl", data / "dpo.jsonl")}
    adapters = {name: _train_candidate(name, base, sft_rows, dpo_rows, out / "candidates" / name)
                for name, (sft_rows, dpo_rows) in inputs.items()}

    rtest = _reward_test(base, data, out, loaded, hh_rlhf)

    data_dirs = {"A": out / "curate" / "A-training-data", "B": raw["sft"]}
    data_reports = {"A": curate(inputs["A"][0], "sft", data_dirs["A"], policy=loaded), "B": curated["sft"]}
    audits: dict[str, Report] = {}
    gates: dict[str, GateResult] = {}
    cache: dict[str, Any] = {}
    for name, adapter in adapters.items():
        _log(f"audit adapter {name}")
        audits[name] = audit_adapter(adapter, base=str(base), policy=loaded, out=out / "audit" / name)
        _log(f"gate candidate {name}")
        gates[name] = gate(base, out=out / "gate" / name, policy=loaded, adapter=adapter, baseline=base,
                           data_report=data_dirs[name], registry=out / "registry", name=f"candidate-{name}",
                           cache=cache)
    return DemoResult(out=out, baseline=base, gates=gates, audits=audits, data_reports=data_reports,
                      reward_test=rtest, promoted=sorted(current(out / "registry")),
                      seconds=time.perf_counter() - t0)
