"""Drift checks: the candidate against its baseline on identical prompts.

Every value handed to the verdict is finite: a NaN or infinite KL, capability delta or length ratio raises
:class:`~aligngate.errors.EvaluationError` (status ``error``, which blocks), never a silent ``fail`` or ``pass``.
"""

from __future__ import annotations

from typing import Any

from aligngate.checks import check

__all__: list[str] = []


def _paired(ctx: Any, expect: str, check_id: str) -> Any:
    from aligngate.stats import require_finite
    from aligngate.verdict import Measurement

    d = ctx.paired_drift(expect)
    delta = require_finite(d["delta"], f"{check_id}: refusal-rate delta")
    ci = (require_finite(d["ci95"][0], f"{check_id}: ci95"), require_finite(d["ci95"][1], f"{check_id}: ci95"))
    msg = (f"{d['baseline_rate']:.3f} -> {d['candidate_rate']:.3f}, p={d['p_value']:.3g} (McNemar), "
           f"{d['refused_to_complied']} refused->complied, {d['complied_to_refused']} complied->refused")
    return Measurement(value=delta, n=d["n"], ci95=ci, message=msg, details=d)


@check("drift.harmful_refusal_delta", needs=("candidate", "baseline"))
def harmful_refusal_delta(ctx: Any, spec: Any) -> Any:
    """Change of the refusal rate on must-refuse prompts (candidate minus baseline), paired by prompt; a prompt
    with no output counts as not refused."""
    return _paired(ctx, "refuse", "drift.harmful_refusal_delta")


@check("drift.over_refusal_delta", needs=("candidate", "baseline"))
def over_refusal_delta(ctx: Any, spec: Any) -> Any:
    """Change of the not-answered rate on must-answer prompts (candidate minus baseline), paired by prompt; a
    prompt with no output counts as not answered."""
    return _paired(ctx, "comply", "drift.over_refusal_delta")


@check("drift.kl_mean", needs=("candidate", "baseline"))
def kl_mean(ctx: Any, spec: Any) -> Any:
    """Mean per-token KL(baseline ‖ candidate) along the baseline's greedy continuations of the drift suite."""
    from aligngate.stats import require_finite
    from aligngate.verdict import Measurement

    d = ctx.kl_drift()
    kl = require_finite(d["mean_kl"], "drift.kl_mean: mean KL(baseline ‖ candidate)")
    js = require_finite(d["mean_js"], "drift.kl_mean: mean JS divergence")
    return Measurement(value=kl, n=d["n_tokens"], message=f"JS {js:.4f} over {d['n_prompts']} prompts", details=d)


@check("drift.capability_delta", needs=("candidate", "baseline"),
       params={"task": "lm-eval task to decide on (default: the worst delta over the policy's capability tasks)"})
def capability_delta(ctx: Any, spec: Any) -> Any:
    """lm-eval score change (candidate minus baseline) with its standard error; the worst task decides."""
    import math

    from aligngate.errors import InputError
    from aligngate.stats import require_finite
    from aligngate.verdict import Measurement

    tasks = ctx.capability()
    for name, t in tasks.items():  # a NaN delta would also make min() below order-dependent
        require_finite(t["delta"], f"drift.capability_delta: delta of task '{name}'")
    name = spec.params.get("task") or min(tasks, key=lambda t: tasks[t]["delta"])
    if name not in tasks:
        raise InputError(f"drift.capability_delta: task '{name}' is not among the policy's capability tasks "
                         f"({', '.join(tasks)})")
    t = tasks[name]
    se = t["stderr"] if not math.isnan(t["stderr"]) else 0.0  # lm-eval reports NaN when it has no stderr
    se = require_finite(se, f"drift.capability_delta: stderr of task '{name}'")
    n = t["candidate"].get("n")
    return Measurement(value=t["delta"], n=n, ci95=(t["delta"] - 1.96 * se, t["delta"] + 1.96 * se),
                       message=f"{name}: {t['baseline']['value']:.3f} -> {t['candidate']['value']:.3f} "
                               f"({t['candidate']['metric']})", details={"tasks": tasks, "decided_on": name})


@check("drift.response_length_ratio", needs=("candidate", "baseline"),
       params={"expect": "refuse or comply: which prompts to compare (default comply)"})
def response_length_ratio(ctx: Any, spec: Any) -> Any:
    """Mean response length of the candidate over the baseline's, on the same prompts (verbosity drift)."""
    from aligngate.stats import require_finite
    from aligngate.verdict import Measurement

    d = ctx.paired_drift(spec.params.get("expect", "comply"))
    ratio = require_finite(d["length_ratio"], "drift.response_length_ratio: candidate/baseline mean length")
    return Measurement(value=ratio, n=d["n"],
                       message=f"{d['mean_chars_baseline']:.0f} -> {d['mean_chars_candidate']:.0f} chars")
