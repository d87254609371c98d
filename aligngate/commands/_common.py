"""Helpers shared by the CLI commands: output flags, policy argument, report emission."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aligngate.errors import InputError

__all__ = ["add_output_flag", "emit", "emit_report", "require_path", "resolve_policy"]


def add_output_flag(p: argparse.ArgumentParser) -> None:
    """``--output text|json``: JSON goes to stdout alone; logs and progress go to stderr."""
    p.add_argument("--output", choices=("text", "json"), default="text",
                   help="text (default) or json on stdout; logs and progress always go to stderr")


def resolve_policy(path: str | None) -> Any:
    """Load ``--policy`` (default: the repository's ``policies/default.yaml``)."""
    from aligngate.policy import load_policy

    return load_policy(path)


def require_path(path: str | Path, what: str, *, dir: bool | None = None) -> Path:
    """``path`` must exist (and be a directory / file when ``dir`` says so), else :class:`InputError`."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{what} not found: {p}")
    if dir is True and not p.is_dir():
        raise InputError(f"{what} is not a directory: {p}")
    if dir is False and not p.is_file():
        raise InputError(f"{what} is not a file: {p}")
    return p


def emit(args: argparse.Namespace, payload: dict[str, Any], text: Callable[[], str]) -> None:
    """Print ``payload`` as JSON (``--output json``) or ``text()`` to stdout."""
    if getattr(args, "output", "text") == "json":
        sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
    else:
        sys.stdout.write(text().rstrip("\n") + "\n")
    sys.stdout.flush()


def emit_report(args: argparse.Namespace, report: Any, out_dir: str | Path | None) -> int:
    """Finalize ``report``, write ``out_dir/report.json`` (and .md/.html), print it, return its exit code."""
    from aligngate.report import render_terminal, write_all
    from aligngate.verdict import write_report

    report.finalize()
    if out_dir is not None:
        write_report(report, out_dir)
        write_all(report, out_dir)
    emit(args, report.model_dump(mode="json"), lambda: render_terminal(report, out_dir))
    return int(report.exit_code)


def guarded_report(args: argparse.Namespace, command: str, out_dir: str | Path | None,
                   body: Callable[[Any], None], *, policy: Any = None) -> int:
    """Run ``body(report)`` filling a :class:`Report`; any error is recorded and blocks (exit 2).

    Fail closed: if ``body`` raises, the report still gets written with ``verdict: block``, ``exit_code: 2``
    and the error message, then the command exits 2.
    """
    from aligngate.errors import GateError
    from aligngate.verdict import Report, now_iso, versions

    report = Report(command=command, started_at=now_iso(), versions=versions())
    if policy is not None:
        report.policy = {"path": policy.path, "sha256": policy.sha256}
    try:
        body(report)
    except GateError as exc:
        report.errors.append(str(exc))
    except Exception as exc:  # noqa: BLE001 - fail closed on anything unexpected
        if getattr(args, "verbose", False):
            import traceback

            traceback.print_exc()
        report.errors.append(f"unexpected {type(exc).__name__}: {exc}")
    code = emit_report(args, report, out_dir)
    for err in report.errors:
        print(f"aligngate: error: {err}", file=sys.stderr)
    return code
