"""The registry of gate checks. Policies name checks by their registered id.

A check is a small function ``fn(ctx, spec) -> Measurement`` registered with :func:`check`. It reads what
it needs from the gate context (which computes evaluations, drift, audits lazily and once), and returns a
measured value with its uncertainty; the verdict core applies the policy's threshold, severity and mode.
Check modules import nothing heavy at module level, so listing and validating checks stays fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aligngate.policy import CheckSpec
    from aligngate.verdict import Measurement

__all__ = ["CheckDef", "check", "get_check", "registered", "registered_ids"]

Subject = str  # "candidate" | "baseline" | "adapter" | "reward_model" | "data_report"
CheckFn = Callable[[Any, "CheckSpec"], "Measurement"]

_MODULES = ("aligngate.checks.data", "aligngate.checks.adapter", "aligngate.checks.refusal", "aligngate.checks.drift", "aligngate.checks.reward")
_REGISTRY: dict[str, CheckDef] = {}


@dataclass(frozen=True)
class CheckDef:
    """A registered check."""

    id: str
    fn: CheckFn
    needs: tuple[Subject, ...] = ()
    """Subjects that must be given for the check to run; otherwise it is ``skipped``."""
    description: str = ""
    params: dict[str, str] = field(default_factory=dict)
    """Accepted ``params`` keys and what they mean."""


def check(id: str, *, needs: tuple[Subject, ...] = (), description: str = "",
          params: dict[str, str] | None = None) -> Callable[[CheckFn], CheckFn]:
    """Register ``fn`` as the check ``id``."""

    def deco(fn: CheckFn) -> CheckFn:
        if id in _REGISTRY and _REGISTRY[id].fn is not fn:
            raise ValueError(f"check '{id}' registered twice")
        _REGISTRY[id] = CheckDef(id=id, fn=fn, needs=needs, description=description or (fn.__doc__ or "").strip(),
                                 params=dict(params or {}))
        return fn

    return deco


def _load_all() -> None:
    for mod in _MODULES:
        importlib.import_module(mod)


def registered() -> dict[str, CheckDef]:
    """All registered checks by id."""
    _load_all()
    return dict(_REGISTRY)


def registered_ids() -> set[str]:
    """The ids policies may name."""
    return set(registered())


def get_check(id: str) -> CheckDef:
    """The registered check ``id`` (KeyError if unknown; policy validation rejects unknown ids first)."""
    return registered()[id]
