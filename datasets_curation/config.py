"""Policy section ``spec.curation``: tuning-data curation thresholds."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DetectorConfig(BaseModel):
    """One poisoning detector's switch and threshold."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    enabled: bool = True
    """Run this detector."""
    threshold: float = Field(default=0.5, ge=0, le=1)
    """Score at or above which a row is quarantined."""


class CurationConfig(BaseModel):
    """Tuning-data curation settings."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    poison_fraction_max: float = Field(default=0.05, ge=0, le=1)
    """The dataset as a whole is blocked (exit 1) when the quarantined-as-poison fraction passes this."""
    min_chars: int = Field(default=1, ge=0)
    """Shortest accepted turn, in characters."""
    max_chars: int = Field(default=20000, ge=1)
    """Longest accepted turn, in characters."""
    detectors: dict[str, DetectorConfig] = Field(default_factory=dict)
    """Per-detector settings by detector name; detectors not listed run with defaults."""
