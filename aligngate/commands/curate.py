"""``aligngate curate``: tuning-data curation (validation, poisoning detectors, quarantine, human review).

    aligngate curate --kind sft|dpo --input FILE.jsonl [--policy P] --out DIR [--output text|json]
    aligngate curate --accept REVIEWED.csv --out DIR

Writes ``DIR/curated.jsonl``, ``DIR/quarantine.jsonl``, ``DIR/review.csv`` and ``DIR/report.json``. Exit 0 pass,
1 when the poison fraction passes ``spec.curation.poison_fraction_max``, 2 on errors (missing input, invalid
policy, an empty dataset, broken lineage); report.json is written in every case. The work is done by
:func:`aligngate.curation.pipeline.curate_file`; this module only parses arguments.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from aligngate.commands._common import add_output_flag, guarded_report, resolve_policy
from aligngate.errors import InputError

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    """Register ``curate``."""
    p = subparsers.add_parser(
        "curate", help="validate and de-poison SFT / DPO tuning data",
        description="Validate tuning data (Great Expectations), detect poisoning (harmful compliance, flipped "
                    "preferences, trigger phrases, duplicates, PII), quarantine bad rows. Exit 0 pass, "
                    "1 poison fraction above the policy limit, 2 error.")
    p.add_argument("--kind", choices=("sft", "dpo"), help="row format: sft (messages or prompt/completion) or dpo")
    p.add_argument("--input", help="JSONL (.jsonl, .jsonl.gz), Parquet, a save_to_disk directory or a hub id")
    p.add_argument("--policy", help="policy YAML (default: policies/default.yaml); uses spec.curation")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--accept", metavar="REVIEWED.csv",
                   help="apply a reviewed review.csv to the curate output in --out (rows marked 'release' move "
                        "to curated.jsonl)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")
    add_output_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``curate`` (or its ``--accept`` step); returns the exit code."""
    if getattr(args, "accept", None):
        # read the curate report before the guard replaces it with its in-progress marker
        path = Path(args.out) / "report.json"
        try:
            old: dict[str, Any] | Exception = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            old = InputError(f"cannot read {path} (run curate first): {exc}")
        return guarded_report(args, "curate", args.out, lambda report: _accept(args, report, old))
    return guarded_report(args, "curate", args.out, lambda report: _curate(args, report))


def _curate(args: argparse.Namespace, report: Any) -> None:
    from aligngate.curation.pipeline import curate_file
    from aligngate.curation.report import fill_report

    loaded = resolve_policy(args.policy)
    report.policy = {"path": loaded.path, "sha256": loaded.sha256}
    if not args.kind or not args.input:
        raise InputError("curate needs --kind and --input (or --accept REVIEWED.csv)")
    config = loaded.policy.spec.curation
    result = curate_file(args.input, args.kind, args.out, config, progress=not args.no_progress)
    fill_report(report, result, config)


def _accept(args: argparse.Namespace, report: Any, old: dict[str, Any] | Exception) -> None:
    from aligngate.verdict import CheckResult
    from aligngate.curation.report import poison_check
    from aligngate.curation.review import accept_review

    path = Path(args.out) / "report.json"
    if isinstance(old, Exception):
        raise old
    if not isinstance(old, dict) or old.get("status") == "running":
        raise InputError(f"{path} is not a finished curate report (run curate first)")
    report.policy, report.subjects = old.get("policy", {}), old.get("subjects", {})
    report.summary.update(old.get("summary", {}))
    counts = dict(report.summary.get("counts") or {})
    if not counts.get("input"):
        raise InputError(f"{path} has no counts: not a completed curate run")
    stats = accept_review(args.out, args.accept)
    if stats["curated"] + stats["quarantined"] != counts["input"]:
        raise InputError(f"lineage broken after review: {counts['input']} input != {stats['curated']} curated + "
                         f"{stats['quarantined']} quarantined")
    counts.update(curated=stats["curated"], quarantined=stats["quarantined"],
                  poison=max(0, int(counts.get("poison", 0)) - stats["released_poison"]))
    report.summary["counts"] = counts
    report.summary["poison_fraction"] = round(counts["poison"] / counts["input"], 6)
    report.summary.setdefault("reviews", []).append({"file": str(args.accept), **stats})
    for c in old.get("checks", []):
        check = CheckResult.model_validate(c)
        if check.id == "data.poison_fraction":
            limit = check.threshold.value if check.threshold else 0.0
            check = poison_check(counts["poison"], counts["input"], limit)
        elif check.id == "data.lineage":
            check = check.model_copy(update={"value": float(stats["curated"] + stats["quarantined"]),
                                             "message": f"{counts['input']} input = {stats['curated']} curated + "
                                                        f"{stats['quarantined']} quarantined (after review)"})
        report.checks.append(check)
