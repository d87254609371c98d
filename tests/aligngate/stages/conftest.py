"""Stages train and gate the embedded tiny model: one torch thread (fastest on a busy 2-core machine)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def _one_thread(one_torch_thread: None) -> None:
    """Torch on one thread for these tests."""
