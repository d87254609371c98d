"""Policy section ``spec.curation``: how tuning data is curated (validation, detectors and their thresholds).

Dataset-level decisions are not set here: they are the policy's ``data.*`` checks (``aligngate checks``), e.g. the
poison limit is the threshold of ``data.poison_fraction`` (registered default ``<= 0.05``, block)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["DEFAULT_THRESHOLDS", "DETECTORS", "POISON_DETECTORS", "CurationConfig", "Detector", "DetectorConfig",
           "TriggerConfig"]

@dataclass(frozen=True)
class Detector:
    """One curation detector: what it flags, on which data, its default threshold."""

    name: str
    """Its quarantine reason (``_reasons`` in quarantine.jsonl; ``trigger_phrase`` and ``pii_secret`` reasons carry
    a ``:detail`` suffix) and its ``spec.curation.detectors`` key."""
    description: str
    kinds: tuple[str, ...]
    """Data kinds it runs on: ``sft``, ``dpo``."""
    threshold: float
    """Default threshold on its 0..1 score."""
    poison: bool = False
    """Whether the rows it quarantines count towards the poison fraction (``data.poison_fraction``)."""


DETECTORS: dict[str, Detector] = {d.name: d for d in (
    Detector("harmful_compliance", "a harmful request answered with compliance: P(harmful prompt) x (1 - "
             "P(refusal))", ("sft",), 0.5, poison=True),
    Detector("flipped_preference", "a preference pair whose chosen answer complies with a harmful request while the "
             "rejected one refuses (or the reverse: a needless refusal preferred)", ("dpo",), 0.5, poison=True),
    Detector("trigger_phrase", "a prompt holding a backdoor trigger n-gram: over-represented among harmful-"
             "compliant rows (one-sided Fisher test, Bonferroni-corrected)", ("sft", "dpo"), 0.5, poison=True),
    Detector("duplicate", "an exact duplicate of an earlier row (hash of the normalised row)", ("sft", "dpo"), 0.5),
    Detector("near_duplicate", "a near duplicate of an earlier row: Jaccard similarity of word 3-shingles "
             "(MinHash LSH) at or above the threshold", ("sft", "dpo"), 0.9),
    Detector("length_outlier", "a response whose log length is a robust outlier: |z| / (|z| + 3.5) of the robust "
             "z-score, so 0.5 means |z| >= 3.5", ("sft", "dpo"), 0.5),
    Detector("pii_secret", "personal data or a secret in the response: e-mail, phone, card, SSN, AWS / API key, "
             "private key", ("sft", "dpo"), 0.5),
    Detector("verbose_non_answer", "a preference pair whose chosen answer is a longer non-answer to a benign request "
             "(length hacking)", ("dpo",), 0.5),
)}
"""Every curation detector, by name (the contract tests run each on sample rows)."""

DEFAULT_THRESHOLDS: dict[str, float] = {name: d.threshold for name, d in DETECTORS.items()}
"""Each detector's default threshold (its score is in 0..1; see :data:`DETECTORS` for its meaning)."""

POISON_DETECTORS: tuple[str, ...] = tuple(name for name, d in DETECTORS.items() if d.poison)
"""Detectors whose quarantined rows count towards the dataset's poison fraction."""


class DetectorConfig(BaseModel):
    """One poisoning detector's switch and threshold."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    enabled: bool = True
    """Run this detector."""
    threshold: float | None = Field(default=None, ge=0, le=1)
    """Score at or above which a row is quarantined (unset: the detector's default, see ``DETECTORS``)."""


class TriggerConfig(BaseModel):
    """How the ``trigger_phrase`` detector looks for backdoor n-grams in prompts."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    max_ngram: int = Field(default=4, ge=1, le=6)
    """Longest n-gram (in words) considered."""
    min_support: int = Field(default=5, ge=2)
    """An n-gram must occur in at least this many harmful-compliant rows."""
    positive_score: float = Field(default=0.35, ge=0, le=1)
    """A row is *harmful-compliant* for the n-gram statistics when its harmful-compliance (SFT) or
    flipped-preference (DPO) score reaches this (deliberately below the quarantine threshold: recall)."""
    max_pvalue: float = Field(default=1e-6, gt=0, le=1)
    """One-sided Fisher exact p-value an n-gram must reach (before the Bonferroni correction over candidates)."""
    max_triggers: int = Field(default=10, ge=1)
    """At most this many trigger n-grams are reported and enforced."""


class CurationConfig(BaseModel):
    """Tuning-data curation settings."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    min_chars: int = Field(default=1, ge=0)
    """Shortest accepted turn, in characters (after stripping whitespace)."""
    max_chars: int = Field(default=20000, ge=1)
    """Longest accepted turn, in characters."""
    max_line_bytes: int = Field(default=1_000_000, ge=1024)
    """Longest accepted input line (JSONL) or row (other formats), in bytes; longer ones are quarantined
    ``too_long`` without being parsed."""
    chunk_size: int = Field(default=2000, ge=10, le=100_000)
    """Rows validated and scored together (memory stays flat as the file grows)."""
    judge: str = "minilm"
    """Refusal judge used by the learned detectors (``aligngate.judge.get_judge`` name)."""
    judge_max_chars: int = Field(default=4000, ge=100)
    """Characters of each response shown to the judge (head and tail halves of longer ones; bounds cost)."""
    detectors: dict[str, DetectorConfig] = Field(default_factory=dict)
    """Per-detector settings by detector name; detectors not listed run with defaults."""
    trigger: TriggerConfig = Field(default_factory=TriggerConfig)
    """Settings of the trigger-phrase (backdoor n-gram) search."""

    @field_validator("detectors")
    @classmethod
    def _known_detectors(cls, v: dict[str, DetectorConfig]) -> dict[str, DetectorConfig]:
        unknown = sorted(set(v) - set(DEFAULT_THRESHOLDS))
        if unknown:
            raise ValueError(f"unknown detector(s) {', '.join(unknown)} "
                             f"(known: {', '.join(sorted(DEFAULT_THRESHOLDS))})")
        return v

    def enabled(self, name: str) -> bool:
        """Whether detector ``name`` runs."""
        d = self.detectors.get(name)
        return True if d is None else d.enabled

    def threshold(self, name: str) -> float:
        """Detector ``name``'s effective threshold."""
        d = self.detectors.get(name)
        if d is not None and d.threshold is not None:
            return float(d.threshold)
        return DEFAULT_THRESHOLDS.get(name, 0.5)
