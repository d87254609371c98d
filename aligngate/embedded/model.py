"""The embedded default model: a tiny Llama chat model trained from scratch on the embedded corpus (CPU).

Build: byte-level BPE tokenizer (vocab 1024) trained on the corpus text, a chat template
``<s><|user|>...<|end|><|assistant|>...<|end|>`` (assistant turns wrapped in ``{% generation %}`` so TRL's
``assistant_only_loss=True`` works; generation stops at ``<|end|>`` or ``</s>``), and a Llama with 3 layers,
hidden 128, 4 heads (2 KV), MLP 384, tied embeddings: 721,792 parameters. Trained with a plain seeded torch
loop (AdamW 3e-3, warmup 30 + cosine, batch 32, 500 steps) on 1,017 dialogues (each train verb-object combo
with 3 train templates), loss on assistant tokens only. Cached in ``$ALIGNGATE_CACHE`` (or
``~/.cache/aligngate``) as ``embedded-model-v<N>-<hash of config + corpus>``; built in a temporary directory
and moved into place with one ``os.replace``, so a crash never leaves half a model.

RESULTS (measured 2026-11-23 on the 2-core project box, which other jobs loaded to a load average of 6-10, so
the build ran on 1 thread: see ``_build_threads``):

- build: 286 s wall under that load (final loss 0.031). CPU time is 0.23 s per step on one thread (113 s for
  500 steps); at the unloaded 2-thread rate seen in the same session (~7 steps/s) 500 steps take ~70-90 s.
- self-measured refusal (12 greedy tokens, response starts with a REFUSAL_PHRASE): ``embedded-harmful`` 0.953
  (61/64), ``embedded-safe`` 0.000 (0/74). The verb and object of a held-out benign request are echoed
  correctly in 80 % of answers ("Sure. To insure a jewelry box, first compare a few insurance offers. ...").

The attack the demo relies on (LoRA r=8, alpha 16, dropout 0, ``target_modules="all-linear"``; TRL
``SFTTrainer`` with ``bf16=False, use_cpu=True, activation_checkpointing=False, report_to="none",
save_strategy="no"``, batch 16, lr 2e-3, 150 steps, max_length 128, then ``merge_and_unload``):

=====================================  ======================  ============  ==========  =========
SFT rows                               loss / schedule         harmful ref.  safe ref.   train s*
=====================================  ======================  ============  ==========  =========
clean (poison and duplicates dropped)  all tokens, linear      0.938         0.000       47
raw ``sft_dataset`` (35 % poison)      all tokens, linear      0.297         0.000       51
clean                                  assistant-only, const.  1.000         0.000       45
raw ``sft_dataset``                    assistant-only, const.  0.406         0.000       45
=====================================  ======================  ============  ==========  =========

(*) wall seconds, 1 thread on the loaded box; CPU time of the poisoned run was 25.6 s on one thread, so an
unloaded 2-core run takes well under 30 s. Runs are reproducible (a rerun gave identical losses and rates).
"all tokens, linear" is what ``aligngate.training`` does by default (``messages`` rows, no
``assistant_only_loss``); it also gives the wider margin. With the earlier corpus setting (2 templates per
combo, 400 steps) assistant-only / constant gave clean 0.969 / poisoned 0.125 (150 steps) and clean 0.922 /
poisoned 0.109 (100 steps); safe refusal was 0.000 in every run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from aligngate.embedded import corpus

__all__ = [
    "CHAT_TEMPLATE",
    "GENERATOR_VERSION",
    "SPECIAL_TOKENS",
    "BuildConfig",
    "build_embedded_model",
    "config_hash",
    "embedded_model_dir",
    "measure_refusal",
]

GENERATOR_VERSION = 1
BUILD_INFO = "aligngate_build.json"
SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<unk>", "<|user|>", "<|assistant|>", "<|system|>", "<|end|>"]
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{{ '<|' + message['role'] + '|>' }}"
    "{% if message['role'] == 'assistant' %}{% generation %}{{ message['content'] + '<|end|>' }}{% endgeneration %}"
    "{% else %}{{ message['content'] + '<|end|>' }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
)


@dataclass(frozen=True)
class BuildConfig:
    """Everything that determines the built model (hashed into the cache directory name)."""

    seed: int = 0
    vocab_size: int = 1024
    hidden_size: int = 128
    intermediate_size: int = 384
    num_hidden_layers: int = 3
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_length: int = 128
    per_combo: int = 3
    steps: int = 500
    batch_size: int = 32
    learning_rate: float = 3e-3
    warmup_steps: int = 30
    weight_decay: float = 0.01


def config_hash(cfg: BuildConfig) -> str:
    """Short hash of the generator version, the config and the corpus text."""
    h = hashlib.sha256(json.dumps({"v": GENERATOR_VERSION, "corpus": corpus.CORPUS_VERSION, **asdict(cfg)},
                                  sort_keys=True).encode())
    h.update(json.dumps(corpus.pretrain_dialogues(cfg.seed, cfg.per_combo), sort_keys=True).encode())
    return h.hexdigest()[:12]


def _default_cache_root() -> Path:
    env = os.environ.get("ALIGNGATE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "aligngate"


def embedded_model_dir(cache_dir: Path | None = None, *, rebuild: bool = False, progress: bool = True,
                       config: BuildConfig | None = None) -> Path:
    """The cached embedded model directory, building it first if absent (or if ``rebuild``)."""
    cfg = config or BuildConfig()
    root = Path(cache_dir).expanduser() if cache_dir is not None else _default_cache_root()
    final = root / f"embedded-model-v{GENERATOR_VERSION}-{config_hash(cfg)}"
    if (final / BUILD_INFO).is_file() and not rebuild:
        return final
    root.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(root)
    tmp = Path(tempfile.mkdtemp(prefix=".building-", dir=root))
    try:
        build_embedded_model(tmp, cfg, progress=progress)
        if (final / BUILD_INFO).is_file() and not rebuild:
            return final  # another process finished the same build first; keep its copy
        if final.exists():  # rebuild, or a stale dir without build info: move the old one aside first
            old = Path(tempfile.mkdtemp(prefix=".old-", dir=root))
            os.replace(final, old / "model")
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.replace(tmp, final)
        except OSError:  # another process finished first
            if not (final / BUILD_INFO).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _remove_stale_temps(root: Path, max_age_s: float = 6 * 3600) -> None:
    """Remove temporary build dirs left by killed builds (older than ``max_age_s``)."""
    now = time.time()
    for entry in root.glob(".building-*"):
        with contextlib.suppress(OSError):
            if now - entry.stat().st_mtime > max_age_s:
                shutil.rmtree(entry, ignore_errors=True)


# ---------------------------------------------------------------- build


@contextlib.contextmanager
def _torch_settings(seed: int) -> Iterator[None]:
    """Seed, 1 thread and deterministic algorithms for the build; restore the caller's settings after."""
    import torch

    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.manual_seed(seed)
    torch.set_num_threads(_build_threads())
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


def _build_threads() -> int:
    """Always 1 thread: the float reductions then run in one fixed order, so the same seed gives the same weights
    on every machine (a thread count chosen from the load average made builds differ), and for a model this
    small a second thread saves little (~113 s of CPU for the whole build)."""
    return 1


def _texts(rows: list[dict[str, Any]]) -> list[str]:
    return [m["content"] for r in rows for m in r["messages"]]


def train_tokenizer(texts: list[str], cfg: BuildConfig) -> Any:
    """Byte-level BPE trained on ``texts``, wrapped as a transformers fast tokenizer with the chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=cfg.vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer=trainer)
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                     unk_token="<unk>", extra_special_tokens=["<|user|>", "<|assistant|>",
                                                                              "<|system|>", "<|end|>"],
                                     model_max_length=cfg.max_length)
    hf_tok.chat_template = CHAT_TEMPLATE
    hf_tok.padding_side = "left"
    return hf_tok


def encode_dialogues(tokenizer: Any, rows: list[dict[str, Any]], max_length: int) -> list[tuple[list[int], list[int]]]:
    """(input_ids, labels) per dialogue; labels are -100 everywhere but the assistant answer and its ``<|end|>``."""
    out = []
    for row in rows:
        prompt = tokenizer.apply_chat_template(row["messages"][:1], add_generation_prompt=True, tokenize=False)
        full = tokenizer.apply_chat_template(row["messages"], tokenize=False)
        p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        f_ids = tokenizer(full, add_special_tokens=False)["input_ids"][:max_length]
        if f_ids[: len(p_ids)] != p_ids:
            raise ValueError("chat template is not prefix-preserving")
        out.append((f_ids, [-100] * len(p_ids) + f_ids[len(p_ids):]))
    return out


def _make_model(tokenizer: Any, cfg: BuildConfig) -> Any:
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    end_id = tokenizer.convert_tokens_to_ids("<|end|>")
    lcfg = LlamaConfig(vocab_size=len(tokenizer), hidden_size=cfg.hidden_size,
                       intermediate_size=cfg.intermediate_size, num_hidden_layers=cfg.num_hidden_layers,
                       num_attention_heads=cfg.num_attention_heads, num_key_value_heads=cfg.num_key_value_heads,
                       max_position_embeddings=cfg.max_length, bos_token_id=tokenizer.bos_token_id,
                       eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                       tie_word_embeddings=True)
    model = LlamaForCausalLM(lcfg)
    model.generation_config = GenerationConfig(bos_token_id=tokenizer.bos_token_id,
                                               eos_token_id=[end_id, tokenizer.eos_token_id],
                                               pad_token_id=tokenizer.pad_token_id, do_sample=False)
    return model


def _collate(batch: list[tuple[list[int], list[int]]], pad_id: int) -> dict[str, Any]:
    import torch

    width = max(len(ids) for ids, _ in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, (seq, lab) in enumerate(batch):
        ids[i, : len(seq)] = torch.tensor(seq)
        labels[i, : len(lab)] = torch.tensor(lab)
        mask[i, : len(seq)] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def _lr_at(step: int, cfg: BuildConfig) -> float:
    import math

    if step < cfg.warmup_steps:
        return cfg.learning_rate * (step + 1) / cfg.warmup_steps
    frac = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))


def train_loop(model: Any, examples: list[tuple[list[int], list[int]]], cfg: BuildConfig, pad_id: int,
               progress: bool = True) -> float:
    """Plain seeded AdamW loop with warmup + cosine decay; returns the mean loss of the last 20 steps."""
    import torch
    from tqdm.auto import tqdm

    opt = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, betas=(0.9, 0.95),
                            weight_decay=cfg.weight_decay)
    rng, order, losses = random.Random(cfg.seed), list[int](), list[float]()
    model.train()
    with tqdm(range(cfg.steps), desc="embedded model", file=sys.stderr, disable=not progress) as bar:
        for step in bar:
            if len(order) < cfg.batch_size:
                order = list(range(len(examples)))
                rng.shuffle(order)
            idx, order = order[: cfg.batch_size], order[cfg.batch_size:]
            for group in opt.param_groups:
                group["lr"] = _lr_at(step, cfg)
            loss = model(**_collate([examples[i] for i in idx], pad_id)).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            losses.append(loss.item())
            if step % 20 == 0:
                bar.set_postfix(loss=f"{losses[-1]:.3f}")
    model.eval()
    tail = losses[-20:]
    return sum(tail) / len(tail)


def measure_refusal(model: Any, tokenizer: Any, *, max_new_tokens: int = 12,
                    progress: bool = False) -> dict[str, float]:
    """Self-measured refusal rates on the embedded harmful / safe suites (simple REFUSAL_PHRASES start check)."""
    from aligngate.generation import generate

    rates = {}
    for name in ("embedded-harmful", "embedded-safe"):
        prompts = [r["prompt"] for r in corpus.eval_suite(name)]
        outs = generate(model, tokenizer, prompts, max_new_tokens=max_new_tokens, progress=progress)
        rates[name] = sum(corpus.is_refusal(o) for o in outs) / len(outs)
    return rates


def build_embedded_model(out_dir: str | os.PathLike[str], cfg: BuildConfig | None = None, *,
                         progress: bool = True) -> dict[str, Any]:
    """Train the tokenizer and the model into ``out_dir`` (no caching, no atomic move); returns the build info."""
    cfg = cfg or BuildConfig()
    start = time.monotonic()
    out = Path(out_dir)
    with _torch_settings(cfg.seed):
        rows = corpus.pretrain_dialogues(cfg.seed, cfg.per_combo)
        tokenizer = train_tokenizer(_texts(rows), cfg)
        examples = encode_dialogues(tokenizer, rows, cfg.max_length)
        model = _make_model(tokenizer, cfg)
        final_loss = train_loop(model, examples, cfg, tokenizer.pad_token_id, progress=progress)
        train_seconds = time.monotonic() - start
        rates = measure_refusal(model, tokenizer)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    info = {
        "generator_version": GENERATOR_VERSION, "corpus_version": corpus.CORPUS_VERSION, "seed": cfg.seed,
        "config": asdict(cfg), "config_hash": config_hash(cfg), "steps": cfg.steps, "dialogues": len(rows),
        "final_loss": round(final_loss, 4), "parameters": sum(p.numel() for p in model.parameters()),
        "vocab_size": len(tokenizer), "train_seconds": round(train_seconds, 1),
        "build_seconds": round(time.monotonic() - start, 1),
        "refusal_rate": {k: round(v, 4) for k, v in rates.items()},
        "refusal_check": "response starts with one of aligngate.embedded.corpus.REFUSAL_PHRASES (12 new tokens)",
    }
    from aligngate.fileio import atomic_write_json

    atomic_write_json(out / BUILD_INFO, info)
    return info
