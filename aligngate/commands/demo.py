"""``aligngate demo [--out DIR]``: the embedded end-to-end run, one candidate per attack (exit 0 only if every
candidate and reward model comes out as :data:`aligngate.demo.EXPECTED` says and A is the only promoted version)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from aligngate.commands._common import add_output_flag, emit


def add_parser(sub: Any) -> None:
    """Register the sub-command."""
    p = sub.add_parser("demo", help="run the whole gate end to end on the embedded default model and data")
    p.add_argument("--out", type=Path, default=Path("runs/demo"), help="output directory (default runs/demo)")
    p.add_argument("--policy", default=None, help="policy YAML (default policies/default.yaml)")
    p.add_argument("--hh-rlhf", default=None, help="HH-RLHF harmless pairs (test.jsonl.gz) to also score the "
                                                    "demo's reward model on")
    p.add_argument("--workers", type=int, default=2, help="processes that train the candidates and reward models "
                                                          "while the gates run (default 2; 0: all in this process)")
    add_output_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo; print its tables (with ``--output json``: the tables on stderr, ``summary.json``'s content on
    stdout)."""
    from aligngate.demo import run_demo

    result = run_demo(args.out, args.policy, hh_rlhf=args.hh_rlhf, workers=args.workers)
    if args.output == "json":
        print(result.text(), file=sys.stderr)
    emit(args, result.summary(), result.text)
    return result.exit_code
