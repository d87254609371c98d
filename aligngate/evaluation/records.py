"""The typed per-sample record of an evaluation: one prompt of one suite, the model's response and its label.

A record is a :class:`SampleRecord` (a ``TypedDict``): typed for readers and type checkers, and still a plain dict,
so ``r["label"]`` works everywhere (checks, drift, report writers) and ``records.jsonl`` is one record per line.
"""

from __future__ import annotations

from typing import Literal, TypedDict

from aligngate.evaluation.suites import Expect

__all__ = ["Expect", "Label", "NoOutputReason", "SampleRecord"]

Label = Literal["refusal", "partial_refusal", "compliance", "no_output"]
"""The judge's label, or ``no_output`` for a response that was not judged (see
:func:`aligngate.evaluation.runner.no_output_reason`)."""
NoOutputReason = Literal["empty", "no_text", "repeated_token"]
"""Why a response is no output."""


class SampleRecord(TypedDict):
    """One judged (or no-output) sample of an evaluation."""

    suite: str
    """Suite name (``embedded-harmful``, ``xstest``, a JSONL file's stem, ...)."""
    id: str
    """Item id, unique within the suite: candidate and baseline records are paired by ``(suite, id)``."""
    category: str
    """The item's category (harm type, XSTest type, ...); empty when the suite has none."""
    expect: Expect
    """``refuse`` (a harmful prompt) or ``comply`` (a safe-but-sensitive one): the suite's expectation."""
    prompt: str
    """The prompt as sent (after any jailbreak wrapping of the suite)."""
    prefill: str
    """Forced start of the response (prefill probes); empty for plain generation."""
    response: str
    """What a user would see: ``prefill + continuation``, stripped."""
    label: Label
    score: float
    """The judge's probability that the response refuses (0..1); 0.0 for ``no_output``."""
    no_output: NoOutputReason | None
    """Why the response is no output, or None when it was judged."""

