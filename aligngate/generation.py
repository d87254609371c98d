"""Batched greedy generation for evaluation, and next-token log-probs for KL drift.

Prompts are wrapped in the tokenizer's chat template (one user turn + generation prompt), sorted by length
so each batch pads little (left padding), generated greedily, and returned in the caller's order.
torch is imported inside the functions.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from typing import Any

__all__ = ["encode_prompts", "generate", "generate_with_prefill", "left_pad", "length_batches", "next_token_logprobs",
           "pad_token_id", "stop_token_ids"]


def encode_prompts(tokenizer: Any, prompts: Sequence[str]) -> list[list[int]]:
    """Token ids of each prompt as one chat user turn plus the generation prompt.

    The template already holds any BOS text, so the rendered string is tokenized without adding specials.
    Without a chat template the raw prompt is tokenized with the tokenizer's own specials.
    """
    if getattr(tokenizer, "chat_template", None):
        out = []
        for p in prompts:
            text = tokenizer.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True,
                                                 tokenize=False)
            out.append(list(tokenizer(text, add_special_tokens=False)["input_ids"]))
        return out
    return [list(tokenizer(p)["input_ids"]) for p in prompts]


def stop_token_ids(model: Any, tokenizer: Any) -> list[int]:
    """EOS ids of the tokenizer and generation config, plus ``<|end|>`` when the vocabulary has it."""
    ids: set[int] = set()
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    gen_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if isinstance(gen_eos, int):
        ids.add(gen_eos)
    elif gen_eos:
        ids.update(int(i) for i in gen_eos)
    end_id = tokenizer.get_vocab().get("<|end|>")
    if end_id is not None:
        ids.add(int(end_id))
    return sorted(ids)


def pad_token_id(tokenizer: Any) -> int:
    """The id to pad with: the tokenizer's pad token, else its EOS token."""
    for cand in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        if cand is not None:
            return int(cand)
    return 0


def length_batches(encoded: list[list[int]], batch_size: int) -> Iterator[list[int]]:
    """Index batches, longest prompts first (stable for equal lengths)."""
    order = sorted(range(len(encoded)), key=lambda i: (-len(encoded[i]), i))
    for start in range(0, len(order), max(1, batch_size)):
        yield order[start:start + max(1, batch_size)]


def left_pad(seqs: list[list[int]], pad_id: int, device: Any) -> tuple[Any, Any]:
    """(input_ids, attention_mask) tensors of ``seqs`` left-padded to the longest, on ``device``."""
    import torch

    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, seq in enumerate(seqs):
        if seq:
            ids[row, width - len(seq):] = torch.tensor(seq, dtype=torch.long)
            mask[row, width - len(seq):] = 1
    return ids.to(device), mask.to(device)


def _model_device(model: Any) -> Any:
    try:
        return next(model.parameters()).device
    except (StopIteration, AttributeError):
        return "cpu"


def _progress(total: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, file=sys.stderr, disable=not enabled, leave=False)


def _greedy(model: Any, tokenizer: Any, encoded: list[list[int]], max_new_tokens: int, batch_size: int,
            progress: bool) -> list[str]:
    """Greedy continuations of pre-tokenized prompts, in input order, cut at the first stop token."""
    import torch

    stops, pad_id, device = stop_token_ids(model, tokenizer), pad_token_id(tokenizer), _model_device(model)
    results: list[str] = [""] * len(encoded)
    with torch.inference_mode(), _progress(len(encoded), "generate", progress) as bar:
        for idx in length_batches(encoded, batch_size):
            ids, mask = left_pad([encoded[i] for i in idx], pad_id, device)
            out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens,
                                 do_sample=False, num_beams=1, eos_token_id=stops, pad_token_id=pad_id)
            for row, i in enumerate(idx):
                new = out[row, ids.shape[1]:].tolist()
                cut = next((k for k, t in enumerate(new) if t in stops), len(new))
                results[i] = tokenizer.decode(new[:cut], skip_special_tokens=True)
            bar.update(len(idx))
    return results


def generate(model: Any, tokenizer: Any, prompts: Sequence[str], *, max_new_tokens: int = 24,
             batch_size: int = 32, progress: bool = True) -> list[str]:
    """Greedy completions for ``prompts`` (chat-templated), in input order, special tokens stripped."""
    if not prompts:
        return []
    outs = _greedy(model, tokenizer, encode_prompts(tokenizer, prompts), max_new_tokens, batch_size, progress)
    return [o.strip() for o in outs]


def generate_with_prefill(model: Any, tokenizer: Any, prompts: Sequence[str], prefills: Sequence[str], *,
                          max_new_tokens: int = 24, batch_size: int = 32, progress: bool = True) -> list[str]:
    """Greedy completions with the assistant turn forced to start with ``prefills[i]`` (a prefill probe).

    Returns the whole visible response, ``prefill + continuation``, so a judge sees what a user would.
    An empty prefill behaves like :func:`generate`.
    """
    if len(prompts) != len(prefills):
        raise ValueError(f"{len(prompts)} prompts but {len(prefills)} prefills")
    if not prompts:
        return []
    encoded = [ids + (list(tokenizer(pre, add_special_tokens=False)["input_ids"]) if pre else [])
               for ids, pre in zip(encode_prompts(tokenizer, prompts), prefills)]
    outs = _greedy(model, tokenizer, encoded, max_new_tokens, batch_size, progress)
    return [(pre + out).strip() for pre, out in zip(prefills, outs)]


def next_token_logprobs(model: Any, tokenizer: Any, prompts: Sequence[str], *, batch_size: int = 32,
                        progress: bool = False) -> Any:
    """Log-softmax of the next-token distribution at the generation position: float32 tensor [n, vocab]."""
    import torch

    encoded = encode_prompts(tokenizer, prompts)
    pad_id, device = pad_token_id(tokenizer), _model_device(model)
    rows: dict[int, Any] = {}
    with torch.inference_mode(), _progress(len(prompts), "logprobs", progress) as bar:
        for idx in length_batches(encoded, batch_size):
            ids, mask = left_pad([encoded[i] for i in idx], pad_id, device)
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            logits = model(input_ids=ids, attention_mask=mask, position_ids=positions).logits[:, -1, :]
            logp = torch.log_softmax(logits.float(), dim=-1).cpu()
            for row, i in enumerate(idx):
                rows[i] = logp[row]
            bar.update(len(idx))
    if not rows:
        return torch.empty((0, 0))
    return torch.stack([rows[i] for i in range(len(prompts))])
