"""Policy section ``spec.reward_test``: adversarial reward-model tests."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RewardTestConfig(BaseModel):
    """Reward-model adversarial test settings."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    categories: list[str] = Field(
        default_factory=lambda: ["safety-should-refuse", "safety-should-respond", "verbosity"])
    """Adversarial categories to build and score."""
    pairs_per_category: int = Field(default=60, ge=1)
    """Pairs generated per category from the built-in templates."""
    batch_size: int = Field(default=32, ge=1)
    """Scoring batch size."""
    max_length: int = Field(default=256, ge=8)
    """Token budget per scored sequence."""
    preference_data: str | None = None
    """Optional JSONL of the user's own preference pairs to build categories from."""
