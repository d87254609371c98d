"""File helpers: atomic writes, sha256, JSONL. Nothing here imports anything heavy.

Every output aligngate writes goes through these, so that a crash never leaves half a file:
content goes to a temporary file in the same directory, is fsynced, then renamed over the target.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = [
    "atomic_open",
    "atomic_write_json",
    "atomic_write_text",
    "iter_jsonl",
    "sha256_bytes",
    "sha256_file",
    "sha256_tree",
    "write_jsonl",
]

_CHUNK = 1 << 20


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a temp file beside ``path``; on clean exit fsync and rename it over ``path``.

    An ``OSError`` that names no file (a write failing on a full disk: ``[Errno 28]`` / ``[Errno 27] File too
    large``) is re-raised naming ``path``, so that the error message says which output could not be written."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename is None and exc.errno is not None:
            raise OSError(exc.errno, exc.strerror or str(exc), str(target)) from exc
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_open(path) as fh:
        fh.write(text)


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def write_jsonl(path: str | os.PathLike[str], rows: Any) -> int:
    """Write an iterable of dicts as JSONL atomically; returns the number of rows."""
    n = 0
    with atomic_open(path) as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def sha256_tree(root: str | os.PathLike[str]) -> dict[str, str]:
    """sha256 of every regular file under ``root`` (relative POSIX path -> hex). Symlinks are not followed."""
    base = Path(root)
    if base.is_file():
        return {base.name: sha256_file(base)}
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") or d == ".")
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if p.is_symlink() or not p.is_file():
                continue
            out[p.relative_to(base).as_posix()] = sha256_file(p)
    return out


def iter_jsonl(path: str | os.PathLike[str], *, what: str = "file",
               errors: str = "strict") -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line of a JSONL file (``.gz`` read transparently).

    Every problem is an :class:`~aligngate.errors.InputError` naming the file and the line: a missing file,
    invalid UTF-8 (unless ``errors="replace"``), invalid JSON, a line that is not a JSON object.
    """
    import gzip

    from aligngate.errors import InputError

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{what} not found: {p}")
    opener: Any = gzip.open if p.name.endswith(".gz") else open
    with opener(p, "rb") as fh:  # bytes, decoded line by line: errors get the exact line number
        for lineno, raw in enumerate(fh, start=1):
            try:
                line = raw.decode("utf-8", errors=errors)
            except UnicodeDecodeError:
                raise InputError(f"{p}:{lineno}: not valid UTF-8") from None
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{p}:{lineno}: invalid JSON: {exc.msg} (column {exc.colno})") from None
            if not isinstance(obj, dict):
                raise InputError(f"{p}:{lineno}: each line must be a JSON object, got {type(obj).__name__}")
            yield lineno, obj
