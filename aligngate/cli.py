"""The ``aligngate`` command line: a thin argparse front over ``aligngate.commands``.

Exit codes: 0 passed, 1 blocked by policy, 2 error (bad input, invalid policy, crash, inconclusive).
Any exception ends in exit 2 with a one-line message on stderr: the gate fails closed.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from aligngate import __version__
from aligngate.commands import COMMANDS

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="aligngate",
        description="Alignment-regression gate for fine-tuned language models. "
                    "Exit codes: 0 pass, 1 blocked by policy, 2 error (fails closed).")
    parser.add_argument("--version", action="version", version=f"aligngate {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"aligngate.commands.{name}").add_parser(sub)
    return parser



def _quiet_libraries(verbose: bool) -> None:
    """Library noise is not for users: deprecation warnings, per-step data-prep bars, load reports."""
    import warnings

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    if not verbose:
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version exit 0, usage errors exit 2
        return int(exc.code or 0)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    if not args.command:
        parser.print_help(sys.stderr)
        return 2
    _quiet_libraries(args.verbose)
    from aligngate.errors import GateError, Interrupted
    from aligngate.guard import handle_signals

    try:
        with handle_signals():  # SIGTERM -> Interrupted -> exit 2, in every command
            return int(args.func(args))
    except GateError as exc:
        print(f"aligngate: error: {exc}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, Interrupted) as exc:
        print(f"aligngate: interrupted ({exc or 'SIGINT'})", file=sys.stderr)
        return 2
    except SystemExit as exc:  # a library calling sys.exit inside a command: never a pass or a "blocked"
        print(f"aligngate: error: unexpected exit({exc.code}) inside '{args.command}'", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - fail closed on anything unexpected
        if args.verbose:
            import traceback

            traceback.print_exc()
        print(f"aligngate: error: unexpected {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
