"""Weight statistics, read with numpy from a read-only memory map only after the header passed.

Per LoRA module (``ΔW = scale · B·A``), everything comes from two r×r Gram matrices ``G_A = A·Aᵀ`` and
``G_B = Bᵀ·B``, never the full out×in product:

* ``‖ΔW‖_F = |scale| · sqrt(tr(G_A·G_B))``;
* the singular values of ``B·A`` are the square roots of the eigenvalues of ``G_A^½ · G_B · G_A^½``, giving
  the effective rank (exp of the entropy of the normalised singular values, Roy & Vetterli 2007) and the
  stable rank;
* NaN/Inf: a non-finite value makes its Gram matrix non-finite, so the tensor is scanned with
  ``np.isfinite`` only then (one pass over the data in the common case).

Robust outliers: per module name (``q_proj``, …; all modules pooled when a group has fewer than 4) the
median/MAD z-score of ``log10 ‖ΔW‖_F``; optionally against reference statistics of known-good adapters.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from aligngate.audit.findings import Finding, make
from aligngate.audit.lora_config import LoraModule
from aligngate.audit.safetensors_header import TensorInfo
from aligngate.fileio import atomic_write_json

__all__ = ["compare_reference", "module_stats", "norm_outliers", "reference_entry", "write_reference"]

_NP = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I8": "i1", "U8": "u1", "I16": "<i2", "I32": "<i4",
       "I64": "<i8", "U16": "<u2", "U32": "<u4", "U64": "<u8", "BOOL": "?"}


class _Maps:
    """One read-only np.memmap per file, opened lazily."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.maps: dict[str, np.ndarray] = {}

    def array(self, file: str, t: TensorInfo) -> np.ndarray | None:
        """The tensor as float32/float64 (None for dtypes numpy cannot decode, e.g. FP8)."""
        if t.end == t.begin:
            return np.zeros(t.shape, dtype=np.float32)
        if file not in self.maps:
            self.maps[file] = np.memmap(self.root / file, dtype=np.uint8, mode="r")
        raw = self.maps[file][t.begin:t.end]
        if t.dtype == "BF16":
            x = (raw.view("<u2").astype(np.uint32) << 16).view(np.float32)
        elif t.dtype in ("F32", "F64"):
            x = raw.view(_NP[t.dtype])
        elif t.dtype in _NP:
            x = raw.view(_NP[t.dtype]).astype(np.float32)
        else:
            return None
        return x.reshape(t.shape)


def _nonfinite(x: np.ndarray) -> int:
    return int(x.size - np.count_nonzero(np.isfinite(x)))


def _ranks(ga: np.ndarray, gb: np.ndarray) -> tuple[float, float, float]:
    """(‖BA‖_F, effective rank, stable rank) from the Gram matrices."""
    fro2 = float(np.sum(ga * gb))
    w, u = np.linalg.eigh(ga)
    s = u * np.sqrt(np.clip(w, 0.0, None))
    sig2 = np.clip(np.linalg.eigvalsh(s.T @ gb @ s), 0.0, None)
    sig = np.sqrt(sig2)
    tot = float(sig.sum())
    if tot <= 0.0:
        return math.sqrt(max(fro2, 0.0)), 0.0, 0.0
    p = sig / tot
    p = p[p > 0]
    eff = float(math.exp(-float(np.sum(p * np.log(p)))))
    stable = float(sig2.sum() / sig2.max())
    return math.sqrt(max(fro2, 0.0)), eff, stable


def module_stats(root: str | os.PathLike[str], modules: dict[str, LoraModule]) -> tuple[dict[str, Any], list[Finding]]:
    """Per-module statistics and NaN/Inf findings."""
    maps = _Maps(Path(root))
    stats: dict[str, Any] = {}
    findings: list[Finding] = []
    for key, mod in sorted(modules.items()):
        entry: dict[str, Any] = {"kind": mod.kind, "short": mod.short}
        bad: list[str] = []
        a_role = "lora_A.weight" if "lora_A.weight" in mod.tensors else "lora_embedding_A"
        b_role = "lora_B.weight" if "lora_B.weight" in mod.tensors else "lora_embedding_B"
        done: set[str] = set()
        if mod.rank is not None and a_role in mod.tensors and b_role in mod.tensors:
            a = maps.array(mod.files[a_role], mod.tensors[a_role])
            b = maps.array(mod.files[b_role], mod.tensors[b_role])
            if a is not None and b is not None and a.shape[0] == b.shape[1]:
                with np.errstate(all="ignore"):  # float32 BLAS for the Grams, float64 for the r×r algebra
                    ga = (a @ a.T).astype(np.float64)
                    gb = (b.T @ b).astype(np.float64)
                for role, g, x in ((a_role, ga, a), (b_role, gb, b)):
                    done.add(role)
                    if not np.isfinite(g).all():
                        n = _nonfinite(x)
                        bad.append(f"{role}: {n} of {x.size} values" if n else
                                   f"{role}: values so large their squares overflow")
                if not bad and np.isfinite(ga).all() and np.isfinite(gb).all():
                    fro, eff, stable = _ranks(ga, gb)
                    scale = mod.scale if mod.scale is not None else 1.0
                    entry.update(rank=mod.rank, scale=scale, norm_A=math.sqrt(float(np.trace(ga))),
                                 norm_B=math.sqrt(float(np.trace(gb))), delta_norm=abs(scale) * fro,
                                 effective_rank=eff, stable_rank=stable)
        for role, t in mod.tensors.items():
            if role in done:
                continue
            x = maps.array(mod.files[role], t)
            if x is None:
                continue
            if n := _nonfinite(x):
                bad.append(f"{role}: {n} of {x.size} values")
            elif role in ("weight", "base_layer.weight", "token_adapter.trainable_tokens_delta"):
                entry["full_norm"] = float(np.linalg.norm(x.astype(np.float64, copy=False).ravel()))
        if bad:
            findings.append(make("adapter.nonfinite_weights", next(iter(mod.files.values())),
                                 f"{key!r} holds NaN/Inf ({'; '.join(bad)}): merging it corrupts the base model",
                                 module=key))
        stats[key] = entry
    return stats, findings


def _robust_z(values: np.ndarray) -> np.ndarray:
    med = float(np.median(values))
    mad = float(np.median(np.abs(values - med)))
    if mad <= 1e-9:
        return np.zeros_like(values)
    return 0.6745 * (values - med) / mad


def norm_outliers(stats: dict[str, Any], z_max: float, file: str = "adapter_model.safetensors") -> list[Finding]:
    """Modules whose log10 ‖ΔW‖_F is a robust (median/MAD) outlier upwards."""
    keys = [k for k, s in stats.items() if s.get("delta_norm", 0.0) > 0.0]
    if len(keys) < 4:
        return []
    logs = {k: math.log10(stats[k]["delta_norm"]) for k in keys}
    groups: dict[str, list[str]] = {}
    for k in keys:
        groups.setdefault(stats[k]["short"], []).append(k)
    out: list[Finding] = []
    for members in groups.values():
        pool = members if len(members) >= 4 else keys
        vals = np.array([logs[k] for k in pool])
        z = dict(zip(pool, _robust_z(vals), strict=True))
        for k in members:
            if z[k] > z_max:
                stats[k]["robust_z"] = float(z[k])
                out.append(make("adapter.norm_outlier", file, f"{k!r}: update norm {stats[k]['delta_norm']:.3g} is "
                                f"a robust outlier (z={z[k]:.1f} > {z_max:g}) among comparable modules", module=k))
    return out


def reference_entry(stats: dict[str, Any]) -> dict[str, float]:
    """Per module name, the median log10 ‖ΔW‖_F of one adapter (what a reference set stores)."""
    groups: dict[str, list[float]] = {}
    for s in stats.values():
        if s.get("delta_norm", 0.0) > 0.0:
            groups.setdefault(s["short"], []).append(math.log10(s["delta_norm"]))
    return {k: float(np.median(v)) for k, v in sorted(groups.items())}


def write_reference(path: str | os.PathLike[str], stats: dict[str, Any], name: str) -> Path:
    """Append this adapter's :func:`reference_entry` to the reference JSON at ``path`` (created if absent).

    Format: ``{"version": 1, "adapters": {name: {module_name: median_log10_delta_norm}}}``.
    """
    p = Path(path)
    data: dict[str, Any] = {"version": 1, "adapters": {}}
    if p.is_file():
        data = json.loads(p.read_text(encoding="utf-8"))
    data.setdefault("adapters", {})[name] = reference_entry(stats)
    atomic_write_json(p, data)
    return p


def compare_reference(stats: dict[str, Any], path: str | os.PathLike[str], z_max: float) -> list[Finding]:
    """Module groups whose median update norm is an upward outlier against the reference adapters."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        refs = list(data["adapters"].values())
    except (OSError, ValueError, KeyError, AttributeError) as exc:
        return [make("adapter.reference_outlier", str(path), f"reference statistics unreadable: {exc}")]
    mine = reference_entry(stats)
    out: list[Finding] = []
    for short, val in mine.items():
        ref = np.array([r[short] for r in refs if isinstance(r, dict) and short in r], dtype=float)
        if ref.size < 3:
            continue
        med = float(np.median(ref))
        mad = max(float(np.median(np.abs(ref - med))), 0.05)  # floor: 0.05 decades
        z = 0.6745 * (val - med) / mad
        if z > z_max:
            out.append(make("adapter.reference_outlier", "adapter_model.safetensors", f"{short}: median update "
                            f"norm 10^{val:.2f} vs reference 10^{med:.2f} (z={z:.1f} over {ref.size} adapters)",
                            module=short, z=z))
    return out
