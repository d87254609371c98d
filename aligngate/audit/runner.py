"""``audit_adapter``: the whole LoRA adapter audit, pure of CLI concerns (used by the CLI and the gate).

Order: walk the directory (lstat only) → start hashing every safe file in a worker thread → validate every
safetensors header with our own parser → scan pickle files statically → parse ``adapter_config.json`` as
data → config against tensors and the base's ``config.json`` → weight statistics from a read-only memory
map (only for files whose header passed) → provenance against the signed manifest → optional behavioural
probe (only when nothing unsafe or blocking was found). Hashing overlaps the header/statistics work, so
each byte is read from disk once.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aligngate.audit.base_config import base_matches, load_base_config
from aligngate.audit.config import AuditConfig
from aligngate.audit.files import (
    FileEntry,
    MappedFiles,
    open_nofollow,
    read_bytes,
    sha256_file,
    sha256_mapped,
    walk_adapter,
)
from aligngate.audit.findings import Finding, Severity, make
from aligngate.audit.lora_config import CONFIG_NAME, check_config_vs_tensors, parse_adapter_config
from aligngate.audit.pickle_scan import PICKLE_EXTENSIONS, ScanError, is_pickle_bytes, scan_bytes
from aligngate.audit.provenance import verify_manifest
from aligngate.audit.safetensors_header import HeaderError, TensorInfo, read_header
from aligngate.errors import InputError

__all__ = ["AuditResult", "audit_adapter"]

_MAX_PICKLE_SCAN = 2 * 1024**3


@dataclass
class AuditResult:
    """Findings, per-file sha256, statistics and summaries of one audit."""

    path: str
    findings: list[Finding] = field(default_factory=list)
    sha256: dict[str, str] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def unsafe(self) -> list[Finding]:
        """Findings that make the directory unsafe to open (exit 2)."""
        return [f for f in self.findings if f.severity == "unsafe"]

    @property
    def blocking(self) -> list[Finding]:
        """Findings of severity block (exit 1)."""
        return [f for f in self.findings if f.severity == "block"]

    @property
    def exit_code(self) -> int:
        """2 unsafe to open, 1 blocking findings, 0 clean (warnings allowed)."""
        return 2 if self.unsafe else 1 if self.blocking else 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {"path": self.path, "exit_code": self.exit_code,
                "counts": {s: sum(f.severity == s for f in self.findings) for s in ("unsafe", "block", "warn")},
                "findings": [f.to_dict() for f in self.findings], "sha256": self.sha256, "info": self.info,
                "stats": self.stats}


_MAP_MIN = 16 * 2**20


def _hash_all(entries: list[FileEntry], maps: MappedFiles) -> dict[str, str | Exception]:
    """sha256 of every entry; large safetensors files through the memory maps the statistics share."""
    out: dict[str, str | Exception] = {}
    for e in entries:
        try:
            if e.kind == "safetensors" and e.size >= _MAP_MIN:
                out[e.rel] = sha256_mapped(maps.get(e.path))
            else:
                out[e.rel] = sha256_file(e.path)
        except (OSError, ValueError) as exc:
            out[e.rel] = exc
    return out


def _scan_pickle(e: FileEntry, cfg: AuditConfig) -> list[Finding]:
    if e.size > _MAX_PICKLE_SCAN:
        return [make("adapter.pickle_unscannable", e.rel, f"pickle-format file of {e.size} bytes is too large to "
                     "scan statically")]
    try:
        res = scan_bytes(read_bytes(e.path), e.rel)
    except OSError as exc:
        return [make("adapter.unreadable", e.rel, f"cannot read: {exc}")]
    except ScanError as exc:
        if exc.traversal:
            return [make("adapter.path_traversal", e.rel, str(exc))]
        if exc.no_pickle and Path(e.rel).suffix.lower() not in PICKLE_EXTENSIONS:
            return [make("adapter.unexpected_file", e.rel, "a zip archive (no pickle inside) in an adapter")]
        return [make("adapter.pickle_unscannable", e.rel, f"pickle-format file (by name or magic bytes) that "
                     f"cannot be scanned statically: {exc}")]
    out: list[Finding] = []
    if res.dangerous:
        out.append(make("adapter.pickle_dangerous_import", e.rel, "unpickling this file would import and call "
                        f"{', '.join(res.dangerous[:8])}: arbitrary code execution (torch.load / "
                        "PeftModel on a .bin would run it)", imports=res.dangerous[:50], calls=res.calls))
    sev: Severity = "warn" if cfg.allow_pickle and not res.dangerous else "block"
    out.append(make("adapter.pickle_file", e.rel, "pickle-based file: loading it deserialises Python objects; "
                    "only safetensors weights are accepted (scanned statically, never loaded)", severity=sev,
                    globals=sorted({f"{m}.{n}" for m, n in res.globals})[:50], members=res.members[:50]))
    return out


def _is_adapter_weights(e: FileEntry) -> bool:
    return "/" not in e.rel and e.rel.startswith("adapter_model") and e.kind in ("safetensors", "pickle")


def audit_adapter(dir: str | os.PathLike[str], *, base: str | None = None,
                  config: AuditConfig | None = None) -> AuditResult:
    """Audit the adapter directory ``dir``. Raises :class:`InputError` only when ``dir`` is not a directory."""
    cfg = config or AuditConfig()
    root = Path(dir)
    if not root.is_dir():
        raise InputError(f"adapter directory not found: {root}")
    res = AuditResult(path=str(root))
    entries, res.findings = walk_adapter(root, max_file_bytes=int(cfg.max_file_mb * 2**20))
    f = res.findings
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="aligngate-hash") as pool:
        maps = MappedFiles()
        hashing = pool.submit(_hash_all, entries, maps)
        tensors, bad_files = _headers(entries, cfg, f)
        for e in entries:
            if e.kind == "pickle":
                f += _scan_pickle(e, cfg)
        weights = [e for e in entries if _is_adapter_weights(e)]
        if not weights and not any(x.file.startswith("adapter_model") for x in f):  # not already explained
            f.append(make("adapter.no_weights", "adapter_model.safetensors", "no adapter_model.safetensors (or any "
                          "adapter weights file) at the top of the directory"))
        acfg = _read_config(root, entries, f)
        expected = base or cfg.expected_base
        dims = None
        if expected:
            dims = load_base_config(expected)
            if dims is None:
                f.append(make("adapter.base_config_unavailable", str(expected), "no readable config.json for the "
                              "expected base (a hub id or a path without config.json): shapes not checked"))
            res.info["base"] = {"expected": expected, "dims": dims.to_dict() if dims else None}
        if acfg is not None:
            declared = acfg.get("base_model_name_or_path")
            res.info["declared_base"] = declared
            if not declared:
                f.append(make("adapter.base_undeclared", CONFIG_NAME, "adapter_config.json names no "
                              "base_model_name_or_path: the base it was trained for cannot be checked by name"))
            elif dims is None and not expected and isinstance(declared, str):
                dims = load_base_config(declared)  # no expectation given: check shapes against the declared base
                if dims is not None:
                    res.info["base"] = {"expected": None, "dims": dims.to_dict(), "from": "declared"}
            if expected and declared:
                ok, how = base_matches(declared, expected)
                res.info["base"]["match"], res.info["base"]["how"] = ok, how
                if not ok:
                    f.append(make("adapter.base_mismatch", CONFIG_NAME, f"declared base {declared!r} is not the "
                                  f"expected base {expected!r} ({how})", declared=declared, expected=expected))
            adapter_tensors = {n: v for n, v in tensors.items() if _is_adapter_weights_name(v[1])}
            if adapter_tensors or any(e.kind == "safetensors" for e in weights if e.rel not in bad_files):
                modules, cf = check_config_vs_tensors(acfg, adapter_tensors, policy=cfg, base=dims)
                f += cf
                from aligngate.audit.weights import compare_reference, module_stats, norm_outliers

                res.stats, wf = module_stats(root, modules, exact_max_bytes=int(cfg.exact_stats_max_mb * 2**20),
                                             files=maps)
                f += wf
                f += norm_outliers(res.stats, cfg.outlier_z)
                if cfg.reference_stats:
                    f += compare_reference(res.stats, cfg.reference_stats, cfg.outlier_z)
        hashes = hashing.result()
    for rel, h in hashes.items():
        if isinstance(h, Exception):
            f.append(make("adapter.unreadable", rel, f"cannot read: {h}"))
        else:
            res.sha256[rel] = h
    pf, res.info["provenance"] = verify_manifest(root, res.sha256, require_signature=cfg.require_signature)
    f += pf
    from aligngate.audit.binding import check_base_binding

    bf, res.info["binding"] = check_base_binding(root, expected)  # base sha256 the training manifest recorded
    f += bf
    binding = res.info["binding"]
    if binding.get("checked") and not binding.get("missing") and not binding.get("differ"):
        # the bytes are the training base: a different name or path for it (a hub id vs a local snapshot) is no
        # mismatch; the sha256 binding is the stronger identity
        named = [x for x in f if x.id == "adapter.base_mismatch"]
        if named:
            f[:] = [x for x in f if x.id != "adapter.base_mismatch"]
            binding["superseded"] = [x.explanation for x in named]
    if cfg.probe:
        if not base:
            f.append(make("adapter.probe_skipped", ".", "policy enables the behavioural probe but no --base was "
                          "given"))
        elif res.exit_code:
            f.append(make("adapter.probe_skipped", ".", "behavioural probe not run: the file audit found unsafe or "
                          "blocking issues, so the adapter is never loaded"))
        else:
            from aligngate.audit.probe import run_probe

            pfind, res.info["probe"] = run_probe(root, base, cfg, res.stats)
            f += pfind
    order = {"unsafe": 0, "block": 1, "warn": 2}
    res.findings = sorted(f, key=lambda x: (order[x.severity], x.id, x.file))
    return res


def _is_adapter_weights_name(file: str) -> bool:
    return "/" not in file and file.startswith("adapter_model")


def _headers(entries: list[FileEntry], cfg: AuditConfig, f: list[Finding]
             ) -> tuple[dict[str, tuple[TensorInfo, str]], set[str]]:
    tensors: dict[str, tuple[TensorInfo, str]] = {}
    bad: set[str] = set()
    limit = int(cfg.max_header_mb * 2**20)
    for e in entries:
        if e.kind != "safetensors":
            continue
        try:
            hdr = read_header(e.path, max_header_bytes=limit)
        except HeaderError as exc:
            bad.add(e.rel)
            f.append(make("adapter.safetensors_invalid", e.rel, f"safetensors header rejected before reading any "
                          f"tensor: {exc}", reason=exc.reason))
            try:
                with open_nofollow(e.path) as fh:
                    disguised = is_pickle_bytes(fh.read(4))
            except OSError:
                disguised = False
            if disguised:  # a pickle named .safetensors: say what it would run
                f += _scan_pickle(e, cfg)
            continue
        except OSError as exc:
            bad.add(e.rel)
            f.append(make("adapter.unreadable", e.rel, f"cannot read: {exc}"))
            continue
        for name, info in hdr.tensors.items():
            if name in tensors and _is_adapter_weights_name(e.rel):
                f.append(make("adapter.unknown_tensor", e.rel, f"tensor {name!r} also defined in "
                              f"{tensors[name][1]}"))
            tensors.setdefault(name, (info, e.rel))
        if not _is_adapter_weights_name(e.rel):
            f.append(make("adapter.unexpected_file", e.rel, "safetensors file other than adapter_model*.safetensors "
                          "(header validated, tensors not mapped)"))
    return tensors, bad


def _read_config(root: Path, entries: list[FileEntry], f: list[Finding]) -> dict[str, Any] | None:
    if not any(e.rel == CONFIG_NAME for e in entries):
        f.append(make("adapter.config_invalid", CONFIG_NAME, "adapter_config.json is missing (or not a regular "
                      "file): not a peft adapter"))
        return None
    try:
        raw = json.loads(read_bytes(root / CONFIG_NAME))
        return parse_adapter_config(raw)
    except (ValueError, RecursionError) as exc:
        f.append(make("adapter.config_invalid", CONFIG_NAME, f"adapter_config.json unusable: {exc}"))
    except OSError as exc:
        f.append(make("adapter.unreadable", CONFIG_NAME, f"cannot read: {exc}"))
    return None


def fill_report(report: Any, result: AuditResult, spec: Any = None) -> None:
    """Put an audit into a :class:`~aligngate.verdict.Report`: the one registered ``adapter.audit`` check, decided
    by ``spec`` (a policy :class:`~aligngate.policy.CheckSpec`; None: the registered default), with every finding
    in its ``details.findings``; subjects and summary (file hashes, config info, module statistics). An adapter
    unsafe to open is also a top-level error (exit 2)."""
    from aligngate.checks import get_check
    from aligngate.checks.context import ResultsContext
    from aligngate.checks.run import run_check

    report.subjects["adapter"] = {"path": result.path, "sha256": dict(result.sha256)}
    spec = spec or get_check("adapter.audit").default_spec()
    if spec is None:
        raise InputError("check adapter.audit has no registered default: the policy must give its spec")
    report.checks.append(run_check(ResultsContext(audit=result), spec))
    if result.unsafe:
        report.errors.append(f"adapter {result.path} is unsafe to open: "
                             + "; ".join(f"{f.id} ({f.file})" for f in result.unsafe[:5]))
    report.summary = {"adapter": result.path, "exit_code": result.exit_code,
                      "counts": {s: sum(f.severity == s for f in result.findings) for s in ("unsafe", "block", "warn")},
                      "sha256": dict(result.sha256), "info": result.info, "module_stats": result.stats}
