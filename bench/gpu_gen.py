"""Generation benchmark pieces for ``bench/gpu.py``: the product's two generation paths on one model,
:func:`aligngate.generation.generate_ids` with ``backend="hf"`` (stock ``generate``) and ``backend="static"``
(:mod:`aligngate.fastgen`'s static decoder, ``exact`` and ``fused``).

Everything runs in one process on the same random-init model shape, saved once to safetensors (with a small
tokenizer, which :func:`aligngate.modelio.load_causal_lm` requires) and loaded back through modelio, so "model
load" in the time-to-verdict is the product's own load from disk (page cache warm), with a random LoRA adapter
(r=16, all linear layers) saved with peft. Prompts are random token ids. torch, transformers and peft are imported
inside the functions. Not part of the installed package: run through ``bench/gpu.py``.
"""

from __future__ import annotations

import gc
import random
import time
from pathlib import Path
from typing import Any

__all__ = ["SHAPES", "GenBench", "make_model_dirs", "make_prompts", "run_gen_bench"]

VOCAB = 128256
EOS = 128001
PAD = 128004
SHAPES: dict[str, dict[str, Any]] = {
    "1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
               num_key_value_heads=8, head_dim=64, tie_word_embeddings=True, vocab_size=VOCAB),
    "8b": dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
               num_key_value_heads=8, head_dim=128, tie_word_embeddings=False, vocab_size=VOCAB),
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, head_dim=16, tie_word_embeddings=True, vocab_size=512),
}


def llama_config(shape: str) -> Any:
    """A LlamaConfig of ``shape`` (Llama-3 rope, bf16, SDPA)."""
    from transformers import LlamaConfig

    kw = dict(SHAPES[shape])
    vocab = kw["vocab_size"]
    return LlamaConfig(**kw, max_position_embeddings=4096, rope_theta=500000.0, rms_norm_eps=1e-5,
                       bos_token_id=min(128000, vocab - 3), eos_token_id=min(EOS, vocab - 2),
                       pad_token_id=min(PAD, vocab - 1), torch_dtype="bfloat16")


def make_model_dirs(shape: str, root: Path, device: str, seed: int = 0) -> tuple[Path, Path, float]:
    """The random-init model of ``shape`` and a random LoRA adapter (r=16, all linear layers) under ``root``, shared
    with the other GPU benches (:mod:`bench.gpu_models`: untied output head, word tokenizer); (base, adapter,
    seconds to build them, 0 when reused)."""
    from bench.gpu_models import make_base, make_lora

    t0 = time.perf_counter()
    base, _ = make_base(shape, root / f"{shape}-random", device=device, seed=seed)
    adapter = make_lora(base, root / f"{shape}-random-lora", device=device, seed=seed)
    return base, adapter, time.perf_counter() - t0


def make_model_dirs_tied(shape: str, root: Path, device: str, seed: int = 0) -> tuple[Path, Path, float]:
    """The earlier layout (tied 1B head, 100-word tokenizer), kept for comparison with the 2026-11-23 results."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaForCausalLM

    t0 = time.perf_counter()
    base, adapter = root / f"{shape}-base", root / f"{shape}-adapter"
    torch.manual_seed(seed)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = LlamaForCausalLM(llama_config(shape))
    finally:
        torch.set_default_dtype(old)
    model.save_pretrained(base)
    _tokenizer().save_pretrained(base)
    lcfg = LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", init_lora_weights=False,
                      task_type="CAUSAL_LM")
    peft_model = get_peft_model(model, lcfg)
    with torch.no_grad():  # keep the tuned model close to the base: small random B
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.mul_(0.05)
    peft_model.save_pretrained(adapter)
    del peft_model, model
    _free()
    return base, adapter, time.perf_counter() - t0


def _tokenizer() -> Any:
    """A small word-level tokenizer: the prompts are token ids, but a model directory needs one to load."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2, **{f"w{i}": i + 3 for i in range(100)}}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")


def make_prompts(n: int, vocab: int, lo: int = 32, hi: int = 128, seed: int = 1) -> list[list[int]]:
    """``n`` random token-id prompts of lengths ``lo..hi`` (ids away from the special ones)."""
    rng = random.Random(seed)
    top = min(vocab, 128000) - 1
    return [[rng.randrange(10, top) for _ in range(rng.randint(lo, hi))] for _ in range(n)]


def _free() -> None:
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _peak_reset() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def _peak_gib() -> float:
    import torch

    return torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else float("nan")


def _load(base: Path, adapter: Path, device: str, *, merge: bool) -> tuple[Any, float]:
    """(model, seconds): the base with the adapter attached (``merge=False``) or merged, through modelio."""
    import torch

    from aligngate.modelio import load_causal_lm

    t0 = time.perf_counter()
    model, _ = load_causal_lm(base, adapter=adapter, merge=merge, device=device,
                              dtype=torch.bfloat16 if device == "cuda" else torch.float32)
    _sync()
    return model, time.perf_counter() - t0


def _merge(model: Any) -> Any:
    """The plain model with the peft adapter merged into its weights."""
    return model.merge_and_unload()


class GenBench:
    """Collects the tables (name -> rows) of one shape's generation comparison."""

    def __init__(self, shape: str) -> None:
        self.shape = shape
        self.tables: dict[str, list[dict[str, Any]]] = {}
        self.notes: list[str] = []

    def add(self, table: str, **row: Any) -> None:
        self.tables.setdefault(table, []).append(row)
        print(f"  [{table}] " + "  ".join(f"{k}={_fmt(v)}" for k, v in row.items()), flush=True)


def _fmt(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _timed(fn: Any) -> tuple[Any, float]:
    _sync()
    t0 = time.perf_counter()
    out = fn()
    _sync()
    return out, time.perf_counter() - t0


def _mode(exact: bool) -> str:
    return "exact (piecewise graphs)" if exact else "fused (one graph/step)"


def _ids(model: Any, prompts: list[list[int]], **kw: Any) -> list[list[int]]:
    """The product's generation on token ids (each row cut before its stop token)."""
    from aligngate.generation import generate_ids

    return [list(r) for r in generate_ids(model, prompts, **kw)]


def _match(a: list[list[int]], b: list[list[int]], k: int | None = None) -> float:
    cut = (lambda r: r[:k]) if k else (lambda r: r)
    return sum(cut(x) == cut(y) for x, y in zip(a, b, strict=True)) / max(1, len(a))


def run_gen_bench(shape: str, root: Path, *, device: str, n_prompts: int = 1000, new_tokens: int = 128,
                  budget: int = 24, sample: int = 64, stock_new_tokens: int = 128,
                  fast_batches: tuple[int, ...] = (64, 256), backend: str = "auto",
                  prompt_len: tuple[int, int] = (32, 128), modes: tuple[bool, ...] = (True, False),
                  ttv: bool = True) -> GenBench:
    """Stock (adapter attached, then merged) vs fast on one shape; returns the collected rows. ``ttv``: also time
    load + generation of all prompts at the budget and at ``new_tokens`` (the product's own time to verdict is
    ``bench/gpu_ttv.py``)."""
    bench = GenBench(shape)
    print(f"[gen {shape}] building random model + adapter", flush=True)
    base, adapter, t_make = make_model_dirs(shape, root, device)
    bench.notes.append(f"random-init model + adapter built and saved to safetensors in {t_make:.1f}s (untimed)")
    from bench.gpu_models import llama_config as shared_config

    cfg = shared_config(shape)
    prompts = make_prompts(n_prompts, cfg.vocab_size, *prompt_len)
    rng = random.Random(2)
    sample_ids = rng.sample(range(n_prompts), min(sample, n_prompts))
    sample_p = [prompts[i] for i in sample_ids]
    kw: dict[str, Any] = dict(stop_ids=[cfg.eos_token_id], pad_id=cfg.pad_token_id)

    # ---- stock: HF generate, adapter attached, then merged -------------------------------------------
    _peak_reset()
    model, t_load = _load(base, adapter, device, merge=False)
    sb = min(64, len(sample_p))
    out_a, dt = _timed(lambda: _ids(model, sample_p, max_new_tokens=stock_new_tokens, batch_size=sb,
                                    backend="hf", **kw))
    ntok = sum(len(r) for r in out_a)
    tps_adapter = ntok / dt
    bench.add("throughput", path="stock HF generate, adapter attached", batch=sb, prompts=len(sample_p),
              new_tokens=stock_new_tokens, tok_s=tps_adapter, peak_gib=_peak_gib())
    model = _merge(model)
    _peak_reset()
    out_m, dt = _timed(lambda: _ids(model, sample_p, max_new_tokens=stock_new_tokens, batch_size=sb,
                                    backend="hf", **kw))
    tps_merged = sum(len(r) for r in out_m) / dt
    bench.add("throughput", path="stock HF generate, adapter merged", batch=sb, prompts=len(sample_p),
              new_tokens=stock_new_tokens, tok_s=tps_merged, peak_gib=_peak_gib(),
              x_vs_adapter=tps_merged / tps_adapter)
    total_new = n_prompts * new_tokens
    ttv_stock = t_load + total_new / tps_adapter
    ttv_stock_merged = t_load + total_new / tps_merged
    model = None  # free before the next load
    _free()

    # ---- ours: load merged (as the product's evaluation does), static-cache decode ---------------------
    _peak_reset()
    model, t_prep = _load(base, adapter, device, merge=True)
    # identity on the sample, same batch composition as the stock merged run
    k = min(budget, stock_new_tokens)
    ident = "greedy identity (fraction of prompts with token-identical outputs)"
    for exact in modes:
        decode = "exact" if exact else "fused"
        out_f, _ = _timed(lambda decode=decode: _ids(model, sample_p, max_new_tokens=stock_new_tokens,
                                                     batch_size=sb, backend=backend, decode=decode, **kw))
        for against, ref in (("stock generate, merged, same batches", out_m),
                             ("stock generate, adapter attached", out_a)):
            bench.add(ident, fast_mode=_mode(exact), against=against, prompts=len(sample_p),
                      new_tokens=stock_new_tokens, all_tokens=_match(out_f, ref),
                      **{f"first_{k}": _match(out_f, ref, k)})
    results: dict[tuple[bool, int], float] = {}
    for exact in modes:
        for bs in fast_batches:
            decode = "exact" if exact else "fused"
            _peak_reset()
            out, dt = _timed(lambda bs=bs, decode=decode: _ids(model, prompts, max_new_tokens=new_tokens,
                                                               batch_size=bs, backend=backend, decode=decode, **kw))
            ntok = sum(len(r) for r in out)
            results[(exact, bs)] = ntok / dt
            bench.add("throughput", path=f"fast {_mode(exact)}", batch=bs, prompts=n_prompts, new_tokens=new_tokens,
                      tok_s=ntok / dt, peak_gib=_peak_gib(), x_vs_adapter=ntok / dt / tps_adapter,
                      x_vs_merged=ntok / dt / tps_merged, seconds=dt)
            _free()
    if not ttv:
        model = None
        _free()
        return bench
    ttvs: dict[tuple[bool, int], tuple[int, float]] = {}
    for exact in modes:
        bs_best = max((b for (e, b) in results if e == exact), key=lambda b: results[(exact, b)])
        for n_new in sorted({budget, new_tokens}):
            _, dt = _timed(lambda n_new=n_new, bs_best=bs_best, exact=exact: _ids(
                model, prompts, max_new_tokens=n_new, batch_size=bs_best, backend=backend,
                decode="exact" if exact else "fused", **kw))
            ttvs[(exact, n_new)] = (bs_best, t_prep + dt)
    tt = f"time-to-verdict, {n_prompts} prompts (seconds)"
    bench.add(tt, path="stock, adapter attached (extrapolated)", batch=sb, new_tokens=new_tokens, load=t_load,
              generate=total_new / tps_adapter, total=ttv_stock)
    bench.add(tt, path="stock, adapter merged (extrapolated)", batch=sb, new_tokens=new_tokens, load=t_load,
              generate=total_new / tps_merged, total=ttv_stock_merged)
    for (exact, n_new), (bs_best, v) in ttvs.items():
        bench.add(tt, path=f"fast {_mode(exact)} (measured)", batch=bs_best, new_tokens=n_new, load=t_prep,
                  generate=v - t_prep, total=v, x_vs_adapter=ttv_stock / v)
    bench.notes.append(
        f"stock time-to-verdict = load + {n_prompts}x{new_tokens} tokens at the stock rate measured on "
        f"{len(sample_p)} prompts (extrapolated: the real run would take {total_new / tps_adapter:.0f}s); "
        "fast time-to-verdict is measured end to end (load from safetensors with the adapter merged, graph capture, "
        "generation); load is aligngate.modelio's (base + adapter); the judge's own cost is omitted in both")
    model = None  # free before the next load
    _free()
    return bench
