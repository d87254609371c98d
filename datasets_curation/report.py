"""Turn a :class:`~aligngate.curation.pipeline.CurationResult` into ``report.json``: subjects, summary, and the
decision through the registered ``data.*`` checks (``aligngate checks`` lists them).

The checks run on a :class:`~aligngate.checks.types.DataSummary` of the result, each with the policy's spec where
the policy lists it and its registered default otherwise (:func:`aligngate.checks.run.stage_specs`): e.g.
``data.poison_fraction <= 0.05`` (block; exit 1 when it fails), ``data.lineage == 0`` (block), and the
informational ``data.quarantine_fraction``, ``data.gx_validation``, ``data.trigger_phrases`` and, for DPO data,
``data.reward_hacking.*`` (warn). ``curate --accept`` decides again after a review with the specs the curate run
recorded (:func:`refill_after_review`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aligngate.errors import InputError

if TYPE_CHECKING:
    from aligngate.curation.pipeline import CurationResult
    from aligngate.policy import LoadedPolicy
    from aligngate.verdict import Report

__all__ = ["decide_data", "fill_report", "refill_after_review"]


def decide_data(report: Report, summary: Any, specs: list[Any] | None = None,
                policy: LoadedPolicy | None = None) -> None:
    """Append the ``data.*`` checks on ``summary`` (a DataSummary) to ``report``: ``specs`` as given, else the
    policy's specs and the registered defaults."""
    from aligngate.checks.context import ResultsContext
    from aligngate.checks.run import run_checks, stage_specs

    ctx = ResultsContext(data=summary)
    report.checks.extend(run_checks(ctx, specs if specs is not None else stage_specs(policy, "data.", ctx.has)))


def fill_report(report: Report, result: CurationResult, policy: LoadedPolicy | None) -> None:
    """Fill ``report`` (subjects, checks, summary) from a curation result, deciding by ``policy``'s specs."""
    from aligngate.checks.types import DataSummary

    n = result.input_rows
    report.subjects["data"] = {"path": result.input_path, "kind": result.kind, "sha256": result.sha256,
                               "out_dir": result.out_dir}
    decide_data(report, DataSummary.from_result(result), policy=policy)
    report.summary.update({
        "kind": result.kind,
        "counts": {"input": n, "curated": result.curated, "quarantined": result.quarantined,
                   "poison": result.poison_rows},
        "poison_fraction": round(result.poison_fraction, 6),
        "reasons": result.reason_counts,
        "detectors": result.detectors,
        "by_detector": result.detector_counts,
        "triggers": result.triggers,
        "great_expectations": result.gx,
        "reward_hacking": result.reward_hacking,
        "lengths": result.lengths,
        "throughput": {"seconds": round(result.seconds, 2), "rows_per_s": round(result.rows_per_s, 1)},
        "models": result.models,
        "files": {"curated": "curated.jsonl", "quarantine": "quarantine.jsonl", "review": "review.csv"},
    })


def refill_after_review(report: Report, old: Report, path: Path, out: str | os.PathLike[str],
                        reviewed: str | os.PathLike[str]) -> None:
    """Apply the reviewed CSV to the curate output in ``out`` and fill ``report`` from the earlier curate report
    ``old`` (read from ``path`` with :func:`aligngate.report.read_report`) with the new counts, deciding again with
    the specs ``old`` recorded."""
    from aligngate.checks.run import recorded_specs
    from aligngate.checks.types import DataSummary
    from aligngate.curation.review import accept_review

    if old.status == "running":
        raise InputError(f"{path} is not a finished curate report (run curate first)")
    report.policy, report.subjects = dict(old.policy), dict(old.subjects)
    report.summary.update(old.summary)
    counts = dict(report.summary.get("counts") or {})
    if not counts.get("input"):
        raise InputError(f"{path} has no counts: not a completed curate run")
    try:
        specs = recorded_specs(old.checks)
    except ValueError as exc:
        raise InputError(f"{path}: unreadable checks: {exc}") from None
    stats = accept_review(Path(out), Path(reviewed))
    if stats["curated"] + stats["quarantined"] != counts["input"]:
        raise InputError(f"lineage broken after review: {counts['input']} input != {stats['curated']} curated + "
                         f"{stats['quarantined']} quarantined")
    counts.update(curated=stats["curated"], quarantined=stats["quarantined"],
                  poison=max(0, int(counts.get("poison", 0)) - stats["released_poison"]))
    report.summary["counts"] = counts
    report.summary["poison_fraction"] = round(counts["poison"] / counts["input"], 6)
    report.summary.setdefault("reviews", []).append({"file": str(reviewed), **stats})
    summary = DataSummary.from_report({"command": "curate", "summary": report.summary,
                                       "subjects": report.subjects}, str(path))
    decide_data(report, summary, specs=specs)
