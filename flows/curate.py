"""Curate a tuning data set: Great Expectations suites + poisoning detectors → curated / quarantine.

``runner`` (``thread``, ``dask``, ``ray``; ``workers`` of them or the cluster at ``runner_address``) shards the
expensive part, the learned scoring of the rows (harm classifier and judge), into tasks of whole chunks
(:func:`aligngate.flows._scale.sharded_curation_models`); the cross-row detectors (duplicates, near duplicates,
trigger phrases, length outliers) then run once over the file in order, as in a single-process run, so the outputs
equal the single-process run's.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from aligngate.flows._common import Outcome, final_state, publish, stage_task
from aligngate.flows._scale import sharded_curation_models, with_runner
from aligngate.stages import curate
from aligngate.verdict import Report


@stage_task
def curate_task(kind: str, data: str, out: str, policy: str | None, models: tuple[Any, Any] | None = None) -> Report:
    """The curate stage as a task (``models``: the judge and harm classifier, their scoring already sharded)."""
    return curate(data, kind, out, policy=policy, models=models)


@flow(name="aligngate-score-sharded", log_prints=True, persist_result=False)
def score_flow(data: str, kind: str, policy: str | None, shards: int = 2) -> tuple[Any, Any] | None:
    """The learned scoring of ``data``'s rows, sharded over the flow's task runner (None when the policy's curation
    uses no learned detector, or when the input cannot be read: the curate stage then reports why)."""
    from aligngate.errors import GateError
    from aligngate.policy import as_loaded_policy

    try:
        config = as_loaded_policy(policy).policy.spec.curation
        return sharded_curation_models(data, kind, config, shards=shards)
    except GateError as exc:  # the curate stage runs again on its own and reports it (fail closed)
        print(f"sharded scoring failed; the curate stage will report it: {exc}")
        return None


@flow(name="aligngate-curate", log_prints=True)
def curate_flow(data: str, out: str, kind: str = "sft", policy: str | None = None, runner: str = "thread",
                workers: int = 1, runner_address: str | None = None) -> Any:
    """Curate ``data`` into ``out``; FAILED when the data set is blocked by policy. With ``workers`` > 1 or a
    ``runner`` other than ``thread``, the rows' learned scoring is sharded over that task runner first."""
    models = None
    if workers > 1 or runner != "thread" or runner_address:
        models = with_runner(score_flow, runner, workers=workers, address=runner_address)(data, kind, policy,
                                                                                          shards=workers)
    report = curate_task(kind, data, out, policy, models)
    if models is not None:
        print(f"scoring calls replayed from the shards: judge {models[0].replayed}, harm {models[1].replayed}; "
              f"computed here: judge {models[0].computed}, harm {models[1].computed}")
    publish("curate", report, out, "aligngate-curate")
    return final_state([Outcome.of("curate", report, out)], "curate")


if __name__ == "__main__":
    curate_flow.serve(name="curate")
