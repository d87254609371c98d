"""``aligngate curate``: tuning-data curation (validation, poisoning detectors, quarantine, human review).

    aligngate curate --kind sft|dpo --input FILE.jsonl [--policy P] --out DIR [--output text|json]
    aligngate curate --accept REVIEWED.csv --out DIR

Writes ``DIR/curated.jsonl``, ``DIR/quarantine.jsonl``, ``DIR/review.csv`` and ``DIR/report.json``. Exit 0 pass,
1 when a blocking ``data.*`` check fails (e.g. ``data.poison_fraction`` above the policy's limit), 2 on errors
(missing input, invalid policy, an empty dataset, broken lineage); report.json is written in every case. The work
is done by :func:`aligngate.stages.curate.curate` / :func:`~aligngate.stages.curate.accept_review`; this module
only parses arguments and renders.
"""

from __future__ import annotations

import argparse
from typing import Any

from aligngate.commands._common import add_ci_flags, add_output_flag, check_ci_paths, render_report

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    """Register ``curate``."""
    p = subparsers.add_parser(
        "curate", help="validate and de-poison SFT / DPO tuning data",
        description="Validate tuning data (Great Expectations), detect poisoning (harmful compliance, flipped "
                    "preferences, trigger phrases, duplicates, PII), quarantine bad rows, decide by the policy's "
                    "data.* checks (aligngate checks). Exit 0 pass, 1 a blocking check failed (e.g. the poison "
                    "fraction above the policy limit), 2 error.")
    p.add_argument("--kind", choices=("sft", "dpo"), help="row format: sft (messages or prompt/completion) or dpo")
    p.add_argument("--input", help="JSONL (.jsonl, .jsonl.gz), Parquet, a save_to_disk directory or a hub id")
    p.add_argument("--policy", help="policy YAML (default: the packaged default policy); uses spec.curation and "
                                    "its data.* checks")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--accept", metavar="REVIEWED.csv",
                   help="apply a reviewed review.csv to the curate output in --out (rows marked 'release' move "
                        "to curated.jsonl)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")
    p.add_argument("--canaries", type=int, default=0, metavar="N",
                   help="plant N random canaries (realistic templates) as extra rows of curated.jsonl, recorded with "
                        "N never-planted reference canaries in canaries.json, for the leakage.* checks")
    p.add_argument("--canary-seed", type=int, default=None, metavar="SEED",
                   help="seed of the canaries (default: random; recorded in canaries.json)")
    p.add_argument("--runner", choices=("thread", "dask", "ray"), default=None,
                   help="shard the rows' learned scoring (harm classifier, judge) in whole chunks over this Prefect "
                        "task runner: thread, dask (a local cluster of --workers processes) or ray (local Ray); the "
                        "outputs equal an unsharded run's")
    p.add_argument("--workers", type=int, default=2, help="workers and shards for --runner (default 2)")
    p.add_argument("--runner-address", default=None,
                   help="with --runner: an existing Dask scheduler (tcp://HOST:8786) or Ray cluster (ray://HOST:10001)")
    add_ci_flags(p)
    add_output_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``curate`` (or its ``--accept`` step); returns the exit code."""
    from aligngate.stages.curate import accept_review, curate

    check_ci_paths(args)
    if getattr(args, "accept", None):
        report = accept_review(args.out, args.accept)
    else:
        models = None
        if getattr(args, "runner", None) is not None:  # the scoring sharded over a task runner (aligngate.flows)
            from aligngate.flows._scale import with_runner
            from aligngate.flows.curate import score_flow

            models = with_runner(score_flow, args.runner, workers=args.workers, address=args.runner_address)(
                args.input or "", args.kind or "", args.policy, shards=args.workers)
        report = curate(args.input or "", args.kind or "", args.out, policy=args.policy,
                        progress=not args.no_progress, canaries=args.canaries, canary_seed=args.canary_seed,
                        models=models)
    return render_report(args, report, args.out)
