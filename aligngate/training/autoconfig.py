"""The fastest correct TRL / peft configuration for the GPU and memory at hand.

:func:`fast_training_kwargs` returns keyword arguments for ``trl.SFTConfig`` / ``trl.DPOConfig`` (``"args"``) and
for loading the model (``"model_init_kwargs"``), chosen from the model shape, the GPU memory and what is installed:

- bf16 everywhere (tf32 matmuls for the rest);
- SFT is padding-free (no pad tokens computed): sequences are flattened into one row with per-sequence
  ``position_ids``, attention runs per sequence through flash-attention's varlen kernel when ``flash_attn`` is
  installed, else through :func:`register_varlen_attention` (torch's own varlen flash kernel, or SDPA's causal
  flash kernel per sequence), never through a dense block-diagonal mask;
- Liger kernels only when asked (``prefer_liger=True``) and installed: measured on an H100 (liger-kernel 0.8.5,
  triton 3.6, TRL 1.16) they made padding-free SFT 5.9x *slower* (3.9k vs 23.0k tok/s, 1B shape) and gave
  DPO nothing, while TRL already computes the loss through a chunked, fused LM head;
- gradient checkpointing (non-reentrant) only where the estimated peak (weights + activations of the largest
  step) does not fit in ``memory_budget_bytes`` (default 90 % of the GPU).

The math is the stock configuration's: same batches, same LoRA, same loss; only padding, kernels and
recomputation change. Measured on an H100 (bench/results/gpu-2026-11-23.md), SFT ran 1.09x (1B shape) and
1.27x (8B) the tokens/s of TRL with checkpointing off, at 61 % / 74 % of its peak memory, loss equal to 2e-6
relative; DPO gained nothing over TRL's checkpointing-off configuration, and its memory-saving mode
(non-reentrant checkpointing) ran 1.7x TRL's default at the same peak. torch and transformers are imported
inside the functions.
"""

from __future__ import annotations

import importlib.util
from typing import Any

__all__ = ["VARLEN_ATTENTION", "detect_features", "estimate_peak_bytes", "fast_training_kwargs",
           "register_varlen_attention"]

VARLEN_ATTENTION = "aligngate_varlen"
_GIB = 2**30


def detect_features() -> dict[str, bool]:
    """Which optional accelerators are importable here."""
    return {name: importlib.util.find_spec(mod) is not None
            for name, mod in (("flash_attn", "flash_attn"), ("liger_kernel", "liger_kernel"))}


def _cfg(model_config: Any, name: str, default: Any = None) -> Any:
    if isinstance(model_config, dict):
        return model_config.get(name, default)
    return getattr(model_config, name, default)


def estimate_peak_bytes(model_config: Any, tokens_per_step: int, *, gradient_checkpointing: bool,
                        lora_r: int = 16) -> int:
    """Rough peak GPU memory of one LoRA training step on ``tokens_per_step`` real tokens (bf16).

    Frozen bf16 weights + the activations kept for backward (per layer and token: the inputs of the seven
    projections and the MLP intermediates, about 10*hidden + 4*intermediate values) + the chunked LM head's
    working set + a fixed allowance for the allocator, optimizer state of the adapter and CUDA context.
    """
    h = int(_cfg(model_config, "hidden_size"))
    inter = int(_cfg(model_config, "intermediate_size", 4 * h))
    layers = int(_cfg(model_config, "num_hidden_layers"))
    vocab = int(_cfg(model_config, "vocab_size"))
    tied = bool(_cfg(model_config, "tie_word_embeddings", False))
    params = layers * (4 * h * h + 3 * h * inter) + vocab * h * (1 if tied else 2)  # attention approximated as 4h^2
    weights = 2 * params
    per_layer_token = 2 * (10 * h + 4 * inter) * 1.15
    acts = tokens_per_step * (per_layer_token * (1 if gradient_checkpointing else layers)
                              + (2 * h * layers if gradient_checkpointing else 0))
    head = min(tokens_per_step, 4096) * vocab * 4
    lora = layers * 7 * lora_r * (h + inter) * 2 * 4  # params + grads + Adam moments (fp32), generous
    return int(weights + acts + head + lora + 1.5 * _GIB)


def fast_training_kwargs(model_config: Any, gpu_mem_bytes: int, method: str, *, batch_size: int = 8,
                         max_length: int = 1024, memory_budget_bytes: int | None = None,
                         features: dict[str, bool] | None = None, prefer_liger: bool = False) -> dict[str, Any]:
    """``{"args": {...}, "model_init_kwargs": {...}, "notes": [...], "estimated_peak_gib": float}``.

    ``method``: ``"sft"`` or ``"dpo"`` (DPO rows count twice: chosen and rejected). ``batch_size`` and
    ``max_length`` bound the tokens of one step for the memory estimate; padding-free SFT does not truncate,
    so pass pre-truncated examples (the tokens of a step are at most ``batch_size * max_length``).
    ``memory_budget_bytes`` (default 90 % of ``gpu_mem_bytes``) is what the step may use: pass TRL's default
    configuration's peak to get the memory-saving mode (checkpointing on, still padding-free).
    """
    if method not in ("sft", "dpo"):
        raise ValueError(f"method must be 'sft' or 'dpo', not {method!r}")
    feats = detect_features() if features is None else features
    budget = int(0.9 * gpu_mem_bytes) if memory_budget_bytes is None else int(memory_budget_bytes)
    tokens = batch_size * max_length * (2 if method == "dpo" else 1)
    peak_off = estimate_peak_bytes(model_config, tokens, gradient_checkpointing=False)
    ckpt = peak_off > budget
    peak = estimate_peak_bytes(model_config, tokens, gradient_checkpointing=True) if ckpt else peak_off
    notes = [f"estimated peak {peak_off / _GIB:.1f} GiB without checkpointing vs budget {budget / _GIB:.1f} GiB: "
             f"gradient checkpointing {'on' if ckpt else 'off'}"]
    args: dict[str, Any] = {"bf16": True, "tf32": True, "gradient_checkpointing": ckpt,
                            "per_device_train_batch_size": batch_size}
    if ckpt:
        args["gradient_checkpointing_kwargs"] = {"use_reentrant": False}
    model_init: dict[str, Any] = {"dtype": "bfloat16"}
    if prefer_liger and feats.get("liger_kernel"):
        args["use_liger_kernel"] = True
        # RoPE left stock (opt-in path; the measured slowdown was the same with and without Liger RoPE)
        args["liger_kernel_config"] = {"rms_norm": True, "swiglu": True, "rope": False, "cross_entropy": False,
                                       "fused_linear_cross_entropy": False}
        notes.append("Liger RMSNorm/SwiGLU kernels")
    if method == "sft":
        args.update(padding_free=True, max_length=None)
        if feats.get("flash_attn"):
            model_init["attn_implementation"] = "flash_attention_2"
            notes.append("padding-free, flash-attention varlen")
        else:
            model_init["attn_implementation"] = register_varlen_attention()
            notes.append("padding-free, torch varlen attention (aligngate_varlen)")
    else:
        args["max_length"] = max_length
        model_init["attn_implementation"] = "flash_attention_2" if feats.get("flash_attn") else "sdpa"
        notes.append("DPO: TRL 1.16 has padding-free DPO disabled; padded batches, fused LM head")
    return {"args": args, "model_init_kwargs": model_init, "notes": notes, "estimated_peak_gib": peak / _GIB}


# ---- padding-free attention without flash_attn --------------------------------------------------------------
_CU_CACHE: dict[tuple[int, int], tuple[Any, int]] = {}


def _cu_seqlens(position_ids: Any) -> tuple[Any, int]:
    """Cumulative sequence starts [N+1] (int32) and the longest length, from flattened ``position_ids``."""
    import torch

    key = (position_ids.data_ptr(), position_ids.shape[-1])
    hit = _CU_CACHE.get(key)
    if hit is not None:
        return hit
    pos = position_ids.reshape(-1)
    starts = torch.nonzero(pos == 0).reshape(-1).to(torch.int32)
    total = torch.tensor([pos.numel()], dtype=torch.int32, device=pos.device)
    cu = torch.cat([starts, total])
    max_len = int((cu[1:] - cu[:-1]).max())
    _CU_CACHE.clear()  # one forward at a time: keep only the current batch
    _CU_CACHE[key] = (cu, max_len)
    return cu, max_len


def _varlen_call(q: Any, k: Any, v: Any, cu: Any, max_len: int, scale: float | None) -> Any:
    """torch's varlen flash attention ([T, H, D] each), causal; None when unavailable."""
    import inspect

    try:
        from torch.nn.attention.varlen import varlen_attn
    except ImportError:
        return None
    params = inspect.signature(varlen_attn).parameters
    kw: dict[str, Any] = {"scale": scale}
    if "window_size" in params:
        kw["window_size"] = (-1, 0)
    elif "is_causal" in params:
        kw["is_causal"] = True
    else:
        return None
    if q.shape[1] != k.shape[1]:
        if "enable_gqa" not in params:
            return None
        kw["enable_gqa"] = True
    return varlen_attn(q, k, v, cu, cu, max_len, max_len, **kw)


def _varlen_attention(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, scaling: float | None = None,
                      dropout: float = 0.0, **kwargs: Any) -> tuple[Any, None]:
    """transformers attention interface: causal attention within each flattened sequence.

    ``query`` [1, H, T, D]; sequences are delimited by ``position_ids`` restarting at 0. Returns [1, T, H, D].
    With a padded batch (``attention_mask`` given or no ``position_ids``) it is plain causal SDPA.
    """
    import torch.nn.functional as F

    position_ids = kwargs.get("position_ids")
    if query.shape[0] != 1 or position_ids is None or attention_mask is not None:
        return _sdpa_padded(module, query, key, value, attention_mask, scaling, dropout)
    cu, max_len = _cu_seqlens(position_ids)
    q, k, v = (t[0].transpose(0, 1) for t in (query, key, value))  # [T, H, D]
    out = None
    if _VARLEN_OK[0]:
        try:
            out = _varlen_call(q.contiguous(), k.contiguous(), v.contiguous(), cu, max_len, scaling)
        except (RuntimeError, TypeError, NotImplementedError):
            _VARLEN_OK[0] = False
    if out is None:
        n_rep = query.shape[1] // key.shape[1]
        bounds = cu.tolist()
        parts = []
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            qs, ks, vs = query[:, :, a:b], key[:, :, a:b], value[:, :, a:b]
            parts.append(F.scaled_dot_product_attention(qs, ks, vs, is_causal=True, scale=scaling,
                                                        enable_gqa=n_rep > 1).transpose(1, 2))
        import torch

        return torch.cat(parts, dim=1), None
    return out.unsqueeze(0), None


_VARLEN_OK = [True]


def _sdpa_padded(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, scaling: float | None,
                 dropout: float) -> tuple[Any, None]:
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling)


def _no_mask(*args: Any, **kwargs: Any) -> None:
    """Mask builder for :data:`VARLEN_ATTENTION`: causality is handled inside the attention."""
    return None


def register_varlen_attention() -> str:
    """Register :data:`VARLEN_ATTENTION` with transformers (attention + mask interfaces); return its name."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface

    AttentionInterface.register(VARLEN_ATTENTION, _varlen_attention)
    AttentionMaskInterface.register(VARLEN_ATTENTION, _no_mask)
    return VARLEN_ATTENTION
