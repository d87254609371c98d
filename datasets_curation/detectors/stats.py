"""Dataset-level statistics: ``length_outlier`` and the DPO reward-hacking figures.

``length_outlier``: robust z-score of ``log1p(len(response))`` against the dataset's median and MAD
(``z = 0.6745 (x - median) / MAD``); score ``|z| / (|z| + 3.5)``, so the default threshold 0.5 means ``|z| >= 3.5``.
Across chunks only counts are kept: a histogram of log lengths at 1e-4 resolution (the precision staged per row)
and, for DPO, counts of response lengths; both are bounded by the range of lengths, not by the number of rows.

Reward hacking (DPO): the fraction of pairs whose chosen response is longer (ties excluded), the mean length ratio
chosen / rejected, and the Spearman correlation between preference (chosen 1, rejected 0) and response length.
A reward model trained on data where length predicts preference learns "longer is better".
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

__all__ = ["LengthStats", "RewardStats", "length_score", "weighted_median"]

_Z_SCALE = 3.5
_MAD_FLOOR = 0.4
"""Smallest MAD of log lengths: with the 3.5 cut-off a response must be ~8x off the median to be an outlier,
however uniform (templated) the data is."""
_MIN_VALUES = 50
"""Fewer responses than this: no length distribution to speak of, no outliers."""
_BIN = 1e-4
"""Resolution of the log-length histogram (the staged values are rounded to it)."""


def weighted_median(values: Any, counts: Any) -> float:
    """``numpy.median`` of ``values`` each repeated ``counts`` times, without expanding them."""
    import numpy as np

    order = np.argsort(values, kind="stable")
    v, c = np.asarray(values, dtype=np.float64)[order], np.asarray(counts, dtype=np.int64)[order]
    cum = np.cumsum(c)
    n = int(cum[-1])
    lo = v[np.searchsorted(cum, (n - 1) // 2, side="right")]
    hi = v[np.searchsorted(cum, n // 2, side="right")]
    return float((lo + hi) / 2.0)


def length_score(z: float) -> float:
    """Map a robust z-score to 0..1 (0.5 at ``|z| = 3.5``)."""
    az = abs(z)
    return az / (az + _Z_SCALE)


class LengthStats:
    """Collects a histogram of log lengths in pass 1; scores rows afterwards."""

    def __init__(self) -> None:
        self._bins: Counter[int] = Counter()
        self.n = 0
        self.median = 0.0
        self.mad = 1.0
        self.active = False

    @staticmethod
    def log_len(text: str) -> float:
        """The statistic of one response."""
        return math.log1p(len(text))

    def add(self, value: float) -> None:
        """Count one response's log length."""
        self._bins[round(value / _BIN)] += 1
        self.n += 1

    def finish(self) -> None:
        """Compute median and MAD."""
        import numpy as np

        if self.n < _MIN_VALUES:
            return
        self.active = True
        x = np.fromiter(self._bins.keys(), dtype=np.float64, count=len(self._bins)) * _BIN
        c = np.fromiter(self._bins.values(), dtype=np.int64, count=len(self._bins))
        self.median = weighted_median(x, c)
        self.mad = max(weighted_median(np.abs(x - self.median), c), _MAD_FLOOR)

    def z(self, value: float) -> float:
        """Robust z-score of a log length (0 when the dataset is too small to judge)."""
        if not self.active:
            return 0.0
        return 0.6745 * (value - self.median) / self.mad

    def summary(self) -> dict[str, Any]:
        """Median / MAD in characters, for the report."""
        return {"responses": self.n, "median_chars": round(math.expm1(self.median), 1),
                "log_mad": round(self.mad, 4)}


class RewardStats:
    """Length figures of DPO pairs, from running sums and counts of lengths (the Spearman correlation of a
    binary preference with length needs only each length's count of chosen and rejected responses)."""

    def __init__(self) -> None:
        self.pairs = 0
        self._decided = 0
        self._longer = 0
        self._ratio_sum = 0.0
        self._chosen: Counter[int] = Counter()
        self._rejected: Counter[int] = Counter()

    def add(self, chosen: str, rejected: str) -> None:
        """Count one pair's lengths."""
        c, r = len(chosen), len(rejected)
        self.pairs += 1
        if c != r:
            self._decided += 1
            self._longer += c > r
        self._ratio_sum += c / max(r, 1)
        self._chosen[c] += 1
        self._rejected[r] += 1

    def _spearman(self) -> float | None:
        """Spearman correlation of preference (chosen 1, rejected 0) with length, ties at average ranks (what
        ``scipy.stats.spearmanr`` gives on the expanded vectors; a test compares them)."""
        import numpy as np

        lengths = sorted(set(self._chosen) | set(self._rejected))
        c = np.array([self._chosen.get(v, 0) for v in lengths], dtype=np.float64)
        t = c + np.array([self._rejected.get(v, 0) for v in lengths], dtype=np.float64)
        rank = np.cumsum(t) - t + (t + 1.0) / 2.0  # average rank of each tie group
        m = 2.0 * self.pairs
        mean_r = (m + 1.0) / 2.0
        var_r = float(np.sum(t * rank**2)) / m - mean_r**2
        if var_r <= 1e-12:
            return None
        cov = float(np.sum(c * rank)) / m - 0.5 * mean_r
        return cov / math.sqrt(0.25 * var_r)

    def summary(self) -> dict[str, Any]:
        """``chosen_longer_fraction``, ``mean_length_ratio``, ``length_spearman`` and ``pairs``."""
        n = self.pairs
        if n == 0:
            return {"pairs": 0, "chosen_longer_fraction": None, "mean_length_ratio": None, "length_spearman": None}
        longer = self._longer / self._decided if self._decided else 0.5
        rho = self._spearman() if n >= 3 and self._decided else None
        return {"pairs": n, "chosen_longer_fraction": round(longer, 4),
                "mean_length_ratio": round(self._ratio_sum / n, 4),
                "length_spearman": None if rho is None else round(rho, 4)}
