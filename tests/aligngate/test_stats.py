"""Intervals and paired tests."""

from __future__ import annotations

import pytest

from aligngate.stats import bootstrap_ci, mcnemar, paired_bootstrap_delta, widen, wilson_ci


def test_wilson_known_values() -> None:
    lo, hi = wilson_ci(95, 100)
    assert lo == pytest.approx(0.8882, abs=1e-3) and hi == pytest.approx(0.9785, abs=1e-3)
    assert wilson_ci(0, 0) == (0.0, 1.0)
    assert wilson_ci(0, 10)[0] == 0.0 and wilson_ci(10, 10)[1] == 1.0


def test_mcnemar_detects_one_sided_flips() -> None:
    before = [True] * 40
    after = [False] * 15 + [True] * 25
    r = mcnemar(before, after)
    assert r["b"] == 15 and r["c"] == 0 and r["p_value"] < 1e-3
    assert mcnemar([True, False], [True, False])["p_value"] == 1.0
    with pytest.raises(ValueError):
        mcnemar([True], [True, False])


def test_bootstrap_and_widen() -> None:
    lo, hi = bootstrap_ci([1.0] * 50 + [0.0] * 50, seed=1)
    assert 0.35 < lo < 0.5 < hi < 0.65
    d, (dlo, dhi) = paired_bootstrap_delta([1.0] * 20, [0.0] * 5 + [1.0] * 15)
    assert d == pytest.approx(-0.25) and dlo < d < dhi <= 0
    assert widen((0.1, 0.95), 0.1) == (0.0, 1.0)
