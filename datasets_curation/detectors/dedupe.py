"""Exact and near-duplicate detection across the whole stream (first occurrence kept).

Only compact state survives a chunk: 16-byte hashes of normalised rows, and for near duplicates a datasketch
``MinHashLSH`` index plus each kept row's MinHash signature as packed ``uint32`` (256 bytes at 64 permutations),
so that LSH candidates are verified by their estimated Jaccard similarity.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

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


def shingles(text: str, k: int = 3, max_words: int = 2000) -> set[bytes]:
    """Word ``k``-shingles of ``text`` (the words themselves when it has fewer than ``k``)."""
    words = _WORD.findall(text.lower())[:max_words]
    if len(words) < k:
        return {w.encode() for w in words}
    return {" ".join(words[i : i + k]).encode() for i in range(len(words) - k + 1)}


def _hash32(data: bytes) -> int:
    # Python's own hash: fast and stable within one process, which is all the index needs.
    return hash(data) & 0xFFFFFFFF


class ExactDeduper:
    """Remembers row hashes; :meth:`seen` is True from the second occurrence on."""

    def __init__(self) -> None:
        self._seen: dict[bytes, int] = {}

    def seen(self, hexdigest: str, line: int) -> int | None:
        """The line of the first occurrence if this hash was seen before, else None (and remember it)."""
        key = bytes.fromhex(hexdigest)
        first = self._seen.get(key)
        if first is None:
            self._seen[key] = line
        return first


class NearDeduper:
    """MinHash LSH over word 3-shingles; rows at or above ``threshold`` Jaccard of a kept row are duplicates."""

    def __init__(self, threshold: float = 0.9, num_perm: int = 64) -> None:
        from datasketch import MinHashLSH

        self.threshold = threshold
        self.num_perm = num_perm
        # The index looks for candidates below the threshold (LSH misses pairs near it); candidates are then
        # verified against the stored signatures.
        self._lsh = MinHashLSH(threshold=min(max(threshold - 0.15, 0.05), 0.95), num_perm=num_perm)
        self._sigs: dict[int, bytes] = {}
        self._perms: Any = None

    def _minhash(self, sh: set[bytes]) -> Any:
        from datasketch import MinHash

        if self._perms is None:
            m = MinHash(num_perm=self.num_perm, seed=1, hashfunc=_hash32)
            self._perms = (m.permutations, m.scheme)
        else:
            m = MinHash(num_perm=self.num_perm, seed=1, hashfunc=_hash32, permutations=self._perms[0],
                        scheme=self._perms[1])
        if sh:
            m.update_batch(list(sh))
        return m

    def check(self, text: str, line: int) -> tuple[float, int | None]:
        """(best estimated Jaccard with an earlier kept row, its line); indexes the row when it is kept."""
        import numpy as np

        sh = shingles(text)
        if len(sh) < 2:  # too short to compare meaningfully; exact dedupe covers it
            return 0.0, None
        m = self._minhash(sh)
        best, best_line = 0.0, None
        mine = m.hashvalues.astype(np.uint32)
        for key in self._lsh.query(m):
            other = np.frombuffer(self._sigs[key], dtype=np.uint32)
            sim = float(np.mean(other == mine))
            if sim > best:
                best, best_line = sim, key
        if best < self.threshold:
            self._lsh.insert(line, m, check_duplication=False)
            self._sigs[line] = mine.tobytes()
        return best, best_line
