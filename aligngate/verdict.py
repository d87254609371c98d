"""The report model and the pure verdict core.

Nothing here does I/O except :func:`write_report`. ``decide`` is a pure function of check results and
errors, tested without models (property tests in ``tests/aligngate/test_verdict_properties.py``).

The verdict rule (``../shared/CONTRACT.md``): ``verdict`` is ``pass`` only when all of these hold:

1. no top-level error was recorded, and no check -- whatever its severity or mode -- has status ``error``;
2. no check the policy requires was skipped;
3. no *enforced* check of severity ``block`` has status ``fail``;
4. at least one enforced check of severity ``block`` measured something and passed (a run that measured
   nothing never passes).

``mode: audit`` only means that a *failed threshold* does not block; an error always does. Exit code: 0 pass,
1 blocked by a failed threshold (rule 3), 2 error or inconclusive (rules 1, 2 and 4).
"""

from __future__ import annotations

import datetime as _dt
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from aligngate.attribution import ATTRIBUTION_SCHEMA
from aligngate.fileio import atomic_write_json

__all__ = [
    "SCHEMA_VERSION",
    "CheckResult",
    "Measurement",
    "Report",
    "ThresholdOut",
    "apply_threshold",
    "decide",
    "enforced_blocking",
    "inconclusive_reason",
    "measured",
    "now_iso",
    "to_check_result",
    "versions",
    "write_report",
]

SCHEMA_VERSION = 1
Status = Literal["pass", "fail", "error", "skipped"]


class ThresholdOut(BaseModel):
    """The threshold as recorded in a report."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    op: str
    """Comparison the measured value must satisfy: ``>=``, ``>``, ``<=``, ``<`` or ``==``."""
    value: float
    """The threshold's value."""
    bound: str = "point"
    """What is compared: ``point`` (the value), ``ci_lower`` or ``ci_upper`` (a bound of its 95 % interval)."""


class CheckResult(BaseModel):
    """One check's outcome, as it appears in ``report.json``."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    id: str
    """Registered check name."""
    status: Status
    """``pass``, ``fail``, ``error`` (could not be measured: blocks) or ``skipped``."""
    severity: Literal["block", "warn"] = "block"
    """Severity from the policy: ``block`` (a failed threshold blocks, exit 1) or ``warn`` (reported only)."""
    mode: Literal["enforce", "audit"] = "enforce"
    """``audit``: a failed threshold is reported but does not block. An ``error`` blocks in every mode."""
    required: bool = True
    """A required check that was skipped makes the run inconclusive (exit 2)."""
    value: float | None = None
    """Measured value (point estimate)."""
    threshold: ThresholdOut | None = None
    """The policy's threshold (None for checks that decide by their own findings)."""
    n: int | None = None
    """Sample size behind ``value``."""
    ci95: list[float] | None = None
    """95 % confidence interval of ``value``."""
    message: str = ""
    """What was measured and why it passed or failed, in words."""
    details: dict[str, Any] = Field(default_factory=dict)
    """Check-specific data (per-suite metrics, findings, flipped prompts)."""


class Measurement(BaseModel):
    """What a check function returns: a value and its uncertainty, or findings."""

    value: float | None = None
    n: int | None = None
    ci95: tuple[float, float] | None = None
    message: str = ""
    details: dict[str, Any] = Field(default_factory=dict)
    passed: bool | None = None
    """For checks without a numeric threshold (e.g. findings): the check's own pass/fail."""


class Report(BaseModel):
    """``report.json``: written by every command that decides (published as ``report.v1.json``; read back with
    :func:`aligngate.report.read_report`)."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    schema_version: int = SCHEMA_VERSION
    """Version of this format (1); it only grows: new keys may appear, none changes meaning."""
    command: str = "gate"
    """The command (stage) that wrote the report: ``gate``, ``curate``, ``audit-adapter``, ``test-reward-model``."""
    status: Literal["running", "complete"] = "complete"
    """``running`` only in the in-progress marker a run writes at its start (:mod:`aligngate.guard`)."""
    verdict: Literal["pass", "block"] = "block"
    """``pass`` only when no check errored or was required and skipped, no enforced blocking check failed, and at
    least one enforced blocking check measured something and passed."""
    exit_code: int = 2
    """The process exit code: 0 pass, 1 blocked by a failed threshold, 2 error or inconclusive."""
    policy: dict[str, Any] = Field(default_factory=dict)
    """The policy that decided: ``path`` and ``sha256`` of its file."""
    subjects: dict[str, Any] = Field(default_factory=dict)
    """What was judged, by role (``candidate``, ``baseline``, ``reward_model``, ``data``...): model, adapter and the
    sha256 of their files."""
    checks: list[CheckResult] = Field(default_factory=list)
    """Every check the policy enabled, with its outcome."""
    errors: list[str] = Field(default_factory=list)
    """Errors that stopped a judgement (any error blocks with exit 2), each naming its cause."""
    started_at: str = ""
    """UTC start time, ISO 8601."""
    finished_at: str = ""
    """UTC time the verdict was decided, ISO 8601."""
    versions: dict[str, str] = Field(default_factory=dict)
    """Versions of aligngate and of the libraries that measured."""
    summary: dict[str, Any] = Field(default_factory=dict,
                                    json_schema_extra={"properties": {"attribution": ATTRIBUTION_SCHEMA}})
    """Command-specific figures (per-suite metrics, counts) for renderers; a gate run with ``--data-report`` whose
    candidate failed a refusal / over-refusal check adds ``attribution`` (:mod:`aligngate.attribution`)."""

    def finalize(self) -> Report:
        """Apply the verdict core and stamp the finish time; an inconclusive run says why in ``errors``."""
        self.verdict, self.exit_code = decide(self.checks, self.errors)
        if self.exit_code == 2 and not self.errors:
            reason = inconclusive_reason(self.checks, self.errors)
            if reason:
                self.errors.append(f"blocked (exit 2): {reason}")
        self.finished_at = now_iso()
        return self


def apply_threshold(op: str, threshold: float, value: float | None,
                    ci95: tuple[float, float] | list[float] | None = None, bound: str = "point") -> bool:
    """Whether ``value`` (or the chosen CI bound) satisfies ``op threshold``. NaN or missing never passes."""
    x: float | None = value
    if bound != "point":
        if ci95 is None:
            return False
        x = ci95[0] if bound == "ci_lower" else ci95[1]
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return False
    return {
        ">=": x >= threshold, ">": x > threshold, "<=": x <= threshold,
        "<": x < threshold, "==": x == threshold,
    }[op]


def enforced_blocking(check: CheckResult) -> bool:
    """Whether a failed threshold of ``check`` blocks: severity ``block`` in ``enforce`` mode."""
    return check.severity == "block" and check.mode == "enforce"


def measured(check: CheckResult) -> bool:
    """Whether ``check`` produced a finite measurement (a value or a sample size)."""
    if check.value is not None:
        return math.isfinite(check.value)
    return bool(check.n)


def decide(checks: list[CheckResult], errors: list[str]) -> tuple[Literal["pass", "block"], int]:
    """Pure verdict (see the module doc): (``pass``, 0); (``block``, 1) for a failed enforced blocking threshold;
    (``block``, 2) for any error, a required check skipped, or a run in which no enforced blocking check measured
    something and passed."""
    if errors or any(c.status == "error" for c in checks):
        return "block", 2
    if any(c.status == "skipped" and c.required for c in checks):
        return "block", 2
    if any(c.status == "fail" and enforced_blocking(c) for c in checks):
        return "block", 1
    if not any(c.status == "pass" and enforced_blocking(c) and measured(c) for c in checks):
        return "block", 2
    return "pass", 0


def inconclusive_reason(checks: list[CheckResult], errors: list[str]) -> str | None:
    """Why :func:`decide` returns exit 2, in words (None when it does not)."""
    if errors:
        return f"{len(errors)} error(s)"
    bad = [c.id for c in checks if c.status == "error"]
    if bad:
        return "check(s) in error: " + ", ".join(bad)
    skipped = [c.id for c in checks if c.status == "skipped" and c.required]
    if skipped:
        return "required check(s) skipped: " + ", ".join(skipped)
    if any(c.status == "fail" and enforced_blocking(c) for c in checks):
        return None
    if not any(c.status == "pass" and enforced_blocking(c) and measured(c) for c in checks):
        return "no enforced check of severity block measured anything and passed: nothing to decide on"
    return None


def now_iso() -> str:
    """UTC timestamp, ISO 8601."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def versions(*extra: str) -> dict[str, str]:
    """Versions of aligngate and of the given packages that are already imported or installed."""
    from importlib import metadata

    from aligngate import __version__

    out = {"aligngate": __version__}
    for name in ("torch", "transformers", "peft", "trl", *extra):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def write_report(report: Report, out_dir: str | Path) -> Path:
    """Write ``out_dir/report.json`` atomically and return its path."""
    path = Path(out_dir) / "report.json"
    atomic_write_json(path, report.model_dump(mode="json"))
    return path


def _finite(x: float | None) -> bool:
    return x is None or math.isfinite(x)


def to_check_result(spec: Any, m: Measurement | None, *, error: str | None = None,
                    skipped_reason: str | None = None) -> CheckResult:
    """Apply a policy :class:`~aligngate.policy.CheckSpec` to a measurement.

    ``error`` → status ``error``; ``skipped_reason`` → ``skipped``; a non-finite value or interval → ``error``;
    otherwise the threshold decides (a check without a threshold must say ``passed`` itself, else it is an error).
    Severity and mode are recorded as the policy gives them; :func:`decide` applies them.
    """
    thr = ThresholdOut(op=spec.threshold.op, value=spec.threshold.value,
                       bound=spec.threshold.bound) if spec.threshold else None
    base = {"id": spec.id, "severity": spec.severity, "mode": spec.mode, "required": spec.required, "threshold": thr}
    if error is not None:
        return CheckResult(status="error", message=error, **base)
    if skipped_reason is not None or m is None:
        return CheckResult(status="skipped", message=skipped_reason or "not measured", **base)
    ci = list(m.ci95) if m.ci95 is not None else None
    if not _finite(m.value) or (ci is not None and not all(_finite(x) for x in ci)):
        return CheckResult(status="error", message=f"non-finite measurement (value {m.value}, ci95 {ci}): "
                                                   f"{m.message or 'nothing usable was measured'}",
                           n=m.n, details=m.details, **base)
    common = dict(value=m.value, n=m.n, ci95=ci, details=m.details, **base)
    if spec.threshold is not None:
        if m.value is None:
            return CheckResult(status="error", message=m.message or "no value measured", **common)
        ok = apply_threshold(spec.threshold.op, spec.threshold.value, m.value, m.ci95, spec.threshold.bound)
    elif m.passed is not None:
        ok = m.passed
    else:
        return CheckResult(status="error", message=f"check '{spec.id}' needs a threshold in the policy", **common)
    shown = "" if m.value is None else f"{m.value:.4g}"
    if thr is not None:
        where = "" if thr.bound == "point" else f" ({thr.bound})"
        msg = f"{shown}{where} {'meets' if ok else 'fails'} {thr.op} {thr.value:g}"
    else:
        msg = "ok" if ok else "failed"
    if m.message:
        msg = f"{msg}: {m.message}"
    return CheckResult(status="pass" if ok else "fail", message=msg, **common)
