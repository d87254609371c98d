"""Gate a candidate against its baseline with a policy; promote it into the registry only if it passes.

``runner`` picks the task runner of the evaluation (``thread``, ``dask`` or ``ray``; ``workers`` of them, or the
cluster at ``runner_address``): the evaluations the gate's checks need are sharded into tasks on it
(:mod:`aligngate.flows._scale`) and handed to the gate stage, which decides exactly as a single-process run does.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from aligngate.flows._common import Outcome, final_state, publish, stage_task
from aligngate.flows._scale import sharded_evaluation, with_runner
from aligngate.stages import GateResult, gate

REFUSAL = frozenset({"refusal.harmful_refusal_rate", "refusal.over_refusal_rate"})
"""Checks that read the candidate's evaluation on the policy's suites."""
PAIRED = frozenset({"drift.harmful_refusal_delta", "drift.over_refusal_delta", "drift.response_length_ratio"})
"""Checks that read both evaluations (when a baseline is given). The gate computes exactly the evaluations these
checks need; the flow computes the same ones, sharded."""


@stage_task
def gate_task(policy: str | None, candidate: str, out: str, adapter: str | None, baseline: str | None,
              reward_model: str | None, data_report: str | None, registry: str | None,
              name: str | None, cache: dict[str, Any] | None = None, history: str | None = None,
              device: str | None = None) -> GateResult:
    """The gate stage as a task (``cache``: evaluations the flow already computed, by the gate's keys)."""
    return gate(candidate, out=out, policy=policy, adapter=adapter, baseline=baseline, reward_model=reward_model,
                data_report=data_report, registry=registry, name=name, progress=False, cache=cache, history=history,
                device=device)


def _adapter_loadable(ctx: Any) -> bool:
    """Whether the gate will load the candidate's adapter: no adapter, or one the audit finds safe and clean (the
    audit runs before anything loads an adapter; the gate runs it again and reports it)."""
    from aligngate.errors import GateError

    if ctx.inputs.adapter is None:
        return True
    try:
        res = ctx.audit()
    except GateError:
        return False
    return not (res.unsafe or res.blocking)


@flow(name="aligngate-evaluate-sharded", log_prints=True, persist_result=False)
def evaluate_flow(policy: str | None, candidate: str, adapter: str | None = None, baseline: str | None = None,
                  shards: int = 2, threads: int | None = None, device: str | None = None) -> dict[str, Any]:
    """The evaluations the policy's checks need, generation sharded over the flow's task runner; returns them by
    the gate's cache keys, with the judge that labelled them (no evaluation where the gate would not evaluate, or
    could not: it then reports why)."""
    from aligngate.errors import GateError
    from aligngate.gate.context import GateContext, GateInputs
    from aligngate.policy import as_loaded_policy
    from aligngate.served import is_endpoint

    log = get_run_logger()
    loaded = as_loaded_policy(policy)
    inputs = GateInputs(candidate=candidate, adapter=adapter, baseline=baseline)
    cache: dict[str, Any] = {}  # what the gate's context shares: the evaluations and the judge that made them
    ctx = GateContext(loaded, inputs, progress=False, cache=cache)
    ids = {c.id for c in loaded.policy.spec.checks}
    paired = baseline is not None and bool(ids & PAIRED)
    need = {"baseline": paired, "candidate": paired or bool(ids & REFUSAL)}
    for which, model in (("baseline", baseline), ("candidate", candidate)):
        if model is None or not need[which]:
            continue
        if which == "candidate" and (not _adapter_loadable(ctx) or (adapter and is_endpoint(candidate))):
            continue  # the gate audits the adapter (or decides whether the endpoint serves it) and reports it
        try:
            harmful, safe = ctx.suites()
            cache[ctx.eval_key(which)] = sharded_evaluation(
                model, harmful + safe, ctx.eval_config, judge=ctx.judge(), judge_error=ctx.judge_error(),
                adapter=adapter if which == "candidate" else None, shards=shards, threads=threads, device=device)
        except GateError as exc:  # the gate evaluates again and reports the error (fail closed)
            log.warning("sharded evaluation of the %s failed; the gate will report it: %s", which, exc)
    return cache


@flow(name="aligngate-gate", log_prints=True)
def gate_flow(candidate: str, out: str, adapter: str | None = None, baseline: str | None = None,
              policy: str | None = None, reward_model: str | None = None, data_report: str | None = None,
              registry: str | None = None, name: str | None = None, runner: str = "thread", workers: int = 1,
              runner_address: str | None = None, threads: int | None = None, history: str | None = None,
              device: str | None = None) -> Any:
    """Run the gate; FAILED (with the verdict) when blocked or on error. With ``workers`` > 1 or a ``runner``
    other than ``thread``, the evaluations are sharded over that task runner first (``threads``: torch threads
    per shard)."""
    cache: dict[str, Any] | None = None
    if workers > 1 or runner != "thread" or runner_address:
        sub = with_runner(evaluate_flow, runner, workers=workers, address=runner_address)
        cache = sub(policy, candidate, adapter, baseline, shards=workers, threads=threads, device=device)
    res = gate_task(policy, candidate, out, adapter, baseline, reward_model, data_report, registry, name, cache,
                    history, device)
    publish("gate", res.report, out, "aligngate-gate")
    return final_state([Outcome.of("gate", res.report, out)], "gate")


def run_gate_flow(candidate: str, out: str, *, runner: str, workers: int = 2, runner_address: str | None = None,
                  **params: Any) -> Any:
    """Run :func:`gate_flow` from the command line (``aligngate gate --runner``) and return the report it wrote;
    a flow that ends without one raises :class:`~aligngate.errors.GateError` (exit 2, fail closed)."""
    from pathlib import Path

    from aligngate.errors import EvaluationError
    from aligngate.report.read import read_report

    state = gate_flow(candidate=candidate, out=out, runner=runner, workers=workers, runner_address=runner_address,
                      return_state=True, **params)
    path = Path(out) / "report.json"
    try:
        return read_report(path)
    except Exception as exc:  # noqa: BLE001 - no readable report: the run failed before deciding
        raise EvaluationError(f"the gate flow on the {runner} task runner ended {state.type.value} without a "
                              f"report in {path}: {state.message or exc}") from None


if __name__ == "__main__":
    gate_flow.serve(name="gate")
