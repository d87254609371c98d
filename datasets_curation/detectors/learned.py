"""Learned detectors: the harmful-request classifier on prompts plus the refusal judge on responses.

    harmful_compliance (SFT)   p_harmful * (1 - p_refusal): a harmful request answered
    flipped_preference (DPO)   max( p_harmful * (1 - p_refusal(chosen)) * p_refusal(rejected),      harmful flip
                                    (1 - p_harmful) * p_refusal(chosen) * (1 - p_refusal(rejected)) )  over-refusal flip
    verbose_non_answer (DPO)   (1 - p_harmful) * p_refusal(chosen) * (1 - p_refusal(rejected)) * longer(chosen)
                               where longer = clip(len(chosen) / len(rejected) - 1, 0, 1): a long hedge preferred
                               over an answer (reward hacking)

Models come from :func:`load_models` (``aligngate.judge.get_judge`` and ``aligngate.judge.harm.HarmClassifier``),
loaded lazily; tests replace it with fakes. Each distinct prompt and each distinct (prompt, response) pair is
scored once per chunk; responses longer than ``max_chars`` are shown to the judge as head + tail.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aligngate.curation.heap import trim_heap
from aligngate.judge.base import judge_pairs

__all__ = ["LearnedScorer", "dpo_scores", "load_models", "sft_scores"]

_SLICE = 512
"""Prompts per harm-classifier call and (prompt, response) pairs per judge call; the heap is trimmed between
calls (:mod:`aligngate.curation.heap`)."""


def load_models(judge_name: str = "minilm") -> tuple[Any, Any]:
    """(refusal judge, harmful-prompt classifier), imported lazily."""
    from aligngate.judge import get_judge
    from aligngate.judge.harm import HarmClassifier

    return get_judge(judge_name), HarmClassifier()


def _clip(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    half = max_chars // 2
    return text[:half] + "\n...\n" + text[-half:]


class LearnedScorer:
    """Batched, de-duplicated calls to the judge and the harm classifier."""

    def __init__(self, judge: Any, harm: Any, max_chars: int = 4000) -> None:
        self.judge = judge
        self.harm = harm
        self.max_chars = max_chars

    def harm_probs(self, prompts: Sequence[str]) -> list[float]:
        """P(harmful request) per prompt."""
        uniq = list(dict.fromkeys(prompts))
        if not uniq:
            return []
        scores: dict[str, float] = {}
        for start in range(0, len(uniq), _SLICE):
            part = uniq[start : start + _SLICE]
            scores.update(zip(part, (float(s) for s in self.harm.score(part)), strict=True))
            trim_heap()
        return [scores[p] for p in prompts]

    def refusal_probs(self, prompts: Sequence[str], responses: Sequence[str],
                      p_harm: Sequence[float] | None = None) -> list[float]:
        """P(refusal) per (prompt, response) pair (a partial refusal counts as a refusal). ``p_harm``: the harm
        classifier's score of each prompt, handed to a judge that reads it (saves it scoring them again)."""
        pairs = [(p, _clip(r, self.max_chars)) for p, r in zip(prompts, responses, strict=True)]
        harm = dict(zip(prompts, p_harm, strict=True)) if p_harm is not None else {}
        uniq = list(dict.fromkeys(pairs))
        if not uniq:
            return []
        scores: dict[tuple[str, str], float] = {}
        for start in range(0, len(uniq), _SLICE):
            part = uniq[start : start + _SLICE]
            judged = judge_pairs(self.judge, [p for p, _ in part], [r for _, r in part],
                                 [harm[p] for p, _ in part] if harm else None)
            scores.update((pair, float(j.score)) for pair, j in zip(part, judged, strict=True))
            trim_heap()
        return [scores[pair] for pair in pairs]


def sft_scores(p_harm: float, p_refusal: float) -> dict[str, float]:
    """Per-row scores of an SFT row."""
    return {"p_harmful": round(p_harm, 4), "p_refusal": round(p_refusal, 4),
            "harmful_compliance": round(p_harm * (1.0 - p_refusal), 4)}


def dpo_scores(p_harm: float, p_ref_c: float, p_ref_r: float, len_c: int, len_r: int) -> dict[str, float]:
    """Per-row scores of a DPO pair (see the module doc)."""
    harmful_flip = p_harm * (1.0 - p_ref_c) * p_ref_r
    over_refusal = (1.0 - p_harm) * p_ref_c * (1.0 - p_ref_r)
    longer = min(1.0, max(0.0, len_c / max(len_r, 1) - 1.0))
    return {"p_harmful": round(p_harm, 4), "p_refusal_chosen": round(p_ref_c, 4),
            "p_refusal_rejected": round(p_ref_r, 4),
            "chosen_harmful_compliance": round(p_harm * (1.0 - p_ref_c), 4),
            "flipped_preference": round(max(harmful_flip, over_refusal), 4),
            "verbose_non_answer": round(over_refusal * longer, 4)}
