"""The promote stage: record a passing version in a local registry, or demote a live one.

    result = gate(...)                              # gate(..., registry=R) already promotes a pass
    record = promote("runs/registry", "candidate-A", result)
    demote("runs/registry", "candidate-A", "nightly re-check blocked", "runs/regate/candidate-A")

Only a report with ``verdict: pass`` and ``exit_code: 0`` is promoted; a demotion needs a name that is currently
promoted. Anything else is an :class:`~aligngate.errors.InputError` and the registry is left unchanged. The registry
itself (append-only records, one lock, crash safety) is :mod:`aligngate.promotion`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aligngate.promotion import PromotionRecord
    from aligngate.stages.gate import GateResult

__all__ = ["demote", "promote"]

PathLike = str | os.PathLike[str]


def _report_dir(report: PathLike | GateResult) -> str:
    from aligngate.stages.gate import GateResult

    return os.fspath(report.out if isinstance(report, GateResult) else report)


def promote(registry: PathLike, name: str, report: PathLike | GateResult) -> PromotionRecord:
    """Promote ``name`` into ``registry`` on the strength of a passing report (a gate result, or the directory that
    holds its ``report.json``); the report files are copied into the registry with the record."""
    from aligngate.promotion import promote as append_promotion

    return append_promotion(os.fspath(registry), name, _report_dir(report))


def demote(registry: PathLike, name: str, reason: str, report: PathLike | GateResult | None = None) -> PromotionRecord:
    """Demote the live version ``name`` (e.g. a re-check failed), with the ``reason`` and, when given, the report
    that justified it."""
    from aligngate.promotion import demote as append_demotion

    return append_demotion(os.fspath(registry), name, reason, None if report is None else _report_dir(report))
