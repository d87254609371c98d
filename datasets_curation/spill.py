"""On-disk tables for what curation must remember across the whole stream (so memory stays flat).

Exact-duplicate hashes, the near-duplicate LSH bands and MinHash signatures, and the quarantined rows waiting for
``review.csv`` grow with the input: kept in Python they cost about 3 KB per row (1.4 GB resident at 20k rows,
1.6-1.8 GB at 100k). :class:`SpillDB` keeps them in one SQLite file beside the run's staging file instead, with a
bounded page cache (``cache_mb``), so the resident set no longer depends on how long the file is. SQLite
sorts ``review.csv`` on disk too (its sorter spills to temporary files past the cache).

The file is scratch space: no journal, no fsync, deleted by :meth:`SpillDB.close` (and by the pipeline's
``finally``). One connection, used from one thread at a time (the pipeline's main thread).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = ["SpillDB", "batched"]

_MAX_VARS = 500
"""Parameters per ``IN (...)`` query (well under SQLite's limit on every build)."""


def batched(items: Sequence[Any], n: int = _MAX_VARS) -> Iterator[Sequence[Any]]:
    """``items`` in slices of at most ``n``."""
    for i in range(0, len(items), n):
        yield items[i : i + n]


class SpillDB:
    """One scratch SQLite database (see the module doc). ``directory``: where the file goes (default: the
    system's temporary directory); ``cache_mb``: SQLite's page cache, the most it holds in memory."""

    def __init__(self, directory: str | os.PathLike[str] | None = None, cache_mb: int = 16) -> None:
        fd, name = tempfile.mkstemp(prefix=".curate-index.", suffix=".sqlite", dir=directory)
        os.close(fd)
        self.path = Path(name)
        self.conn = sqlite3.connect(name, isolation_level=None, check_same_thread=False)
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "temp_store=FILE", "locking_mode=EXCLUSIVE",
                       f"cache_size=-{int(cache_mb) * 1024}"):
            self.conn.execute(f"PRAGMA {pragma}")
        self._tables: set[str] = set()

    def table(self, name: str, ddl: str, *, without_rowid: bool = False) -> str:
        """Create table ``name`` with column definitions ``ddl`` once; returns the name."""
        if name not in self._tables:
            tail = " WITHOUT ROWID" if without_rowid else ""
            self.conn.execute(f"CREATE TABLE IF NOT EXISTS {name} ({ddl}){tail}")
            self._tables.add(name)
        return name

    def lookup(self, sql: str, keys: Sequence[Any]) -> dict[Any, Any]:
        """``{key: value}`` for the rows of ``sql`` (``SELECT key, value FROM t WHERE key IN ({})``, the braces
        replaced by placeholders) over ``keys``, queried in slices."""
        out: dict[Any, Any] = {}
        uniq = list(dict.fromkeys(keys))
        for part in batched(uniq):
            out.update(self.conn.execute(sql.format(",".join("?" * len(part))), part).fetchall())
        return out

    def insert(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """``executemany`` in one transaction."""
        with self.transaction():
            self.conn.executemany(sql, rows)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN … COMMIT (ROLLBACK on an error)."""
        self.conn.execute("BEGIN")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def close(self) -> None:
        """Close the connection and delete the file (idempotent)."""
        with contextlib.suppress(sqlite3.Error):
            self.conn.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def __enter__(self) -> SpillDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
