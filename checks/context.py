"""A check context over results already computed: what the curate, audit-adapter and test-reward-model stages
decide on (they compute their one result, then run their group of checks on it).

A subject is given when its result is: ``adapter`` with ``audit``, ``reward_model`` with ``reward``, ``data`` with
``data`` (and ``preference_data`` when that data is DPO), ``candidate`` with ``records``, ``baseline`` with any
baseline comparison. Asking for a result that was not given is an :class:`~aligngate.errors.InputError` naming it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from aligngate.checks.types import CapabilityDelta, DataSummary, KLDrift, PairedDrift, Record
from aligngate.errors import InputError

if TYPE_CHECKING:
    from aligngate.audit.runner import AuditResult
    from aligngate.depth import PrefixRecovery, TokenKL
    from aligngate.evaluation.budget import BudgetAgreement
    from aligngate.leakage.probe import LeakageResult
    from aligngate.rewardtest.runner import RewardTestResult
    from aligngate.tamper import TamperConfig, TamperResult

__all__ = ["ResultsContext"]


class ResultsContext:
    """A :class:`~aligngate.checks.types.CheckContext` over given results (see the module doc)."""

    def __init__(self, *, data: DataSummary | None = None, audit: AuditResult | None = None,
                 reward: RewardTestResult | None = None, records: Mapping[str, Sequence[Record]] | None = None,
                 paired: Mapping[str, PairedDrift] | None = None, kl: KLDrift | None = None,
                 capability: Mapping[str, CapabilityDelta] | None = None, budget: BudgetAgreement | None = None,
                 judge_error: float = 0.0, token_kl: TokenKL | None = None,
                 recovery: PrefixRecovery | None = None, tamper: TamperResult | None = None,
                 leakage: LeakageResult | None = None) -> None:
        self._data, self._audit, self._reward = data, audit, reward
        self._token_kl, self._recovery, self._tamper, self._leakage = token_kl, recovery, tamper, leakage
        self._records = {k: list(v) for k, v in (records or {}).items()}
        self._paired, self._kl = dict(paired or {}), kl
        self._capability = dict(capability) if capability is not None else None
        self._budget = budget
        self._judge_error = judge_error

    def has(self, subject: str) -> bool:
        """Whether the result behind ``subject`` was given."""
        reward_metrics = self._reward.metrics if self._reward is not None else {}
        return {
            "candidate": "candidate" in self._records or bool(self._paired) or self._kl is not None
                         or self._capability is not None or self._budget is not None,
            "baseline": "baseline" in self._records or bool(self._paired) or self._kl is not None
                        or self._capability is not None,
            "adapter": self._audit is not None,
            "reward_model": self._reward is not None,
            "data": self._data is not None,
            "preference_data": self._data is not None and self._data.reward_hacking is not None,
            "hh_rlhf_pairs": "reward.hh_rlhf_accuracy" in reward_metrics,
            "preference_pairs": "reward.accuracy.preference" in reward_metrics,
        }.get(subject, False)

    def _missing(self, what: str) -> InputError:
        return InputError(f"no {what} in this run")

    def pooled(self, which: str, expect: str) -> list[Record]:
        """The given records of ``which`` expecting ``expect``."""
        if which not in self._records:
            raise self._missing(f"{which} evaluation")
        return [r for r in self._records[which] if r["expect"] == expect]

    def judge_error(self) -> float:
        """The judge error given (0 by default)."""
        return self._judge_error

    def generation_budget(self, *, longer: int, sample: int) -> BudgetAgreement:
        """The given budget comparison (whatever ``longer`` and ``sample`` ask: it was measured already)."""
        if self._budget is None:
            raise self._missing("generation-budget comparison")
        return self._budget

    def paired_drift(self, expect: str) -> PairedDrift:
        """The given paired drift on suites expecting ``expect``."""
        if expect not in self._paired:
            raise self._missing(f"paired drift on '{expect}' prompts")
        return self._paired[expect]

    def kl_drift(self) -> KLDrift:
        """The given KL drift."""
        if self._kl is None:
            raise self._missing("KL drift")
        return self._kl

    def capability(self) -> dict[str, CapabilityDelta]:
        """The given capability deltas."""
        if self._capability is None:
            raise self._missing("capability comparison")
        return dict(self._capability)

    def audit(self) -> AuditResult:
        """The given adapter audit."""
        if self._audit is None:
            raise self._missing("adapter audit")
        return self._audit

    def reward_test(self) -> RewardTestResult:
        """The given reward test."""
        if self._reward is None:
            raise self._missing("reward test")
        return self._reward

    def data(self) -> DataSummary:
        """The given data summary."""
        if self._data is None:
            raise self._missing("curated data")
        return self._data

    def token_kl(self) -> TokenKL:
        """The given per-position KL profile."""
        if self._token_kl is None:
            raise self._missing("per-token KL profile")
        return self._token_kl

    def prefix_recovery(self, ns: tuple[int, ...], opening: str | None) -> PrefixRecovery:
        """The given harmful-prefix recovery (whatever ``ns`` and ``opening`` ask: it was measured already)."""
        if self._recovery is None:
            raise self._missing("harmful-prefix recovery")
        return self._recovery

    def tamper(self, config: TamperConfig) -> TamperResult:
        """The given tamper attack result (whatever ``config`` asks: it was measured already)."""
        if self._tamper is None:
            raise self._missing("tamper attack")
        return self._tamper

    def leakage(self, candidates: int) -> LeakageResult:
        """The given leakage measurement."""
        if self._leakage is None:
            raise self._missing("leakage measurement (canaries)")
        return self._leakage
