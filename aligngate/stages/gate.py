"""The gate stage: run every check a policy enables against a candidate, decide, write the reports, promote a pass.

    result = gate("base-model", adapter="runs/adapter", baseline="base-model", out="runs/gate")
    result.verdict, result.exit_code, result.report.checks, result.promoted

It runs behind :func:`aligngate.guard.run_guarded` and never raises for a failure of the run: an invalid policy, a
missing model, a crashing check, the history store, the registry or a signal all end in a written ``block`` report
(exit 2) that the result carries. Nothing is printed on stdout; progress bars go to stderr.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from aligngate.policy import LoadedPolicy
    from aligngate.promotion import PromotionRecord
    from aligngate.verdict import Report

__all__ = ["GateResult", "gate"]

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class GateResult:
    """What one gate run decided."""

    report: Report
    """The finished report (also written as ``out/report.json``, ``report.md`` and ``report.html``)."""
    out: Path
    """The output directory."""
    promoted: PromotionRecord | None = None
    """The registry record when the candidate passed and a registry was given; None otherwise."""
    registered: dict[str, Any] | None = None
    """An MLflow registry's record of a *blocked* candidate (a version without the alias); None otherwise."""
    hub: dict[str, Any] | None = None
    """``push_to_hub``: what was (or, dry run, would be) uploaded: repo, files with sizes and sha256, commit."""

    @property
    def verdict(self) -> Literal["pass", "block"]:
        """``pass`` or ``block``."""
        return self.report.verdict

    @property
    def exit_code(self) -> int:
        """0 pass, 1 blocked by a failed threshold, 2 error or inconclusive."""
        return self.report.exit_code


def _path(p: PathLike | None) -> str | None:
    return None if p is None else os.fspath(p)


def gate(candidate: PathLike, *, out: PathLike, policy: PathLike | LoadedPolicy | None = None,
         adapter: PathLike | None = None, baseline: PathLike | None = None, reward_model: PathLike | None = None,
         data_report: PathLike | None = None, registry: PathLike | None = None, name: str | None = None,
         history: PathLike | None = None, device: str | None = None, progress: bool = True,
         cache: dict[str, Any] | None = None, emit: Callable[[Report], None] | None = None,
         push_to_hub: str | None = None, hub_dry_run: bool = True) -> GateResult:
    """Gate ``candidate`` (a model directory, hub id or ``openai:`` endpoint; with ``adapter``, its base) against
    ``baseline`` by ``policy`` (a path, a packaged policy's name, a loaded policy; default: the packaged default).

    ``data_report``: a curate output directory (the tuning data's report). ``history``: a SQLite store the run's
    metrics are appended to. ``registry``: a pass is promoted there as ``name`` (default: the adapter's or model's
    directory name); ``mlflow:TRACKING_URI[#alias=NAME]`` registers a version there, a blocked one too, and moves the
    alias only on a pass. ``cache``: a dict shared by several gate runs so that one baseline is evaluated once.
    ``emit``: called with the decided report before anything is promoted (the CLI writes ``--sarif``/``--junit``
    there); if it raises, the run is an error and nothing is promoted. ``push_to_hub``: a Hub repo id the passing
    adapter is pushed to after promotion (``hub_dry_run``, the default: only the plan, in ``out/hub/``).
    """
    from aligngate.errors import InputError
    from aligngate.gate.context import GateInputs
    from aligngate.gate.runner import record_history, run_checks
    from aligngate.guard import run_guarded
    from aligngate.integrations.mlflow_registry import is_mlflow
    from aligngate.policy import as_loaded_policy

    inputs = GateInputs(candidate=os.fspath(candidate), adapter=_path(adapter), baseline=_path(baseline),
                        reward_model=_path(reward_model), data_report=_path(data_report))
    label = name or Path(inputs.adapter or inputs.candidate).name
    out_dir = Path(out)
    promoted: list[PromotionRecord] = []
    extra: dict[str, dict[str, Any]] = {}

    def body(report: Report) -> None:
        run_checks(as_loaded_policy(policy), inputs, report, out_dir, progress=progress, cache=cache, device=device)

    def finish(report: Report) -> None:
        if history is not None:
            record_history(report, Path(history), label)

    def after(report: Report, staged: Path) -> None:
        if emit is not None:
            emit(report)
        if registry is not None and (report.exit_code == 0 or (report.exit_code == 1 and is_mlflow(registry))):
            from aligngate.promotion import promote

            record = promote(os.fspath(registry), label, staged)
            if report.exit_code == 0:
                promoted.append(record)
            else:
                extra["registered"] = dict(record)
        if push_to_hub and report.exit_code == 0:
            from aligngate.integrations.hub import hub_plan
            from aligngate.integrations.hub import push_to_hub as push

            if inputs.adapter is None:
                raise InputError(f"--push-to-hub {push_to_hub}: the candidate has no --adapter to push")
            plan = hub_plan(report, inputs.adapter, out_dir, base=inputs.candidate)
            extra["hub"] = push(plan, push_to_hub, dry_run=hub_dry_run)

    report = run_guarded("gate", out_dir, body, finish=finish, after=after)
    return GateResult(report=report, out=out_dir, promoted=promoted[0] if promoted else None,
                      registered=extra.get("registered"), hub=extra.get("hub"))
