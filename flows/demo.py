"""The embedded end-to-end demo as a Prefect flow (the same stages as ``aligngate demo``)."""

from __future__ import annotations

from typing import Any

from prefect import flow, task

from aligngate.errors import GateError
from aligngate.flows._common import Outcome, final_state


@task(persist_result=False)
def demo_task(out: str, policy: str | None) -> Outcome:
    """Run every stage of the demo (curate, train, audit, reward test, gate, promote)."""
    from aligngate.demo import run_demo

    try:
        result = run_demo(out, policy)
    except GateError as exc:
        return Outcome("demo", 2, out, str(exc))
    print(result.text())
    return Outcome("demo", result.exit_code, out)


@flow(name="aligngate-demo", log_prints=True)
def demo_flow(out: str = "runs/demo", policy: str | None = None) -> Any:
    """COMPLETED when every candidate and reward model comes out as :data:`aligngate.demo.EXPECTED` says (A passes
    and is the only promoted version; B-E and the reward-hacked reward model are blocked)."""
    return final_state([demo_task(out, policy)], "demo")


if __name__ == "__main__":
    demo_flow()
