"""Memorisation of tuning data (issue 24): canaries planted by ``curate --canaries N`` and the probes behind the
``leakage.*`` checks. Submodules import nothing heavy at module level."""

from __future__ import annotations

__all__ = ["candidate", "canaries", "probe"]
