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

from aligngate.audit.files import MappedFiles
from aligngate.audit.findings import Finding, make
from aligngate.audit.lora_config import LoraModule
from aligngate.audit.safetensors_header import TensorInfo
from aligngate.fileio import atomic_write_json

__all__ = ["compare_reference", "module_stats", "norm_outliers", "reference_entry", "write_reference"]

_NP = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I8": "i1", "U8": "u1", "I16": "<i2", "I32": "<i4",
       "I64": "<i8", "U16": "<u2", "U32": "<u4", "U64": "<u8", "BOOL": "?"}


class _Maps:
    """Tensors as numpy views of the shared read-only memory maps."""

    def __init__(self, root: Path, files: MappedFiles | None = None) -> None:
        self.root = root
        self.files = files or MappedFiles()
        self.maps: dict[str, np.ndarray] = {}

    def array(self, file: str, t: TensorInfo) -> np.ndarray | None:
        """The tensor as float32/float64 (None for dtypes numpy cannot decode, e.g. FP8)."""
        if t.end == t.begin:
            return np.zeros(t.shape, dtype=np.float32)
        if file not in self.maps:
            mm = self.files.get(self.root / file)
            self.maps[file] = np.frombuffer(mm, dtype=np.uint8) if mm is not None else np.zeros(0, np.uint8)
        raw = self.maps[file][t.begin:t.end]
        if t.dtype == "BF16":
            u = raw.view("<u2").astype(np.uint32)
            u <<= 16  # in place: bf16 is the top half of a float32
            x = u.view(np.float32)
        elif t.dtype in ("F32", "F64"):
            x = raw.view(_NP[t.dtype])
        elif t.dtype in _NP:
            x = raw.view(_NP[t.dtype]).astype(np.float32)
        else:
            return None
        return x.reshape(t.shape)


def _nonfinite(x: np.ndarray) -> int:
    return int(x.size - np.count_nonzero(np.isfinite(x)))


def _ranks_batch(ga: np.ndarray, gb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(‖BA‖_F, effective rank, stable rank) for a stack of Gram pairs (k, r, r)."""
    fro2 = np.einsum("kij,kij->k", ga, gb)
    r = ga.shape[-1]
    eye = np.eye(r)
    jitter = (1e-12 * np.trace(ga, axis1=1, axis2=2) / max(r, 1) + 1e-300)[:, None, None] * eye
    try:  # G_A = L·Lᵀ (tiny jitter for rank-deficient A): σ²(BA) = eig(Lᵀ·G_B·L); cheaper than eigh
        lo = np.linalg.cholesky(ga + jitter)
    except np.linalg.LinAlgError:
        w, u = np.linalg.eigh(ga)
        lo = u * np.sqrt(np.clip(w, 0.0, None))[:, None, :]
    sig2 = np.clip(np.linalg.eigvalsh(np.swapaxes(lo, 1, 2) @ gb @ lo), 0.0, None)
    sig = np.sqrt(sig2)
    tot = sig.sum(axis=1)
    with np.errstate(all="ignore"):
        p = sig / np.where(tot > 0, tot, 1.0)[:, None]
        ent = -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), axis=1)
        stable = np.where(tot > 0, sig2.sum(axis=1) / np.maximum(sig2.max(axis=1), 1e-300), 0.0)
    eff = np.where(tot > 0, np.exp(ent), 0.0)
    return np.sqrt(np.clip(fro2, 0.0, None)), eff, stable


def module_stats(root: str | os.PathLike[str], modules: dict[str, LoraModule], *,
                 exact_max_bytes: int = 64 * 2**20, files: MappedFiles | None = None
                 ) -> tuple[dict[str, Any], list[Finding]]:
    """Per-module statistics and NaN/Inf findings.

    Adapters whose LoRA A/B tensors total at most ``exact_max_bytes`` get exact Gram-based norms and ranks.
    Larger ones (a 7B r=64 adapter is 640 MB) get exact ‖A‖, ‖B‖ and NaN/Inf, a sketched ‖ΔW‖_F
    (``‖B·A·Ω‖_F² / k`` with ``k`` = 8 Gaussian probes, unbiased; relative error ≈ sqrt(2 / (k · stable
    rank))) and no effective rank: the Grams would cost more than hashing the file.
    """
    total = sum(t.end - t.begin for m in modules.values() for r, t in m.tensors.items() if r.startswith("lora_"))
    with _one_blas_thread():  # the other core hashes; BLAS threads would fight it (and r×r LAPACK is slower)
        return _module_stats(_Maps(Path(root), files), modules, exact=total <= exact_max_bytes)


_PROBES = 8


def _probes(n: int, cache: dict[int, np.ndarray]) -> np.ndarray:
    if n not in cache:
        cache[n] = np.random.default_rng(n).standard_normal((n, _PROBES), dtype=np.float32)
    return cache[n]


def _sketch(a: np.ndarray, b: np.ndarray, cache: dict[int, np.ndarray]) -> tuple[float, float, float] | None:
    """(‖A‖², ‖B‖², estimated ‖BA‖_F²), or None when something is non-finite."""
    with np.errstate(all="ignore"):
        na, nb = float(np.vdot(a, a)), float(np.vdot(b, b))
        if not (math.isfinite(na) and math.isfinite(nb)):
            return None
        z = b @ (a @ _probes(a.shape[1], cache))
        est = float(np.vdot(z, z)) / _PROBES
    return (na, nb, est) if math.isfinite(est) else None


def _one_blas_thread() -> Any:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _module_stats(maps: _Maps, modules: dict[str, LoraModule], *, exact: bool) -> tuple[dict[str, Any], list[Finding]]:
    probes: dict[int, np.ndarray] = {}
    stats: dict[str, Any] = {}
    findings: list[Finding] = []
    pending: dict[int, list[tuple[str, np.ndarray, np.ndarray]]] = {}
    for key, mod in sorted(modules.items()):
        entry: dict[str, Any] = {"kind": mod.kind, "short": mod.short}
        bad: list[str] = []
        a_role = "lora_A.weight" if "lora_A.weight" in mod.tensors else "lora_embedding_A"
        b_role = "lora_B.weight" if "lora_B.weight" in mod.tensors else "lora_embedding_B"
        done: set[str] = set()
        if mod.rank is not None and a_role in mod.tensors and b_role in mod.tensors:
            a = maps.array(mod.files[a_role], mod.tensors[a_role])
            b = maps.array(mod.files[b_role], mod.tensors[b_role])
            if a is not None and b is not None and a.shape[0] == b.shape[1] and not exact:
                done |= {a_role, b_role}
                sk = _sketch(a, b, probes)
                if sk is None:
                    for role, x in ((a_role, a), (b_role, b)):
                        n = _nonfinite(x)
                        bad.append(f"{role}: {n} of {x.size} values" if n else
                                   f"{role}: values so large their squares overflow")
                else:
                    scale = mod.scale if mod.scale is not None else 1.0
                    entry.update(rank=mod.rank, scale=scale, norm_A=math.sqrt(sk[0]), norm_B=math.sqrt(sk[1]),
                                 delta_norm=abs(scale) * math.sqrt(max(sk[2], 0.0)), delta_norm_estimated=True)
            elif a is not None and b is not None and a.shape[0] == b.shape[1]:
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
                    pending.setdefault(ga.shape[0], []).append((key, ga, gb))
        for role, t in mod.tensors.items():
            if role in done:
                continue
            arr = maps.array(mod.files[role], t)
            if arr is None:
                continue
            if n := _nonfinite(arr):
                bad.append(f"{role}: {n} of {arr.size} values")
            elif role in ("weight", "base_layer.weight", "token_adapter.trainable_tokens_delta"):
                entry["full_norm"] = float(np.linalg.norm(arr.astype(np.float64, copy=False).ravel()))
        if bad:
            findings.append(make("adapter.nonfinite_weights", next(iter(mod.files.values())),
                                 f"{key!r} holds NaN/Inf ({'; '.join(bad)}): merging it corrupts the base model",
                                 module=key))
        stats[key] = entry
    for items in pending.values():  # r×r algebra batched per rank: one LAPACK call instead of one per module
        fro, eff, stable = _ranks_batch(np.stack([g[1] for g in items]), np.stack([g[2] for g in items]))
        for (key, ga, gb), f_, e_, s_ in zip(items, fro, eff, stable, strict=True):
            mod = modules[key]
            scale = mod.scale if mod.scale is not None else 1.0
            stats[key].update(rank=mod.rank, scale=scale, norm_A=math.sqrt(float(np.trace(ga))),
                              norm_B=math.sqrt(float(np.trace(gb))), delta_norm=abs(scale) * float(f_),
                              effective_rank=float(e_), stable_rank=float(s_))
    return stats, findings


def _robust_z(values: np.ndarray) -> np.ndarray:
    med = float(np.median(values))
    mad = float(np.median(np.abs(values - med)))
    if mad <= 1e-9:
        return np.zeros_like(values)
    return 0.6745 * (values - med) / mad


def norm_outliers(stats: dict[str, Any], z_max: float, file: str = "adapter_model.safetensors") -> list[Finding]:
    """Modules whose log10 ‖ΔW‖_F is a robust (median/MAD) outlier upwards."""
    keys = [k for k, s in stats.items() if 0.0 < s.get("delta_norm", 0.0) < math.inf]
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
        if 0.0 < s.get("delta_norm", 0.0) < math.inf:
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
