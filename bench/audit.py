"""Adapter-audit benchmark: ``aligngate.audit.audit_adapter`` vs plain sha256 of the same files.

Generates a Llama-2-7B-shaped LoRA adapter (32 layers, hidden 4096, intermediate 11008, r=64 on q, k, v, o,
gate, up, down: 160 M parameters, ~640 MB fp32 / ~320 MB bf16) with a streaming safetensors writer (no model
is built), plus the base's ``config.json``, into a temporary directory; then times, on a warm page cache,
the stock baseline (``hashlib.sha256`` of every file, 1 MiB reads, as ``aligngate.fileio.sha256_file``)
against the full audit (which computes the same sha256 of every file, validates headers, maps config to
tensors, checks shapes against the base config and computes per-module norms / effective ranks / NaN
scan). Target: audit / sha256 <= 1.5. The directory is deleted afterwards.

    python bench/audit.py                  # fp32, 32 layers
    python bench/audit.py --dtype bf16 --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import cpu_seconds  # noqa: E402

LLAMA2_7B = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
             "intermediate_size": 11008, "num_attention_heads": 32, "num_key_value_heads": 32,
             "num_hidden_layers": 32, "vocab_size": 32000, "max_position_embeddings": 4096,
             "rms_norm_eps": 1e-5, "tie_word_embeddings": False}
MODULES = {"self_attn.q_proj": (4096, 4096), "self_attn.k_proj": (4096, 4096), "self_attn.v_proj": (4096, 4096),
           "self_attn.o_proj": (4096, 4096), "mlp.gate_proj": (4096, 11008), "mlp.up_proj": (4096, 11008),
           "mlp.down_proj": (11008, 4096)}


def write_adapter(out: Path, *, layers: int, r: int, dtype: str, seed: int = 0) -> int:
    """Stream a LoRA safetensors file of Llama-2-7B shapes into ``out``; returns the parameter count."""
    itemsize = 4 if dtype == "F32" else 2
    specs: list[tuple[str, tuple[int, int]]] = []
    for i in range(layers):
        for mod, (fin, fout) in MODULES.items():
            pre = f"base_model.model.model.layers.{i}.{mod}"
            specs += [(f"{pre}.lora_A.weight", (r, fin)), (f"{pre}.lora_B.weight", (fout, r))]
    header, pos = {}, 0
    for name, shape in specs:
        n = shape[0] * shape[1] * itemsize
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [pos, pos + n]}
        pos += n
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    rng = np.random.default_rng(seed)
    with open(out / "adapter_model.safetensors", "wb") as fh:
        fh.write(struct.pack("<Q", len(h)) + h)
        for name, shape in specs:
            x = rng.standard_normal(shape, dtype=np.float32) * (0.02 if "lora_A" in name else 0.002)
            if dtype == "BF16":
                x = (x.view(np.uint32) >> 16).astype(np.uint16)
            fh.write(x.tobytes())
    cfg = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": r, "lora_alpha": 2 * r, "lora_dropout": 0.05,
           "target_modules": [m.split(".")[-1] for m in MODULES], "base_model_name_or_path":
           "meta-llama/Llama-2-7b-hf", "bias": "none", "modules_to_save": None, "rank_pattern": {},
           "alpha_pattern": {}, "use_dora": False, "use_rslora": False, "inference_mode": True}
    (out / "adapter_config.json").write_text(json.dumps(cfg, indent=2))
    return pos // itemsize


def _best(fn, repeat: int) -> tuple[float, float, object]:
    """(best wall seconds, CPU seconds of that run, value)."""
    best, cpu, val = float("inf"), 0.0, None
    for _ in range(repeat):
        c, t = cpu_seconds(), time.perf_counter()
        val = fn()
        wall = time.perf_counter() - t
        if wall < best:
            best, cpu = wall, cpu_seconds() - c
    return best, cpu, val


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a Markdown table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dtype", choices=("fp32", "bf16"), default="fp32")
    ap.add_argument("--layers", type=int, default=32)
    ap.add_argument("--rank", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--tmp", default=None, help="parent of the temporary directory (default: system temp)")
    args = ap.parse_args(argv)

    from aligngate.audit.config import AuditConfig
    from aligngate.audit.runner import audit_adapter
    from aligngate.fileio import sha256_file

    work = Path(tempfile.mkdtemp(prefix="aligngate-bench-audit-", dir=args.tmp))
    try:
        adapter, base = work / "adapter", work / "Llama-2-7b-hf"
        adapter.mkdir()
        base.mkdir()
        (base / "config.json").write_text(json.dumps(LLAMA2_7B))
        t = time.perf_counter()
        n = write_adapter(adapter, layers=args.layers, r=args.rank, dtype="F32" if args.dtype == "fp32" else "BF16")
        gen = time.perf_counter() - t
        files = sorted(p for p in adapter.iterdir() if p.is_file())
        size = sum(p.stat().st_size for p in files)
        for p in files:  # warm the page cache for both contenders
            sha256_file(p)
        t_sha, c_sha, _ = _best(lambda: {p.name: sha256_file(p) for p in files}, args.repeat)
        cfg = AuditConfig()
        t_audit, c_audit, res = _best(lambda: audit_adapter(adapter, base=str(base), config=cfg), args.repeat)
        findings = ", ".join(sorted({f"{f.id}({f.severity})" for f in res.findings})) or "none"
        ratio = t_audit / t_sha
        print(f"\nLoRA audit benchmark: Llama-2-7B shapes, {args.layers} layers, r={args.rank}, {args.dtype}, "
              f"{n / 1e6:.1f} M params (generated in {gen:.1f} s); best of {args.repeat}, warm page cache\n")
        print("| what | files | MB | wall (s) | CPU (s) | MB/s |")
        print("|---|---|---|---|---|---|")
        print(f"| sha256 only (hashlib, 1 MiB reads) | {len(files)} | {size / 1e6:.0f} | {t_sha:.3f} | {c_sha:.3f} | "
              f"{size / 1e6 / t_sha:.0f} |")
        print(f"| aligngate audit (sha256 + header + config/shapes + stats) | {len(files)} | {size / 1e6:.0f} | "
              f"{t_audit:.3f} | {c_audit:.3f} | {size / 1e6 / t_audit:.0f} |")
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"\naudit / sha256 = {ratio:.2f} wall, {c_audit / c_sha:.2f} CPU (target <= 1.5); "
              f"{os.cpu_count()} CPUs, load average {load:.1f}; exit code {res.exit_code}; "
              f"modules with stats: {sum('delta_norm' in s for s in res.stats.values())}; findings: {findings}")
        return 0 if ratio <= 1.5 and res.exit_code == 0 else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
