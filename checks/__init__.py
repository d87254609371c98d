"""The one registry of decisions. Every ``checks[].id`` a report can contain is a check registered here.

A check is a small function of the :class:`~aligngate.checks.types.Check` protocol, ``fn(ctx, spec) ->
Measurement``, registered with :func:`check`. It reads what it needs from a
:class:`~aligngate.checks.types.CheckContext` (the gate's computes evaluations, drift, audits lazily and once; the
stages' holds what they already computed) and returns a measured value with its uncertainty (or its own
``passed``); the verdict core applies the spec's threshold, severity and mode.

Policies name checks by id. Each check may carry a registered :class:`Default` spec: the stages that decide on
their own (``curate``: ``data.*``, ``audit-adapter``: ``adapter.audit``, ``test-reward-model``: ``reward.*``) run
every check of their group, with the policy's spec where the policy lists it and the registered default
otherwise. ``aligngate checks`` lists all of them. Check modules import nothing heavy at module level, so
listing and validating checks stays fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from aligngate.checks.types import SUBJECTS, Check

if TYPE_CHECKING:
    from aligngate.policy import CheckSpec

__all__ = ["CheckDef", "Default", "check", "get_check", "group", "registered", "registered_ids", "shipped"]

Subject = str
"""A key of :data:`aligngate.checks.types.SUBJECTS`."""

_MODULES = ("aligngate.checks.data", "aligngate.checks.adapter", "aligngate.checks.refusal",
            "aligngate.checks.drift", "aligngate.checks.reward", "aligngate.checks.budget",
            "aligngate.checks.depth", "aligngate.checks.robustness", "aligngate.checks.leakage")
"""The shipped check modules (a missing optional one is skipped)."""
_REGISTRY: dict[str, CheckDef] = {}


@dataclass(frozen=True)
class Default:
    """A check's registered default spec: what decides when a policy does not list the check."""

    op: Literal[">=", ">", "<=", "<", "=="] | None = None
    """Threshold comparison (None: the check's own ``passed`` decides)."""
    value: float | None = None
    """Threshold value."""
    severity: Literal["block", "warn"] = "block"
    required: bool = True
    """A required check that is skipped makes the run inconclusive (exit 2)."""

    def spec(self, id: str) -> CheckSpec:
        """This default as a policy :class:`~aligngate.policy.CheckSpec` for check ``id``."""
        from aligngate.policy import CheckSpec, Threshold

        threshold = Threshold(op=self.op, value=self.value) if self.op is not None and self.value is not None else None
        return CheckSpec(id=id, threshold=threshold, severity=self.severity, required=self.required,
                         description="registered default (the policy does not list this check)")

    def describe(self) -> str:
        """``<= 0.05 block``, ``passed block`` ..."""
        cond = f"{self.op} {self.value:g}" if self.op is not None and self.value is not None else "own pass/fail"
        return f"{cond}, {self.severity}" + ("" if self.required else ", optional")


@dataclass(frozen=True)
class CheckDef:
    """A registered check."""

    id: str
    fn: Check
    needs: tuple[Subject, ...] = ()
    """Subjects that must be given for the check to run; otherwise it is ``skipped``."""
    description: str = ""
    params: dict[str, str] = field(default_factory=dict)
    """Accepted ``params`` keys and what they mean."""
    default: Default | None = None
    """The spec that decides when a policy does not list the check (None: only run when a policy lists it)."""
    catalogue: Callable[[], Mapping[str, tuple[str, str]]] | None = None
    """Ids the check reports on (adapter audit findings in ``details.findings``; the detectors behind quarantine
    reasons): id -> (class, meaning). ``aligngate checks`` lists them under the check."""
    module: str = ""
    """The module that registered it."""

    def default_spec(self) -> CheckSpec | None:
        """The registered default as a spec (None when the check has no default)."""
        return self.default.spec(self.id) if self.default is not None else None


def check(id: str, *, needs: tuple[Subject, ...] = (), description: str = "", params: dict[str, str] | None = None,
          default: Default | None = None,
          catalogue: Callable[[], Mapping[str, tuple[str, str]]] | None = None) -> Callable[[Check], Check]:
    """Register ``fn`` as the check ``id`` (its docstring is the description unless ``description`` is given)."""
    unknown = [s for s in needs if s not in SUBJECTS]
    if unknown:
        raise ValueError(f"check '{id}': unknown subject(s) {', '.join(unknown)} (known: {', '.join(SUBJECTS)})")

    def deco(fn: Check) -> Check:
        if id in _REGISTRY and _REGISTRY[id].fn is not fn:
            raise ValueError(f"check '{id}' registered twice")
        _REGISTRY[id] = CheckDef(id=id, fn=fn, needs=needs, description=description or (fn.__doc__ or "").strip(),
                                 params=dict(params or {}), default=default, catalogue=catalogue,
                                 module=getattr(fn, "__module__", ""))
        return fn

    return deco


def _load_all() -> None:
    for mod in _MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:  # an optional module may be absent; a broken import is a bug
                raise


def registered() -> dict[str, CheckDef]:
    """All registered checks by id, in registration order."""
    _load_all()
    return dict(_REGISTRY)


def shipped() -> dict[str, CheckDef]:
    """The checks aligngate ships (registered by its own modules; not ones a test or plugin registered)."""
    return {k: d for k, d in registered().items() if d.module in _MODULES}


def registered_ids() -> set[str]:
    """The ids policies may name."""
    return set(registered())


def get_check(id: str) -> CheckDef:
    """The registered check ``id`` (KeyError if unknown; policy validation rejects unknown ids first)."""
    return registered()[id]


def group(prefix: str) -> list[CheckDef]:
    """Registered checks whose id starts with ``prefix`` (``data.``, ``reward.``), in registration order."""
    return [d for d in registered().values() if d.id.startswith(prefix)]
