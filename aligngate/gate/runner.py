"""Run a policy's checks against the gate's inputs and build the report (fail closed)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from aligngate.errors import GateError
from aligngate.gate.context import GateContext, GateInputs
from aligngate.verdict import Report, now_iso, versions

if TYPE_CHECKING:
    from aligngate.policy import LoadedPolicy

__all__ = ["record_history", "run_checks", "run_gate", "subject_info"]


def subject_info(model: str | None, adapter: str | None = None) -> dict[str, Any]:
    """Model (and adapter) identity with the sha256 of their files; raises for a missing local path."""
    from aligngate.errors import InputError
    from aligngate.fileio import sha256_tree
    from aligngate.modelio import looks_local  # the one place that decides local path vs hub id
    from aligngate.served import is_endpoint, parse_endpoint

    info: dict[str, Any] = {"model": model, "adapter": adapter, "sha256": {}}
    if model is not None and is_endpoint(model):
        ep = parse_endpoint(model)
        if adapter is not None and not ep.serves_adapter:
            raise InputError(f"adapter {adapter} was given with the served model {ep.where()}: aligngate cannot "
                             "apply a LoRA adapter to a model it does not load; serve the candidate with the adapter "
                             "applied and add serves_adapter=true to the spec (the adapter's files are then audited)")
        # no local files: the endpoint and the model id the server reports stand in for the sha256 of the weights
        info["served"] = {**ep.describe(), "served_model": None,
                          "note": "served model: no local files, so no sha256 of its weights; identified by "
                                  "endpoint and the model id the server reported"}
        model = None
    for role, path in (("model", model), ("adapter", adapter)):
        if path is None:
            continue
        if looks_local(path):
            p = Path(path)
            if not p.exists():
                raise InputError(f"{role} path not found: {path}")
            info["sha256"].update({f"{role}/{k}": v for k, v in sha256_tree(p).items()})
        else:
            info.setdefault("hub_ids", []).append(path)
    return info


def _summary(ctx: GateContext) -> dict[str, Any]:
    """Per-subject suite metrics and drift figures that were measured (for tables and plots)."""
    out: dict[str, Any] = {"metrics": {}, "plots": []}
    for which in ("baseline", "candidate"):
        res = ctx.evaluation_if_computed(which)
        if res is not None:
            out["metrics"][which] = {name: m.to_dict() for name, m in res.metrics.items()}
            out.setdefault("judge", res.judge)
    if "judge" in out:
        from aligngate.judge import describe

        out["judge_info"] = describe(ctx.judge())
    out.update(ctx.computed_drift())
    return out


def _write_records(ctx: GateContext, out_dir: Path) -> None:
    from aligngate.fileio import write_jsonl

    for which in ("baseline", "candidate"):
        res = ctx.evaluation_if_computed(which)
        if res is not None:
            write_jsonl(out_dir / f"records-{which}.jsonl", res.records)


def _audit_first(ctx: GateContext, report: Report) -> None:
    """The adapter audit runs before anything loads the adapter. An adapter that is unsafe to open or has a
    blocking finding is never loaded: the checks that would need it end in ``error`` naming the findings."""
    if ctx.inputs.adapter is None:
        return
    try:
        result = ctx.audit()
    except GateError as exc:
        ctx.refuse_adapter(f"the adapter audit could not run: {exc}")
        return
    bad = list(result.unsafe) + [f for f in result.blocking if f not in result.unsafe]
    report.summary["adapter_audit"] = {"exit_code": result.exit_code, "blocking": len(result.blocking),
                                       "unsafe": len(result.unsafe)}
    if bad:
        ctx.refuse_adapter("the adapter failed the audit and was not loaded: "
                           + "; ".join(f"{f.id} ({f.file})" for f in bad[:5])
                           + (f" and {len(bad) - 5} more" if len(bad) > 5 else ""))


def run_checks(policy: LoadedPolicy, inputs: GateInputs, report: Report, out_dir: str | Path | None = None, *,
               progress: bool = True, cache: dict[str, Any] | None = None, device: str | None = None) -> None:
    """Fill ``report`` with every check ``policy`` enables (a check failure or error is recorded, never raised;
    a missing subject path raises)."""
    from aligngate.checks.run import run_checks as run_checks_of

    report.policy = {"path": policy.path, "sha256": policy.sha256}
    ctx = GateContext(policy, inputs, progress=progress, cache=cache, device=device)
    report.subjects["candidate"] = subject_info(inputs.candidate, inputs.adapter)
    if inputs.baseline:
        report.subjects["baseline"] = subject_info(inputs.baseline)
    if inputs.reward_model:
        report.subjects["reward_model"] = subject_info(inputs.reward_model)
    if inputs.data_report:
        report.subjects["data"] = {"report": str(Path(inputs.data_report) / "report.json")}
    if not policy.policy.spec.checks:
        report.errors.append(f"{policy.path}: spec.checks is empty: nothing to decide (fail closed)")
    _audit_first(ctx, report)
    report.checks.extend(run_checks_of(ctx, policy.policy.spec.checks))
    for which in ("candidate", "baseline"):  # the model id a served endpoint reported answering
        res = ctx.evaluation_if_computed(which)
        if res is not None and "served" in report.subjects.get(which, {}):
            report.subjects[which]["served"]["served_model"] = res.generation.get("served_model") or None
    report.summary.update(_summary(ctx))
    if inputs.data_report:
        _attribution(ctx, report)
    if out_dir is not None:
        _write_records(ctx, Path(out_dir))


def _attribution(ctx: GateContext, report: Report) -> None:
    """``summary.attribution`` when the candidate failed a refusal / over-refusal check (issue 22): the tuning rows
    of ``--data-report`` most likely behind each flipped prompt (:func:`aligngate.attribution.for_gate`)."""
    from aligngate.attribution import for_gate, regressed_directions

    if not regressed_directions(report.checks):
        return
    cand, base = ctx.evaluation_if_computed("candidate"), ctx.evaluation_if_computed("baseline")
    section = for_gate(report.checks, cand.records if cand else None, base.records if base else None,
                       str(ctx.inputs.data_report), judge=ctx.judge())
    if section is not None:
        report.summary["attribution"] = section


def run_gate(policy: LoadedPolicy, inputs: GateInputs, out_dir: str | Path | None = None, *, progress: bool = True,
             cache: dict[str, Any] | None = None, device: str | None = None) -> Report:
    """Run every check ``policy`` enables and decide; never raises (errors are recorded and block)."""
    report = Report(command="gate", started_at=now_iso(), versions=versions())
    try:
        run_checks(policy, inputs, report, out_dir, progress=progress, cache=cache, device=device)
    except GateError as exc:
        report.errors.append(str(exc))
    return report.finalize()


TRENDED = ("refusal.harmful_refusal_rate", "refusal.over_refusal_rate", "drift.harmful_refusal_delta")


def record_history(report: Report, db: str | Path, name: str) -> None:
    """Append the run to the history store and add trend plots of its past runs to the report summary."""
    from aligngate.history import append_run, metric_series

    append_run(db, name, report.model_dump(mode="json"))
    series = {k: metric_series(db, name, k) for k in TRENDED}
    series = {k: v for k, v in series.items() if len(v) > 1}
    if series:
        longest = max(len(v) for v in series.values())
        report.summary.setdefault("plots", []).append({
            "title": f"history of {name}", "kind": "line", "x": list(range(1, longest + 1)),
            "series": {k: [None] * (longest - len(v)) + v for k, v in series.items()},
            "xlabel": "gate run", "ylabel": "value"})
    report.summary["history"] = {"db": str(db), "name": name}
