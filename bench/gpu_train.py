"""Training benchmark pieces for ``bench/gpu.py``: stock TRL LoRA SFT / DPO vs
:func:`aligngate.training.autoconfig.fast_training_kwargs`, same model, data, LoRA and seed.

Data are synthetic: SFT rows are pre-tokenized random ids of 128..1024 tokens; DPO rows are random "words" of a
tiny word-level tokenizer (prompt 64..256, chosen/rejected 64..512 tokens). Tokens/s counts real tokens
(DPO: prompt+chosen and prompt+rejected) over ``train_runtime``; loss is the mean of the last 5 logged steps.
Not part of the installed package: run through ``bench/gpu.py`` (which puts the repository root on ``sys.path``).
"""

from __future__ import annotations

import gc
import importlib.util
import random
import time
from pathlib import Path
from typing import Any

__all__ = ["run_train_bench"]


def _tokenizer(n_words: int) -> Any:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2, **{f"w{i}": i + 3 for i in range(n_words)}}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")


def _sft_data(n: int, vocab: int, lo: int, hi: int, seed: int) -> tuple[Any, int]:
    from datasets import Dataset

    rng = random.Random(seed)
    rows = [[rng.randrange(3, min(vocab, 128000)) for _ in range(rng.randint(lo, hi))] for _ in range(n)]
    return Dataset.from_dict({"input_ids": rows}), sum(map(len, rows))


def _dpo_data(n: int, n_words: int, scale: float, seed: int) -> tuple[Any, int]:
    from datasets import Dataset

    rng = random.Random(seed)

    def text(lo: int, hi: int) -> tuple[str, int]:
        k = rng.randint(max(1, int(lo * scale)), max(1, int(hi * scale)))
        return " ".join(f"w{rng.randrange(n_words)}" for _ in range(k)), k

    rows: dict[str, list[str]] = {"prompt": [], "chosen": [], "rejected": []}
    tokens = 0
    for _ in range(n):
        (p, lp), (c, lc), (r, lr) = text(64, 256), text(64, 512), text(64, 512)
        rows["prompt"].append(p)
        rows["chosen"].append(c)
        rows["rejected"].append(r)
        tokens += 2 * lp + lc + lr + 2  # + EOS each
    return Dataset.from_dict(rows), tokens


def _model(shape: str, device: str, attn: str) -> Any:
    import torch
    from transformers import LlamaForCausalLM

    from bench.gpu_gen import llama_config

    torch.manual_seed(0)
    cfg = llama_config(shape)
    cfg._attn_implementation = attn
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = LlamaForCausalLM(cfg)
    finally:
        torch.set_default_dtype(old)
    model.config._attn_implementation = attn
    return model


def _autoconfig() -> Any:
    """``aligngate.training.autoconfig``, loaded from its file when the package's ``__init__`` cannot import
    (it pulls pydantic & co., absent on bare GPU images); registered in ``sys.modules`` under its own name."""
    import sys

    try:
        from aligngate.training import autoconfig
        return autoconfig
    except ImportError:
        name = "aligngate.training.autoconfig"
        path = Path(__file__).resolve().parents[1] / "aligngate" / "training" / "autoconfig.py"
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        sys.modules[name] = mod
        spec.loader.exec_module(mod)  # type: ignore[union-attr]
        return mod


def _run_one(method: str, shape: str, device: str, args_kw: dict[str, Any], attn: str, data: Any, tok: Any,
             out_dir: Path, steps: int) -> dict[str, Any]:
    import torch
    from peft import LoraConfig
    from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

    model = _model(shape, device, attn)
    lora = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM")
    common = dict(output_dir=str(out_dir), max_steps=steps, learning_rate=2e-4, logging_steps=1, save_strategy="no",
                  report_to=[], seed=0, data_seed=0, dataloader_num_workers=0, disable_tqdm=True,
                  use_cpu=device != "cuda", lr_scheduler_type="constant")
    if device != "cuda":
        gpu_only = ("bf16", "tf32", "use_liger_kernel", "liger_kernel_config")
        args_kw = {k: v for k, v in args_kw.items() if k not in gpu_only}
    if method == "sft":
        cfg = SFTConfig(**common, **args_kw)
        trainer = SFTTrainer(model=model, args=cfg, train_dataset=data, processing_class=tok, peft_config=lora)
    else:
        cfg = DPOConfig(**common, **args_kw)
        trainer = DPOTrainer(model=model, args=cfg, train_dataset=data, processing_class=tok, peft_config=lora)
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    trainer.train()
    if device == "cuda":
        torch.cuda.synchronize()
    secs = time.perf_counter() - t0
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    peak = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else float("nan")
    del trainer, model
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
    tail = losses[-5:] or [float("nan")]
    return {"seconds": secs, "peak_gib": peak, "loss_first": losses[0] if losses else float("nan"),
            "loss_last5": sum(tail) / len(tail), "steps": len(losses)}


def run_train_bench(shape: str, method: str, root: Path, *, device: str, steps: int = 50,
                    smoke: bool = False) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """Stock TRL (defaults; checkpointing off) vs ours (fast; memory-saving) for one method and shape."""
    import torch

    from bench.gpu_gen import llama_config

    fast_training_kwargs = _autoconfig().fast_training_kwargs
    batch = 8 if shape in ("1b", "tiny") else 4
    cfg = llama_config(shape)
    if method == "sft":
        lo, hi = (8, 32) if smoke else (128, 1024)
        data, tokens = _sft_data(steps * batch, cfg.vocab_size, lo, hi, seed=3)
        tok, max_len = _tokenizer(100), hi
    else:
        scale = 0.1 if smoke else 1.0
        tok = _tokenizer(min(cfg.vocab_size - 3, 30000))
        data, tokens = _dpo_data(steps * batch, min(cfg.vocab_size - 3, 30000), scale, seed=4)
        max_len = int(768 * scale) + 2
    mem = torch.cuda.get_device_properties(0).total_memory if device == "cuda" else 16 * 2**30
    base = {"bf16": True, "per_device_train_batch_size": batch, "max_length": max_len}
    runs: list[tuple[str, dict[str, Any], str]] = [
        ("stock TRL defaults (ckpt on, padded)", {**base, "gradient_checkpointing": True}, "sdpa"),
        ("stock TRL, ckpt off (padded)", {**base, "gradient_checkpointing": False}, "sdpa"),
    ]
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    table = f"LoRA {method.upper()} {shape}: {steps} steps, batch {batch}, {tokens:,} real tokens"

    def run(name: str, kw: dict[str, Any], attn: str) -> dict[str, Any]:
        print(f"[train {shape} {method}] {name}: {kw}", flush=True)
        r = _run_one(method, shape, device, kw, attn, data, tok, root / f"{shape}-{method}", steps)
        row = {"config": name, "tok_s": tokens / r["seconds"], **r}
        rows.append(row)
        print("  " + str(row), flush=True)
        return row

    stock = [run(*r) for r in runs]
    fast = fast_training_kwargs(cfg, mem, method, batch_size=batch, max_length=max_len)
    notes.append("ours: " + "; ".join(fast["notes"]))
    run("ours (autoconfig)", fast["args"], fast["model_init_kwargs"].get("attn_implementation", "sdpa"))
    if method == "sft":
        notes.append(f"torch varlen flash kernel in use: {_autoconfig()._VARLEN_OK[0]} (else SDPA per sequence)")
    if method == "sft" and importlib.util.find_spec("liger_kernel") is not None:
        lig = fast_training_kwargs(cfg, mem, method, batch_size=batch, max_length=max_len, prefer_liger=True)
        run("ours + Liger (opt-in)", lig["args"], lig["model_init_kwargs"].get("attn_implementation", "sdpa"))
    default_peak = stock[0]["peak_gib"]
    if device == "cuda" and default_peak == default_peak:
        low = fast_training_kwargs(cfg, mem, method, batch_size=batch, max_length=max_len,
                                   memory_budget_bytes=int(default_peak * 2**30))
        notes.append("ours, memory-saving (budget = TRL default's peak): " + "; ".join(low["notes"]))
        if low["args"] != fast["args"]:
            run("ours, memory-saving", low["args"], low["model_init_kwargs"].get("attn_implementation", "sdpa"))
    faster_stock = max(stock, key=lambda r: r["tok_s"])
    for r in rows:
        r["x_vs_faster_stock"] = r["tok_s"] / faster_stock["tok_s"]
        r["x_vs_default"] = r["tok_s"] / stock[0]["tok_s"]
        r["loss_rel_diff"] = (r["loss_last5"] - stock[0]["loss_last5"]) / stock[0]["loss_last5"]
    notes.append("random-init weights and random data: the loss stays near ln(vocab); it checks that the math "
                 "matches, not learning")
    return {table: rows}, notes


def _run_saved(base: Path, device: str, quantize: bool, data: Any, tok: Any, out_dir: Path, steps: int, batch: int,
               max_len: int) -> dict[str, Any]:
    """TRL SFT with LoRA r=16 on every linear layer of the saved ``base`` at TRL's default settings (gradient
    checkpointing on), the base in bf16 or (``quantize``) 4-bit NF4 as ``aligngate train --quantize 4bit`` loads it."""
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    from aligngate.training.device import DeviceSettings
    from aligngate.training.quantize import bnb_config, kbit_device_map

    cuda = device == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    kw: dict[str, Any] = {"dtype": torch.bfloat16 if cuda else torch.float32, "use_safetensors": True}
    if quantize:
        kw |= {"quantization_config": bnb_config(DeviceSettings(device, "bf16", device)),
               "device_map": kbit_device_map()}
    model = AutoModelForCausalLM.from_pretrained(base, **kw)
    if not quantize:
        model.to(device)
    lora = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM")
    args = SFTConfig(output_dir=str(out_dir), max_steps=steps, per_device_train_batch_size=batch, learning_rate=2e-4,
                     logging_steps=1, save_strategy="no", report_to=[], seed=0, data_seed=0, disable_tqdm=True,
                     dataloader_num_workers=0, use_cpu=not cuda, bf16=cuda, lr_scheduler_type="constant",
                     gradient_checkpointing=True, gradient_checkpointing_kwargs={"use_reentrant": False},
                     max_length=max_len, packing=False)
    trainer = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tok, peft_config=lora)
    t0 = time.perf_counter()
    trainer.train()
    if cuda:
        torch.cuda.synchronize()
    secs = time.perf_counter() - t0
    losses = [float(h["loss"]) for h in trainer.state.log_history if "loss" in h]
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else float("nan")
    del trainer, model
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
    return {"seconds": secs, "peak_gib": peak, "losses": losses}


def run_qlora_bench(shape: str, root: Path, *, device: str, steps: int = 20, batch: int = 4,
                    seq: tuple[int, int] = (256, 1024)) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """QLoRA (4-bit NF4 base) against bf16 LoRA on the saved random-init ``shape``, both at TRL's default settings
    (gradient checkpointing on): peak GPU memory (load included), tokens/s, and the two loss curves side by side."""
    from transformers import AutoTokenizer

    from bench.gpu_models import SHAPES, make_base

    base, t_make = make_base(shape, root / f"{shape}-random", device=device)
    vocab = SHAPES[shape]["vocab_size"]
    data, tokens = _sft_data(steps * batch, vocab, *seq, seed=3)
    tok = AutoTokenizer.from_pretrained(base)
    runs: dict[str, dict[str, Any]] = {}
    configs = (("bf16 LoRA", False), ("QLoRA 4-bit NF4", True)) if device == "cuda" else (("bf16 LoRA", False),)
    for name, quant in configs:
        print(f"[qlora {shape}] {name}", flush=True)
        runs[name] = _run_saved(base, device, quant, data, tok, root / f"{shape}-qlora", steps, batch, seq[1])
    ref = runs["bf16 LoRA"]
    rows = [{"config": name, "tok_s": tokens / r["seconds"], "peak_gib": r["peak_gib"],
             "peak_vs_bf16": r["peak_gib"] / ref["peak_gib"] if ref["peak_gib"] == ref["peak_gib"] else None,
             "seconds": r["seconds"], "loss_first": r["losses"][0] if r["losses"] else None,
             "loss_last": r["losses"][-1] if r["losses"] else None} for name, r in runs.items()]
    curve = [{"step": i + 1, **{name: (r["losses"][i] if i < len(r["losses"]) else None) for name, r in runs.items()}}
             for i in range(max(len(r["losses"]) for r in runs.values()))]
    notes = [f"random-init {shape} base saved in {t_make:.0f}s (untimed); {steps} steps, batch {batch}, "
             f"{tokens:,} real tokens of {seq[0]}..{seq[1]}; LoRA r=16 all linear; gradient checkpointing on "
             "(TRL's default) in both; peak = torch.cuda.max_memory_allocated from before the load"]
    if device != "cuda":
        notes.append("QLoRA needs CUDA (bitsandbytes 4-bit): not run on the CPU rehearsal")
    title = f"QLoRA vs bf16 LoRA, {shape} shape, TRL default settings"
    return {title: rows, f"loss curves, {shape} shape": curve}, notes
