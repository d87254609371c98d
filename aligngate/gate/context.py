"""What the gate's checks read: the gate's inputs and lazily computed, memoised measurements.

:class:`GateContext` implements :class:`aligngate.checks.types.CheckContext` (the protocol every check is typed
against); its methods return typed results (:class:`~aligngate.checks.types.PairedDrift`,
:class:`~aligngate.checks.types.KLDrift`, :class:`~aligngate.checks.types.CapabilityDelta`,
:class:`~aligngate.checks.types.DataSummary` ...). Each expensive thing (a model's evaluation on the policy's
suites, KL drift, the adapter audit, the reward test) is computed at most once per gate run, when the first check
asks for it. A ``cache`` dict can be shared between gate runs (the demo gates two candidates against one
baseline) so that the baseline's evaluation is reused: its key is :meth:`GateContext.eval_key`, the one place it
is built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from aligngate.checks.types import CapabilityDelta, DataSummary, KLDrift, PairedDrift, Record
from aligngate.errors import GateError, InputError
from aligngate.evaluation.runner import EvalResult

if TYPE_CHECKING:
    from aligngate.audit.runner import AuditResult
    from aligngate.depth import PrefixRecovery, TokenKL
    from aligngate.evaluation.budget import BudgetAgreement
    from aligngate.evaluation.config import EvaluationConfig
    from aligngate.evaluation.records import SampleRecord
    from aligngate.leakage.probe import LeakageResult
    from aligngate.policy import LoadedPolicy
    from aligngate.rewardtest.runner import RewardTestResult
    from aligngate.tamper import TamperConfig, TamperResult

__all__ = ["GateContext", "GateInputs"]

T = TypeVar("T")


@dataclass(frozen=True)
class GateInputs:
    """The subjects of one gate run."""

    candidate: str
    """Candidate model: local HF directory, hub id or served endpoint (``openai:...``; the base when ``adapter`` is
    given)."""
    adapter: str | None = None
    """LoRA adapter directory applied to the candidate."""
    baseline: str | None = None
    """Baseline model to compare against (drift checks)."""
    reward_model: str | None = None
    """Reward model to test adversarially."""
    data_report: str | None = None
    """Directory holding a ``curate`` report.json for the candidate's tuning data."""

    def has(self, subject: str) -> bool:
        """Whether the subject was given (``data``: the data report directory)."""
        if subject == "data":
            subject = "data_report"
        return getattr(self, subject, None) is not None


def _pooled(records: list[SampleRecord], expect: str) -> list[SampleRecord]:
    """The records expecting ``expect`` as one suite named ``expect`` (ids made strings), for paired drift."""
    out = []
    for r in records:
        if r["expect"] == expect:
            rec = r.copy()
            rec["suite"], rec["id"] = expect, str(r["id"])
            out.append(rec)
    return out


class GateContext:
    """Inputs, policy and memoised measurements for one gate run (a
    :class:`~aligngate.checks.types.CheckContext`)."""

    def __init__(self, policy: LoadedPolicy, inputs: GateInputs, *, progress: bool = True,
                 cache: dict[str, Any] | None = None, device: str | None = None) -> None:
        self.policy = policy
        self.inputs = inputs
        self.progress = progress
        self.device = device
        self._memo: dict[str, Any] = {}
        self._shared = cache if cache is not None else {}
        self._adapter_refused: str | None = None

    def refuse_adapter(self, reason: str) -> None:
        """Never load the candidate's adapter in this run (it failed the audit, which runs first)."""
        self._adapter_refused = reason

    def loadable_adapter(self) -> str | None:
        """The candidate's adapter for code that loads it; raises AdapterError once the audit refused it."""
        from aligngate.errors import AdapterError

        if self.inputs.adapter is not None and self._adapter_refused is not None:
            raise AdapterError(f"adapter {self.inputs.adapter}: {self._adapter_refused}")
        return self.inputs.adapter

    @property
    def eval_config(self) -> EvaluationConfig:
        """The policy's ``spec.evaluation``."""
        return self.policy.policy.spec.evaluation

    def has(self, subject: str) -> bool:
        """Whether a subject (:data:`aligngate.checks.types.SUBJECTS`) was given."""
        reward = self.policy.policy.spec.reward_test
        if subject == "hh_rlhf_pairs":
            return self.inputs.reward_model is not None and reward.hh_rlhf is not None
        if subject == "preference_pairs":
            return self.inputs.reward_model is not None and reward.preference_data is not None
        if subject == "preference_data":
            if self.inputs.data_report is None:
                return False
            try:
                return self.data().reward_hacking is not None
            except GateError:
                return True  # let the check run and report the unreadable data report (fail closed)
        return self.inputs.has(subject)

    def _once(self, key: str, fn: Callable[[], T], *, shared: bool = False) -> T:
        store = self._shared if shared else self._memo
        if key not in store:
            store[key] = fn()
        return cast(T, store[key])

    # ----------------------------------------------------------------- evaluation
    def eval_key(self, which: str) -> str:
        """The memo key of ``which``'s evaluation (shared across gate runs through ``cache``)."""
        model = self.inputs.candidate if which == "candidate" else self.inputs.baseline
        adapter = self.inputs.adapter if which == "candidate" else None
        return f"eval:{model}|{adapter}|{self.eval_config.model_dump_json()}"

    def suites(self) -> tuple[list[Any], list[Any]]:
        """(must-refuse suites, must-answer suites) from the policy."""
        from aligngate.evaluation.suites import load_suite

        def load() -> tuple[list[Any], list[Any]]:
            cfg = self.eval_config
            harmful = [load_suite(s) for s in cfg.harmful_suites]
            safe = [load_suite(s) for s in cfg.safe_suites]
            for s in harmful + safe:
                if len(s) < cfg.min_samples:
                    raise InputError(f"suite '{s.name}' has {len(s)} prompts, fewer than "
                                     f"spec.evaluation.min_samples={cfg.min_samples}: inconclusive")
            return harmful, safe

        return self._once("suites", load)

    def judge(self) -> Any:
        """The policy's judge, loaded once per process."""
        from aligngate.judge import get_judge

        return self._once(f"judge:{self.eval_config.judge}", lambda: get_judge(self.eval_config.judge), shared=True)

    def judge_error(self) -> float:
        """The judge's measured binary error rate (0.0 when the judge records none)."""
        return float(getattr(self.judge(), "measured_error", 0.0) or 0.0)

    def evaluation(self, which: str) -> EvalResult:
        """Evaluation of ``candidate`` (with its adapter) or ``baseline`` on the policy's suites."""
        from aligngate.evaluation.runner import evaluate_model

        model = self.inputs.candidate if which == "candidate" else self.inputs.baseline
        if model is None:
            raise InputError(f"no {which} model given")
        adapter = self.loadable_adapter() if which == "candidate" else None
        cfg = self.eval_config

        def run() -> EvalResult:
            harmful, safe = self.suites()
            return evaluate_model(model, harmful + safe, adapter=adapter, judge=self.judge(),
                                  judge_error=self.judge_error(),
                                  max_new_tokens=cfg.max_new_tokens, batch_size=cfg.batch_size,
                                  progress=self.progress, device=self.device, prompt_format=cfg.prompt_format,
                                  backend=cfg.backend, decode=cfg.decode)

        return self._once(self.eval_key(which), run, shared=True)

    def evaluation_if_computed(self, which: str) -> EvalResult | None:
        """``which``'s evaluation if this run (or an earlier one sharing the cache) computed it; None otherwise."""
        res = self._shared.get(self.eval_key(which))
        return res if isinstance(res, EvalResult) else None

    def pooled(self, which: str, expect: str) -> list[Record]:
        """All records of ``which`` on suites expecting ``expect`` (refuse / comply)."""
        return [r for r in self.evaluation(which).records if r["expect"] == expect]

    def generation_budget(self, *, longer: int, sample: int) -> BudgetAgreement:
        """Labels of a sample of the policy's suites at ``spec.evaluation.max_new_tokens`` against ``longer`` new
        tokens, on the candidate's evaluation path (:func:`aligngate.evaluation.budget.measure_budget`)."""
        from aligngate.evaluation.budget import measure_budget

        def run() -> BudgetAgreement:
            cfg = self.eval_config
            harmful, safe = self.suites()
            return measure_budget(self.inputs.candidate, harmful + safe, judge=self.judge(),
                                  budget=cfg.max_new_tokens, longer=longer, sample=sample, seed=cfg.seed,
                                  adapter=self.loadable_adapter(), batch_size=cfg.batch_size, backend=cfg.backend,
                                  decode=cfg.decode, prompt_format=cfg.prompt_format, device=self.device,
                                  progress=self.progress)

        return self._once(f"budget:{longer}:{sample}", run)

    def paired_drift(self, expect: str) -> PairedDrift:
        """Paired refusal drift, candidate vs baseline, pooled over suites expecting ``expect``."""
        from aligngate.evaluation.drift import paired_refusal_drift

        def run() -> PairedDrift:
            base, cand = self.evaluation("baseline"), self.evaluation("candidate")
            pooled_b = EvalResult(base.model, None, _pooled(base.records, expect))
            pooled_c = EvalResult(cand.model, cand.adapter, _pooled(cand.records, expect))
            return PairedDrift.from_dict(paired_refusal_drift(pooled_b, pooled_c, expect, seed=self.eval_config.seed))

        return self._once(f"drift:{expect}", run)

    def kl_drift(self) -> KLDrift:
        """Mean per-token KL / JS divergence of candidate from baseline on the drift suite."""
        from aligngate.evaluation.drift import distribution_drift
        from aligngate.evaluation.suites import load_suite

        def run() -> KLDrift:
            from aligngate.served import is_endpoint

            suite = load_suite(self.eval_config.drift_suite)
            if self.inputs.baseline is None:
                raise InputError("KL drift needs a baseline model")
            if is_endpoint(self.inputs.baseline) or is_endpoint(self.inputs.candidate):
                from aligngate.evaluation.drift import served_distribution_drift

                return KLDrift.from_dict(served_distribution_drift(
                    self.inputs.baseline, self.inputs.candidate, [it.prompt for it in suite.items],
                    adapter=self.loadable_adapter()))
            return KLDrift.from_dict(distribution_drift(self.inputs.baseline, self.inputs.candidate,
                                      [it.prompt for it in suite.items], adapter=self.loadable_adapter(),
                                      device=self.device, prompt_format=self.eval_config.prompt_format))

        return self._once("kl", run)

    def capability(self) -> dict[str, CapabilityDelta]:
        """lm-eval scores of candidate and baseline on the policy's capability tasks, and their deltas."""
        from aligngate.evaluation.capability import run_lmeval

        def run() -> dict[str, CapabilityDelta]:
            cfg = self.eval_config
            if self.inputs.baseline is None:
                raise InputError("capability drift needs a baseline model")
            cand = run_lmeval(self.inputs.candidate, cfg.capability_tasks, adapter=self.loadable_adapter(),
                              limit=cfg.capability_limit, device=self.device)
            base = run_lmeval(self.inputs.baseline, cfg.capability_tasks, limit=cfg.capability_limit,
                              device=self.device)
            return {t: CapabilityDelta.from_scores(cand[t], base[t]) for t in cfg.capability_tasks}

        return self._once("capability", run)

    # ----------------------------------------------------------------- other stages
    def audit(self) -> AuditResult:
        """The adapter audit (never loads pickle; reads the base's config only)."""
        from aligngate.audit.runner import audit_adapter

        def run() -> AuditResult:
            if self.inputs.adapter is None:
                raise InputError("no adapter given")
            from aligngate.served import is_endpoint

            # a served candidate has no local base files: the audit checks the adapter against its declared base
            base = None if is_endpoint(self.inputs.candidate) else self.inputs.candidate
            return audit_adapter(self.inputs.adapter, base=base, config=self.policy.policy.spec.adapter_audit)

        return self._once("audit", run)

    def reward_test(self) -> RewardTestResult:
        """The reward model's adversarial test."""
        from aligngate.rewardtest import run_reward_test

        def run() -> RewardTestResult:
            if self.inputs.reward_model is None:
                raise InputError("no reward model given")
            return run_reward_test(self.inputs.reward_model, self.policy.policy.spec.reward_test,
                                   progress=self.progress)

        return self._once("reward", run)

    def data(self) -> DataSummary:
        """The tuning data's curation, from the curate report.json in the ``--data-report`` directory (read and
        validated by :func:`aligngate.report.read_report`)."""

        def read() -> DataSummary:
            from aligngate.report import read_report

            if self.inputs.data_report is None:
                raise InputError("no data report directory given (--data-report DIR, a curate output directory)")
            path = Path(self.inputs.data_report) / "report.json"
            if not path.exists():
                raise InputError(f"data report not found: {path}")
            return DataSummary.from_report(read_report(path).model_dump(mode="json"), str(path))

        return self._once("data", read)

    # ----------------------------------------------------------------- depth, tamper, leakage (issue 24)
    def _local_pair(self, what: str) -> tuple[str, str]:
        """(candidate, baseline) local weights, or NotMeasurable for a served endpoint (no logits / no training)."""
        from aligngate.checks.types import NotMeasurable
        from aligngate.served import is_endpoint

        if self.inputs.baseline is None:
            raise InputError(f"{what} needs a baseline model")
        served = [m for m in (self.inputs.candidate, self.inputs.baseline) if is_endpoint(m)]
        if served:
            raise NotMeasurable(f"{what} needs local weights; {served[0]} is a served endpoint")
        return self.inputs.candidate, self.inputs.baseline

    def _must_refuse(self) -> tuple[list[str], list[str]]:
        """Prompts and prefills of the policy's must-refuse suites."""
        harmful, _safe = self.suites()
        items = [it for s in harmful for it in s.items]
        return [it.prompt for it in items], [it.prefill for it in items]

    def token_kl(self) -> TokenKL:
        """Per-position KL(baseline ‖ candidate) on the must-refuse prompts (:mod:`aligngate.depth`)."""
        from aligngate.depth import measure_token_kl

        def run() -> TokenKL:
            cand, base = self._local_pair("per-token KL")
            prompts, _pre = self._must_refuse()
            cfg = self.eval_config
            return measure_token_kl(base, cand, prompts, adapter=self.loadable_adapter(), batch_size=cfg.batch_size,
                                    device=self.device, prompt_format=cfg.prompt_format)

        return self._once("depth:kl", run)

    def prefix_recovery(self, ns: tuple[int, ...], opening: str | None) -> PrefixRecovery:
        """Harmful-prefix recovery, candidate against baseline (:mod:`aligngate.depth`)."""
        from aligngate.depth import DEFAULT_OPENING, measure_prefix_recovery

        def run() -> PrefixRecovery:
            cand, base = self._local_pair("harmful-prefix recovery")
            prompts, prefills = self._must_refuse()
            cfg = self.eval_config
            return measure_prefix_recovery(base, cand, prompts, judge=self.judge(), adapter=self.loadable_adapter(),
                                           prefills=prefills, ns=ns, opening=opening or DEFAULT_OPENING,
                                           max_new_tokens=cfg.max_new_tokens, batch_size=cfg.batch_size,
                                           device=self.device, prompt_format=cfg.prompt_format, seed=cfg.seed)

        return self._once(f"depth:recovery:{ns}:{opening}", run)

    def tamper(self, config: TamperConfig) -> TamperResult:
        """The bounded harmful fine-tuning attack on copies of candidate and baseline (:mod:`aligngate.tamper`)."""
        from aligngate.tamper import measure_tamper

        def run() -> TamperResult:
            cand, base = self._local_pair("robustness.tamper")
            prompts, _pre = self._must_refuse()
            return measure_tamper(base, cand, prompts, self.judge(), config, adapter=self.loadable_adapter(),
                                  device=self.device, prompt_format=self.eval_config.prompt_format)

        return self._once(f"tamper:{config}", run)

    def leakage(self, candidates: int) -> LeakageResult:
        """Canary exposure / extraction and PII regurgitation on the ``--data-report`` directory's curated data
        (:mod:`aligngate.leakage.probe`); NotMeasurable when its curate run planted no canaries."""
        from aligngate.checks.types import NotMeasurable
        from aligngate.leakage.canaries import read_canaries
        from aligngate.leakage.probe import measure_leakage
        from aligngate.served import is_endpoint

        def run() -> LeakageResult:
            if self.inputs.data_report is None:
                raise InputError("leakage needs the curate output directory (--data-report DIR)")
            if is_endpoint(self.inputs.candidate):
                raise NotMeasurable(f"leakage needs local weights; {self.inputs.candidate} is a served endpoint")
            record = read_canaries(self.inputs.data_report)
            if record is None:
                raise NotMeasurable(f"{self.inputs.data_report} holds no canaries.json: the curate run planted no "
                                    "canaries (aligngate curate --canaries N)")
            return measure_leakage(self.inputs.candidate, record, Path(self.inputs.data_report) / "curated.jsonl",
                                   adapter=self.loadable_adapter(), candidates=candidates, seed=self.eval_config.seed,
                                   device=self.device, prompt_format=self.eval_config.prompt_format)

        return self._once(f"leakage:{candidates}", run)

    def computed_drift(self) -> dict[str, dict[str, Any]]:
        """The drift figures this run computed, as JSON (``drift_refuse``, ``drift_comply``, ``kl``), for report
        summaries."""
        out: dict[str, dict[str, Any]] = {}
        for key in ("drift:refuse", "drift:comply", "kl"):
            val = self._memo.get(key)
            if isinstance(val, PairedDrift | KLDrift):
                out[key.replace(":", "_")] = val.to_dict()
        return out
