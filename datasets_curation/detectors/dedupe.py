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


def shingles(text: str, k: int = 3, max_words: int = 2000) -> set[str]:
    """Word ``k``-shingles of ``text`` (the words themselves when it has fewer than ``k``)."""
    words = _WORD.findall(text.lower())[:max_words]
    if len(words) < k:
        return set(words)
    return set(map(" ".join, zip(*(words[i:] for i in range(k)))))


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
    """MinHash LSH over word 3-shingles; rows at or above ``threshold`` Jaccard of a kept row are duplicates.

    Signatures are computed for a whole batch at once with numpy (multiply-shift hashing of the shingles' Python
    hashes, which are stable within one process — all the index needs —, min-reduced per row). The banding
    (``b`` bands of ``r`` values, chosen by datasketch's ``_optimal_param`` for a threshold 0.15 below the
    verification threshold, since LSH misses pairs near its own threshold) is kept compact: one ``int -> line``
    dict per band (first writer wins) plus each kept row's packed ``uint32`` signature, about 1 KB per kept row
    instead of datasketch ``MinHashLSH``'s ~4 KB. Candidates are verified by estimated Jaccard.
    """

    def __init__(self, threshold: float = 0.9, num_perm: int = 64, seed: int = 1) -> None:
        import numpy as np
        from datasketch.lsh import _optimal_param

        self.threshold = threshold
        self.num_perm = num_perm
        self.bands, self.rows = _optimal_param(min(max(threshold - 0.15, 0.05), 0.95), num_perm, 0.5, 0.5)
        self._tables: list[dict[int, int]] = [{} for _ in range(self.bands)]
        self._sigs: dict[int, bytes] = {}
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
                hashes.extend(map(hash, sh))
            if not idx:
                continue
            hv = (np.array(hashes, dtype=np.int64).view(np.uint64) & np.uint64(0xFFFFFFFF))[:, None]
            phv = ((hv * self._a + self._b) >> np.uint64(32)).astype(np.uint32)  # wraps mod 2^64: intended
            sigs = np.minimum.reduceat(phv, np.array(offsets), axis=0)
            for k, i in enumerate(idx):
                out[i] = sigs[k]
        return out

    def check_batch(self, texts: list[str], lines: list[int]) -> list[tuple[float, int | None]]:
        """For each text in order: (best estimated Jaccard with an earlier kept row, its line); kept rows are
        indexed."""
        import numpy as np

        results: list[tuple[float, int | None]] = []
        r = self.rows
        for sig, line in zip(self.signatures(texts), lines, strict=True):
            if sig is None:  # too short to compare meaningfully; exact dedupe covers it
                results.append((0.0, None))
                continue
            raw = sig.tobytes()
            keys = [hash(raw[4 * r * b : 4 * r * (b + 1)]) for b in range(self.bands)]
            best, best_line = 0.0, None
            for cand in {t[k] for t, k in zip(self._tables, keys, strict=True) if k in t}:
                sim = float(np.mean(np.frombuffer(self._sigs[cand], dtype=np.uint32) == sig))
                if sim > best:
                    best, best_line = sim, cand
            if best < self.threshold:
                for t, k in zip(self._tables, keys, strict=True):
                    t.setdefault(k, line)
                self._sigs[line] = raw
            results.append((best, best_line))
        return results

    def check(self, text: str, line: int) -> tuple[float, int | None]:
        """:meth:`check_batch` for one text."""
        return self.check_batch([text], [line])[0]
