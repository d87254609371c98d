"""Policy section ``spec.reward_test``: adversarial reward-model tests."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

ALL_CATEGORIES: tuple[str, ...] = (
    "safety-should-refuse", "safety-should-respond", "verbosity", "style", "sycophancy")
"""Categories built from the built-in templates (``preference``, the user's own pairs, is added when given)."""


class RewardTestConfig(BaseModel):
    """Reward-model adversarial test settings."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    categories: list[str] = Field(default_factory=lambda: list(ALL_CATEGORIES))
    """Adversarial categories to build and score (any of: safety-should-refuse, safety-should-respond,
    verbosity, style, sycophancy)."""
    pairs_per_category: int = Field(default=60, ge=1)
    """Pairs generated per category from the built-in templates."""
    derived_per_category: int = Field(default=60, ge=0)
    """At most this many pairs per category derived from ``preference_data`` (padded / restyled chosen answers)."""
    length_groups: int = Field(default=40, ge=3)
    """Equal-quality groups (one answer at several lengths) for the length-bias figure."""
    invariance_items: int = Field(default=40, ge=3)
    """Responses scored before and after meaning-preserving edits (whitespace, casing, rephrasing)."""
    batch_size: int = Field(default=32, ge=1)
    """Scoring batch size."""
    max_length: int = Field(default=256, ge=8)
    """Token budget per scored sequence (longer ones keep their end; capped by the model's positions)."""
    preference_data: str | None = None
    """Optional JSONL of the user's own preference pairs (``prompt``/``chosen``/``rejected``; an optional
    ``category`` puts a row into that category) to build categories from; ``--pairs`` overrides it."""
    hh_rlhf: str | None = None
    """Optional HH-RLHF style JSONL(.gz) (``chosen``/``rejected`` full dialogues); ``--hh-rlhf`` overrides it."""
    hh_rlhf_limit: int = Field(default=500, ge=1)
    """At most this many HH-RLHF pairs are scored (a seeded sample)."""
    seed: int = 0
    """Seed for pair generation, sampling and bootstrap intervals."""
    device: str | None = None
    """Scoring device (None: the GPU when there is one)."""

    @field_validator("categories")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c not in ALL_CATEGORIES]
        if unknown:
            raise ValueError(f"unknown reward_test categories {unknown} (known: {', '.join(ALL_CATEGORIES)})")
        return value
