"""Helpers shared by the CLI commands: the output flag and rendering (JSON or text on stdout, errors on stderr).

A command parses its arguments, calls its stage (:mod:`aligngate.stages`) and renders the result with these.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["add_ci_flags", "add_output_flag", "check_ci_paths", "emit", "render_report", "write_ci_files",
           "write_ci_outputs"]


def add_output_flag(p: argparse.ArgumentParser) -> None:
    """``--output text|json``: JSON goes to stdout alone; logs and progress go to stderr."""
    p.add_argument("--output", choices=("text", "json"), default="text",
                   help="text (default) or json on stdout; logs and progress always go to stderr")


def add_ci_flags(p: argparse.ArgumentParser) -> None:
    """``--sarif FILE`` and ``--junit FILE``: machine-readable results for code scanning and CI test reports."""
    p.add_argument("--sarif", default=None, metavar="FILE",
                   help="also write SARIF 2.1.0 (one result per finding with a location; GitHub upload-sarif)")
    p.add_argument("--junit", default=None, metavar="FILE", help="also write JUnit XML (one test case per check)")


def check_ci_paths(args: argparse.Namespace) -> None:
    """Refuse ``--sarif``/``--junit`` paths that cannot be written (a directory, a parent that is a file) before
    anything runs, so that a writer error never comes after a promotion. InputError (exit 2) naming the flag."""
    from aligngate.errors import InputError

    for flag in ("sarif", "junit"):
        value = getattr(args, flag, None)
        if value is None:
            continue
        path = Path(value)
        if not str(value).strip() or path.is_dir():
            raise InputError(f"--{flag} {value!r}: not a writable file path (a directory or empty)")
        parent = path.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            raise InputError(f"--{flag} {value}: cannot create it ({parent} is not a writable directory)")


def write_ci_files(args: argparse.Namespace, report: Any) -> None:
    """Write the ``--sarif``/``--junit`` files of ``report`` (each one tried); a writer error is a GateError naming
    the flag and file (the first one, when both fail)."""
    from aligngate.errors import GateError
    from aligngate.report.junit import write_junit
    from aligngate.report.sarif import write_sarif

    failed: list[str] = []
    for flag, fn in (("sarif", write_sarif), ("junit", write_junit)):
        path = getattr(args, flag, None)
        if path is None:
            continue
        try:
            fn(report, path)
        except Exception as exc:  # noqa: BLE001 - fail closed: any writer error is exit 2
            failed.append(f"--{flag} {path}: cannot write: {type(exc).__name__}: {exc}")
    if failed:
        raise GateError(failed[0])


def write_ci_outputs(args: argparse.Namespace, report: Any, out_dir: str | Path | None) -> int:
    """Write the ``--sarif``/``--junit`` files of ``report``; return its exit code.

    A writer error is an error of the run: it is recorded in the report, which is re-decided (block, exit 2) and
    re-written in ``out_dir``; the other file, if it was written, is rewritten to say so where possible."""
    from aligngate.errors import GateError

    try:
        write_ci_files(args, report)
    except GateError as exc:
        report.errors.append(str(exc))
        report.finalize()
        if out_dir is not None and Path(out_dir).is_dir():
            from aligngate.report import write_all
            from aligngate.verdict import write_report

            write_report(report, out_dir)
            write_all(report, out_dir)
        with contextlib.suppress(GateError):  # best effort: a file already written must not say pass
            write_ci_files(args, report)
        return 2
    return int(report.exit_code)


def emit(args: argparse.Namespace, payload: dict[str, Any], text: Callable[[], str]) -> None:
    """Print ``payload`` as JSON (``--output json``) or ``text()`` to stdout."""
    if getattr(args, "output", "text") == "json":
        sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
    else:
        sys.stdout.write(text().rstrip("\n") + "\n")
    sys.stdout.flush()


def render_report(args: argparse.Namespace, report: Any, out_dir: str | Path | None, *, ci: bool = True) -> int:
    """Write ``--sarif``/``--junit`` (unless ``ci`` is False: already written), then print a stage's report (JSON with
    ``--output json``, else the terminal table), its errors on stderr; return its exit code."""
    from aligngate.report import render_terminal

    if ci:
        write_ci_outputs(args, report, out_dir)
    emit(args, report.model_dump(mode="json"), lambda: render_terminal(report, out_dir))
    for err in report.errors:
        print(f"aligngate: error: {err}", file=sys.stderr)
    return int(report.exit_code)
