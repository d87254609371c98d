"""The fast generation entry points: same contract as :func:`aligngate.generation.generate`.

``generate_fast`` merges a peft adapter into the base weights, then decodes greedily with
:class:`~aligngate.fastgen.decode.StaticDecoder` (static KV cache, one CUDA graph per step shape) on CUDA, in
the same length-sorted, left-padded batches as the stock path (so outputs can be compared batch for batch),
stopping each batch once every row has produced a stop token. On CPU, for unsupported architectures, or when
``backend="stock"``, it is the stock path. ``backend="vllm"`` needs a model *path* and goes through
:mod:`aligngate.fastgen.vllm_backend`. torch and transformers are imported inside the functions.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Literal

__all__ = ["Backend", "choose_backend", "generate_fast", "generate_ids_fast", "generate_ids_stock", "merge_adapter"]

log = logging.getLogger(__name__)

Backend = Literal["auto", "static", "stock"]


def merge_adapter(model: Any) -> Any:
    """The plain model with any peft LoRA adapter merged into its weights (``merge_and_unload``).

    Merging happens in place: the peft wrapper passed in keeps computing the tuned model, but can no longer
    unmerge. A model with no adapter is returned as is.
    """
    if hasattr(model, "merge_and_unload") and hasattr(model, "peft_config"):
        return model.merge_and_unload()
    return model


def choose_backend(model: Any, backend: Backend = "auto") -> tuple[str, str]:
    """``("static" | "stock", reason)``: the backend ``generate_fast`` will use for this (merged) model."""
    from aligngate.fastgen.decode import supports_static_decode

    if backend == "stock":
        return "stock", "asked for"
    ok, why = supports_static_decode(model)
    if not ok:
        return "stock", why
    if backend == "static":
        return "static", "asked for"
    device = _device(model)
    if getattr(device, "type", str(device)) != "cuda":
        return "stock", "not on CUDA"
    return "static", "CUDA and a supported architecture"


def _device(model: Any) -> Any:
    try:
        return next(model.parameters()).device
    except (StopIteration, AttributeError):
        return "cpu"


def generate_ids_stock(model: Any, encoded: Sequence[Sequence[int]], *, max_new_tokens: int, batch_size: int,
                       stop_ids: Sequence[int], pad_id: int) -> list[list[int]]:
    """HF ``generate`` on token ids, batched exactly like :func:`aligngate.generation.generate` (longest first,
    left padding); each result is cut after its first stop token. The baseline the fast path is checked against."""
    import torch

    from aligngate.generation import left_pad, length_batches

    encoded = [list(e) for e in encoded]
    stops, device = set(stop_ids), _device(model)
    results: list[list[int]] = [[] for _ in encoded]
    with torch.inference_mode():
        for idx in length_batches(encoded, batch_size):
            ids, mask = left_pad([encoded[i] for i in idx], pad_id, device)
            out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens,
                                 min_new_tokens=0, do_sample=False, num_beams=1, eos_token_id=list(stop_ids),
                                 pad_token_id=pad_id)
            for row, i in enumerate(idx):
                new = out[row, ids.shape[1]:].tolist()
                cut = next((k for k, t in enumerate(new) if t in stops), len(new) - 1)
                results[i] = new[:cut + 1]
    return results


def generate_ids_fast(model: Any, encoded: Sequence[Sequence[int]], *, max_new_tokens: int, batch_size: int,
                      stop_ids: Sequence[int], pad_id: int, backend: Backend = "auto",
                      decoder: Any = None, exact: bool = True) -> list[list[int]]:
    """Greedy continuations of token-id prompts (each cut after its first stop token), in input order.

    ``model`` must already be merged (see :func:`merge_adapter`). ``decoder`` reuses a
    :class:`~aligngate.fastgen.decode.StaticDecoder` (and its captured graphs) across calls. ``exact=False``
    trades token identity with the stock path for fewer kernel launches (see the decoder's docstring).
    """
    from aligngate.fastgen.decode import StaticDecoder
    from aligngate.generation import left_pad, length_batches

    encoded = [list(e) for e in encoded]
    if not encoded:
        return []
    chosen, why = choose_backend(model, backend)
    if chosen == "stock":
        log.info("fastgen: stock generate (%s)", why)
        return generate_ids_stock(model, encoded, max_new_tokens=max_new_tokens, batch_size=batch_size,
                                  stop_ids=stop_ids, pad_id=pad_id)
    width = max(len(e) for e in encoded)
    if decoder is None or decoder.max_new_tokens != max_new_tokens or decoder.max_len < width + max_new_tokens \
            or decoder.max_batch < min(batch_size, len(encoded)):
        decoder = StaticDecoder(model, max_batch=min(batch_size, len(encoded)), max_len=width + max_new_tokens,
                                max_new_tokens=max_new_tokens, stop_ids=tuple(int(s) for s in stop_ids), exact=exact)
    results: list[list[int]] = [[] for _ in encoded]
    for idx in length_batches(encoded, batch_size):
        ids, mask = left_pad([encoded[i] for i in idx], pad_id, decoder.device)
        for i, row in zip(idx, decoder.generate_batch(ids, mask)):
            results[i] = row
    return results


def generate_fast(model: Any, tokenizer: Any, prompts: Sequence[str], *, max_new_tokens: int = 24,
                  batch_size: int = 64, progress: bool = False, backend: Backend = "auto",
                  exact: bool = True, prompt_format: str = "chat", name: str | None = None) -> list[str]:
    """Greedy completions for ``prompts`` (chat-templated), in input order, special tokens stripped.

    Drop-in for :func:`aligngate.generation.generate`: same prompt encoding, stop tokens, batching and text
    post-processing. A peft adapter is merged first (in place). ``progress`` is accepted for signature
    compatibility; the fast path is quick enough not to need a bar. ``exact`` (default) keeps the outputs
    token-identical to the stock path on the same batches; ``exact=False`` is faster, within bf16 rounding.
    """
    from aligngate.generation import encode_prompts, generate, pad_token_id, stop_token_ids

    if not prompts:
        return []
    model = merge_adapter(model)
    chosen, why = choose_backend(model, backend)
    if chosen == "stock":
        log.info("fastgen: stock generate (%s)", why)
        return generate(model, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size,
                        progress=progress, prompt_format=prompt_format, name=name)  # type: ignore[arg-type]
    encoded = encode_prompts(tokenizer, prompts, prompt_format=prompt_format)  # type: ignore[arg-type]
    stops = stop_token_ids(model, tokenizer)
    rows = generate_ids_fast(model, encoded, max_new_tokens=max_new_tokens, batch_size=batch_size, stop_ids=stops,
                             pad_id=pad_token_id(tokenizer), backend="static", exact=exact)
    out = []
    for row in rows:
        cut = next((k for k, t in enumerate(row) if t in stops), len(row))
        out.append(tokenizer.decode(row[:cut], skip_special_tokens=True).strip())
    return out
