"""Helpers shared by the CLI commands: the output flag and rendering (JSON or text on stdout, errors on stderr).

A command parses its arguments, calls its stage (:mod:`aligngate.stages`) and renders the result with these.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["add_output_flag", "emit", "render_report"]


def add_output_flag(p: argparse.ArgumentParser) -> None:
    """``--output text|json``: JSON goes to stdout alone; logs and progress go to stderr."""
    p.add_argument("--output", choices=("text", "json"), default="text",
                   help="text (default) or json on stdout; logs and progress always go to stderr")


def emit(args: argparse.Namespace, payload: dict[str, Any], text: Callable[[], str]) -> None:
    """Print ``payload`` as JSON (``--output json``) or ``text()`` to stdout."""
    if getattr(args, "output", "text") == "json":
        sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
    else:
        sys.stdout.write(text().rstrip("\n") + "\n")
    sys.stdout.flush()


def render_report(args: argparse.Namespace, report: Any, out_dir: str | Path | None) -> int:
    """Print a stage's report (JSON with ``--output json``, else the terminal table), its errors on stderr; return
    its exit code."""
    from aligngate.report import render_terminal

    emit(args, report.model_dump(mode="json"), lambda: render_terminal(report, out_dir))
    for err in report.errors:
        print(f"aligngate: error: {err}", file=sys.stderr)
    return int(report.exit_code)
