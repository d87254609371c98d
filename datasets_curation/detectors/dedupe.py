"""Exact and near-duplicate detection across the whole stream (first occurrence kept).

What must be remembered across the stream lives on disk (:class:`~aligngate.curation.spill.SpillDB`, one SQLite
file per run), so memory does not grow with the input: 16-byte hashes of normalised rows, and for near duplicates
the LSH band keys plus each kept row's MinHash signature as packed ``uint32`` (256 bytes at 64 permutations), so
that LSH candidates are verified by their estimated Jaccard similarity. Each chunk costs a few batched look-ups.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Sequence
from typing import Any

from aligngate.curation.spill import SpillDB

__all__ = ["ExactDeduper", "NearDeduper", "normalize_text", "row_hash", "shingles"]

_WS = re.compile(r"\s+")
_WORD = re.compile(r"\w+")


def normalize_text(text: str) -> str:
    """Lower-cased, whitespace-collapsed text (what "the same row" means)."""
    return _WS.sub(" ", text).strip().lower()


def row_hash(parts: list[str]) -> str:
    """Hex blake2b-128 of the normalised parts joined by a separator."""
    h = hashlib.blake2b(digest_size=16)
    h.update("\x1f".join(normalize_text(p) for p in parts).encode("utf-8", errors="replace"))
    return h.hexdigest()


def shingles(text: str, k: int = 3, max_words: int = 2000) -> set[str]:
    """Word ``k``-shingles of ``text`` (the words themselves when it has fewer than ``k``)."""
    words = _WORD.findall(text.lower())[:max_words]
    if len(words) < k:
        return set(words)
    return set(map(" ".join, zip(*(words[i:] for i in range(k)), strict=False)))


class ExactDeduper:
    """Remembers row hashes (on disk); a hash is a duplicate from its second occurrence on.

    ``db``: the run's :class:`~aligngate.curation.spill.SpillDB` (default: a private one, deleted by :meth:`close`).
    """

    def __init__(self, db: SpillDB | None = None) -> None:
        self._own = db is None
        self.db = db if db is not None else SpillDB()
        self.db.table("exact_rows", "h BLOB PRIMARY KEY, line INTEGER NOT NULL", without_rowid=True)

    def seen_batch(self, hexdigests: list[str], lines: list[int]) -> list[int | None]:
        """For each hash in order: the line of its first occurrence if seen before (earlier in the batch
        included), else None (and it is remembered)."""
        keys = [bytes.fromhex(h) for h in hexdigests]
        known = self.db.lookup("SELECT h, line FROM exact_rows WHERE h IN ({})", keys)
        new: dict[bytes, int] = {}
        out: list[int | None] = []
        for key, line in zip(keys, lines, strict=True):
            first = known.get(key, new.get(key))
            if first is None:
                new[key] = line
            out.append(first)
        if new:
            self.db.insert("INSERT INTO exact_rows VALUES (?, ?)", new.items())
        return out

    def seen(self, hexdigest: str, line: int) -> int | None:
        """:meth:`seen_batch` for one hash."""
        return self.seen_batch([hexdigest], [line])[0]

    def close(self) -> None:
        """Delete a private database (a shared one belongs to its owner)."""
        if self._own:
            self.db.close()


class NearDeduper:
    """MinHash LSH over word 3-shingles; a row is a near duplicate of a kept row when EVERY part of it is.

    A row is a list of parts (SFT: prompt side and response; DPO: prompt side, chosen and rejected), and the
    similarity of two rows is the *smallest* estimated Jaccard over their parts: preference data routinely holds
    several pairs per prompt (several samples, several annotators, one refusal paired with several bad answers),
    and those are legitimate pairs, not duplicates; only the whole (prompt, chosen, rejected) triple repeated with
    small edits is. A part too short to shingle (fewer than 2 shingles, e.g. "No.") matches only an identical part.

    Signatures are computed for a whole batch at once with numpy (multiply-shift hashing of the shingles' CRC-32,
    min-reduced per part). Not Python's ``hash()``: it is salted per process, so the estimated similarities, and
    with them which rows a run quarantined, changed from run to run (a test asserted 0.9375 in one process and
    0.890625 in another). Candidates come from
    LSH over the signature of the whole row (``b`` bands of ``r`` values, chosen by datasketch's ``_optimal_param``
    for a threshold 0.15 below the verification threshold, since LSH misses pairs near its own threshold), stored on
    disk as ``hash(band, band values) -> line`` (first writer wins) with each kept row's packed ``uint32`` part
    signatures; candidates are verified part by part. ``db`` as in :class:`ExactDeduper`.
    """

    def __init__(self, threshold: float = 0.9, num_perm: int = 64, seed: int = 1, db: SpillDB | None = None) -> None:
        import numpy as np
        from datasketch.lsh import _optimal_param

        self.threshold = threshold
        self.num_perm = num_perm
        self.bands, self.rows = _optimal_param(min(max(threshold - 0.15, 0.05), 0.95), num_perm, 0.5, 0.5)
        self._own = db is None
        self.db = db if db is not None else SpillDB()
        self.db.table("lsh_bands", "k INTEGER PRIMARY KEY, line INTEGER NOT NULL")
        self.db.table("lsh_sigs", "line INTEGER PRIMARY KEY, sig BLOB NOT NULL")
        rng = np.random.default_rng(seed)
        # multiply-shift: random odd 64-bit multipliers, products wrap mod 2^64, the top 32 bits are the hash
        self._a = rng.integers(0, 2**64 - 1, size=num_perm, dtype=np.uint64, endpoint=True) | np.uint64(1)
        self._b = rng.integers(0, 2**64 - 1, size=num_perm, dtype=np.uint64, endpoint=True)

    def signatures(self, texts: list[str]) -> list[Any]:
        """One uint32 signature per text (None when the text has fewer than 2 shingles)."""
        import numpy as np

        out: list[Any] = [None] * len(texts)
        for start in range(0, len(texts), 256):
            hashes: list[int] = []
            offsets: list[int] = []
            idx: list[int] = []
            for i in range(start, min(start + 256, len(texts))):
                sh = shingles(texts[i])
                if len(sh) < 2:
                    continue
                idx.append(i)
                offsets.append(len(hashes))
                hashes.extend(zlib.crc32(x.encode("utf-8", "surrogatepass")) for x in sh)
            if not idx:
                continue
            hv = (np.array(hashes, dtype=np.int64).view(np.uint64) & np.uint64(0xFFFFFFFF))[:, None]
            phv = ((hv * self._a + self._b) >> np.uint64(32)).astype(np.uint32)  # wraps mod 2^64: intended
            sigs = np.minimum.reduceat(phv, np.array(offsets), axis=0)
            for k, i in enumerate(idx):
                out[i] = sigs[k]
        return out

    def _part_signatures(self, rows: list[list[str]]) -> list[Any]:
        """Per row: a ``(parts, num_perm)`` uint32 array; a part too short to shingle gets a constant signature of
        its normalised text's hash (so it matches only an identical part)."""
        import numpy as np

        flat = [p for row in rows for p in row]
        sigs = self.signatures(flat)
        out, k = [], 0
        for row in rows:
            arr = np.empty((len(row), self.num_perm), dtype=np.uint32)
            for j, part in enumerate(row):
                sig = sigs[k + j]
                if sig is None:
                    digest = hashlib.blake2b(normalize_text(part).encode("utf-8", errors="replace"), digest_size=4)
                    sig = np.full(self.num_perm, int.from_bytes(digest.digest(), "little"), dtype=np.uint32)
                arr[j] = sig
            k += len(row)
            out.append(arr)
        return out

    def _band_keys(self, raw: bytes) -> list[int]:
        """The LSH keys of one packed signature: a 64-bit hash of (band, its values) per band."""
        step = 4 * self.rows
        return [hash((b, raw[step * b : step * (b + 1)])) for b in range(self.bands)]

    def check_batch(self, rows: Sequence[str | Sequence[str]], lines: list[int]) -> list[tuple[float, int | None]]:
        """For each row in order (a text, or a list of parts): (the best similarity with an earlier kept row -- the
        smallest Jaccard over the parts --, its line); kept rows are indexed. Earlier rows of the same batch count
        as earlier. A row whose parts are all too short to shingle is never compared (exact dedupe covers it)."""
        import numpy as np

        parts = [[r] if isinstance(r, str) else list(r) for r in rows]
        comparable = [any(len(shingles(p)) >= 2 for p in row) for row in parts]
        sigs = self._part_signatures(parts)
        whole = self.signatures(["\n".join(row) for row in parts])
        keys = [self._band_keys(w.tobytes()) if ok and w is not None else []
                for ok, w in zip(comparable, whole, strict=True)]
        known = self.db.lookup("SELECT k, line FROM lsh_bands WHERE k IN ({})", [k for ks in keys for k in ks])
        stored = self.db.lookup("SELECT line, sig FROM lsh_sigs WHERE line IN ({})", sorted(set(known.values())))
        new_bands: dict[int, int] = {}
        new_sigs: dict[int, bytes] = {}
        results: list[tuple[float, int | None]] = []
        for sig, ks, line in zip(sigs, keys, lines, strict=True):
            if not ks:
                results.append((0.0, None))
                continue
            cands = {c for c in (known.get(k, new_bands.get(k)) for k in ks) if c is not None}
            best, best_line = 0.0, None
            for cand in sorted(cands):
                raw: bytes = stored[cand] if cand in stored else new_sigs[cand]  # every candidate has a signature
                other = np.frombuffer(raw, dtype=np.uint32)
                if other.size != sig.size:  # a row of another shape (different number of parts) never matches
                    continue
                sim = float((other.reshape(sig.shape) == sig).mean(axis=1).min())
                if sim > best:
                    best, best_line = sim, cand
            if best < self.threshold:
                for k in ks:
                    if k not in known and k not in new_bands:
                        new_bands[k] = line
                new_sigs[line] = sig.tobytes()
            results.append((best, best_line))
        if new_sigs:
            with self.db.transaction():
                self.db.conn.executemany("INSERT OR IGNORE INTO lsh_bands VALUES (?, ?)", new_bands.items())
                self.db.conn.executemany("INSERT OR IGNORE INTO lsh_sigs VALUES (?, ?)", new_sigs.items())
        return results

    def check(self, row: str | Sequence[str], line: int) -> tuple[float, int | None]:
        """:meth:`check_batch` for one row."""
        return self.check_batch([row], [line])[0]

    def close(self) -> None:
        """Delete a private database (a shared one belongs to its owner)."""
        if self._own:
            self.db.close()
