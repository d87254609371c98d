"""Run suites on a model: generate, judge, and compute per-suite metrics.

One model load per call; the judge is loaded once. Per-prompt records carry ``prompt``, ``response``,
``label``, ``score``, ``suite`` and ``id`` so that candidate and baseline can be paired item by item.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aligngate.errors import EvaluationError
from aligngate.evaluation.suites import Suite

__all__ = ["EvalResult", "SuiteMetrics", "evaluate_model", "suite_metrics"]


@dataclass
class SuiteMetrics:
    """Per-suite figures."""

    suite: str
    expect: str
    n: int
    refusal_rate: float
    """Share of responses judged ``refusal`` or ``partial_refusal``."""
    ci95: tuple[float, float]
    """Wilson interval of ``refusal_rate``, widened by the judge's measured error when known."""
    labels: dict[str, int]
    mean_response_chars: float

    @property
    def headline(self) -> str:
        """``refusal`` for must-refuse suites, ``over-refusal`` for must-answer ones."""
        return "refusal" if self.expect == "refuse" else "over-refusal"

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"suite": self.suite, "expect": self.expect, "n": self.n, "refusal_rate": self.refusal_rate,
                "ci95": list(self.ci95), "labels": self.labels, "mean_response_chars": self.mean_response_chars}


@dataclass
class EvalResult:
    """All records and metrics of one model on a set of suites."""

    model: str
    adapter: str | None
    records: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, SuiteMetrics] = field(default_factory=dict)
    judge: str = ""
    seconds: float = 0.0

    def by_suite(self, suite: str) -> list[dict[str, Any]]:
        """Records of one suite, in suite order."""
        return [r for r in self.records if r["suite"] == suite]


def suite_metrics(suite: Suite, records: list[dict[str, Any]], judge_error: float = 0.0) -> SuiteMetrics:
    """Refusal rate with its interval for one suite's judged records."""
    from aligngate.stats import widen, wilson_ci

    labels = Counter(r["label"] for r in records)
    n = len(records)
    k = labels["refusal"] + labels["partial_refusal"]
    ci = widen(wilson_ci(k, n), judge_error) if judge_error else wilson_ci(k, n)
    chars = sum(len(r["response"]) for r in records) / n if n else 0.0
    return SuiteMetrics(suite=suite.name, expect=suite.expect, n=n, refusal_rate=k / n if n else float("nan"),
                        ci95=ci, labels={lab: labels.get(lab, 0) for lab in ("refusal", "partial_refusal",
                                                                                "compliance")},
                        mean_response_chars=chars)


def evaluate_model(model: str | Path, suites: list[Suite], *, adapter: str | Path | None = None,
                   judge: Any = None, judge_name: str = "minilm", max_new_tokens: int = 24,
                   batch_size: int = 32, judge_error: float = 0.0, progress: bool = True,
                   device: str | None = None) -> EvalResult:
    """Generate on every suite with one model load, judge every response, return records and metrics."""
    from aligngate.generation import generate
    from aligngate.judge import get_judge, judge_pairs
    from aligngate.modelio import load_causal_lm

    t0 = time.perf_counter()
    lm, tok = load_causal_lm(str(model), adapter=str(adapter) if adapter else None, merge=True, device=device)
    jd = judge or get_judge(judge_name)
    prompts = [it.prompt for s in suites for it in s.items]
    prefills = [it.prefill for s in suites for it in s.items]
    if any(prefills):
        from aligngate.generation import generate_with_prefill

        responses = generate_with_prefill(lm, tok, prompts, prefills, max_new_tokens=max_new_tokens,
                                          batch_size=batch_size, progress=progress)
    else:
        responses = generate(lm, tok, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size,
                             progress=progress)
    if len(responses) != len(prompts):
        raise EvaluationError(f"generation returned {len(responses)} responses for {len(prompts)} prompts")
    # every suite says what it expects: a prompt a safe model must refuse is a harmful one (the judge reads it)
    harmful = [1.0 if s.expect == "refuse" else 0.0 for s in suites for _ in s.items]
    judged = judge_pairs(jd, prompts, responses, harmful)
    result = EvalResult(model=str(model), adapter=str(adapter) if adapter else None, judge=getattr(jd, "name", ""))
    i = 0
    for s in suites:
        recs = []
        for it in s.items:
            j = judged[i]
            recs.append({"suite": s.name, "id": it.id, "category": it.category, "expect": s.expect,
                         "prompt": it.prompt, "prefill": it.prefill, "response": responses[i],
                         "label": j.label, "score": round(float(j.score), 6)})
            i += 1
        result.records.extend(recs)
        result.metrics[s.name] = suite_metrics(s, recs, judge_error)
    result.seconds = time.perf_counter() - t0
    return result
