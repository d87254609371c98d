"""Small statistics for the reward test: Wilson intervals, Spearman, bootstrap, quantiles (numpy only)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence

__all__ = ["bootstrap_ci", "quantiles", "spearman", "wilson"]


def wilson(k: int, n: int) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion ``k / n`` (``(0, 1)`` when n is 0)."""
    from aligngate.stats import wilson_ci

    return wilson_ci(k, n)


def _ranks(xs: Sequence[float]) -> list[float]:
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    ranks = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2
        i = j + 1
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation (ties averaged); 0.0 when either side is constant."""
    if len(x) != len(y) or len(x) < 2:
        return 0.0
    rx, ry = _ranks(x), _ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    sx = math.sqrt(sum((a - mx) ** 2 for a in rx))
    sy = math.sqrt(sum((b - my) ** 2 for b in ry))
    return 0.0 if sx == 0 or sy == 0 else sxy / (sx * sy)


def bootstrap_ci(values: Sequence[float], stat: Callable[[Sequence[float]], float] | None = None, *,
                 n_boot: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap 95 % interval of ``stat`` (default: the mean) over ``values``."""
    vals = list(values)
    if not vals:
        return (float("nan"), float("nan"))
    fn = stat or (lambda v: sum(v) / len(v))
    rng = random.Random(seed)
    boots = sorted(fn([vals[rng.randrange(len(vals))] for _ in vals]) for _ in range(n_boot))
    return (boots[int(0.025 * (n_boot - 1))], boots[int(0.975 * (n_boot - 1))])


def quantiles(values: Sequence[float], qs: Sequence[float] = (0.05, 0.25, 0.5, 0.75, 0.95)) -> dict[str, float]:
    """Linear-interpolated quantiles as ``{"p5": ..., "p50": ...}``."""
    vals = sorted(values)
    out: dict[str, float] = {}
    for q in qs:
        if not vals:
            out[f"p{round(q * 100)}"] = float("nan")
            continue
        pos = q * (len(vals) - 1)
        lo, hi = math.floor(pos), math.ceil(pos)
        out[f"p{round(q * 100)}"] = vals[lo] + (vals[hi] - vals[lo]) * (pos - lo)
    return out
