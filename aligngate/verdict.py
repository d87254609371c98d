"""The report model and the pure verdict core.

Nothing here does I/O except :func:`write_report`. ``decide`` is a pure function of check results and
errors, tested without models. Contract (``report.json``): ``verdict`` is ``pass`` only when no check of
severity ``block`` has status ``fail`` or ``error``, no top-level error occurred, and no required check was
skipped. Exit code: 0 pass, 1 blocked by a failed check, 2 error / inconclusive (an error always blocks).
"""

from __future__ import annotations

import datetime as _dt
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from aligngate.fileio import atomic_write_json

__all__ = [
    "SCHEMA_VERSION",
    "CheckResult",
    "Measurement",
    "Report",
    "ThresholdOut",
    "apply_threshold",
    "decide",
    "now_iso",
    "to_check_result",
    "versions",
    "write_report",
]

SCHEMA_VERSION = 1
Status = Literal["pass", "fail", "error", "skipped"]


class ThresholdOut(BaseModel):
    """The threshold as recorded in a report."""

    op: str
    value: float
    bound: str = "point"


class CheckResult(BaseModel):
    """One check's outcome, as it appears in ``report.json``."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    id: str
    """Registered check name."""
    status: Status
    """``pass``, ``fail``, ``error`` (could not be measured: blocks) or ``skipped``."""
    severity: Literal["block", "warn"] = "block"
    """Effective severity (an ``audit``-mode check is recorded as ``warn``)."""
    mode: Literal["enforce", "audit"] = "enforce"
    required: bool = True
    value: float | None = None
    """Measured value (point estimate)."""
    threshold: ThresholdOut | None = None
    n: int | None = None
    """Sample size behind ``value``."""
    ci95: list[float] | None = None
    """95 % confidence interval of ``value``."""
    message: str = ""
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
    """``report.json``: written by every command that decides."""

    schema_version: int = SCHEMA_VERSION
    command: str = "gate"
    verdict: Literal["pass", "block"] = "block"
    exit_code: int = 2
    policy: dict[str, Any] = Field(default_factory=dict)
    subjects: dict[str, Any] = Field(default_factory=dict)
    checks: list[CheckResult] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)
    started_at: str = ""
    finished_at: str = ""
    versions: dict[str, str] = Field(default_factory=dict)
    summary: dict[str, Any] = Field(default_factory=dict)
    """Command-specific figures (per-suite metrics, counts) for renderers."""

    def finalize(self) -> Report:
        """Apply the verdict core and stamp the finish time."""
        self.verdict, self.exit_code = decide(self.checks, self.errors)
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


def decide(checks: list[CheckResult], errors: list[str]) -> tuple[Literal["pass", "block"], int]:
    """Pure verdict: (``pass``, 0), (``block``, 1) for a failed blocking check, (``block``, 2) for errors."""
    blocking = [c for c in checks if c.severity == "block"]
    errored = bool(errors) or any(c.status == "error" for c in blocking) or any(
        c.status == "skipped" and c.required and c.mode == "enforce" for c in checks)
    if errored:
        return "block", 2
    if any(c.status == "fail" for c in blocking):
        return "block", 1
    return "pass", 0


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


def to_check_result(spec: Any, m: Measurement | None, *, error: str | None = None,
                    skipped_reason: str | None = None) -> CheckResult:
    """Apply a policy :class:`~aligngate.policy.CheckSpec` to a measurement.

    ``error`` → status ``error``; ``skipped_reason`` → ``skipped``; otherwise the threshold decides
    (a check without a threshold must say ``passed`` itself, else it is an error). A check in ``audit``
    mode is recorded with severity ``warn`` so it never blocks.
    """
    severity = "warn" if spec.mode == "audit" else spec.severity
    thr = ThresholdOut(op=spec.threshold.op, value=spec.threshold.value,
                       bound=spec.threshold.bound) if spec.threshold else None
    base = dict(id=spec.id, severity=severity, mode=spec.mode, required=spec.required, threshold=thr)
    if error is not None:
        return CheckResult(status="error", message=error, **base)
    if skipped_reason is not None or m is None:
        return CheckResult(status="skipped", message=skipped_reason or "not measured", **base)
    ci = list(m.ci95) if m.ci95 is not None else None
    common = dict(value=m.value, n=m.n, ci95=ci, details=m.details, **base)
    if spec.threshold is not None:
        ok = apply_threshold(spec.threshold.op, spec.threshold.value, m.value, m.ci95, spec.threshold.bound)
        if m.value is None:
            return CheckResult(status="error", message=m.message or "no value measured", **common)
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
