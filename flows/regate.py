"""Scheduled re-check of what is deployed: re-gate every promoted version; demote the ones that now fail.

The deployment in ``prefect.yaml`` runs this on a cron schedule. A failed re-check appends a ``demote``
record to the registry and ends FAILED (Prefect automations / notification blocks alert on that state;
``webhook`` posts the verdict as well when given).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task

from aligngate import pipeline
from flows._common import final_state, publish


@task(persist_result=False)
def regate_one(name: str, record: dict[str, Any], policy: str | None, out: str) -> pipeline.StageResult:
    """Re-run the gate on one promoted version with the same subjects."""
    subj = record.get("subjects", {})
    cand = subj.get("candidate", {})
    return pipeline.gate(policy, cand.get("model"), out, adapter=cand.get("adapter"),
                         baseline=(subj.get("baseline") or {}).get("model"), progress=False)


@task(persist_result=False)
def alert(webhook: str | None, message: str) -> None:
    """POST the message to a webhook (Slack-compatible JSON) when configured."""
    if not webhook:
        return
    import httpx

    httpx.post(webhook, json={"text": message}, timeout=10)


@flow(name="aligngate-regate", log_prints=True)
def regate_flow(registry: str, out: str, policy: str | None = None, webhook: str | None = None) -> Any:
    """Re-gate every live promoted version in ``registry``; demote and alert on failure."""
    from aligngate.promotion import current, demote

    log = get_run_logger()
    live = {n: r for n, r in current(registry).items() if r["status"] == "promoted"}
    results = []
    for name, rec in sorted(live.items()):
        res = regate_one(name, rec, policy, str(Path(out) / name))
        publish(res, f"aligngate-regate-{name.lower().replace('_', '-')}")
        if res.exit_code != 0:
            demote(registry, name, f"re-check {res.verdict} (exit {res.exit_code})", res.out)
            msg = f"aligngate: {name} demoted: re-check {res.verdict} (exit {res.exit_code}), report {res.out}"
            log.error(msg)
            alert(webhook, msg)
        results.append(res)
    print(f"re-checked {len(results)} promoted version(s)")
    return final_state(results, "regate")


if __name__ == "__main__":
    regate_flow.serve(name="regate-nightly", cron="0 3 * * *")
