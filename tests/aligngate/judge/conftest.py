"""Fixtures for the judge tests: the shipped judge / harm classifier, loaded once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[4] / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """``../shared/data``; skips the test where it is absent."""
    import os

    root = Path(os.environ.get("ALIGNGATE_SHARED_DATA", DATA))
    if not root.is_dir():
        pytest.skip("../shared/data not present")
    return root


@pytest.fixture(scope="session")
def minilm_judge():
    """The default judge with the shipped weights."""
    from aligngate.judge import get_judge

    return get_judge("minilm")


@pytest.fixture(scope="session")
def harm_classifier():
    """The shipped harm classifier."""
    from aligngate.judge.harm import HarmClassifier

    return HarmClassifier()
