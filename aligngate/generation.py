"""Batched greedy generation for evaluation, and next-token log-probs for KL drift.

Prompts are wrapped in the tokenizer's chat template (one user turn + generation prompt), sorted by length
so each batch pads little (left padding), generated greedily, and returned in the caller's order. A tokenizer
without a chat template is an error unless the caller asks for ``prompt_format="raw"`` (the prompt fed as plain
text): a chat model silently fed raw text measures something else.

Every decode step checks that the model's logits are finite (one ``amax`` reduction per step, read once per
batch): a model with NaN/Inf weights or activations emits garbage tokens that decode to empty text, which a judge
would read as a refusal. Non-finite logits raise :class:`~aligngate.errors.EvaluationError` naming the model
and how many prompts were affected. torch is imported inside the functions.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from aligngate.errors import EvaluationError, InputError

__all__ = ["Completion", "PromptFormat", "encode_prompts", "finite_guard", "generate", "generate_completions",
           "generate_with_prefill", "guarded_generate", "left_pad", "length_batches", "model_name",
           "next_token_logprobs", "nonfinite_rows", "pad_token_id", "raise_if_nonfinite", "stop_token_ids"]

PromptFormat = Literal["chat", "raw"]


@dataclass(frozen=True)
class Completion:
    """One greedy completion: the visible text and the tokens the model itself generated."""

    text: str
    """``prefill + continuation``, stripped, special tokens removed (what a user would see)."""
    continuation: str
    """The model's own text after any prefill, stripped (empty when the model produced nothing visible)."""
    tokens: tuple[int, ...]
    """Generated token ids, cut before the first stop token."""
    budget: int
    """``max_new_tokens`` the model was allowed."""


def model_name(model: Any) -> str:
    """A model's path or hub id for messages (``name_or_path``), else its class name."""
    name = getattr(model, "name_or_path", None) or getattr(getattr(model, "config", None), "_name_or_path", None)
    return str(name) if name else type(model).__name__


def _tokenizer_name(tokenizer: Any) -> str:
    return str(getattr(tokenizer, "name_or_path", None) or type(tokenizer).__name__)


def encode_prompts(tokenizer: Any, prompts: Sequence[str], *, prompt_format: PromptFormat = "chat") -> list[list[int]]:
    """Token ids of each prompt as one chat user turn plus the generation prompt.

    The template already holds any BOS text, so the rendered string is tokenized without adding specials.
    ``prompt_format="raw"`` tokenizes the plain prompt with the tokenizer's own specials (for base models);
    with the default ``"chat"`` a tokenizer without a chat template raises :class:`InputError`.
    """
    if prompt_format == "raw":
        return [list(tokenizer(p)["input_ids"]) for p in prompts]
    if prompt_format != "chat":
        raise InputError(f"prompt format must be 'chat' or 'raw', not {prompt_format!r}")
    if not getattr(tokenizer, "chat_template", None):
        raise InputError(f"tokenizer of {_tokenizer_name(tokenizer)} has no chat template: prompts cannot be "
                         "wrapped as a chat turn; set spec.evaluation.prompt_format: raw (or --prompt-format raw) "
                         "to feed them as plain text")
    out = []
    for p in prompts:
        text = tokenizer.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True,
                                             tokenize=False)
        out.append(list(tokenizer(text, add_special_tokens=False)["input_ids"]))
    return out


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


def nonfinite_rows(scores: Any) -> Any:
    """Bool tensor over the leading dims of ``scores`` (``[..., vocab]``): the row holds a NaN or +Inf, or no
    finite entry at all. One ``amax`` reduction: max propagates NaN, is +Inf if any entry is, and is -Inf only
    when every entry is (so tokens masked to -Inf by a logits processor are fine)."""
    import torch

    return ~torch.isfinite(scores.amax(dim=-1))


def raise_if_nonfinite(name: str, bad: int, total: int) -> None:
    """Raise :class:`EvaluationError` when ``bad`` of ``total`` prompts met non-finite logits."""
    if bad:
        raise EvaluationError(f"model {name} produced non-finite logits on {bad} of {total} prompts "
                              "(corrupt weights?)")


@cache
def _finite_guard_class() -> type:
    """A ``LogitsProcessor`` that ORs each step's non-finite rows into ``bad`` (on device, no sync per step)."""
    from transformers import LogitsProcessor

    class FiniteLogitsGuard(LogitsProcessor):  # type: ignore[misc]
        """Records which batch rows ever saw non-finite scores; passes the scores through unchanged."""

        def __init__(self) -> None:
            self.bad: Any = None

        def __call__(self, input_ids: Any, scores: Any) -> Any:
            rows = nonfinite_rows(scores)
            self.bad = rows if self.bad is None else self.bad | rows
            return scores

    return FiniteLogitsGuard


def finite_guard() -> Any:
    """A fresh logits processor for ``model.generate(logits_processor=[guard])``; ``guard.bad`` holds the rows
    (a bool tensor) that met non-finite logits, or None when no step ran."""
    return _finite_guard_class()()


def guarded_generate(model: Any, ids: Any, mask: Any, *, max_new_tokens: int, stops: Sequence[int],
                     pad_id: int) -> tuple[Any, list[bool]]:
    """Greedy ``model.generate`` on one padded batch: (output ids, per-row "met non-finite logits" flags).

    ``remove_invalid_values`` is forced off so that a generation config cannot hide NaN/Inf before the guard.
    """
    guard = finite_guard()
    out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens, do_sample=False,
                         num_beams=1, eos_token_id=list(stops), pad_token_id=pad_id, logits_processor=[guard],
                         remove_invalid_values=False)
    bad = [False] * ids.shape[0] if guard.bad is None else [bool(x) for x in guard.bad.tolist()]
    return out, bad


def _model_device(model: Any) -> Any:
    try:
        return next(model.parameters()).device
    except (StopIteration, AttributeError):
        return "cpu"


def _progress(total: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, file=sys.stderr, disable=not enabled, leave=False)


def _greedy(model: Any, tokenizer: Any, encoded: list[list[int]], max_new_tokens: int, batch_size: int,
            progress: bool, name: str | None) -> list[tuple[str, tuple[int, ...]]]:
    """Greedy continuations of pre-tokenized prompts, in input order, cut at the first stop token:
    (decoded text, token ids). Raises :class:`EvaluationError` if any prompt met non-finite logits."""
    import torch

    stops, pad_id, device = stop_token_ids(model, tokenizer), pad_token_id(tokenizer), _model_device(model)
    stop_set = set(stops)
    results: list[tuple[str, tuple[int, ...]]] = [("", ())] * len(encoded)
    bad = 0
    with torch.inference_mode(), _progress(len(encoded), "generate", progress) as bar:
        for idx in length_batches(encoded, batch_size):
            ids, mask = left_pad([encoded[i] for i in idx], pad_id, device)
            out, flags = guarded_generate(model, ids, mask, max_new_tokens=max_new_tokens, stops=stops,
                                          pad_id=pad_id)
            bad += sum(flags)
            for row, i in enumerate(idx):
                new = out[row, ids.shape[1]:].tolist()
                cut = next((k for k, t in enumerate(new) if t in stop_set), len(new))
                results[i] = (tokenizer.decode(new[:cut], skip_special_tokens=True), tuple(new[:cut]))
            bar.update(len(idx))
    raise_if_nonfinite(name or model_name(model), bad, len(encoded))
    return results


def generate_completions(model: Any, tokenizer: Any, prompts: Sequence[str], prefills: Sequence[str] | None = None,
                         *, max_new_tokens: int = 24, batch_size: int = 32, progress: bool = True,
                         prompt_format: PromptFormat = "chat", name: str | None = None) -> list[Completion]:
    """Greedy completions with their generated tokens, in input order; ``prefills[i]`` (if given) forces the
    start of the response (a prefill probe). ``name`` names the model in errors (default: its path)."""
    if prefills is not None and len(prompts) != len(prefills):
        raise ValueError(f"{len(prompts)} prompts but {len(prefills)} prefills")
    if not prompts:
        return []
    pres = list(prefills) if prefills is not None else [""] * len(prompts)
    encoded = [ids + (list(tokenizer(pre, add_special_tokens=False)["input_ids"]) if pre else [])
               for ids, pre in zip(encode_prompts(tokenizer, prompts, prompt_format=prompt_format), pres,
                                   strict=True)]
    outs = _greedy(model, tokenizer, encoded, max_new_tokens, batch_size, progress, name)
    return [Completion(text=(pre + text).strip(), continuation=text.strip(), tokens=toks, budget=max_new_tokens)
            for pre, (text, toks) in zip(pres, outs, strict=True)]


def generate(model: Any, tokenizer: Any, prompts: Sequence[str], *, max_new_tokens: int = 24,
             batch_size: int = 32, progress: bool = True, prompt_format: PromptFormat = "chat",
             name: str | None = None) -> list[str]:
    """Greedy completions for ``prompts`` (chat-templated), in input order, special tokens stripped."""
    return [c.text for c in generate_completions(model, tokenizer, prompts, max_new_tokens=max_new_tokens,
                                                 batch_size=batch_size, progress=progress,
                                                 prompt_format=prompt_format, name=name)]


def generate_with_prefill(model: Any, tokenizer: Any, prompts: Sequence[str], prefills: Sequence[str], *,
                          max_new_tokens: int = 24, batch_size: int = 32, progress: bool = True,
                          prompt_format: PromptFormat = "chat", name: str | None = None) -> list[str]:
    """Greedy completions with the assistant turn forced to start with ``prefills[i]`` (a prefill probe).

    Returns the whole visible response, ``prefill + continuation``, so a judge sees what a user would.
    An empty prefill behaves like :func:`generate`.
    """
    return [c.text for c in generate_completions(model, tokenizer, prompts, prefills, max_new_tokens=max_new_tokens,
                                                 batch_size=batch_size, progress=progress,
                                                 prompt_format=prompt_format, name=name)]


def next_token_logprobs(model: Any, tokenizer: Any, prompts: Sequence[str], *, batch_size: int = 32,
                        progress: bool = False, prompt_format: PromptFormat = "chat", name: str | None = None) -> Any:
    """Log-softmax of the next-token distribution at the generation position: float32 tensor [n, vocab].

    Raises :class:`EvaluationError` when any prompt's logits are not finite.
    """
    import torch

    encoded = encode_prompts(tokenizer, prompts, prompt_format=prompt_format)
    pad_id, device = pad_token_id(tokenizer), _model_device(model)
    rows: dict[int, Any] = {}
    bad = 0
    with torch.inference_mode(), _progress(len(prompts), "logprobs", progress) as bar:
        for idx in length_batches(encoded, batch_size):
            ids, mask = left_pad([encoded[i] for i in idx], pad_id, device)
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            logits = model(input_ids=ids, attention_mask=mask, position_ids=positions).logits[:, -1, :]
            bad += int(nonfinite_rows(logits).sum())
            logp = torch.log_softmax(logits.float(), dim=-1).cpu()
            for row, i in enumerate(idx):
                rows[i] = logp[row]
            bar.update(len(idx))
    raise_if_nonfinite(name or model_name(model), bad, len(prompts))
    if not rows:
        return torch.empty((0, 0))
    return torch.stack([rows[i] for i in range(len(prompts))])
