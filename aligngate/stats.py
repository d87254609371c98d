"""Statistics for gate decisions: intervals for rates, paired tests for drift. numpy/scipy only."""

from __future__ import annotations

import math
from collections.abc import Sequence

from aligngate.errors import EvaluationError

__all__ = ["bootstrap_ci", "mcnemar", "paired_bootstrap_delta", "require_finite", "widen", "wilson_ci"]


def require_finite(value: float, what: str) -> float:
    """``value`` as a float, or :class:`EvaluationError` naming ``what`` when it is NaN or infinite (a metric that
    is not a number must never be compared with a threshold)."""
    v = float(value)
    if not math.isfinite(v):
        raise EvaluationError(f"{what} is {v}, not a finite number: nothing was measured")
    return v


def wilson_ci(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score 95 % interval for a proportion ``k/n`` (``(0, 1)`` when ``n == 0``)."""
    if n <= 0:
        return (0.0, 1.0)
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    lo, hi = max(0.0, centre - half), min(1.0, centre + half)
    return (0.0 if k == 0 else lo, 1.0 if k == n else hi)


def bootstrap_ci(values: Sequence[float], *, n_boot: int = 2000, seed: int = 0,
                 alpha: float = 0.05) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values``."""
    import numpy as np

    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(axis=1)
    return (float(np.quantile(means, alpha / 2)), float(np.quantile(means, 1 - alpha / 2)))


def widen(ci: tuple[float, float], by: float, lo: float = 0.0, hi: float = 1.0) -> tuple[float, float]:
    """Widen an interval by ``by`` on each side (the judge's measured error rate), clipped to ``[lo, hi]``."""
    return (max(lo, ci[0] - by), min(hi, ci[1] + by))


def mcnemar(before: Sequence[bool], after: Sequence[bool]) -> dict[str, float]:
    """Exact McNemar test on paired binary outcomes (e.g. refused by baseline / by candidate).

    Returns ``b`` (True→False flips), ``c`` (False→True flips) and the two-sided exact binomial p-value.
    """
    from scipy.stats import binomtest

    if len(before) != len(after):
        raise ValueError("paired samples must have equal length")
    b = sum(1 for x, y in zip(before, after, strict=True) if x and not y)
    c = sum(1 for x, y in zip(before, after, strict=True) if y and not x)
    p = 1.0 if b + c == 0 else float(binomtest(b, b + c, 0.5).pvalue)
    return {"b": b, "c": c, "p_value": p}


def paired_bootstrap_delta(before: Sequence[float], after: Sequence[float], *, n_boot: int = 2000,
                           seed: int = 0) -> tuple[float, tuple[float, float]]:
    """Mean of ``after - before`` over paired items with a bootstrap 95 % interval."""
    import numpy as np

    d = np.asarray(after, dtype=float) - np.asarray(before, dtype=float)
    if d.size == 0:
        return float("nan"), (float("nan"), float("nan"))
    return float(d.mean()), bootstrap_ci(d.tolist(), n_boot=n_boot, seed=seed)
