"""Policy section ``spec.curation``: tuning-data curation thresholds."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["DEFAULT_THRESHOLDS", "POISON_DETECTORS", "CurationConfig", "DetectorConfig", "TriggerConfig"]

DEFAULT_THRESHOLDS: dict[str, float] = {
    "harmful_compliance": 0.5,
    "flipped_preference": 0.5,
    "trigger_phrase": 0.5,
    "duplicate": 0.5,
    "near_duplicate": 0.9,
    "length_outlier": 0.5,
    "pii_secret": 0.5,
    "verbose_non_answer": 0.5,
}
"""Each detector's default threshold (its score is in 0..1; see the detector's docstring for its meaning).
``near_duplicate``: Jaccard similarity of word 3-shingles. ``length_outlier``: ``|z| / (|z| + 3.5)`` of the
robust z-score of log response length, so 0.5 means ``|z| >= 3.5``."""

POISON_DETECTORS: tuple[str, ...] = ("harmful_compliance", "flipped_preference", "trigger_phrase")
"""Detectors whose quarantined rows count towards the dataset's poison fraction."""


class DetectorConfig(BaseModel):
    """One poisoning detector's switch and threshold."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    enabled: bool = True
    """Run this detector."""
    threshold: float | None = Field(default=None, ge=0, le=1)
    """Score at or above which a row is quarantined (unset: the detector's default, see ``DEFAULT_THRESHOLDS``)."""


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

    poison_fraction_max: float = Field(default=0.05, ge=0, le=1)
    """The dataset as a whole is blocked (exit 1) when the quarantined-as-poison fraction passes this."""
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
    chosen_longer_max: float = Field(default=0.75, ge=0, le=1)
    """DPO reward-hacking warning: fraction of pairs whose chosen response is the longer one."""
    length_spearman_max: float = Field(default=0.3, ge=-1, le=1)
    """DPO reward-hacking warning: Spearman correlation of preference (chosen=1) with response length."""

    @field_validator("detectors")
    @classmethod
    def _known_detectors(cls, v: dict[str, DetectorConfig]) -> dict[str, DetectorConfig]:
        unknown = sorted(set(v) - set(DEFAULT_THRESHOLDS))
        if unknown:
            raise ValueError(f"unknown detector(s) {', '.join(unknown)} (known: {', '.join(sorted(DEFAULT_THRESHOLDS))})")
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
