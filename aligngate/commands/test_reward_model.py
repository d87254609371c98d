"""``aligngate test-reward-model --reward-model MODEL [--policy P] --out DIR [--pairs FILE] [--hh-rlhf PATH]``.

Scores adversarial preference pairs (safety, verbosity, style, sycophancy; plus the user's own pairs), the
length bias on equal-quality answers and invariance under meaning-preserving edits, then applies the
policy's ``reward.*`` checks (the registered defaults for those it does not list; ``aligngate checks``).
Writes ``DIR/report.json`` and ``DIR/pairs.jsonl`` (per-pair scores). Exit 0 pass, 1 blocked by a check,
2 error. The work is done by :func:`aligngate.stages.reward.test_reward_model`.
"""

from __future__ import annotations

import argparse
from typing import Any

from aligngate.commands._common import add_ci_flags, add_output_flag, check_ci_paths, render_report

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``test-reward-model``."""
    p = sub.add_parser("test-reward-model", help="adversarial tests of a reward model (exit 0/1/2 by policy)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reward-model", required=True,
                   help="reward model: HF sequence-classification dir, LoRA reward adapter dir, or hub id")
    p.add_argument("--policy", help="policy YAML (default: the packaged default policy)")
    p.add_argument("--out", required=True, help="output directory for report.json and pairs.jsonl")
    p.add_argument("--pairs", help="JSONL of your own preference pairs (prompt/chosen/rejected[/category])")
    p.add_argument("--hh-rlhf", help="HH-RLHF style JSONL(.gz) of chosen/rejected dialogues")
    p.add_argument("--device", help="scoring device (default: the GPU when there is one)")
    add_ci_flags(p)
    add_output_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the reward test and decide by policy (a broken policy is recorded in report.json too)."""
    from aligngate.stages.reward import test_reward_model

    check_ci_paths(args)
    report = test_reward_model(args.reward_model, out=args.out, policy=args.policy, pairs=args.pairs,
                               hh_rlhf=args.hh_rlhf, device=args.device)
    return render_report(args, report, args.out)
