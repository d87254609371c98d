"""GPU benchmark: stock libraries vs aligngate's fast paths, side by side in one process.

Generation (eval): HF ``generate`` with the peft adapter attached and merged (batch 64) vs the static decoder
(:func:`aligngate.generation.generate_ids` with ``backend="static"``: merged adapter, static KV cache, CUDA-graphed
decode steps; ``bench/gpu_gen.py``) on
random-init Llama-3.2-1B / Llama-3.1-8B shapes (bf16, vocab 128256), 1,000 random-token prompts of 32..128
tokens, 128 new tokens; greedy identity against the stock path on a sample; time-to-verdict.
Training: TRL SFT / DPO with peft LoRA, stock configurations vs
:func:`aligngate.training.autoconfig.fast_training_kwargs` (``bench/gpu_train.py``): tokens/s, peak memory, loss
after N steps.

    python bench/gpu.py                      # 1b and 8b, generation and training, on CUDA
    python bench/gpu.py --shapes 1b --sections gen
    python bench/gpu.py --smoke              # tiny model on CPU, generation only, < 60 s (what the tests run)
    python bench/gpu.py --smoke --sections gen,train   # + 3-step TRL runs (a few minutes on 2 cores)

Tables print as Markdown; ``--out`` also writes them to a file (e.g. bench/results/gpu-<date>.md).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def env_lines() -> list[str]:
    """Versions and device, one Markdown bullet each."""
    import importlib.metadata as md

    import torch

    lines = [f"- python {platform.python_version()}, torch {torch.__version__}"]
    for name in ("transformers", "peft", "trl", "accelerate", "datasets", "liger-kernel", "flash-attn", "vllm"):
        try:
            lines.append(f"- {name} {md.version(name)}")
        except md.PackageNotFoundError:
            lines.append(f"- {name} not installed")
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        lines.append(f"- device: {p.name}, {p.total_memory / 2**30:.0f} GiB, {p.multi_processor_count} SMs")
    else:
        lines.append(f"- device: CPU ({os.cpu_count()} cores)")
    return lines


def table(rows: list[dict[str, Any]]) -> str:
    """Rows of differing keys as one Markdown table (missing cells empty)."""
    if not rows:
        return "(no rows)\n"
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"
        return "" if v is None else str(v)

    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(cell(r.get(c)) for c in cols) + " |" for r in rows]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the selected sections; print Markdown tables; 0 when every section ran."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny model on CPU, a few prompts/steps (< 60 s)")
    ap.add_argument("--shapes", default="1b,8b")
    ap.add_argument("--sections", default=None, help="gen,train (default; --smoke: gen)")
    ap.add_argument("--prompts", type=int, default=1000)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--budget", type=int, default=24, help="policy max_new_tokens for the time-to-verdict")
    ap.add_argument("--stock-new-tokens", type=int, default=128)
    ap.add_argument("--fast-batches", default="64,256")
    ap.add_argument("--train-steps", type=int, default=50)
    ap.add_argument("--train-methods", default="sft,dpo")
    ap.add_argument("--out", type=Path, default=None, help="also write the Markdown here")
    ap.add_argument("--json", type=Path, default=None, help="also write every table's rows here (JSON)")
    ap.add_argument("--ttv-prompts", type=int, default=1000, help="prompts per time-to-verdict gate run")
    ap.add_argument("--ttv-decodes", default="exact,fused")
    ap.add_argument("--qlora-steps", type=int, default=20)
    ap.add_argument("--gen-ttv", action=argparse.BooleanOptionalAction, default=True,
                    help="gen: also time load + generation of every prompt (the product's: --sections ttv)")
    ap.add_argument("--workdir", type=Path, default=None, help="where models are saved (default: a temp dir)")
    args = ap.parse_args(argv)

    import torch

    device = "cuda" if torch.cuda.is_available() and not args.smoke else "cpu"
    shapes = ["tiny"] if args.smoke else [s for s in args.shapes.split(",") if s]
    sections = [s for s in (args.sections or ("gen" if args.smoke else "gen,train")).split(",") if s]
    md = [f"# aligngate GPU bench ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})", "", *env_lines(), ""]
    print("\n".join(md), flush=True)
    failed = 0
    root = args.workdir or Path(tempfile.mkdtemp(prefix="aligngate-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    collected: dict[str, Any] = {}
    if "labels" in sections:
        failed += _section(md, "Label agreement", lambda: _labels(root, device, args.smoke), collected)
    for shape in shapes:
        if "ttv" in sections:
            failed += _section(md, f"Time to verdict, {shape} shape",
                               lambda shape=shape: _ttv(args, shape, root, device), collected)
        if "gen" in sections:
            failed += _section(md, f"Generation, {shape} shape", lambda shape=shape: _gen(args, shape, root, device),
                               collected)
        if "train" in sections:
            for method in args.train_methods.split(","):
                failed += _section(md, f"LoRA {method.upper()}, {shape} shape",
                                   lambda m=method, shape=shape: _train(args, shape, m, root, device), collected)
        if "qlora" in sections:
            failed += _section(md, f"QLoRA, {shape} shape", lambda shape=shape: _qlora(args, shape, root, device),
                               collected)
    text = "\n".join(md) + "\n"
    if args.json:
        import json

        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"device": device, "env": env_lines(), "failed": failed,
                                         "sections": collected}, indent=1, default=str), encoding="utf-8")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    print("\n" + text, flush=True)
    return 1 if failed else 0


def _section(md: list[str], title: str, fn: Any, collected: dict[str, Any] | None = None) -> int:
    print(f"\n## {title}", flush=True)
    t0 = time.perf_counter()
    try:
        tables, notes = fn()
    except Exception as exc:  # one failing section must not lose the others' numbers
        traceback.print_exc()
        md += [f"## {title}", "", f"FAILED: {type(exc).__name__}: {exc}", ""]
        if collected is not None:
            collected[title] = {"failed": f"{type(exc).__name__}: {exc}"}
        return 1
    if collected is not None:
        collected[title] = {"tables": tables, "notes": notes, "seconds": time.perf_counter() - t0}
    md += [f"## {title}", ""]
    for name, rows in tables.items():
        md += [f"### {name}", "", table(rows)]
        print(f"### {name}\n" + table(rows), flush=True)
    md += [*[f"- {n}" for n in notes], f"- section wall time {time.perf_counter() - t0:.0f}s", ""]
    return 0


def _gen(args: argparse.Namespace, shape: str, root: Path, device: str) -> tuple[dict[str, Any], list[str]]:
    from bench.gpu_gen import run_gen_bench

    if args.smoke:
        b = run_gen_bench("tiny", root, device=device, n_prompts=8, new_tokens=6, budget=4, sample=4,
                          stock_new_tokens=8, fast_batches=(4,), backend="static", prompt_len=(4, 16),
                          modes=(True,))
    else:
        b = run_gen_bench(shape, root, device=device, n_prompts=args.prompts, new_tokens=args.new_tokens,
                          budget=args.budget, stock_new_tokens=args.stock_new_tokens,
                          fast_batches=tuple(int(x) for x in args.fast_batches.split(",")), ttv=args.gen_ttv)
    return b.tables, b.notes


def _ttv(args: argparse.Namespace, shape: str, root: Path, device: str) -> tuple[dict[str, Any], list[str]]:
    from bench.gpu_ttv import run_ttv_bench

    decodes = tuple(d for d in args.ttv_decodes.split(",") if d)
    if args.smoke:
        return run_ttv_bench("tiny", root, device=device, n_prompts=min(args.ttv_prompts, 64), decodes=decodes[:1],
                             batch_size=32)
    return run_ttv_bench(shape, root, device=device, n_prompts=args.ttv_prompts, budgets=(args.budget,),
                         decodes=decodes)


def _labels(root: Path, device: str, smoke: bool) -> tuple[dict[str, Any], list[str]]:
    from bench.gpu_labels import run_label_bench

    if smoke:
        return run_label_bench(root, device=device, limit=16, sft_steps=30)
    return run_label_bench(root, device=device)


def _qlora(args: argparse.Namespace, shape: str, root: Path, device: str) -> tuple[dict[str, Any], list[str]]:
    from bench.gpu_train import run_qlora_bench

    if args.smoke:
        return run_qlora_bench("tiny", root, device=device, steps=3, batch=2, seq=(8, 32))
    return run_qlora_bench(shape, root, device=device, steps=args.qlora_steps)


def _train(args: argparse.Namespace, shape: str, method: str, root: Path,
           device: str) -> tuple[dict[str, Any], list[str]]:
    from bench.gpu_train import run_train_bench

    steps = 3 if args.smoke else args.train_steps
    return run_train_bench(shape, method, root, device=device, steps=steps, smoke=args.smoke)


if __name__ == "__main__":
    raise SystemExit(main())
