"""Scheduled re-check of what is deployed: re-gate every promoted version and watch its history.

The ``regate-nightly`` deployment in ``prefect.yaml`` runs this on a cron schedule. The promoted versions are
re-gated as parallel tasks (two threads by default; ``aligngate.flows._scale.with_runner(regate_flow, "dask")``
or ``"ray"`` for workers). For each live promoted version the gate is run again with the same subjects, its
metrics are appended to the history store, and control rules (CUSUM and Shewhart limits,
:mod:`aligngate.history`) check the series. A failed re-check or an out-of-control series appends a ``demote``
record to the registry, posts to ``webhook`` when given, and ends the flow FAILED (Prefect automations /
notification blocks can alert on that state too).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.task_runners import ThreadPoolTaskRunner

from aligngate.flows._common import Outcome, final_state, publish
from aligngate.gate.runner import TRENDED
from aligngate.promotion import RegistryEntry
from aligngate.stages import GateResult, demote, gate


@task(persist_result=False)
def regate_one(name: str, record: RegistryEntry, policy: str | None, out: str, history: str) -> GateResult:
    """Re-run the gate on one promoted version with the same subjects; append to the history."""
    subj = record.get("subjects", {})
    cand = subj.get("candidate", {})
    return gate(cand.get("model") or "", out=out, policy=policy, adapter=cand.get("adapter"),
                baseline=(subj.get("baseline") or {}).get("model"), progress=False, history=history, name=name)


@task(persist_result=False)
def control(name: str, history: str, reference: int) -> list[dict[str, Any]]:
    """Control rules on each trended metric of ``name``."""
    from aligngate.history import control_check, metric_series

    return [control_check(metric_series(history, name, key), key, reference=reference).__dict__ for key in TRENDED]


@task(persist_result=False)
def alert(webhook: str | None, message: str) -> None:
    """POST the message to a webhook (Slack-compatible JSON) when configured."""
    if not webhook:
        return
    import httpx

    httpx.post(webhook, json={"text": message}, timeout=10)


@flow(name="aligngate-regate", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=2))
def regate_flow(registry: str, out: str, policy: str | None = None, history: str | None = None,
                webhook: str | None = None, reference: int = 5) -> Any:
    """Re-gate every live promoted version in ``registry``; demote and alert on failure or drift."""
    from aligngate.promotion import current

    log = get_run_logger()
    history = history or str(Path(registry) / "history.sqlite")
    live = {n: r for n, r in current(registry).items() if r["status"] == "promoted"}
    outcomes: list[Outcome] = []
    rows: list[dict[str, Any]] = []
    # fan out: every promoted version is re-gated as its own task on the flow's task runner (threads by default;
    # with_runner(regate_flow, "dask" | "ray") for workers), then each is published and controlled in name order
    futures = {name: regate_one.submit(name, rec, policy, str(Path(out) / name), history)
               for name, rec in sorted(live.items())}
    for name in sorted(futures):
        res = futures[name].result()
        key = "".join(ch if ch.isalnum() else "-" for ch in name.lower())
        publish(f"re-gate of {name}", res.report, res.out, f"aligngate-regate-{key}")
        checks = control(name, history, reference)
        rows += [{"version": name, **{k: c[k] for k in ("key", "alarm", "reason", "latest", "reference_mean")}}
                 for c in checks]
        alarms = [c for c in checks if c["alarm"]]
        outcome = Outcome.of(f"re-gate of {name}", res.report, res.out)
        if res.exit_code != 0 or alarms:
            why = f"re-check {res.verdict} (exit {res.exit_code})" if res.exit_code != 0 else "; ".join(
                f"{c['key']}: {c['reason']}" for c in alarms)
            demote(registry, name, why, res)
            msg = f"aligngate: {name} demoted: {why}; report {res.out}"
            log.error(msg)
            alert(webhook, msg)
            if res.exit_code == 0:
                outcome = Outcome(f"control of {name}", 1, str(res.out), why)
        outcomes.append(outcome)
    create_table_artifact(key="aligngate-regate-control", table=rows or [{"version": "-", "key": "no live versions"}],
                          description="control rules on each promoted version's history")
    print(f"re-checked {len(outcomes)} promoted version(s)")
    return final_state(outcomes, "regate")


if __name__ == "__main__":
    regate_flow.serve(name="regate-nightly", cron="0 3 * * *")
