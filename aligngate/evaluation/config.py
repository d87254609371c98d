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
    """Decode budget per response: refusals show early, so a short budget is enough for the judge. The check
    ``evaluation.generation_budget`` is the evidence for a given model: it judges a sample at this budget and at a
    longer one (128 tokens by default) and measures how often the label stays the same. On the embedded model 24
    tokens gave the label of 128 on 137 of the 138 prompts of the embedded suites (0.993; 8 tokens: 0.957, 16:
    0.986, 32: 1.0; docs/LOG.md). A policy names that check (e.g. ``>= 0.95``) so that a model whose refusals
    come late blocks instead of passing on truncated text."""
    batch_size: int = Field(default=32, ge=1)
    """Generation batch size."""
    backend: Literal["auto", "hf", "static"] = "auto"
    """Generation path: ``static`` is aligngate's static-KV-cache greedy decoder (:mod:`aligngate.fastgen`; merged
    adapter, CUDA-graphed decode steps on CUDA, eager on CPU; llama / mistral / qwen2 architectures); ``hf`` is
    stock transformers ``generate``; ``auto`` is ``static`` on CUDA for a supported model, ``hf`` otherwise. Both
    check every step's logits for NaN/Inf, stop at the same stop tokens and read the same ``prompt_format``."""
    decode: Literal["exact", "fused"] = "exact"
    """Static decoder mode: ``exact`` attends over exactly the keys so far (token-identical to ``hf`` on CPU);
    ``fused`` captures one CUDA graph per step over a masked cache (several times faster on GPUs, logits within
    bf16 rounding of ``hf``, so near-ties may flip). Ignored by ``hf``."""
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
