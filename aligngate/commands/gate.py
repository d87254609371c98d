"""``aligngate gate``: run every check the policy enables; write report.json/.md/.html; exit 0/1/2."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from aligngate.commands._common import add_output_flag, render_report


def add_parser(sub: Any) -> None:
    """Register the sub-command."""
    p = sub.add_parser("gate", help="decide whether a candidate may be promoted (exit 0 pass, 1 block, 2 error)")
    p.add_argument("--policy", default=None, help="policy YAML (default policies/default.yaml)")
    p.add_argument("--candidate", required=True, help="candidate model dir or hub id (the base if --adapter)")
    p.add_argument("--adapter", default=None, help="candidate LoRA adapter directory")
    p.add_argument("--baseline", default=None, help="baseline model dir or hub id")
    p.add_argument("--reward-model", default=None, help="reward model to test adversarially")
    p.add_argument("--data-report", default=None, help="directory of the tuning data's curate report")
    p.add_argument("--out", required=True, type=Path, help="output directory for report.json/.md/.html")
    p.add_argument("--registry", default=None, type=Path, help="promote into this registry when the gate passes")
    p.add_argument("--name", default=None, help="name to promote under (default: the adapter's or model's name)")
    p.add_argument("--history", default=None, type=Path, help="append this run's metrics to a SQLite history store")
    p.add_argument("--device", default=None, help="cpu / cuda (default: cuda when available)")
    add_output_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Gate (the stage writes the reports and promotes a pass); print the report; return its exit code."""
    import sys

    from aligngate.stages.gate import gate

    result = gate(args.candidate, out=args.out, policy=args.policy, adapter=args.adapter, baseline=args.baseline,
                  reward_model=args.reward_model, data_report=args.data_report, registry=args.registry,
                  name=args.name, history=args.history, device=args.device)
    if result.promoted is not None:
        print(f"promoted {result.promoted['name']} into {args.registry} (record {result.promoted['seq']})",
              file=sys.stderr)
    return render_report(args, result.report, args.out)
