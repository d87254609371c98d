"""Streaming readers: JSONL (read as bytes, line by line), Parquet (row batches) and Hugging Face ``datasets``.

Every reader yields :class:`RawRecord` objects, one per input row, with its 1-based line (row) number. A row
that cannot be read never raises: it comes back with ``obj=None`` and a quarantine ``reason`` (``unparseable``,
``invalid_utf8``, ``too_long``, ``schema:not_an_object``). Memory stays flat: a 5 MB line is never held whole
(only its first bytes are kept for the quarantine record), and Parquet / datasets are read in batches.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from aligngate.errors import InputError

__all__ = ["RAW_KEEP_CHARS", "RawRecord", "detect_format", "iter_records"]

RAW_KEEP_CHARS = 2000
"""Characters of an unreadable line kept (replacement-decoded) in its quarantine record."""

_SKIP_CHUNK = 1 << 16


@dataclass
class RawRecord:
    """One input row: its parsed object, or why it could not be read."""

    line: int
    """1-based line (JSONL) or row number (Parquet, datasets)."""
    obj: dict[str, Any] | None = None
    reason: str | None = None
    """Quarantine reason when ``obj`` is None."""
    raw: str | None = None
    """The (truncated, replacement-decoded) text of an unreadable line."""


def detect_format(path: str) -> str:
    """``jsonl``, ``parquet``, ``hf_disk`` (a ``save_to_disk`` directory) or ``hf_hub`` (a hub id)."""
    p = Path(path)
    if p.is_dir():
        return "hf_disk"
    if p.is_file():
        name = p.name.lower()
        if name.endswith(".parquet") or name.endswith(".pq"):
            return "parquet"
        return "jsonl"
    if "/" in path and not path.startswith((".", "/")) and not Path(path).suffix and path.count("/") == 1:
        return "hf_hub"
    raise InputError(f"input not found: {path}")


def iter_records(path: str, max_line_bytes: int) -> Iterator[RawRecord]:
    """Yield every row of ``path`` (format detected from the path)."""
    fmt = detect_format(path)
    if fmt == "jsonl":
        yield from _iter_jsonl(path, max_line_bytes)
    elif fmt == "parquet":
        yield from _iter_parquet(path, max_line_bytes)
    else:
        yield from _iter_hf(path, fmt, max_line_bytes)


def _open_bytes(path: str) -> IO[bytes]:
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def _decode_raw(data: bytes) -> str:
    return data[: RAW_KEEP_CHARS * 4].decode("utf-8", errors="replace")[:RAW_KEEP_CHARS]


def _iter_jsonl(path: str, max_line_bytes: int) -> Iterator[RawRecord]:
    try:
        fh = _open_bytes(path)
    except OSError as exc:
        raise InputError(f"cannot read input {path}: {exc}") from exc
    with fh:
        lineno = 0
        while True:
            try:
                data = fh.readline(max_line_bytes + 1)
            except (OSError, EOFError, gzip.BadGzipFile) as exc:
                raise InputError(f"cannot read input {path} after line {lineno}: {exc}") from exc
            if not data:
                return
            lineno += 1
            if len(data) > max_line_bytes and not data.endswith(b"\n"):
                head = data
                while True:  # skip the rest of the over-long line without holding it
                    rest = fh.readline(_SKIP_CHUNK)
                    if not rest or rest.endswith(b"\n"):
                        break
                yield RawRecord(lineno, reason="too_long", raw=_decode_raw(head))
                continue
            yield parse_line(lineno, data)


def parse_line(lineno: int, data: bytes) -> RawRecord:
    """Parse one JSONL line (bytes) into a :class:`RawRecord`."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return RawRecord(lineno, reason="invalid_utf8", raw=_decode_raw(data))
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        return RawRecord(lineno, reason="unparseable", raw=text[:RAW_KEEP_CHARS])
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return RawRecord(lineno, reason="unparseable", raw=text[:RAW_KEEP_CHARS])
    if not isinstance(obj, dict):
        return RawRecord(lineno, reason="schema:not_an_object", raw=text[:RAW_KEEP_CHARS])
    return RawRecord(lineno, obj=obj)


def _row_record(lineno: int, row: Any, max_line_bytes: int) -> RawRecord:
    try:
        text = json.dumps(row, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        return RawRecord(lineno, reason="unparseable", raw=repr(row)[:RAW_KEEP_CHARS])
    if len(text.encode("utf-8", errors="replace")) > max_line_bytes:
        return RawRecord(lineno, reason="too_long", raw=text[:RAW_KEEP_CHARS])
    if not isinstance(row, dict):
        return RawRecord(lineno, reason="schema:not_an_object", raw=text[:RAW_KEEP_CHARS])
    return RawRecord(lineno, obj=json.loads(text))  # plain JSON types only (no numpy, no bytes)


def _iter_parquet(path: str, max_line_bytes: int) -> Iterator[RawRecord]:
    try:
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
    except Exception as exc:  # noqa: BLE001 - any reader failure is an input error
        raise InputError(f"cannot read Parquet input {path}: {exc}") from exc
    lineno = 0
    for batch in pf.iter_batches(batch_size=2048):
        for row in batch.to_pylist():
            lineno += 1
            yield _row_record(lineno, row, max_line_bytes)


def _iter_hf(path: str, fmt: str, max_line_bytes: int) -> Iterator[RawRecord]:
    try:
        import datasets

        if fmt == "hf_disk":
            ds: Any = datasets.load_from_disk(path)
        else:
            ds = datasets.load_dataset(path)
    except Exception as exc:  # noqa: BLE001 - offline hub ids, broken dirs: clean input errors
        hint = " (offline: set HF_HUB_OFFLINE=0 with network access, or save_to_disk and pass the directory)" \
            if fmt == "hf_hub" or os.environ.get("HF_HUB_OFFLINE") else ""
        raise InputError(f"cannot load Hugging Face dataset {path}: {type(exc).__name__}: {exc}{hint}") from exc
    if isinstance(ds, datasets.DatasetDict):
        if "train" in ds:
            ds = ds["train"]
        elif len(ds) == 1:
            ds = next(iter(ds.values()))
        else:
            raise InputError(f"dataset {path} has several splits ({', '.join(ds)}) and none is 'train'")
    lineno = 0
    for batch in ds.iter(batch_size=2048):
        keys = list(batch)
        n = len(batch[keys[0]]) if keys else 0
        for i in range(n):
            lineno += 1
            yield _row_record(lineno, {k: batch[k][i] for k in keys}, max_line_bytes)
