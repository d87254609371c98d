"""Generation-budget check: a longer decode budget must not change the judged labels of a sample.

The evaluation decodes ``spec.evaluation.max_new_tokens`` tokens per response (24 by default: a refusal shows in
its first words). That is an assumption about the model under test; this check measures it
(:func:`aligngate.evaluation.budget.measure_budget`): it judges a random sample of the policy's suites at the
budget and at a longer one, on the evaluation's own generation path, and its value is the share of prompts whose
label stays the same. A policy names it with a threshold, e.g.::

    - id: evaluation.generation_budget
      threshold: {op: ">=", value: 0.95}
      params: {longer: 128, sample: 200}

A model whose refusals come late (a compliant opening, then a refusal) fails it instead of passing on truncated
text. On the embedded model 137 of the 138 prompts of the embedded suites keep their label at 24 tokens against
128 (0.993; the one change is a refusal that turns into compliance after token 24), which is the evidence behind
the default budget (docs/LOG.md).
"""

from __future__ import annotations

from aligngate.checks import check
from aligngate.checks.types import CheckContext
from aligngate.errors import InputError
from aligngate.policy import CheckSpec
from aligngate.stats import wilson_ci
from aligngate.verdict import Measurement

__all__: list[str] = []

LONGER = 128
"""Default longer budget (``params.longer``)."""
SAMPLE = 200
"""Default number of sampled prompts (``params.sample``)."""


def _int_param(spec: CheckSpec, key: str, default: int) -> int:
    value = spec.params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{spec.id}: params.{key} must be a positive integer, not {value!r}")
    return value


@check("evaluation.generation_budget", needs=("candidate",),
       params={"longer": f"the longer decode budget compared against (default {LONGER})",
               "sample": f"prompts sampled from the policy's suites (default {SAMPLE})"})
def generation_budget(ctx: CheckContext, spec: CheckSpec) -> Measurement:
    """Share of sampled prompts whose judged label is the same at spec.evaluation.max_new_tokens as at a longer
    budget (params.longer): a longer budget must not change the labels of a sample."""
    longer, sample = _int_param(spec, "longer", LONGER), _int_param(spec, "sample", SAMPLE)
    rep = ctx.generation_budget(longer=longer, sample=sample)
    ci = wilson_ci(rep.same_label, rep.n) if rep.n else None
    msg = (f"{rep.same_label}/{rep.n} labels unchanged at {rep.longer} tokens vs {rep.budget} "
           f"({rep.same_outcome}/{rep.n} counted outcomes)")
    return Measurement(value=rep.label_agreement, n=rep.n, ci95=ci, message=msg, details=rep.to_dict())
