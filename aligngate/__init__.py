"""aligngate: a defensive alignment-regression gate for fine-tuned open-weight language models.

The public API: the stages as functions with typed results, the report and policy models, the errors::

    import aligngate

    data = aligngate.curate("sft.jsonl", "sft", "runs/curate")                 # -> Report
    sft = aligngate.train("sft", "base", "runs/curate/curated.jsonl", "runs/sft")
    dpo = aligngate.train("dpo", "base", "dpo.jsonl", "runs/adapter", init_adapter=sft.out_dir)
    audit = aligngate.audit_adapter("runs/adapter", base="base", out="runs/audit")
    result = aligngate.gate("base", adapter="runs/adapter", baseline="base", data_report="runs/curate",
                            out="runs/gate", registry="runs/registry")    # -> GateResult
    result.verdict, result.exit_code, result.report.checks
    aligngate.read_report("runs/gate")                                       # -> Report

Names are imported on first use (module ``__getattr__``), so ``import aligngate`` and ``aligngate --help`` load
neither pydantic nor torch. ``aligngate.gate`` is the gate stage; the subpackage that implements it is imported by its
full name (``from aligngate.gate.runner import run_checks``). ``tests/test_exported_members.py`` pins this list.
"""

from __future__ import annotations

import sys
import types
from importlib import import_module

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing would double the cost of `import aligngate`
__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # stages
    "curate": "aligngate.stages.curate",
    "accept_review": "aligngate.stages.curate",
    "train": "aligngate.stages.train",
    "audit_adapter": "aligngate.stages.audit",
    "evaluate": "aligngate.stages.evaluate",
    "test_reward_model": "aligngate.stages.reward",
    "gate": "aligngate.stages.gate",
    "promote": "aligngate.stages.promote",
    "demote": "aligngate.stages.promote",
    # policies and reports
    "load_policy": "aligngate.policy",
    "read_report": "aligngate.report.read",
    # types
    "Report": "aligngate.verdict",
    "CheckResult": "aligngate.verdict",
    "LoadedPolicy": "aligngate.policy",
    "GateResult": "aligngate.stages.gate",
    "TrainConfig": "aligngate.training.config",
    "TrainResult": "aligngate.training.runner",
    "EvalResult": "aligngate.evaluation.runner",
    "PromotionRecord": "aligngate.promotion",
    # errors
    "GateError": "aligngate.errors",
    "PolicyError": "aligngate.errors",
    "InputError": "aligngate.errors",
    "DataValidationError": "aligngate.errors",
    "ModelLoadError": "aligngate.errors",
    "AdapterError": "aligngate.errors",
    "JudgeError": "aligngate.errors",
    "TrainingError": "aligngate.errors",
    "EvaluationError": "aligngate.errors",
    "Interrupted": "aligngate.errors",
}

__all__ = [
    "AdapterError",
    "CheckResult",
    "DataValidationError",
    "EvalResult",
    "EvaluationError",
    "GateError",
    "GateResult",
    "InputError",
    "Interrupted",
    "JudgeError",
    "LoadedPolicy",
    "ModelLoadError",
    "PolicyError",
    "PromotionRecord",
    "Report",
    "TrainConfig",
    "TrainResult",
    "TrainingError",
    "__version__",
    "accept_review",
    "audit_adapter",
    "curate",
    "demote",
    "evaluate",
    "gate",
    "load_policy",
    "promote",
    "read_report",
    "test_reward_model",
    "train",
]

if TYPE_CHECKING:
    from typing import Any

    from aligngate.errors import (
        AdapterError,
        DataValidationError,
        EvaluationError,
        GateError,
        InputError,
        Interrupted,
        JudgeError,
        ModelLoadError,
        PolicyError,
        TrainingError,
    )
    from aligngate.evaluation.runner import EvalResult
    from aligngate.policy import LoadedPolicy, load_policy
    from aligngate.promotion import PromotionRecord
    from aligngate.report.read import read_report
    from aligngate.stages.audit import audit_adapter
    from aligngate.stages.curate import accept_review, curate
    from aligngate.stages.evaluate import evaluate
    from aligngate.stages.gate import GateResult, gate
    from aligngate.stages.promote import demote, promote
    from aligngate.stages.reward import test_reward_model
    from aligngate.stages.train import train
    from aligngate.training.config import TrainConfig
    from aligngate.training.runner import TrainResult
    from aligngate.verdict import CheckResult, Report


def __getattr__(name: str) -> Any:
    """Import a public name on first use (and keep it)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'aligngate' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


class _Package(types.ModuleType):
    """``aligngate`` itself. Importing a subpackage binds it as an attribute of its parent; a subpackage that shares
    its name with a public function (``aligngate.gate``) must not replace that function."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _EXPORTS and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
