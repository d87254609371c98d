"""The gate: run every check a policy enables against a candidate, decide, write reports."""

from aligngate.gate.context import GateContext, GateInputs
from aligngate.gate.runner import run_gate

__all__ = ["GateContext", "GateInputs", "run_gate"]
