"""Curate a tuning data set: Great Expectations suites + poisoning detectors → curated / quarantine."""

from __future__ import annotations

from typing import Any

from prefect import flow

from aligngate.flows._common import Outcome, final_state, publish, stage_task
from aligngate.stages import curate
from aligngate.verdict import Report


@stage_task
def curate_task(kind: str, data: str, out: str, policy: str | None) -> Report:
    """The curate stage as a task."""
    return curate(data, kind, out, policy=policy)


@flow(name="aligngate-curate", log_prints=True)
def curate_flow(data: str, out: str, kind: str = "sft", policy: str | None = None) -> Any:
    """Curate ``data`` into ``out``; FAILED when the data set is blocked by policy."""
    report = curate_task(kind, data, out, policy)
    publish("curate", report, out, "aligngate-curate")
    return final_state([Outcome.of("curate", report, out)], "curate")


if __name__ == "__main__":
    curate_flow.serve(name="curate")
