"""Running checks: the one place a spec, a registered check and a context become a report's ``CheckResult``.

The gate runs the checks its policy lists (:func:`run_check` each); the stages that decide on their own run
their group with :func:`stage_specs` (the policy's spec where it lists a check, the registered default otherwise).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from aligngate.checks import get_check, group
from aligngate.checks.types import SUBJECTS, CheckContext, CheckErrorWithDetails, NotMeasurable
from aligngate.errors import GateError

if TYPE_CHECKING:
    from aligngate.policy import CheckSpec, LoadedPolicy
    from aligngate.verdict import CheckResult

__all__ = ["recorded_specs", "run_check", "run_checks", "stage_specs"]


def run_check(ctx: CheckContext, spec: CheckSpec) -> CheckResult:
    """Measure ``spec``'s check on ``ctx`` and apply the spec. Never raises for the check: a subject not given is
    ``skipped``, so is a check that raises :class:`~aligngate.checks.types.NotMeasurable` (with its reason); a
    :class:`~aligngate.errors.GateError` or a crash is ``error`` (which blocks)."""
    from aligngate.verdict import Measurement, to_check_result

    cdef = get_check(spec.id)
    missing = [s for s in cdef.needs if not ctx.has(s)]
    if missing:
        return to_check_result(spec, None, skipped_reason="needs " + ", ".join(f"{s} ({SUBJECTS[s]})"
                                                                              for s in missing))
    try:
        m = cdef.fn(ctx, spec)
    except NotMeasurable as exc:  # skipped with its reason: never a pass (a required check then blocks)
        return to_check_result(spec, None, skipped_reason=str(exc))
    except CheckErrorWithDetails as exc:
        res = to_check_result(spec, None, error=str(exc))
        res.details = exc.details
        return res
    except GateError as exc:
        return to_check_result(spec, None, error=str(exc))
    except Exception as exc:  # noqa: BLE001 - a crashing check is an error, which blocks
        return to_check_result(spec, None, error=f"unexpected {type(exc).__name__}: {exc}")
    if not isinstance(m, Measurement):
        return to_check_result(spec, None, error=f"check '{spec.id}' returned {type(m).__name__}, not a Measurement")
    return to_check_result(spec, m)


def run_checks(ctx: CheckContext, specs: Iterable[CheckSpec]) -> list[CheckResult]:
    """:func:`run_check` of each spec, in order."""
    return [run_check(ctx, s) for s in specs]


def stage_specs(policy: LoadedPolicy | None, prefix: str, has: Callable[[str], bool]) -> list[CheckSpec]:
    """The specs a stage decides by: every registered check of the group ``prefix`` that has a default and whose
    needs are given (``has(subject)``, e.g. a context's ``has``), with the policy's spec where the policy lists it,
    else the registered default; then the
    policy's other checks of the group (run even if their needs are not met, so that a required one that cannot
    run is ``skipped`` and blocks)."""
    listed = {c.id: c for c in (policy.policy.spec.checks if policy is not None else []) if c.id.startswith(prefix)}
    out: list[CheckSpec] = []
    for cdef in group(prefix):
        default = cdef.default_spec()
        if cdef.id in listed:
            out.append(listed.pop(cdef.id))
        elif default is not None and all(has(s) for s in cdef.needs):
            out.append(default)
    return out + list(listed.values())


def recorded_specs(checks: Iterable[CheckResult]) -> list[CheckSpec]:
    """The specs behind checks a report recorded (threshold, severity, mode, required), to decide again on the
    same terms (``curate --accept``). Ids no longer registered are dropped."""
    from aligngate.checks import registered
    from aligngate.policy import CheckSpec, Threshold

    known = registered()
    out = []
    for c in checks:
        if c.id not in known:
            continue
        thr = Threshold(op=c.threshold.op, value=c.threshold.value, bound=c.threshold.bound) if c.threshold else None
        out.append(CheckSpec(id=c.id, threshold=thr, severity=c.severity, mode=c.mode, required=c.required))
    return out
