"""Run a policy's checks against the gate's inputs and build the report (fail closed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aligngate.errors import GateError
from aligngate.gate.context import GateContext, GateInputs
from aligngate.verdict import Report, now_iso, to_check_result, versions

__all__ = ["gate_to_dir", "record_history", "run_gate", "subject_info", "write_and_promote"]


def subject_info(model: str | None, adapter: str | None = None) -> dict[str, Any]:
    """Model (and adapter) identity with the sha256 of their files; raises for a missing local path."""
    from aligngate.errors import InputError
    from aligngate.fileio import sha256_tree
    from aligngate.modelio import looks_local  # the one place that decides local path vs hub id

    info: dict[str, Any] = {"model": model, "adapter": adapter, "sha256": {}}
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
        model = ctx.inputs.candidate if which == "candidate" else ctx.inputs.baseline
        adapter = ctx.inputs.adapter if which == "candidate" else None
        key = f"eval:{model}|{adapter}|{ctx.eval_config.model_dump_json()}"
        res = ctx._shared.get(key)
        if res is not None:
            out["metrics"][which] = {name: m.to_dict() for name, m in res.metrics.items()}
            out.setdefault("judge", res.judge)
    if "judge" in out:
        from aligngate.judge import describe

        out["judge_info"] = describe(ctx.judge())
    for key in ("drift:refuse", "drift:comply", "kl"):
        val = ctx.computed(key)
        if val is not None:
            out[key.replace(":", "_")] = val
    return out


def _write_records(ctx: GateContext, out_dir: Path) -> None:
    from aligngate.fileio import write_jsonl

    for which in ("baseline", "candidate"):
        model = ctx.inputs.candidate if which == "candidate" else ctx.inputs.baseline
        adapter = ctx.inputs.adapter if which == "candidate" else None
        res = ctx._shared.get(f"eval:{model}|{adapter}|{ctx.eval_config.model_dump_json()}")
        if res is not None:
            write_jsonl(out_dir / f"records-{which}.jsonl", res.records)


def run_gate(policy: Any, inputs: GateInputs, out_dir: str | Path | None = None, *, progress: bool = True,
             cache: dict[str, Any] | None = None, device: str | None = None) -> Report:
    """Run every check ``policy`` enables; never raises for a check failure or error (they are recorded)."""
    from checks import get_check

    report = Report(command="gate", started_at=now_iso(), versions=versions(),
                    policy={"path": policy.path, "sha256": policy.sha256})
    ctx = GateContext(policy, inputs, progress=progress, cache=cache, device=device)
    try:
        report.subjects["candidate"] = subject_info(inputs.candidate, inputs.adapter)
        if inputs.baseline:
            report.subjects["baseline"] = subject_info(inputs.baseline)
        if inputs.reward_model:
            report.subjects["reward_model"] = subject_info(inputs.reward_model)
        if inputs.data_report:
            report.subjects["data"] = {"report": str(Path(inputs.data_report) / "report.json")}
    except GateError as exc:
        report.errors.append(str(exc))
        return report.finalize()
    if not policy.policy.spec.checks:
        report.errors.append(f"{policy.path}: spec.checks is empty: nothing to decide (fail closed)")
    for spec in policy.policy.spec.checks:
        cdef = get_check(spec.id)
        missing = [s for s in cdef.needs if not ctx.has(s)]
        if missing:
            report.checks.append(to_check_result(spec, None, skipped_reason=f"needs {', '.join(missing)}"))
            continue
        try:
            report.checks.append(to_check_result(spec, cdef.fn(ctx, spec)))
        except GateError as exc:
            report.checks.append(to_check_result(spec, None, error=str(exc)))
        except Exception as exc:  # noqa: BLE001 - a crashing check is an error, which blocks
            report.checks.append(to_check_result(spec, None, error=f"unexpected {type(exc).__name__}: {exc}"))
    report.summary = _summary(ctx)
    if out_dir is not None:
        _write_records(ctx, Path(out_dir))
    return report.finalize()


def write_and_promote(report: Report, out_dir: str | Path, *, registry: str | Path | None = None,
                      name: str | None = None) -> dict[str, Any] | None:
    """Write report.json/.md/.html; promote into ``registry`` only when the verdict is pass."""
    from aligngate.report import write_all
    from aligngate.verdict import write_report

    write_report(report, out_dir)
    write_all(report, out_dir)
    if report.exit_code != 0 or registry is None:
        return None
    from aligngate.promotion import promote

    return promote(registry, name or "candidate", out_dir)


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


def gate_to_dir(policy_path: str | Path | None, inputs: GateInputs, out_dir: str | Path, *,
                registry: str | Path | None = None, name: str | None = None, history: str | Path | None = None,
                cache: dict[str, Any] | None = None, progress: bool = True,
                device: str | None = None) -> tuple[Report, dict[str, Any] | None]:
    """The whole gate stage, as the CLI and the flows run it: load the policy, run the checks, record history,
    write report.json/.md/.html, promote a pass. An invalid policy still yields a written, blocking report.

    Returns the report and the promotion record (None unless promoted).
    """
    from aligngate.policy import load_policy

    try:
        report = run_gate(load_policy(policy_path), inputs, out_dir,
                          progress=progress, cache=cache, device=device)
    except GateError as exc:
        report = Report(command="gate", started_at=now_iso(), versions=versions(), errors=[str(exc)]).finalize()
    name = name or Path(inputs.adapter or inputs.candidate).name
    if history is not None:
        record_history(report, history, name)
    rec = write_and_promote(report, out_dir, registry=registry, name=name)
    if rec is not None:
        report.summary["promoted"] = rec
    return report, rec
