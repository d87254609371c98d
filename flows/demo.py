"""The embedded end-to-end demo as a Prefect flow (the same stages as ``aligngate demo``)."""

from __future__ import annotations

from typing import Any

from prefect import flow, task

from aligngate.flows._common import final_state


@task(persist_result=False)
def demo_task(out: str, policy: str | None) -> int:
    """Run every stage of the demo (curate, train, audit, reward test, gate, promote)."""
    from aligngate.demo import run_demo

    return run_demo(out, policy)


@flow(name="aligngate-demo", log_prints=True)
def demo_flow(out: str = "runs/demo", policy: str | None = None) -> Any:
    """COMPLETED when candidate A passes and candidate B is blocked."""
    from aligngate.pipeline import StageResult

    code = demo_task(out, policy)
    return final_state([StageResult("demo", code, out)], "demo")


if __name__ == "__main__":
    demo_flow()
