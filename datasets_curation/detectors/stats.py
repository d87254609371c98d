"""Dataset-level statistics: ``length_outlier`` and the DPO reward-hacking figures.

``length_outlier``: robust z-score of ``log1p(len(response))`` against the dataset's median and MAD
(``z = 0.6745 (x - median) / MAD``); score ``|z| / (|z| + 3.5)``, so the default threshold 0.5 means ``|z| >= 3.5``.
Only one float per response is kept across chunks.

Reward hacking (DPO): the fraction of pairs whose chosen response is longer (ties excluded), the mean length ratio
chosen / rejected, and the Spearman correlation between preference (chosen 1, rejected 0) and response length.
A reward model trained on data where length predicts preference learns "longer is better".
"""

from __future__ import annotations

import math
from array import array
from typing import Any

__all__ = ["LengthStats", "RewardStats", "length_score"]

_Z_SCALE = 3.5
_MAD_FLOOR = 0.4
"""Smallest MAD of log lengths: with the 3.5 cut-off a response must be ~8x off the median to be an outlier,
however uniform (templated) the data is."""
_MIN_VALUES = 50
"""Fewer responses than this: no length distribution to speak of, no outliers."""


def length_score(z: float) -> float:
    """Map a robust z-score to 0..1 (0.5 at ``|z| = 3.5``)."""
    az = abs(z)
    return az / (az + _Z_SCALE)


class LengthStats:
    """Collects log lengths in pass 1; scores rows afterwards."""

    def __init__(self) -> None:
        self._values = array("f")
        self.median = 0.0
        self.mad = 1.0
        self.active = False

    @staticmethod
    def log_len(text: str) -> float:
        """The statistic of one response."""
        return math.log1p(len(text))

    def add(self, value: float) -> None:
        """Remember one response's log length."""
        self._values.append(value)

    def finish(self) -> None:
        """Compute median and MAD."""
        import numpy as np

        if len(self._values) < _MIN_VALUES:
            return
        self.active = True
        x = np.frombuffer(self._values, dtype=np.float32).astype(np.float64)
        self.median = float(np.median(x))
        self.mad = max(float(np.median(np.abs(x - self.median))), _MAD_FLOOR)

    def z(self, value: float) -> float:
        """Robust z-score of a log length (0 when the dataset is too small to judge)."""
        if not self.active:
            return 0.0
        return 0.6745 * (value - self.median) / self.mad

    def summary(self) -> dict[str, Any]:
        """Median / MAD in characters, for the report."""
        return {"responses": len(self._values), "median_chars": round(math.expm1(self.median), 1),
                "log_mad": round(self.mad, 4)}


class RewardStats:
    """Length figures of DPO pairs."""

    def __init__(self) -> None:
        self._c = array("I")
        self._r = array("I")

    def add(self, chosen: str, rejected: str) -> None:
        """Remember one pair's lengths."""
        self._c.append(min(len(chosen), 2**32 - 1))
        self._r.append(min(len(rejected), 2**32 - 1))

    def summary(self) -> dict[str, Any]:
        """``chosen_longer_fraction``, ``mean_length_ratio``, ``length_spearman`` and ``pairs``."""
        import numpy as np

        n = len(self._c)
        if n == 0:
            return {"pairs": 0, "chosen_longer_fraction": None, "mean_length_ratio": None, "length_spearman": None}
        c = np.frombuffer(self._c, dtype=np.uint32).astype(np.float64)
        r = np.frombuffer(self._r, dtype=np.uint32).astype(np.float64)
        decided = c != r
        longer = float(np.mean(c[decided] > r[decided])) if decided.any() else 0.5
        ratio = float(np.mean(c / np.maximum(r, 1.0)))
        rho = None
        if n >= 3 and decided.any():
            from scipy.stats import spearmanr

            lengths = np.concatenate([c, r])
            pref = np.concatenate([np.ones(n), np.zeros(n)])
            res = spearmanr(pref, lengths)
            rho = None if math.isnan(float(res.statistic)) else round(float(res.statistic), 4)
        return {"pairs": n, "chosen_longer_fraction": round(longer, 4), "mean_length_ratio": round(ratio, 4),
                "length_spearman": rho}
