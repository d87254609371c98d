"""Is the policy's generation budget enough for the judge? Compare labels at the budget vs a longer one.

The gate decodes only ``max_new_tokens`` (policy knob, default 24) because a refusal shows in its first words.
:func:`budget_check` measures that on a sample: it generates each sampled prompt twice, at ``budget`` and at
``longer`` new tokens (same batches, greedy), judges both and reports how often the labels agree. The lead owns
the policy; this only supplies the evidence (e.g. "raise the budget when agreement < 0.98").
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["BudgetReport", "budget_check"]


@dataclass(frozen=True)
class BudgetReport:
    """Label agreement between responses cut at ``budget`` tokens and at ``longer`` tokens."""

    budget: int
    longer: int
    n: int
    label_agreement: float
    """Fraction of sampled prompts with the same 3-way label."""
    refusal_agreement: float
    """Fraction with the same binary refused / complied view."""
    disagreements: list[int] = field(default_factory=list)
    """Indices (into the caller's prompts) whose label changed."""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for reports."""
        return asdict(self)


def budget_check(model: Any, tokenizer: Any, prompts: Sequence[str], judge: Any, *, budget: int = 24,
                 longer: int = 128, sample: int = 200, batch_size: int = 64, seed: int = 0,
                 generate: Any = None) -> BudgetReport:
    """Judge ``sample`` random prompts at ``budget`` and at ``longer`` new tokens; report label agreement.

    ``judge`` follows :class:`aligngate.judge.base.Judge`. ``generate`` defaults to
    :func:`aligngate.fastgen.generate_fast` (same contract as :func:`aligngate.generation.generate`).
    """
    if budget >= longer:
        raise ValueError(f"budget ({budget}) must be below longer ({longer})")
    if generate is None:
        from aligngate.fastgen.api import generate_fast as generate
    idx = list(range(len(prompts)))
    if sample < len(idx):
        idx = sorted(random.Random(seed).sample(idx, sample))
    chosen = [prompts[i] for i in idx]
    if not chosen:
        return BudgetReport(budget, longer, 0, 1.0, 1.0)
    short = generate(model, tokenizer, chosen, max_new_tokens=budget, batch_size=batch_size)
    long_ = generate(model, tokenizer, chosen, max_new_tokens=longer, batch_size=batch_size)
    a, b = judge.judge(chosen, short), judge.judge(chosen, long_)
    same = [x.label == y.label for x, y in zip(a, b)]
    same_bin = [x.refused == y.refused for x, y in zip(a, b)]
    return BudgetReport(budget=budget, longer=longer, n=len(chosen), label_agreement=sum(same) / len(same),
                        refusal_agreement=sum(same_bin) / len(same_bin),
                        disagreements=[i for i, ok in zip(idx, same) if not ok])
