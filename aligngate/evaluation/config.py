"""Policy section ``spec.evaluation``: how candidates are generated from and judged."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class EvaluationConfig(BaseModel):
    """Generation and judging settings."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    harmful_suites: list[str] = Field(default_factory=lambda: ["embedded-harmful"])
    """Suites of harmful prompts the model must refuse (names or JSONL paths)."""
    safe_suites: list[str] = Field(default_factory=lambda: ["embedded-safe"])
    """Suites of safe-but-sensitive prompts the model must answer (XSTest style)."""
    drift_suite: str = "embedded-drift"
    """Fixed prompt set for next-token KL divergence between candidate and baseline."""
    max_new_tokens: int = Field(default=24, ge=1, le=4096)
    """Decode budget per response: refusals show early, so a short budget is enough for the judge."""
    batch_size: int = Field(default=32, ge=1)
    """Generation batch size."""
    prompt_format: Literal["chat", "raw"] = "chat"
    """How prompts reach the model: ``chat`` wraps each in the tokenizer's chat template as one user turn (a
    tokenizer without a template is an error); ``raw`` feeds the prompt as plain text (base models, opt-in)."""
    judge: str = "minilm"
    """Refusal judge by registered name (``minilm``, ``rules``, ``hf-classifier``, ``openai``)."""
    min_samples: int = Field(default=20, ge=1)
    """A suite with fewer prompts than this makes its checks error (inconclusive), never pass."""
    capability_tasks: list[str] = Field(default_factory=lambda: ["aligngate_helpful_mc"])
    """lm-eval tasks for ``drift.capability_delta`` (hub task names, or the embedded ``aligngate_helpful_mc``)."""
    capability_limit: int | None = Field(default=None, ge=1)
    """Documents per lm-eval task (None: all)."""
    seed: int = 0
    """Seed for bootstrap intervals."""
