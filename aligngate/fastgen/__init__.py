"""Fast evaluation generation: merged adapter, static KV cache, CUDA-graphed greedy decoding.

``generate_fast(model, tokenizer, prompts, *, max_new_tokens, batch_size)`` has the contract of
:func:`aligngate.generation.generate` and falls back to it on CPU and for unsupported architectures.
``budget_check`` compares judged labels at the policy's token budget vs a longer one. Nothing heavy is
imported here; torch and transformers load when a function runs.
"""

from __future__ import annotations

from aligngate.fastgen.api import choose_backend, generate_fast, generate_ids_fast, generate_ids_stock, merge_adapter
from aligngate.fastgen.budget import BudgetReport, budget_check

__all__ = ["BudgetReport", "budget_check", "choose_backend", "generate_fast", "generate_ids_fast",
           "generate_ids_stock", "merge_adapter"]
