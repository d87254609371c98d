"""Gate check ``adapter.audit``: the LoRA adapter audit (file safety, header, config vs tensors, weights,
provenance, the behavioural probe when enabled). ``aligngate audit-adapter`` and the gate decide through it alike.

Value: the number of blocking findings; it passes with none. Every finding is in ``details.findings`` (``id``,
``severity``, ``file``, ``tensor``, ``explanation``, ``details``); the ids are the catalogue of
:mod:`aligngate.audit.findings` (``aligngate checks`` lists them). An adapter unsafe to open is an error (exit 2)
whose details still list the findings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aligngate.checks import Default, check
from aligngate.checks.types import CheckContext, CheckErrorWithDetails
from aligngate.errors import AdapterError
from aligngate.policy import CheckSpec
from aligngate.verdict import Measurement

if TYPE_CHECKING:
    from aligngate.audit.findings import Finding

__all__ = ["UnsafeAdapterError", "finding_record"]


class UnsafeAdapterError(CheckErrorWithDetails, AdapterError):
    """The adapter cannot be opened safely (exit 2); ``details.findings`` says why."""


def _catalogue() -> Mapping[str, tuple[str, str]]:
    from aligngate.audit.findings import CATALOGUE

    return CATALOGUE


def finding_record(f: Finding) -> dict[str, Any]:
    """One finding as a check's ``details.findings`` entry."""
    tensor = f.details.get("tensor")
    return {"id": f.id, "severity": f.severity, "file": f.file, "tensor": None if tensor is None else str(tensor),
            "explanation": f.explanation, "details": {k: v for k, v in f.details.items() if k != "tensor"}}


def _listed(findings: list[Finding], limit: int = 5) -> str:
    shown = "; ".join(f"{f.id} ({f.file}): {f.explanation}" for f in findings[:limit])
    return shown + (f" and {len(findings) - limit} more" if len(findings) > limit else "")


@check("adapter.audit", needs=("adapter",), default=Default(severity="block"), catalogue=_catalogue)
def adapter_audit(ctx: CheckContext, spec: CheckSpec) -> Measurement:
    """Audit the candidate's LoRA adapter before anything loads it; passes with no blocking finding (an adapter
    unsafe to open is an error)."""
    result = ctx.audit()
    details: dict[str, Any] = {"findings": [finding_record(f) for f in result.findings], "sha256": result.sha256,
                               "exit_code": result.exit_code}
    if result.unsafe:
        raise UnsafeAdapterError(f"adapter {result.path} is unsafe to open: {_listed(result.unsafe)}", details)
    n = len(result.blocking)
    warn = [f for f in result.findings if f.severity == "warn"]
    msg = f"{n} blocking, {len(warn)} warning finding(s)"
    if result.findings:
        msg += ": " + _listed(result.blocking + warn)
    return Measurement(value=float(n), passed=n == 0, message=msg, details=details)
