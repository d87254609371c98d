"""The stages of the gate as library functions with typed results: what the CLI, the demo and the flows call.

=====================  ==========================================================  ==============================
stage                  does                                                        returns
=====================  ==========================================================  ==============================
``curate``             validate and de-poison tuning data; decide by ``data.*``     :class:`~aligngate.verdict.Report`
``accept_review``      apply a reviewed ``review.csv``; decide again                :class:`~aligngate.verdict.Report`
``train``              LoRA SFT / DPO (``init_adapter`` continues one) or reward    :class:`~aligngate.training.TrainResult`
``audit_adapter``      audit an adapter without loading it                          :class:`~aligngate.verdict.Report`
``evaluate``           generate on suites, judge, per-suite metrics                 :class:`~aligngate.evaluation.runner.EvalResult`
``test_reward_model``  adversarial tests of a reward model                          :class:`~aligngate.verdict.Report`
``gate``               every check a policy enables; promote a pass                 :class:`GateResult`
``promote``/``demote`` registry events                                              :class:`~aligngate.promotion.PromotionRecord`
=====================  ==========================================================  ==============================

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
