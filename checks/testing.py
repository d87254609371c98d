"""The test seam for checks: a context built from canned results, in the manner of httpx's ``MockTransport``.

    from aligngate.checks import get_check
    from aligngate.checks.testing import FakeContext, fake_records

    ctx = FakeContext(records={"candidate": fake_records(refuse=["refusal"] * 9 + ["compliance"])})
    m = get_check("refusal.harmful_refusal_rate").fn(ctx, spec)

:class:`FakeContext` is a :class:`~aligngate.checks.context.ResultsContext` whose every result defaults to a canned,
plausible one (a well-aligned candidate, a clean adapter, a good reward model, clean DPO data); pass a result to
replace it, or ``None`` to leave it out (its subject is then not given, and a check needing it is skipped).
Nothing here loads a model or reads a file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aligngate.checks.context import ResultsContext
from aligngate.checks.types import CapabilityDelta, DataSummary, KLDrift, PairedDrift, Record

if TYPE_CHECKING:
    from aligngate.audit.findings import Finding
    from aligngate.audit.runner import AuditResult
    from aligngate.depth import PrefixRecovery, TokenKL
    from aligngate.evaluation.budget import BudgetAgreement
    from aligngate.leakage.probe import LeakageResult
    from aligngate.rewardtest.runner import RewardTestResult
    from aligngate.tamper import TamperResult

__all__ = ["CANNED", "FakeContext", "fake_audit", "fake_budget", "fake_capability", "fake_data", "fake_kl",
           "fake_paired",
           "fake_leakage", "fake_recovery", "fake_records", "fake_reward", "fake_tamper", "fake_token_kl"]


class _Canned:
    def __repr__(self) -> str:
        return "CANNED"


CANNED: Any = _Canned()
"""The default of every :class:`FakeContext` argument: use the canned result."""


def fake_records(*, refuse: Iterable[str] = (), comply: Iterable[str] = (), suite_refuse: str = "harmful",
                 suite_comply: str = "safe") -> list[Record]:
    """Judged records (:class:`aligngate.evaluation.records.SampleRecord` fields) with the given labels: ``refuse``
    on a must-refuse suite, ``comply`` on a must-answer one."""
    out: list[Record] = []
    for expect, labels, suite in (("refuse", refuse, suite_refuse), ("comply", comply, suite_comply)):
        for i, label in enumerate(labels):
            refused = "refusal" in label
            out.append({"suite": suite, "id": f"{suite}-{i}", "category": "", "expect": expect,
                        "prompt": f"prompt {i}", "prefill": "",
                        "response": "" if label == "no_output" else "I can't help with that." if refused
                        else f"Answer {i}.", "label": label,
                        "score": 0.0 if label == "no_output" else 0.9 if refused else 0.1,
                        "no_output": "empty" if label == "no_output" else None})
    return out


def fake_paired(expect: str = "refuse", *, baseline_rate: float = 0.9, candidate_rate: float = 0.88,
                n: int = 50) -> PairedDrift:
    """A paired drift result (default: a small, insignificant change)."""
    delta = candidate_rate - baseline_rate
    return PairedDrift(suite=expect, n=n, baseline_rate=baseline_rate, candidate_rate=candidate_rate, delta=delta,
                       ci95=(delta - 0.08, delta + 0.08), p_value=0.5, refused_to_complied=2, complied_to_refused=1,
                       mean_chars_baseline=120.0, mean_chars_candidate=126.0, length_ratio=1.05)


def fake_kl(mean_kl: float = 0.12) -> KLDrift:
    """A KL drift result."""
    return KLDrift(n_prompts=10, n_tokens=240, mean_kl=mean_kl, mean_js=mean_kl / 4, max_prompt_kl=mean_kl * 3,
                   per_prompt_kl=[mean_kl] * 10)


def fake_capability(delta: float = -0.01) -> dict[str, CapabilityDelta]:
    """One lm-eval task's comparison."""
    return {"helpful_mc": CapabilityDelta.from_scores(
        {"metric": "acc", "value": 0.6 + delta, "stderr": 0.02, "n": 100},
        {"metric": "acc", "value": 0.6, "stderr": 0.02, "n": 100})}


def fake_budget(n: int = 40, changed: int = 1, *, budget: int = 24, longer: int = 128) -> BudgetAgreement:
    """A generation-budget comparison in which ``changed`` of ``n`` sampled labels change at the longer budget."""
    from aligngate.evaluation.budget import BudgetAgreement

    return BudgetAgreement(budget=budget, longer=longer, n=n, same_label=n - changed, same_outcome=n - changed,
                           changed=[{"suite": "harmful", "id": f"harmful-{i}", "label_at_budget": "refusal",
                                     "label_longer": "compliance"} for i in range(changed)])


def fake_audit(findings: Sequence[Finding] = (), path: str = "fake-adapter") -> AuditResult:
    """An adapter audit with the given findings (default: clean)."""
    from aligngate.audit.runner import AuditResult

    return AuditResult(path=path, findings=list(findings), sha256={"adapter_model.safetensors": "0" * 64})


def fake_reward(accuracy: float = 0.9, *, length_bias: float = 0.05, invariance: float = 0.05,
                hh_rlhf: float | None = None, preference: float | None = None) -> RewardTestResult:
    """A reward test in which every adversarial category has ``accuracy`` (20 pairs each)."""
    from aligngate.rewardtest.config import ALL_CATEGORIES
    from aligngate.rewardtest.runner import RewardTestResult

    def metric(value: float, n: int = 20) -> dict[str, Any]:
        return {"value": value, "n": n, "ci95": [max(0.0, value - 0.1), min(1.0, value + 0.1)], "details": {},
                "message": "canned"}

    metrics = {f"reward.accuracy.{c}": metric(accuracy) for c in ALL_CATEGORIES}
    metrics["reward.length_bias"] = metric(length_bias)
    metrics["reward.invariance"] = metric(invariance)
    if hh_rlhf is not None:
        metrics["reward.hh_rlhf_accuracy"] = metric(hh_rlhf)
    if preference is not None:
        metrics["reward.accuracy.preference"] = metric(preference)
    pairs = [{"category": c, "variant": "normal", "correct": i < round(accuracy * 20), "margin": 1.0}
             for c in ALL_CATEGORIES for i in range(20)]
    return RewardTestResult(model="fake-reward-model", metrics=metrics, pairs=pairs)


def fake_data(kind: str = "dpo", *, input_rows: int = 200, poison_rows: int = 2, quarantined: int = 5,
              triggers: Sequence[Mapping[str, Any]] = ()) -> DataSummary:
    """A curated dataset's summary (default: clean DPO data, 1 % poison)."""
    rh = {"pairs": input_rows - quarantined, "chosen_longer_fraction": 0.52, "length_spearman": 0.04,
          "mean_length_ratio": 1.03} if kind == "dpo" else None
    return DataSummary(source="fake.jsonl", kind=kind, input_rows=input_rows, curated=input_rows - quarantined,
                       quarantined=quarantined, poison_rows=poison_rows, triggers=[dict(t) for t in triggers],
                       gx={"success": True, "statistics": {"success_percent": 100.0, "successful_expectations": 6,
                                                           "evaluated_expectations": 6}},
                       reward_hacking=rh, sha256={"fake.jsonl": "0" * 64})


def fake_token_kl(first: float = 0.2, later: float = 0.1, *, k: int = 5, positions: int = 16,
                  prompts: int = 20) -> TokenKL:
    """A per-position KL profile: ``first`` at positions ``< k``, ``later`` after."""
    from aligngate.depth import TokenKL

    return TokenKL(n_prompts=prompts, kl_by_position=[first if t < k else later for t in range(positions)],
                   tokens_by_position=[prompts] * positions)


def fake_recovery(baseline: Sequence[int] = (2, 8, 12, 4), candidate: Sequence[int] = (2, 7, 12, 4), *,
                  ns: Sequence[int] = (2, 5, 10, 20), prompts: int = 40) -> PrefixRecovery:
    """Harmful-prefix recovery: how many of ``prompts`` each model recovers from per forced length (default: the
    candidate about as deep as the baseline)."""
    from aligngate.depth import PrefixRecovery, recovery_at

    def rows(k: int) -> list[dict[str, Any]]:
        return [{"prompt": f"p{i}", "forced": "Sure", "continuation": "", "recovered": i < k} for i in range(prompts)]

    return PrefixRecovery(recovery=[recovery_at(n, rows(b), rows(c))
                                    for n, b, c in zip(ns, baseline, candidate, strict=True)],
                          opening="Sure. Here is how", n_prompts=prompts)


def fake_tamper(candidate_broke: int | None = 35, baseline_broke: int | None = 40) -> TamperResult:
    """A tamper attack in which the models break at the given steps (None: never within the 40 steps)."""
    from dataclasses import asdict

    from aligngate.tamper import TamperConfig, TamperCurve, TamperResult

    cfg = TamperConfig()
    steps = list(range(0, cfg.max_steps + 1, cfg.eval_every))

    def curve(name: str, at: int | None) -> TamperCurve:
        return TamperCurve(model=name, steps=steps,
                           refusal=[0.2 if at is not None and s >= at else 0.9 for s in steps],
                           losses=[1.0] * cfg.max_steps, broke_at=at)

    return TamperResult(config=asdict(cfg), candidate=curve("candidate", candidate_broke),
                        baseline=curve("baseline", baseline_broke), attack_rows=cfg.examples, eval_prompts=32)


def fake_leakage(planted_ranks: Sequence[int] = (900, 2000, 3100, 150, 2600), *, extracted: int = 0,
                 candidates: int = 4096, pii_probed: int = 3, pii_regurgitated: int = 0) -> LeakageResult:
    """Canaries ranked among ``candidates`` (default: chance-level exposure), and PII counts."""
    from aligngate.leakage.probe import CanaryScore, LeakageResult, exposure

    def scores(role: str, ranks: Sequence[int], n_extracted: int) -> list[CanaryScore]:
        return [CanaryScore(id=f"{role}-{i:03d}", role=role, rank=r, candidates=candidates,
                            exposure=exposure(r, candidates), extracted=i < n_extracted, template=i % 6)
                for i, r in enumerate(ranks)]

    refs = [(r * 7919) % candidates + 1 for r in planted_ranks]
    return LeakageResult(planted=scores("planted", planted_ranks, extracted),
                         references=scores("reference", refs, 0), pii_probed=pii_probed,
                         pii_regurgitated=[{"line": i + 1, "kind": "email"} for i in range(pii_regurgitated)])


class FakeContext(ResultsContext):
    """A :class:`~aligngate.checks.types.CheckContext` of canned results (see the module doc)."""

    def __init__(self, *, records: Mapping[str, Sequence[Record]] | None = CANNED,
                 paired: Mapping[str, PairedDrift] | None = CANNED, kl: KLDrift | None = CANNED,
                 capability: Mapping[str, CapabilityDelta] | None = CANNED,
                 budget: BudgetAgreement | None = CANNED, audit: AuditResult | None = CANNED,
                 reward: RewardTestResult | None = CANNED, data: DataSummary | None = CANNED,
                 judge_error: float = 0.0, token_kl: TokenKL | None = CANNED,
                 recovery: PrefixRecovery | None = CANNED, tamper: TamperResult | None = CANNED,
                 leakage: LeakageResult | None = CANNED) -> None:
        def pick(given: Any, canned: Any) -> Any:
            return canned() if given is CANNED else given

        super().__init__(
            records=pick(records, lambda: {
                "candidate": fake_records(refuse=["refusal"] * 18 + ["partial_refusal", "compliance"],
                                          comply=["compliance"] * 19 + ["refusal"]),
                "baseline": fake_records(refuse=["refusal"] * 19 + ["compliance"], comply=["compliance"] * 20)}),
            paired=pick(paired, lambda: {"refuse": fake_paired("refuse"),
                                         "comply": fake_paired("comply", baseline_rate=0.05, candidate_rate=0.08)}),
            kl=pick(kl, fake_kl), capability=pick(capability, fake_capability), budget=pick(budget, fake_budget),
            audit=pick(audit, fake_audit),
            reward=pick(reward, lambda: fake_reward(hh_rlhf=0.7, preference=0.8)), data=pick(data, fake_data),
            judge_error=judge_error, token_kl=pick(token_kl, fake_token_kl), recovery=pick(recovery, fake_recovery),
            tamper=pick(tamper, fake_tamper), leakage=pick(leakage, fake_leakage))
