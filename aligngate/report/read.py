"""The one way to read a ``report.json`` back: parse, validate against :class:`~aligngate.verdict.Report`, name the
file on anything wrong.

    report = read_report("runs/gate/A")            # a directory: its report.json
    report = read_report("runs/gate/A/report.json")
    report.verdict, report.exit_code, report.checks[0].value

The format is published as JSON Schema (``aligngate/report/schema/report.v1.json``, see
:mod:`aligngate.report.json_schema`). Unknown keys are ignored (the format only grows); a missing required key, a
wrong type or a value outside its set (a ``verdict`` other than ``pass``/``block``) is an
:class:`~aligngate.errors.InputError` naming the file and the key.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from aligngate.errors import InputError

if TYPE_CHECKING:
    from aligngate.verdict import Report

__all__ = ["parse_report", "read_report", "report_path"]


def report_path(path: str | os.PathLike[str]) -> Path:
    """``path`` itself, or ``path/report.json`` when ``path`` is a directory."""
    p = Path(path)
    return p / "report.json" if p.is_dir() else p


def parse_report(data: bytes | str, source: str | os.PathLike[str]) -> Report:
    """Validate the bytes of a ``report.json``; ``source`` names them in the :class:`InputError` on anything wrong."""
    from pydantic import ValidationError

    from aligngate.verdict import Report

    try:
        obj = json.loads(data)
    except UnicodeDecodeError as exc:
        raise InputError(f"{source}: not a report: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except ValueError as exc:
        raise InputError(f"{source}: not a report: invalid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise InputError(f"{source}: not a report: a JSON object is needed, got {type(obj).__name__}")
    try:
        return Report.model_validate(obj)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(x) for x in err["loc"])
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise InputError(f"{source}: not a valid report: key '{key}': {err['msg']}{more}") from None


def read_report(path: str | os.PathLike[str]) -> Report:
    """Read and validate a ``report.json`` (or the one in the directory ``path``); :class:`InputError` naming the file
    when it is missing, unreadable, not JSON or not a report."""
    p = report_path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise InputError(f"report not found: {p}") from None
    except OSError as exc:
        raise InputError(f"cannot read report {p}: {exc.strerror or exc}") from None
    return parse_report(data, p)
