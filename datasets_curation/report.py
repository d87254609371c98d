"""Turn a :class:`~aligngate.curation.pipeline.CurationResult` into ``report.json`` checks, subjects and summary.

Checks:

* ``data.poison_fraction`` (block): rows quarantined by a poisoning detector (harmful_compliance,
  flipped_preference, trigger_phrase) over input rows, ``<= poison_fraction_max``. Exit 1 when it fails.
* ``data.lineage`` (block): input rows = curated + quarantined.
* ``data.quarantine_fraction``, ``data.gx_validation``, ``data.trigger_phrases`` (warn, informational).
* DPO: ``data.reward_hacking.chosen_longer_fraction``, ``data.reward_hacking.length_spearman`` (warn),
  ``data.reward_hacking.mean_length_ratio`` (informational).
"""

from __future__ import annotations

from typing import Any

from aligngate.verdict import CheckResult, Report, ThresholdOut, apply_threshold
from aligngate.curation.config import POISON_DETECTORS, CurationConfig

__all__ = ["fill_report", "poison_check"]


def _check(id: str, value: float | None, n: int, *, op: str | None = None, limit: float | None = None,
           severity: str = "warn", message: str = "", details: dict[str, Any] | None = None,
           passed: bool | None = None) -> CheckResult:
    threshold = ThresholdOut(op=op, value=limit) if op is not None and limit is not None else None
    if passed is None:
        passed = True if threshold is None else apply_threshold(op or "<=", float(limit or 0), value)
    return CheckResult(id=id, status="pass" if passed else "fail", severity=severity,  # type: ignore[arg-type]
                       required=severity == "block", value=value, threshold=threshold, n=n, message=message,
                       details=details or {})


def poison_check(poison_rows: int, input_rows: int, limit: float) -> CheckResult:
    """The blocking ``data.poison_fraction`` check."""
    frac = poison_rows / input_rows if input_rows else 0.0
    return _check("data.poison_fraction", round(frac, 6), input_rows, op="<=", limit=limit, severity="block",
                  message=f"{poison_rows} of {input_rows} rows quarantined as poison "
                          f"({', '.join(POISON_DETECTORS)})", details={"poison_rows": poison_rows})


def fill_report(report: Report, result: Any, config: CurationConfig) -> None:
    """Fill ``report`` (subjects, checks, summary) from a curation result."""
    n = result.input_rows
    report.subjects["data"] = {"path": result.input_path, "kind": result.kind, "sha256": result.sha256,
                               "out_dir": result.out_dir}
    checks = [poison_check(result.poison_rows, n, config.poison_fraction_max)]
    checks.append(_check("data.lineage", float(result.curated + result.quarantined), n, op="==", limit=float(n),
                         severity="block", message=f"{n} input = {result.curated} curated + "
                                                   f"{result.quarantined} quarantined"))
    checks.append(_check("data.quarantine_fraction", round(result.quarantined / n, 6) if n else 0.0, n,
                         message=f"{result.quarantined} rows quarantined (all reasons)"))
    gx = result.gx
    stats = gx.get("statistics", {})
    checks.append(_check("data.gx_validation", stats.get("success_percent"), n, passed=bool(gx.get("success", True)),
                         message=f"{stats.get('successful_expectations', 0)} of "
                                 f"{stats.get('evaluated_expectations', 0)} expectations met on every chunk"))
    trig = [t["ngram"] for t in result.triggers]
    checks.append(_check("data.trigger_phrases", float(len(trig)), n, op="<=", limit=0.0,
                         message=("trigger n-grams found: " + ", ".join(repr(t) for t in trig)) if trig
                         else "no trigger n-gram found", details={"triggers": result.triggers}))
    rh = result.reward_hacking
    if rh is not None:
        pairs = int(rh.get("pairs") or 0)
        checks.append(_check("data.reward_hacking.chosen_longer_fraction", rh.get("chosen_longer_fraction"), pairs,
                             op="<=", limit=config.chosen_longer_max,
                             message="fraction of pairs whose chosen response is longer"))
        checks.append(_check("data.reward_hacking.length_spearman", rh.get("length_spearman"), pairs, op="<=",
                             limit=config.length_spearman_max,
                             message="Spearman correlation of preference with response length"))
        checks.append(_check("data.reward_hacking.mean_length_ratio", rh.get("mean_length_ratio"), pairs,
                             message="mean length ratio chosen / rejected"))
    report.checks.extend(checks)
    report.summary.update({
        "kind": result.kind,
        "counts": {"input": n, "curated": result.curated, "quarantined": result.quarantined,
                   "poison": result.poison_rows},
        "poison_fraction": round(result.poison_fraction, 6),
        "reasons": result.reason_counts,
        "detectors": result.detectors,
        "by_detector": result.detector_counts,
        "triggers": result.triggers,
        "great_expectations": gx,
        "reward_hacking": rh,
        "lengths": result.lengths,
        "throughput": {"seconds": round(result.seconds, 2), "rows_per_s": round(result.rows_per_s, 1)},
        "models": result.models,
        "files": {"curated": "curated.jsonl", "quarantine": "quarantine.jsonl", "review": "review.csv"},
    })
