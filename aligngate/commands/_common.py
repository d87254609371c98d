"""Helpers shared by the CLI commands: output flags, policy argument, report emission."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aligngate.errors import InputError

__all__ = ["add_output_flag", "emit", "guarded_report", "require_path", "resolve_policy"]


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


def guarded_report(args: argparse.Namespace, command: str, out_dir: str | Path | None,
                   body: Callable[[Any], None], *, policy: Any = None) -> int:
    """Run ``body(report)`` behind :func:`aligngate.guard.run_guarded`, print the report, return its exit code.

    Fail closed: if ``body`` raises (or the run is interrupted), the report is still written with
    ``verdict: block``, ``exit_code: 2`` and the error message, and the command exits 2.
    """
    from aligngate.guard import run_guarded
    from aligngate.report import render_terminal

    report = run_guarded(command, out_dir, body, policy=policy, verbose=bool(getattr(args, "verbose", False)))
    emit(args, report.model_dump(mode="json"), lambda: render_terminal(report, out_dir))
    for err in report.errors:
        print(f"aligngate: error: {err}", file=sys.stderr)
    return int(report.exit_code)
