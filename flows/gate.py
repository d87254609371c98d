"""Gate a candidate against its baseline with a policy; promote it into the registry only if it passes."""

from __future__ import annotations

from typing import Any

from prefect import flow

from aligngate.flows._common import Outcome, final_state, publish, stage_task
from aligngate.stages import GateResult, gate


@stage_task
def gate_task(policy: str | None, candidate: str, out: str, adapter: str | None, baseline: str | None,
              reward_model: str | None, data_report: str | None, registry: str | None,
              name: str | None) -> GateResult:
    """The gate stage as a task."""
    return gate(candidate, out=out, policy=policy, adapter=adapter, baseline=baseline, reward_model=reward_model,
                data_report=data_report, registry=registry, name=name, progress=False)


@flow(name="aligngate-gate", log_prints=True)
def gate_flow(candidate: str, out: str, adapter: str | None = None, baseline: str | None = None,
              policy: str | None = None, reward_model: str | None = None, data_report: str | None = None,
              registry: str | None = None, name: str | None = None) -> Any:
    """Run the gate; FAILED (with the verdict) when blocked or on error."""
    res = gate_task(policy, candidate, out, adapter, baseline, reward_model, data_report, registry, name)
    publish("gate", res.report, out, "aligngate-gate")
    return final_state([Outcome.of("gate", res.report, out)], "gate")


if __name__ == "__main__":
    gate_flow.serve(name="gate")
