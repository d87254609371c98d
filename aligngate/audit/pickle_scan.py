"""Static scan of pickle-based files. Nothing here ever deserialises: bytes are walked with
:func:`pickletools.genops` (a disassembler), zip archives are listed with :mod:`zipfile`.

Reports every import a pickle would perform (``GLOBAL``, ``INST``, ``STACK_GLOBAL`` with its two string
arguments resolved through the memo) and how many calls (``REDUCE``/``BUILD``/``NEWOBJ``/``INST``/``OBJ``)
it makes. An import outside a small allowlist of tensor-rebuilding callables counts as dangerous. When
picklescan is installed its verdict on the same bytes is merged in (a second opinion, also static).
"""

from __future__ import annotations

import io
import pickletools
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

__all__ = ["PICKLE_EXTENSIONS", "PickleScan", "ScanError", "is_pickle_bytes", "scan_bytes"]

PICKLE_EXTENSIONS = frozenset({".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".dill", ".pyt"})
_MAX_MEMBER_BYTES = 512 * 1024 * 1024

#: (module, name) pairs a torch/numpy checkpoint legitimately imports; ``*`` matches any name.
_SAFE: dict[str, set[str]] = {
    "torch._utils": {"_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_parameter",
                     "_rebuild_parameter_with_state", "_rebuild_qtensor", "_rebuild_sparse_tensor",
                     "_rebuild_wrapper_subclass", "_rebuild_device_tensor_from_numpy",
                     "_rebuild_meta_tensor_no_storage"},
    "torch": {"FloatStorage", "HalfStorage", "BFloat16Storage", "DoubleStorage", "LongStorage", "IntStorage",
              "ShortStorage", "CharStorage", "ByteStorage", "BoolStorage", "float32", "float16", "bfloat16",
              "float64", "int64", "int32", "int8", "uint8", "bool", "Size", "device", "dtype"},
    "torch.storage": {"UntypedStorage", "TypedStorage", "_load_from_bytes"},
    "collections": {"OrderedDict"},
    "numpy": {"dtype", "ndarray"},
    "numpy.core.multiarray": {"_reconstruct", "scalar"},
    "numpy._core.multiarray": {"_reconstruct", "scalar"},
    "_codecs": {"encode"},
    "builtins": {"set", "frozenset", "slice", "complex", "bytearray"},
}
_STR_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING", "BINSTRING", "SHORT_BINSTRING"}
_CALL_OPS = {"REDUCE", "BUILD", "NEWOBJ", "NEWOBJ_EX", "INST", "OBJ"}


class ScanError(ValueError):
    """The bytes could not be scanned statically (not a pickle, corrupt, or an unsafe archive)."""

    def __init__(self, message: str, *, traversal: bool = False, no_pickle: bool = False) -> None:
        self.traversal, self.no_pickle = traversal, no_pickle
        super().__init__(message)


@dataclass
class PickleScan:
    """What a static scan found in one file."""

    globals: list[tuple[str, str]] = field(default_factory=list)
    dangerous: list[str] = field(default_factory=list)
    calls: int = 0
    pickles: int = 0
    members: list[str] = field(default_factory=list)
    picklescan: dict[str, Any] = field(default_factory=dict)


def is_pickle_bytes(head: bytes) -> bool:
    """Whether ``head`` starts like a binary pickle (PROTO 2..5) or a zip archive (torch.save)."""
    return (len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5) or head[:4] == b"PK\x03\x04"


def _is_safe(module: str, name: str) -> bool:
    allowed = _SAFE.get(module)
    return allowed is not None and (name in allowed or "*" in allowed)


def _scan_one_stream(data: bytes, out: PickleScan) -> None:
    """Walk every pickle in ``data`` (several may be concatenated, as in legacy torch files)."""
    pos, first = 0, True
    while pos < len(data):
        memo: dict[Any, Any] = {}
        recent: list[Any] = []
        end = pos
        try:
            for op, arg, at in pickletools.genops(io.BytesIO(data[pos:])):
                p = at or 0  # genops gives None only for unseekable streams; BytesIO is seekable
                name = op.name
                end = pos + p
                # ``recent`` approximates the top of the stack: strings by value, anything else as None
                if name in _STR_OPS:
                    recent.append(arg if isinstance(arg, str) else str(arg))
                elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                    memo[arg] = recent[-1] if recent else None
                elif name == "MEMOIZE":
                    memo[len(memo)] = recent[-1] if recent else None
                elif name in ("GET", "BINGET", "LONG_BINGET"):
                    recent.append(memo.get(arg))
                elif op.stack_after and name != "STACK_GLOBAL":
                    recent.append(None)
                if name in ("GLOBAL", "INST"):
                    mod, _, attr = str(arg).partition(" ")
                    out.globals.append((mod, attr))
                elif name == "STACK_GLOBAL":
                    smod, sattr = (recent[-2], recent[-1]) if len(recent) >= 2 else (None, None)
                    if not (isinstance(smod, str) and isinstance(sattr, str)):
                        out.globals.append(("?", "?"))  # unresolvable: treated as dangerous
                    else:
                        out.globals.append((smod, sattr))
                    recent.append(None)
                if name in _CALL_OPS:
                    out.calls += 1
                if name == "STOP":
                    end = pos + p + 1
        except Exception as exc:  # noqa: BLE001 - any disassembly failure
            if first:
                raise ScanError(f"not a scannable pickle: {exc}") from None
            break  # trailing raw storage bytes after the pickles (legacy torch format)
        out.pickles += 1
        first = False
        if end <= pos:
            break
        pos = end


def _picklescan(data: bytes, name: str, zipped: bool) -> dict[str, Any]:
    try:
        from picklescan import scanner
    except ImportError:
        return {}
    try:
        fn = scanner.scan_zip_bytes if zipped else scanner.scan_pickle_bytes
        res = fn(io.BytesIO(data), name)
    except Exception as exc:  # noqa: BLE001
        return {"error": f"{type(exc).__name__}: {exc}"}
    dangerous = [f"{g.module}.{g.name}" for g in res.globals if str(g.safety).lower().endswith("dangerous")]
    return {"scan_err": bool(res.scan_err), "dangerous": dangerous, "globals": len(res.globals)}


def _safe_member(name: str) -> bool:
    p = PurePosixPath(name)
    return not p.is_absolute() and ".." not in p.parts and "\\" not in name and not any(ord(c) < 32 for c in name)


def scan_bytes(data: bytes, name: str = "<bytes>") -> PickleScan:
    """Scan a pickle or a zip of pickles (``torch.save``) without loading it."""
    out = PickleScan()
    zipped = data[:4] == b"PK\x03\x04"
    if zipped:
        try:
            zf = zipfile.ZipFile(io.BytesIO(data))
            infos = zf.infolist()
        except (zipfile.BadZipFile, ValueError, OSError) as exc:
            raise ScanError(f"corrupt zip archive: {exc}") from None
        for info in infos:
            out.members.append(info.filename)
            if not _safe_member(info.filename):
                raise ScanError(f"zip member name escapes the archive: {info.filename!r}", traversal=True)
        for info in infos:
            if info.is_dir():
                continue
            if info.file_size > _MAX_MEMBER_BYTES:
                if info.filename.endswith(".pkl"):
                    raise ScanError(f"zip member {info.filename!r} too large to scan ({info.file_size} bytes)")
                continue
            try:
                with zf.open(info) as fh:
                    head = fh.read(2)
                    if not (info.filename.endswith(".pkl") or is_pickle_bytes(head + b"\x00")):
                        continue
                    body = head + fh.read(_MAX_MEMBER_BYTES)
            except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
                raise ScanError(f"cannot read zip member {info.filename!r}: {exc}") from None
            _scan_one_stream(body, out)
        if not out.pickles:
            raise ScanError("zip archive contains no pickle to scan", no_pickle=True)
    else:
        _scan_one_stream(data, out)
    seen: set[str] = set()
    for mod, attr in out.globals:
        q = f"{mod}.{attr}"
        if not _is_safe(mod, attr) and q not in seen:
            seen.add(q)
            out.dangerous.append(q)
    out.picklescan = _picklescan(data, name, zipped)
    for q in out.picklescan.get("dangerous", []):
        if q not in seen:
            seen.add(q)
            out.dangerous.append(q)
    return out
