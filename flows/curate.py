"""Curate a tuning data set: Great Expectations suites + poisoning detectors → curated / quarantine."""

from __future__ import annotations

from typing import Any

from prefect import flow

from aligngate import pipeline
from aligngate.flows._common import final_state, publish, stage_task


@stage_task
def curate_task(kind: str, data: str, out: str, policy: str | None) -> pipeline.StageResult:
    """``aligngate curate`` as a task."""
    return pipeline.curate(kind, data, out, policy)


@flow(name="aligngate-curate", log_prints=True)
def curate_flow(data: str, out: str, kind: str = "sft", policy: str | None = None) -> Any:
    """Curate ``data`` into ``out``; FAILED when the data set is blocked by policy."""
    res = curate_task(kind, data, out, policy)
    publish(res, "aligngate-curate")
    return final_state([res], "curate")


if __name__ == "__main__":
    curate_flow.serve(name="curate")
