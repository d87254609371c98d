"""A strict, dependency-free parser of the safetensors header, run before any tensor is read.

Layout: 8-byte little-endian ``N``, then ``N`` bytes of UTF-8 JSON, then the data region. The JSON maps
tensor names to ``{"dtype", "shape", "data_offsets": [begin, end]}`` (offsets relative to the data region),
plus an optional ``__metadata__`` of string -> string. Validated here:

* ``N`` fits in the file and under a limit (default 100 MiB); the header is UTF-8 JSON object without
  duplicate keys;
* every dtype is known, every shape a list of non-negative ints, ``end - begin == numel * itemsize``;
* offsets lie inside the data region, do not overlap, leave no gap, and cover it exactly (a file with
  trailing bytes or holes is rejected: hidden payloads have nowhere to live).
"""

from __future__ import annotations

import json
import math
import os
import stat
import struct
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DTYPE_SIZES", "FLOAT_DTYPES", "HeaderError", "SafetensorsHeader", "TensorInfo", "parse_header",
           "read_header"]

DTYPE_SIZES: dict[str, int] = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8,
}
FLOAT_DTYPES = frozenset({"F16", "BF16", "F32", "F64", "F8_E4M3", "F8_E5M2", "F8_E8M0"})
_MAX_DIMS = 8


class HeaderError(ValueError):
    """The header is invalid; ``reason`` is a short code (truncated, header_length, json, dtype, shape,
    offsets_size, offsets_past_end, offsets_overlap, offsets_gap, trailing_data)."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True)
class TensorInfo:
    """One tensor's entry; ``begin``/``end`` are absolute file offsets."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int

    @property
    def numel(self) -> int:
        """Number of elements."""
        return math.prod(self.shape)


@dataclass
class SafetensorsHeader:
    """A validated header."""

    tensors: dict[str, TensorInfo]
    metadata: dict[str, str]
    header_len: int
    data_start: int
    file_size: int
    extra: dict[str, Any] = field(default_factory=dict)


def _no_dupes(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise HeaderError("json", f"duplicate key {k!r} in header")
        out[k] = v
    return out


def parse_header(head: bytes, file_size: int, *, max_header_bytes: int = 100 * 1024 * 1024) -> SafetensorsHeader:
    """Validate a header. ``head`` holds at least the first ``8 + N`` bytes of the file (or all of it)."""
    if file_size < 8 or len(head) < 8:
        raise HeaderError("truncated", f"file is {file_size} bytes: too short for the 8-byte header length")
    (n,) = struct.unpack("<Q", head[:8])
    if n == 0 or n > max_header_bytes:
        raise HeaderError("header_length", f"header length {n} is outside (0, {max_header_bytes}]")
    if 8 + n > file_size:
        raise HeaderError("truncated", f"header length {n} runs past the end of the {file_size}-byte file")
    if len(head) < 8 + n:
        raise HeaderError("truncated", "header bytes missing")
    raw = head[8:8 + n]
    try:
        obj = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_dupes)
    except HeaderError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise HeaderError("json", f"header is not valid UTF-8 JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise HeaderError("json", "header is not a JSON object")
    meta = obj.pop("__metadata__", None) or {}
    if not isinstance(meta, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise HeaderError("json", "__metadata__ must map strings to strings")
    data_start = 8 + n
    data_len = file_size - data_start
    tensors: dict[str, TensorInfo] = {}
    for name, ent in obj.items():
        if not isinstance(ent, dict) or set(ent) - {"dtype", "shape", "data_offsets"} or len(ent) != 3:
            raise HeaderError("json", f"tensor {name!r}: entry must have exactly dtype, shape, data_offsets")
        dtype, shape, offs = ent["dtype"], ent["shape"], ent["data_offsets"]
        if not isinstance(dtype, str) or dtype not in DTYPE_SIZES:
            raise HeaderError("dtype", f"tensor {name!r}: unknown dtype {dtype!r}")
        if (not isinstance(shape, list) or len(shape) > _MAX_DIMS
                or not all(type(d) is int and d >= 0 for d in shape)):
            raise HeaderError("shape", f"tensor {name!r}: shape {shape!r} is not a list of non-negative ints")
        if not (isinstance(offs, list) and len(offs) == 2 and all(type(o) is int and o >= 0 for o in offs)
                and offs[0] <= offs[1]):
            raise HeaderError("offsets_size", f"tensor {name!r}: data_offsets {offs!r} are not [begin <= end]")
        nbytes = math.prod(shape) * DTYPE_SIZES[dtype]
        if offs[1] - offs[0] != nbytes:
            raise HeaderError("offsets_size", f"tensor {name!r}: data_offsets span {offs[1] - offs[0]} bytes but "
                              f"{dtype}{shape} needs {nbytes}")
        if offs[1] > data_len:
            raise HeaderError("offsets_past_end", f"tensor {name!r}: data ends at {offs[1]} but the data region "
                              f"holds {data_len} bytes (file truncated or offsets forged)")
        tensors[name] = TensorInfo(name, dtype, tuple(shape), data_start + offs[0], data_start + offs[1])
    pos = 0
    for t in sorted(tensors.values(), key=lambda t: (t.begin, t.end)):
        b, e = t.begin - data_start, t.end - data_start
        if b < pos:
            raise HeaderError("offsets_overlap", f"tensor {t.name!r} overlaps the previous tensor")
        if b > pos:
            raise HeaderError("offsets_gap", f"{b - pos} unaccounted bytes before tensor {t.name!r}")
        pos = e
    if pos != data_len:
        raise HeaderError("trailing_data", f"{data_len - pos} bytes after the last tensor are not described by "
                          "the header")
    return SafetensorsHeader(tensors=tensors, metadata=meta, header_len=n, data_start=data_start,
                             file_size=file_size)


def read_header(path: str | os.PathLike[str], *, max_header_bytes: int = 100 * 1024 * 1024) -> SafetensorsHeader:
    """Read and validate the header of ``path`` (reads only the first ``8 + N`` bytes)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    with os.fdopen(os.open(path, flags), "rb") as fh:  # never through a symlink swapped in after the walk
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise OSError(f"{path} is not a regular file")
        size = st.st_size
        first = fh.read(8)
        if len(first) < 8:
            raise HeaderError("truncated", f"file is {size} bytes: too short for the 8-byte header length")
        (n,) = struct.unpack("<Q", first)
        if n == 0 or n > max_header_bytes:
            raise HeaderError("header_length", f"header length {n} is outside (0, {max_header_bytes}]")
        if 8 + n > size:
            raise HeaderError("truncated", f"header length {n} runs past the end of the {size}-byte file")
        rest = fh.read(n)
    return parse_header(first + rest, size, max_header_bytes=max_header_bytes)
