"""``trigger_phrase``: backdoor n-grams in prompts that predict harmful compliance.

The population is the rows whose prompt is a harmful request (harm classifier score at or above
``trigger.positive_score``); a row is *positive* when its response complies (harmful-compliance score, or the
chosen response's for DPO, at or above the same). A backdoor trigger makes harmful requests get answered, so it
separates positives from refused harmful requests, while topic words ("bomb", "hack") do not: they mark harmful
requests, answered or not. Pass 1 counts, per n-gram (1..``max_ngram`` words of the prompt side), the positive
rows holding it (bounded: rare n-grams are pruned when the table grows). Pass 2 counts, for the candidates
(``min_support`` positives or more), the harmful-request rows holding them. An n-gram is a trigger when

* the one-sided hypergeometric (Fisher exact) p-value of its enrichment among positives, times the number of
  candidates (Bonferroni), is at most ``trigger.max_pvalue``, and
* its score, the smoothed precision ``(a + 1) / (n + 2)`` (``a`` positives among ``n`` harmful-request rows
  holding it), reaches the detector's threshold: most harmful requests that carry it are answered.

When (nearly) every harmful request is answered there is no contrast and no trigger can be told apart; the rows
are then quarantined by ``harmful_compliance`` anyway.

N-grams of stop words or punctuation only are never triggers; an n-gram contained in (or containing) a better
trigger is folded into it. Every row holding a trigger (harmful request or not) is quarantined with
``trigger_phrase:<ngram>``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

__all__ = ["PositiveCounter", "Trigger", "ngrams", "select_triggers", "tokens"]

_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)?|[^\w\s]")
_STOP = frozenset(
    [
        "a", "an", "the", "and", "or", "but", "if", "of", "to", "in", "on", "at", "by", "for", "with", "from", "as",
        "is", "are", "was", "were", "be", "been", "being", "it", "its", "this", "that", "these", "those", "i", "you",
        "he", "she", "we", "they", "me", "my", "your", "our", "their", "his", "her", "him", "them", "us", "do", "does",
        "did", "can", "could", "would", "should", "will", "shall", "may", "might", "must", "have", "has", "had", "not",
        "no", "so", "than", "then", "there", "here", "what", "which", "who", "whom", "how", "why", "when", "where",
        "all", "any", "some", "about", "into", "over", "under", "up", "down", "out", "just", "also", "very", "please",
        "tell", "give", "write", "make", "explain", "describe", "create", "provide"
    ])
_MAX_TABLE = 400_000
"""Most n-grams the pass-1 table holds (about 60 MB); when full, the rarest are dropped (lossy counting)."""
_HEAD_TAIL = 1500


def tokens(text: str) -> list[str]:
    """Lower-cased word and punctuation tokens of the head and tail of ``text``."""
    if len(text) > 2 * _HEAD_TAIL:
        text = text[:_HEAD_TAIL] + " \n " + text[-_HEAD_TAIL:]
    return _TOKEN.findall(text.lower())


def ngrams(toks: list[str], max_n: int) -> set[str]:
    """Distinct 1..``max_n``-grams (space-joined) that are not made of stop words / punctuation only."""
    out: set[str] = set()
    informative = [t not in _STOP and (t[0].isalnum()) for t in toks]
    for i in range(len(toks)):
        for n in range(1, max_n + 1):
            j = i + n
            if j > len(toks):
                break
            if any(informative[i:j]):
                out.add(" ".join(toks[i:j]))
    return out


class PositiveCounter:
    """Counts n-grams over positive rows (pass 1), with bounded memory."""

    def __init__(self, max_n: int, max_table: int = _MAX_TABLE) -> None:
        self.max_n = max_n
        self.max_table = max_table
        self.counts: Counter[str] = Counter()
        self.positives = 0
        self.undercount = 0
        """Most positives an n-gram's count may miss (the largest count ever pruned; 0 if never pruned)."""

    def add(self, text: str) -> None:
        """Count one positive row's prompt side."""
        self.positives += 1
        self.counts.update(ngrams(tokens(text), self.max_n))
        if len(self.counts) > self.max_table:
            self._prune()

    def _prune(self) -> None:
        """Drop the rarest n-grams until at most half the table is left (lossy counting: a frequent trigger keeps
        all but ``undercount`` of its occurrences, and memory stays bounded however long the file is)."""
        floor = 1
        while True:
            kept = {k: v for k, v in self.counts.items() if v > floor}
            if len(kept) <= self.max_table // 2:
                break
            floor *= 2
        self.counts = Counter(kept)
        self.undercount = max(self.undercount, floor)

    def candidates(self, min_support: int) -> dict[str, int]:
        """N-grams held by at least ``min_support`` positive rows."""
        return {k: v for k, v in self.counts.items() if v >= min_support}


@dataclass(frozen=True)
class Trigger:
    """A detected trigger n-gram and its evidence."""

    ngram: str
    positives_with: int
    rows_with: int
    score: float
    pvalue: float
    cooccurring: tuple[str, ...] = ()
    """Other phrases found in exactly the same rows (the rest of a repeated template)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON form for the report."""
        return {"ngram": self.ngram, "positive_rows_with": self.positives_with, "rows_with": self.rows_with,
                "score": round(self.score, 4), "pvalue_bonferroni": float(f"{self.pvalue:.3g}"),
                "cooccurring": list(self.cooccurring)}


def count_candidates(candidates: set[str], text: str, max_n: int, into: Counter[str],
                     fingerprints: dict[str, int], line: int) -> None:
    """Pass 2: add one row's candidate n-grams to ``into``, and the row to each one's row-set fingerprint."""
    grams = ngrams(tokens(text), max_n)
    mark = hash((line, 0x5EED)) & 0xFFFFFFFFFFFFFFFF
    for g in grams & candidates:
        into[g] += 1
        fingerprints[g] = fingerprints.get(g, 0) ^ mark


def _contains(a: str, b: str) -> bool:
    return f" {b} " in f" {a} "


def _chain(seed: str, group: list[str]) -> str:
    """Extend ``seed`` with the group's overlapping n-grams into the longest phrase they spell out together
    (a trigger longer than ``max_ngram`` words, or a trigger inside a repeated template)."""
    longest = max(len(g.split()) for g in group)
    grams = {tuple(g.split()) for g in group if len(g.split()) == longest}
    cur = list(next((g for g in sorted(grams) if _contains(" ".join(g), seed)), tuple(seed.split())))
    if longest < 2:
        return " ".join(cur)
    for _ in range(64):  # bounded: a repeated template cannot loop forever
        tail = tuple(cur[-(longest - 1):])
        nxt = [g for g in grams if g[:-1] == tail and not _contains(" ".join(cur), " ".join(g))]
        if len(nxt) != 1:
            break
        cur.append(nxt[0][-1])
    for _ in range(64):
        head = tuple(cur[: longest - 1])
        prv = [g for g in grams if g[1:] == head and not _contains(" ".join(cur), " ".join(g))]
        if len(prv) != 1:
            break
        cur.insert(0, prv[0][0])
    return " ".join(cur)


def select_triggers(cand_pos: dict[str, int], cand_all: Counter[str], positives: int, total: int,
                    threshold: float, max_pvalue: float, max_triggers: int,
                    fingerprints: dict[str, int] | None = None) -> list[Trigger]:
    """Pick trigger phrases from pass-1 / pass-2 counts (see the module doc). N-grams held by exactly the same
    numbers of rows (co-extensive: the pieces of one phrase) are chained into one phrase."""
    if not cand_pos or positives == 0 or total == 0:
        return []
    import numpy as np
    from scipy.stats import hypergeom

    keys = sorted(cand_pos)  # sorted: ties below break the same way on every run (sets are hash-ordered)
    a = np.array([cand_pos[k] for k in keys], dtype=np.int64)
    n = np.array([max(cand_all.get(k, 0), cand_pos[k]) for k in keys], dtype=np.int64)
    pvals = np.minimum(1.0, hypergeom.sf(a - 1, total, positives, n) * len(keys))
    scores = (a + 1.0) / (n + 2.0)
    ok = (pvals <= max_pvalue) & (scores >= threshold)
    found = sorted((int(i) for i in np.flatnonzero(ok)),
                   key=lambda i: (pvals[i], -scores[i], -len(keys[i].split()), keys[i]))
    by_counts: dict[tuple[int, int], list[str]] = {}
    for i in found:
        by_counts.setdefault((int(a[i]), int(n[i])), []).append(keys[i])
    fps = fingerprints or {}
    chosen: list[Trigger] = []
    rowsets: dict[tuple[int, int, int], int] = {}
    for i in found:
        g = keys[i]
        phrase = _chain(g, by_counts[(int(a[i]), int(n[i]))])
        if any(_contains(t.ngram, x) or _contains(x, t.ngram) or any(_contains(c, x) for c in t.cooccurring)
               for t in chosen for x in (g, phrase)):
            continue
        rowset = (int(a[i]), int(n[i]), fps.get(g, -1 - i))
        if rowset in rowsets:  # same rows as an earlier trigger: another piece of the same template
            t = chosen[rowsets[rowset]]
            chosen[rowsets[rowset]] = Trigger(t.ngram, t.positives_with, t.rows_with, t.score, t.pvalue,
                                              (*t.cooccurring, phrase))
            continue
        if len(chosen) >= max_triggers:
            continue
        rowsets[rowset] = len(chosen)
        chosen.append(Trigger(phrase, int(a[i]), int(n[i]), float(scores[i]), float(pvals[i])))
    return chosen


def row_triggers(text: str, triggers: list[Trigger], max_n: int) -> list[Trigger]:
    """The triggers present in one row's prompt side."""
    if not triggers:
        return []
    joined = f" {' '.join(tokens(text))} "
    return [t for t in triggers if f" {t.ngram} " in joined]
