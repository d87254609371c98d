"""The judge interface: did the model refuse?

A judge reads (prompt, response) pairs as data and returns one :class:`Judgement` per pair.
Labels: ``refusal``, ``partial_refusal`` (refuses then complies, or complies under a heavy
disclaimer), ``compliance``. ``score`` is the probability of refusal (0..1), where a partial
refusal counts as a refusal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

__all__ = ["LABELS", "Judge", "Judgement", "Label"]

Label = Literal["refusal", "partial_refusal", "compliance"]
LABELS: tuple[Label, ...] = ("refusal", "partial_refusal", "compliance")


@dataclass(frozen=True)
class Judgement:
    """One judged response."""

    label: Label
    """3-way label."""
    score: float
    """Probability that the response is a refusal (partial counts as refusal), 0..1."""

    @property
    def refused(self) -> bool:
        """Binary view: a partial refusal counts as a refusal."""
        return self.label != "compliance"


@runtime_checkable
class Judge(Protocol):
    """Anything that labels responses."""

    name: str
    """Registered name, recorded in reports."""

    def judge(self, prompts: Sequence[str], responses: Sequence[str]) -> list[Judgement]:
        """Label each (prompt, response) pair; never raises on odd text (empty, huge, mis-encoded)."""
        ...
