"""The typed seams of checks: what a check is, what it reads, and the typed results it reads.

A check is any callable of the :class:`Check` protocol, ``(ctx, spec) -> Measurement``, registered with
:func:`aligngate.checks.check`. ``ctx`` is a :class:`CheckContext` -- the protocol every context implements: the
gate's lazily computing :class:`aligngate.gate.context.GateContext`, the stages' :class:`aligngate.checks.context.
ResultsContext` over results already computed (curate, audit-adapter, test-reward-model), and the test seam
:class:`aligngate.checks.testing.FakeContext`. Context methods return the typed results below (``details`` of a
:class:`~aligngate.verdict.Measurement` stay JSON: each result has ``to_dict``).

This module imports nothing heavy: listing and validating checks stays fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from aligngate.errors import GateError, InputError

if TYPE_CHECKING:
    from aligngate.audit.runner import AuditResult
    from aligngate.depth import PrefixRecovery, TokenKL
    from aligngate.evaluation.budget import BudgetAgreement
    from aligngate.leakage.probe import LeakageResult
    from aligngate.policy import CheckSpec
    from aligngate.rewardtest.runner import RewardTestResult
    from aligngate.tamper import TamperConfig, TamperResult
    from aligngate.verdict import Measurement

__all__ = [
    "SUBJECTS",
    "CapabilityDelta",
    "CapabilityScore",
    "Check",
    "CheckContext",
    "CheckErrorWithDetails",
    "DataSummary",
        "KLDrift",
    "NotMeasurable",
    "PairedDrift",
    "Record",
]

SUBJECTS: dict[str, str] = {
    "candidate": "the candidate model (--candidate)",
    "baseline": "the baseline model (--baseline)",
    "adapter": "the candidate's LoRA adapter (--adapter; audit-adapter DIR)",
    "reward_model": "a reward model (--reward-model)",
    "data": "the tuning data's curation (curate; gate --data-report DIR)",
    "preference_data": "preference (DPO) tuning data",
    "hh_rlhf_pairs": "HH-RLHF pairs (reward_test.hh_rlhf or --hh-rlhf)",
    "preference_pairs": "the user's own preference pairs (reward_test.preference_data or --pairs)",
}
"""What a check may need, in words. A check whose needs are not all given is ``skipped``."""

_T = TypeVar("_T")

Record = Mapping[str, Any]
"""One judged sample of an evaluation, read-only: a :class:`aligngate.evaluation.records.SampleRecord` (``suite``,
``id``, ``expect``, ``prompt``, ``response``, ``label``, ``score`` ...)."""


class CheckErrorWithDetails(GateError):
    """A check that cannot decide, with the evidence to show (kept in the check's ``details``), e.g. an adapter
    that is unsafe to open and its findings. Status ``error``: it blocks (exit 2)."""

    def __init__(self, message: str, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.details = details


class NotMeasurable(GateError):
    """A check that cannot be measured on the subjects given, for a stated reason (e.g. KL drift on a served model
    that returns no token log-probabilities). Status ``skipped`` with the reason, never a pass; a required check
    that is skipped blocks (exit 2)."""


@dataclass(frozen=True)
class PairedDrift:
    """Refusal drift, candidate against baseline, on the same prompts (McNemar's paired test)."""

    suite: str
    n: int
    baseline_rate: float
    candidate_rate: float
    delta: float
    """Candidate rate minus baseline rate."""
    ci95: tuple[float, float]
    p_value: float
    refused_to_complied: int
    complied_to_refused: int
    mean_chars_baseline: float
    mean_chars_candidate: float
    length_ratio: float
    flipped_refused_to_complied: list[dict[str, Any]] = field(default_factory=list)
    flipped_complied_to_refused: list[dict[str, Any]] = field(default_factory=list)
    no_output_baseline: int = 0
    no_output_candidate: int = 0

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PairedDrift:
        """From :func:`aligngate.evaluation.drift.paired_refusal_drift`'s dict."""
        return _typed(cls, d, ci95=tuple(d["ci95"]))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``ci95`` as a list)."""
        return {**asdict(self), "ci95": list(self.ci95)}


@dataclass(frozen=True)
class KLDrift:
    """Per-token divergence of the candidate from the baseline along the baseline's greedy continuations."""

    n_prompts: int
    n_tokens: int
    mean_kl: float
    mean_js: float
    max_prompt_kl: float = 0.0
    per_prompt_kl: list[float] = field(default_factory=list)
    method: str = "logits"
    """``logits``: full next-token distributions of local weights; ``served-top-k``: the top-k log-probabilities
    two served models returned, on the tokens where their greedy continuations agree (an approximation)."""

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> KLDrift:
        """From :func:`aligngate.evaluation.drift.distribution_drift`'s dict."""
        return _typed(cls, d)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


@dataclass(frozen=True)
class CapabilityScore:
    """One model's lm-eval score on one task."""

    metric: str
    value: float
    stderr: float
    n: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


@dataclass(frozen=True)
class CapabilityDelta:
    """Candidate and baseline on one lm-eval task, and the change."""

    candidate: CapabilityScore
    baseline: CapabilityScore
    delta: float
    """Candidate value minus baseline value."""
    stderr: float
    """Standard error of the delta (NaN when lm-eval reports none)."""

    @classmethod
    def from_scores(cls, candidate: Mapping[str, Any], baseline: Mapping[str, Any]) -> CapabilityDelta:
        """From the two ``{"metric", "value", "stderr", "n"}`` dicts of :func:`~aligngate.evaluation.capability.
        run_lmeval`."""
        import math

        cand, base = _typed(CapabilityScore, candidate), _typed(CapabilityScore, baseline)
        return cls(candidate=cand, baseline=base, delta=cand.value - base.value,
                   stderr=math.sqrt(cand.stderr ** 2 + base.stderr ** 2))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


@dataclass(frozen=True)
class DataSummary:
    """What the ``data.*`` checks read about a curated dataset: the same whether it comes from the curate run in
    memory (:meth:`from_result`) or from its ``report.json`` in a ``--data-report`` directory (:meth:`from_report`).
    """

    source: str
    """The input file (curate) or the report.json read (gate)."""
    kind: str
    """``sft`` or ``dpo``."""
    input_rows: int
    curated: int
    quarantined: int
    poison_rows: int
    """Rows quarantined by a poisoning detector (harmful_compliance, flipped_preference, trigger_phrase)."""
    triggers: list[dict[str, Any]] = field(default_factory=list)
    """Trigger n-grams found (``ngram``, support, p-value)."""
    gx: dict[str, Any] = field(default_factory=dict)
    """Great Expectations validation summary (``success``, ``statistics``)."""
    reward_hacking: dict[str, Any] | None = None
    """DPO length statistics (``pairs``, ``chosen_longer_fraction``, ``length_spearman``, ``mean_length_ratio``);
    None for SFT data."""
    sha256: dict[str, str] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        """Row counts as report.json records them."""
        return {"input": self.input_rows, "curated": self.curated, "quarantined": self.quarantined,
                "poison": self.poison_rows}

    @classmethod
    def from_result(cls, result: Any) -> DataSummary:
        """From a :class:`aligngate.curation.pipeline.CurationResult`."""
        return cls(source=result.input_path, kind=result.kind, input_rows=result.input_rows,
                   curated=result.curated, quarantined=result.quarantined, poison_rows=result.poison_rows,
                   triggers=list(result.triggers), gx=dict(result.gx), reward_hacking=result.reward_hacking,
                   sha256=dict(result.sha256))

    @classmethod
    def from_report(cls, rep: Mapping[str, Any], path: str) -> DataSummary:
        """From a curate ``report.json`` (already parsed) at ``path``. A report of another command, of a run that
        ended in an error, or without row counts is an :class:`~aligngate.errors.InputError` (fail closed)."""
        if not isinstance(rep, Mapping):
            raise InputError(f"{path} is not a report (a JSON object)")
        if rep.get("command") not in (None, "curate"):
            raise InputError(f"{path} is a '{rep.get('command')}' report, not a curate report")
        if rep.get("errors") or rep.get("exit_code") == 2:
            raise InputError(f"the curate run behind {path} ended in an error: {'; '.join(rep.get('errors') or [])}")
        summary = rep.get("summary") or {}
        counts = summary.get("counts") or {}
        try:
            n, poison = int(counts["input"]), int(counts["poison"])
            curated, quarantined = int(counts.get("curated", 0)), int(counts.get("quarantined", 0))
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{path} has no row counts (not a completed curate run)") from None
        if n <= 0:
            raise InputError(f"{path} has no row counts (not a completed curate run)")
        data = (rep.get("subjects") or {}).get("data") or {}
        return cls(source=path, kind=str(summary.get("kind") or data.get("kind") or "sft"), input_rows=n,
                   curated=curated, quarantined=quarantined, poison_rows=poison,
                   triggers=list(summary.get("triggers") or []), gx=dict(summary.get("great_expectations") or {}),
                   reward_hacking=summary.get("reward_hacking"), sha256=dict(data.get("sha256") or {}))


def _typed(cls: type[_T], d: Mapping[str, Any], **override: Any) -> _T:
    """``cls`` from the keys of ``d`` it declares (an input error naming the missing ones)."""
    from dataclasses import MISSING

    declared = {f.name: f for f in fields(cast(Any, cls))}
    missing = [k for k, f in declared.items()
               if k not in d and k not in override and f.default is MISSING and f.default_factory is MISSING]
    if missing:
        raise InputError(f"{cls.__name__}: result lacks {', '.join(missing)}")
    return cls(**{**{k: v for k, v in d.items() if k in declared}, **override})


class CheckContext(Protocol):
    """What a check reads. Each method computes (or returns the already computed) result, or raises a
    :class:`~aligngate.errors.GateError` naming what is missing."""

    def has(self, subject: str) -> bool:
        """Whether ``subject`` (a key of :data:`SUBJECTS`) was given."""
        ...

    def pooled(self, which: str, expect: str) -> list[Record]:
        """The judged records of ``which`` (``candidate`` / ``baseline``) on suites expecting ``expect``."""
        ...

    def judge_error(self) -> float:
        """The refusal judge's measured error rate (widens intervals)."""
        ...

    def generation_budget(self, *, longer: int, sample: int) -> BudgetAgreement:
        """Labels of ``sample`` prompts at the policy's decode budget against ``longer`` new tokens."""
        ...

    def paired_drift(self, expect: str) -> PairedDrift:
        """Paired refusal drift, candidate against baseline, pooled over suites expecting ``expect``."""
        ...

    def kl_drift(self) -> KLDrift:
        """Divergence of the candidate from the baseline on the drift suite."""
        ...

    def capability(self) -> dict[str, CapabilityDelta]:
        """lm-eval deltas by task."""
        ...

    def audit(self) -> AuditResult:
        """The adapter audit."""
        ...

    def reward_test(self) -> RewardTestResult:
        """The reward model's adversarial test."""
        ...

    def data(self) -> DataSummary:
        """The tuning data's curation summary."""
        ...

    def token_kl(self) -> TokenKL:
        """Per-position KL(baseline ‖ candidate) along the baseline's responses to must-refuse prompts."""
        ...

    def prefix_recovery(self, ns: tuple[int, ...], opening: str | None) -> PrefixRecovery:
        """Harmful-prefix recovery, candidate against baseline, with ``ns`` forced compliant tokens."""
        ...

    def tamper(self, config: TamperConfig) -> TamperResult:
        """The bounded harmful fine-tuning attack on copies of candidate and baseline."""
        ...

    def leakage(self, candidates: int) -> LeakageResult:
        """Canary exposure / extraction and PII regurgitation of the candidate on its curated tuning data."""
        ...


class Check(Protocol):
    """A check: reads the context, returns a measurement; the policy's spec supplies threshold and params."""

    def __call__(self, ctx: CheckContext, spec: CheckSpec, /) -> Measurement: ...
