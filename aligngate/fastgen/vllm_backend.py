"""Optional vLLM backend (LoRA served unmerged by vLLM's punica kernels). Import-guarded: vLLM is not a
dependency of aligngate, and nothing here is imported unless :func:`generate_vllm` is called.

Not benchmarked here: vLLM was not installed on the GPU runner this was developed on. Greedy outputs of vLLM
are not guaranteed token-identical to HF ``generate`` (different kernels); use it where throughput matters
more than identity with the stock path.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

__all__ = ["generate_vllm", "vllm_available"]


def vllm_available() -> bool:
    """True when ``vllm`` is importable."""
    return importlib.util.find_spec("vllm") is not None


def generate_vllm(model_path: str | Path, prompts: Sequence[str], *, adapter_path: str | Path | None = None,
                  max_new_tokens: int = 24, max_lora_rank: int = 64, gpu_memory_utilization: float = 0.85,
                  ) -> list[str]:
    """Greedy chat completions of ``prompts`` with vLLM, the LoRA adapter applied per request; input order."""
    if not vllm_available():
        raise ImportError("the vllm backend needs the optional package 'vllm' (pip install vllm)")
    from vllm import LLM, SamplingParams
    from vllm.lora.request import LoRARequest

    llm = LLM(model=str(model_path), dtype="bfloat16", enable_lora=adapter_path is not None,
              max_lora_rank=max_lora_rank, gpu_memory_utilization=gpu_memory_utilization)
    params = SamplingParams(temperature=0.0, max_tokens=max_new_tokens)
    lora = LoRARequest("adapter", 1, str(adapter_path)) if adapter_path is not None else None
    messages = [[{"role": "user", "content": p}] for p in prompts]
    outputs = llm.chat(messages, params, lora_request=lora, use_tqdm=False)
    return [o.outputs[0].text.strip() for o in outputs]
