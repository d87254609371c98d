"""The public API (``aligngate.__all__``): exactly the documented names, each resolving to what it documents, loaded
lazily so that ``import aligngate`` stays light (in the manner of httpx's ``tests/test_exported_members.py``)."""

from __future__ import annotations

import inspect
import subprocess
import sys

import aligngate

STAGES = ["curate", "accept_review", "train", "audit_adapter", "evaluate", "test_reward_model", "gate", "promote",
          "demote"]
FUNCTIONS = [*STAGES, "load_policy", "read_report"]
TYPES = ["Report", "CheckResult", "LoadedPolicy", "GateResult", "TrainConfig", "TrainResult", "EvalResult",
         "PromotionRecord"]
ERRORS = ["GateError", "PolicyError", "InputError", "DataValidationError", "ModelLoadError", "AdapterError",
          "JudgeError", "TrainingError", "EvaluationError", "Interrupted"]
DOCUMENTED = ["__version__", *FUNCTIONS, *TYPES, *ERRORS]


def test_all_is_the_documented_list() -> None:
    assert sorted(aligngate.__all__) == sorted(DOCUMENTED)
    assert len(aligngate.__all__) == len(set(aligngate.__all__))
    assert set(aligngate._EXPORTS) == set(aligngate.__all__) - {"__version__"}  # every name has a lazy import


def test_every_exported_name_resolves_and_is_documented() -> None:
    for name in aligngate.__all__:
        member = getattr(aligngate, name)
        assert member is not None, name
        if name == "__version__":
            assert isinstance(member, str) and member
            continue
        assert inspect.getdoc(member), f"aligngate.{name} has no docstring"
        module = getattr(member, "__module__", "")
        assert module.startswith("aligngate."), f"aligngate.{name} comes from {module}"
    for name in FUNCTIONS:
        assert inspect.isfunction(getattr(aligngate, name)), name
    for name in ERRORS:
        error = getattr(aligngate, name)
        assert issubclass(error, BaseException), name
        assert name == "Interrupted" or issubclass(error, aligngate.GateError), name


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from aligngate import *", namespace)  # noqa: S102 - the star import is what is under test
    assert sorted(k for k in namespace if k != "__builtins__") == sorted(aligngate.__all__)


def test_unknown_names_raise_attribute_error() -> None:
    try:
        aligngate.no_such_name  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("aligngate.no_such_name resolved")


def test_gate_stays_the_stage_after_its_subpackage_is_imported() -> None:
    """``aligngate/gate/`` (the machinery) must not replace the public ``aligngate.gate`` (the stage) when it is
    imported, whichever comes first."""
    code = ("import aligngate.gate.runner, aligngate.gate.context, aligngate; from aligngate import gate; "
            "from aligngate.gate.runner import run_checks; import aligngate.stages; "
            "print(gate is aligngate.gate is aligngate.stages.gate, callable(gate), run_checks.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "True", "aligngate.gate.runner"]


def test_import_is_lazy() -> None:
    """``import aligngate`` loads neither pydantic nor torch nor any stage; the first use of a name loads it."""
    code = ("import sys, aligngate; heavy = ('pydantic', 'torch', 'transformers', 'aligngate.stages'); "
            "print([m for m in heavy if m in sys.modules]); aligngate.Report; print('pydantic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == ["[]", "True"]
