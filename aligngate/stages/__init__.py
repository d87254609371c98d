"""The stages of the gate as library functions with typed results: what the CLI, the demo and the flows call.

=====================  ==========================================================  ===================
stage                  does                                                        returns
=====================  ==========================================================  ===================
``curate``             validate and de-poison tuning data; decide by ``data.*``     ``Report``
``accept_review``      apply a reviewed ``review.csv``; decide again                ``Report``
``train``              LoRA SFT / DPO (``init_adapter`` continues one) or reward    ``TrainResult``
``audit_adapter``      audit an adapter without loading it                          ``Report``
``evaluate``           generate on suites, judge, per-suite metrics                 ``EvalResult``
``test_reward_model``  adversarial tests of a reward model                          ``Report``
``gate``               every check a policy enables; promote a pass                 ``GateResult``
``promote``/``demote`` registry events                                              ``PromotionRecord``
=====================  ==========================================================  ===================

``Report`` is :class:`aligngate.verdict.Report`, ``TrainResult`` :class:`aligngate.training.runner.TrainResult`,
``EvalResult`` :class:`aligngate.evaluation.runner.EvalResult`, ``GateResult`` :class:`aligngate.stages.gate.GateResult`
and ``PromotionRecord`` :class:`aligngate.promotion.PromotionRecord`; all are exported from ``aligngate``.

The deciding stages (curate, accept_review, audit_adapter, test_reward_model, gate) run behind
:func:`aligngate.guard.run_guarded`: they never raise for a failure of the run, they return (and, given an output
directory, write) a ``block`` report with exit code 2 that names it. ``train`` and ``evaluate`` decide nothing: they
raise a :class:`~aligngate.errors.GateError`. No stage prints on stdout or redirects it, so stages may run on
several threads (or Dask / Ray workers) at once; progress bars and logs go to stderr.
"""

from aligngate.stages.audit import audit_adapter
from aligngate.stages.curate import accept_review, curate
from aligngate.stages.evaluate import evaluate
from aligngate.stages.gate import GateResult, gate
from aligngate.stages.promote import demote, promote
from aligngate.stages.reward import test_reward_model
from aligngate.stages.train import train

__all__ = ["GateResult", "accept_review", "audit_adapter", "curate", "demote", "evaluate", "gate", "promote",
           "test_reward_model", "train"]
