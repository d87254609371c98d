"""The curate stage: validate and de-poison SFT / DPO tuning data, then decide through the ``data.*`` checks.

    report = curate("train.jsonl", "sft", "runs/curated", policy="strict")
    report = accept_review("runs/curated", "runs/curated/review.reviewed.csv")

Both run behind :func:`aligngate.guard.run_guarded`: they never raise for a failure of the run (an invalid policy,
a missing input, broken lineage, an interrupt); the returned report carries it (``exit_code`` 2) and is written to
``out`` as ``report.json``/``.md``/``.html``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aligngate.errors import InputError

if TYPE_CHECKING:
    from aligngate.policy import LoadedPolicy
    from aligngate.verdict import Report

__all__ = ["accept_review", "curate"]


def _verbose() -> bool:
    return logging.getLogger().isEnabledFor(logging.DEBUG)


def curate(input: str | os.PathLike[str], kind: str, out: str | os.PathLike[str], *,
           policy: str | os.PathLike[str] | LoadedPolicy | None = None, progress: bool = True,
           canaries: int = 0, canary_seed: int | None = None, models: tuple[Any, Any] | None = None) -> Report:
    """Curate ``input`` (``kind`` ``sft`` or ``dpo``) into ``out`` (``curated.jsonl``, ``quarantine.jsonl``,
    ``review.csv``) and decide by the policy's ``data.*`` checks (registered defaults for those it does not list).
    Exit 1 when e.g. the poison fraction is above the limit, 2 on errors. ``canaries`` > 0 plants that many random
    canaries into ``curated.jsonl`` and records them with as many never-planted references in ``canaries.json``
    (:func:`aligngate.leakage.canaries.plant_canaries`; read by the ``leakage.*`` checks). ``models``: the (judge,
    harm classifier) to score rows with (the curate flow's sharded scoring); default: loaded from the policy."""
    from aligngate.guard import run_guarded

    def body(report: Report) -> None:
        from aligngate.curation.pipeline import curate_file
        from aligngate.curation.report import fill_report
        from aligngate.policy import as_loaded_policy

        loaded = as_loaded_policy(policy)
        report.policy = {"path": loaded.path, "sha256": loaded.sha256}
        if not kind or not input:
            raise InputError("curate needs --kind and --input (or --accept REVIEWED.csv)")
        if canaries < 0:
            raise InputError(f"--canaries must be a positive number of canaries, not {canaries}")
        result = curate_file(input, kind, out, loaded.policy.spec.curation, progress=progress, models=models)
        fill_report(report, result, loaded)
        if canaries:  # issue 24: memorisation canaries for the leakage.* checks (aligngate.leakage)
            from aligngate.leakage.canaries import CANARY_FILE, plant_canaries

            record = plant_canaries(Path(out), canaries, kind, seed=canary_seed)
            report.summary["canaries"] = {"planted": len(record.planted), "references": len(record.references),
                                          "file": CANARY_FILE, "seed": record.seed}

    return run_guarded("curate", out, body, verbose=_verbose())


def accept_review(out: str | os.PathLike[str], reviewed: str | os.PathLike[str]) -> Report:
    """Apply a reviewed ``review.csv`` to the curate output in ``out`` (rows marked ``release`` move to
    ``curated.jsonl``) and decide again with the checks as the curate run recorded them."""
    from aligngate.guard import run_guarded
    from aligngate.report.read import read_report

    path = Path(out) / "report.json"
    # read the curate report before the guard replaces it with its in-progress marker
    try:
        old: Report | Exception = read_report(path)
    except InputError as exc:
        old = InputError(f"{exc} (run curate first)")

    def body(report: Report) -> None:
        from aligngate.curation.report import refill_after_review

        if isinstance(old, Exception):
            raise old
        refill_after_review(report, old, path, out, reviewed)

    return run_guarded("curate", out, body, verbose=_verbose())
