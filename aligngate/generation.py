"""Batched greedy generation for evaluation, drift and the adapter probe, on either generation path.

Prompts are wrapped in the tokenizer's chat template (one user turn + generation prompt), sorted by length
so each batch pads little (left padding), generated greedily, and returned in the caller's order. A tokenizer
without a chat template is an error unless the caller asks for ``prompt_format="raw"`` (the prompt fed as plain
text): a chat model silently fed raw text measures something else.

Two paths share everything but the decode loop (:func:`generate_ids`): ``backend="hf"``, stock transformers
``generate``, and ``backend="static"``, aligngate's static-KV-cache decoder (:mod:`aligngate.fastgen`;
``backend="auto"`` picks it on CUDA, see :func:`aligngate.fastgen.api.choose_backend`). Both cut each response at
the same stop tokens, and both check every decode step's logits (one ``amax`` reduction per step, read once per
batch): a model with NaN/Inf weights or activations emits garbage tokens that decode to empty text, which a judge
would read as a refusal. Non-finite logits raise :class:`~aligngate.errors.EvaluationError` naming the model
and how many prompts were affected. torch is imported inside the functions.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

from aligngate.errors import EvaluationError, InputError

if TYPE_CHECKING:
    from aligngate.fastgen.api import Backend, Decode

__all__ = ["Completion", "PromptFormat", "encode_prompts", "generate", "generate_completions", "generate_ids",
           "guarded_generate", "left_pad", "length_batches", "model_name", "nonfinite_rows", "pad_token_id",
           "raise_if_nonfinite", "stop_token_ids"]

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

    class FiniteLogitsGuard(LogitsProcessor):
        """Records which batch rows ever saw non-finite scores; passes the scores through unchanged."""

        def __init__(self) -> None:
            self.bad: Any = None

        def __call__(self, input_ids: Any, scores: Any) -> Any:
            rows = nonfinite_rows(scores)
            self.bad = rows if self.bad is None else self.bad | rows
            return scores

    return FiniteLogitsGuard


def _finite_guard() -> Any:
    """A fresh logits processor for ``model.generate(logits_processor=[guard])``; ``guard.bad`` holds the rows
    (a bool tensor) that met non-finite logits, or None when no step ran."""
    return _finite_guard_class()()


def guarded_generate(model: Any, ids: Any, mask: Any, *, max_new_tokens: int, stops: Sequence[int],
                     pad_id: int) -> tuple[Any, list[bool]]:
    """Greedy ``model.generate`` on one padded batch: (output ids, per-row "met non-finite logits" flags).

    ``remove_invalid_values`` is forced off so that a generation config cannot hide NaN/Inf before the guard.
    """
    guard = _finite_guard()
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


BatchFn = Callable[[Any, Any], tuple[list[list[int]], list[bool]]]
"""One left-padded batch ``(ids, mask)`` -> (new token ids per row, per-row "met non-finite logits")."""


def _hf_batches(model: Any, *, max_new_tokens: int, stop_ids: Sequence[int], pad_id: int) -> BatchFn:
    def run(ids: Any, mask: Any) -> tuple[list[list[int]], list[bool]]:
        out, bad = guarded_generate(model, ids, mask, max_new_tokens=max_new_tokens, stops=stop_ids, pad_id=pad_id)
        return [out[row, ids.shape[1]:].tolist() for row in range(ids.shape[0])], bad

    return run


def _static_batches(model: Any, encoded: list[list[int]], *, max_new_tokens: int, batch_size: int,
                    stop_ids: Sequence[int], decode: Decode) -> BatchFn:
    """The static decoder, its KV cache sized once for the widest prompt and the largest batch of this call."""
    from aligngate.fastgen.decode import StaticDecoder

    decoder = StaticDecoder(model, max_batch=max(1, min(batch_size, len(encoded))),
                            max_len=max(len(e) for e in encoded) + max_new_tokens, max_new_tokens=max_new_tokens,
                            stop_ids=tuple(int(s) for s in stop_ids), exact=decode == "exact")
    return decoder.generate_batch


def generate_ids(model: Any, encoded: Sequence[Sequence[int]], *, stop_ids: Sequence[int], pad_id: int,
                 max_new_tokens: int = 24, batch_size: int = 32, backend: Backend = "hf", decode: Decode = "exact",
                 progress: bool = False, name: str | None = None) -> list[tuple[int, ...]]:
    """Greedy continuations of token-id prompts, in input order, each cut before its first stop token.

    Batches are length-sorted and left-padded the same way on both paths. ``backend``: ``hf`` (stock
    ``generate``), ``static`` (:class:`~aligngate.fastgen.decode.StaticDecoder` with ``decode`` ``exact`` or
    ``fused``; the model must be a plain, merged causal LM) or ``auto``
    (:func:`~aligngate.fastgen.api.choose_backend`). Raises :class:`EvaluationError` if any prompt met non-finite
    logits, naming ``name`` (default: the model's path).
    """
    import torch

    from aligngate.fastgen.api import choose_backend

    rows = [list(e) for e in encoded]
    if not rows:
        return []
    label = name or model_name(model)
    chosen = backend if backend == "hf" else choose_backend(model, backend, name=label)[0]
    stop_set = {int(s) for s in stop_ids}
    if chosen == "static":
        run = _static_batches(model, rows, max_new_tokens=max_new_tokens, batch_size=batch_size, stop_ids=stop_ids,
                              decode=decode)
    else:
        run = _hf_batches(model, max_new_tokens=max_new_tokens, stop_ids=stop_ids, pad_id=pad_id)
    device = _model_device(model)
    results: list[tuple[int, ...]] = [()] * len(rows)
    bad = 0
    with torch.inference_mode(), _progress(len(rows), "generate", progress) as bar:
        for idx in length_batches(rows, batch_size):
            ids, mask = left_pad([rows[i] for i in idx], pad_id, device)
            outs, flags = run(ids, mask)
            bad += sum(flags)
            for i, new in zip(idx, outs, strict=True):
                cut = next((k for k, t in enumerate(new) if t in stop_set), len(new))
                results[i] = tuple(new[:cut])
            bar.update(len(idx))
    raise_if_nonfinite(label, bad, len(rows))
    return results


def generate_completions(model: Any, tokenizer: Any, prompts: Sequence[str], prefills: Sequence[str] | None = None,
                         *, max_new_tokens: int = 24, batch_size: int = 32, progress: bool = True,
                         prompt_format: PromptFormat = "chat", name: str | None = None, backend: Backend = "hf",
                         decode: Decode = "exact") -> list[Completion]:
    """Greedy completions with their generated tokens, in input order; ``prefills[i]`` (if given) forces the
    start of the response (a prefill probe). ``name`` names the model in errors (default: its path);
    ``backend`` / ``decode`` choose the generation path (:func:`generate_ids`)."""
    if prefills is not None and len(prompts) != len(prefills):
        raise ValueError(f"{len(prompts)} prompts but {len(prefills)} prefills")
    if not prompts:
        return []
    pres = list(prefills) if prefills is not None else [""] * len(prompts)
    encoded = [ids + (list(tokenizer(pre, add_special_tokens=False)["input_ids"]) if pre else [])
               for ids, pre in zip(encode_prompts(tokenizer, prompts, prompt_format=prompt_format), pres,
                                   strict=True)]
    rows = generate_ids(model, encoded, stop_ids=stop_token_ids(model, tokenizer), pad_id=pad_token_id(tokenizer),
                        max_new_tokens=max_new_tokens, batch_size=batch_size, backend=backend, decode=decode,
                        progress=progress, name=name)
    out = []
    for pre, toks in zip(pres, rows, strict=True):
        text = tokenizer.decode(list(toks), skip_special_tokens=True)
        out.append(Completion(text=(pre + text).strip(), continuation=text.strip(), tokens=toks,
                              budget=max_new_tokens))
    return out


def generate(model: Any, tokenizer: Any, prompts: Sequence[str], *, max_new_tokens: int = 24,
             batch_size: int = 32, progress: bool = True, prompt_format: PromptFormat = "chat",
             name: str | None = None, backend: Backend = "hf", decode: Decode = "exact") -> list[str]:
    """Greedy completions for ``prompts`` (chat-templated), in input order, special tokens stripped."""
    return [c.text for c in generate_completions(model, tokenizer, prompts, max_new_tokens=max_new_tokens,
                                                 batch_size=batch_size, progress=progress,
                                                 prompt_format=prompt_format, name=name, backend=backend,
                                                 decode=decode)]
