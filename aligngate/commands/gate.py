"""``aligngate gate``: run every check the policy enables; write report.json/.md/.html; exit 0/1/2."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from aligngate.commands._common import (
    add_ci_flags,
    add_output_flag,
    check_ci_paths,
    render_report,
    write_ci_files,
    write_ci_outputs,
)


def add_parser(sub: Any) -> None:
    """Register the sub-command."""
    p = sub.add_parser("gate", help="decide whether a candidate may be promoted (exit 0 pass, 1 block, 2 error)")
    p.add_argument("--policy", default=None, help="policy YAML (default policies/default.yaml)")
    p.add_argument("--candidate", required=True,
                   help="candidate model dir, hub id or served model openai:base_url=URL,model=NAME[,api_key_env=VAR]"
                        " (the base if --adapter; with a served model add serves_adapter=true: the adapter's files "
                        "are audited, the endpoint serves it)")
    p.add_argument("--adapter", default=None, help="candidate LoRA adapter directory")
    p.add_argument("--baseline", default=None, help="baseline model dir, hub id or served model (openai:...)")
    p.add_argument("--reward-model", default=None, help="reward model to test adversarially")
    p.add_argument("--data-report", default=None, help="directory of the tuning data's curate report")
    p.add_argument("--out", required=True, type=Path, help="output directory for report.json/.md/.html")
    p.add_argument("--registry", default=None,
                   help="promote into this registry when the gate passes: a local directory, or "
                        "mlflow:TRACKING_URI[#alias=NAME] (a model version; the alias, champion by default, moves "
                        "only on pass)")
    p.add_argument("--name", default=None, help="name to promote under (default: the adapter's or model's name)")
    p.add_argument("--history", default=None, type=Path, help="append this run's metrics to a SQLite history store")
    p.add_argument("--device", default=None, help="cpu / cuda (default: cuda when available)")
    p.add_argument("--push-to-hub", default=None, metavar="REPO",
                   help="after a pass, push the adapter to this Hub repo with the report as its model card section")
    p.add_argument("--dry-run", action="store_true",
                   help="with --push-to-hub: print the files, sizes and sha256 that would be uploaded; upload nothing")
    p.add_argument("--runner", choices=("thread", "dask", "ray"), default=None,
                   help="run the gate as the Prefect flow, its evaluations sharded over this task runner: thread, "
                        "dask (a local cluster of --workers processes) or ray (local Ray); default: in this process")
    p.add_argument("--workers", type=int, default=2, help="workers and shards for --runner (default 2)")
    p.add_argument("--runner-address", default=None,
                   help="with --runner: an existing Dask scheduler (tcp://HOST:8786) or Ray cluster (ray://HOST:10001)")
    add_ci_flags(p)
    add_output_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Gate (the stage writes the reports and promotes a pass); print the report; return its exit code."""
    import sys

    from aligngate.stages.gate import gate

    check_ci_paths(args)
    if args.runner is not None:
        return _run_flow(args)
    written: list[int] = []

    def emit_ci(report: Any) -> None:  # before promotion: a writer error (GateError) is an error, nothing promoted
        write_ci_files(args, report)
        written.append(report.exit_code)

    result = gate(args.candidate, out=args.out, policy=args.policy, adapter=args.adapter, baseline=args.baseline,
                  reward_model=args.reward_model, data_report=args.data_report, registry=args.registry,
                  name=args.name, history=args.history, device=args.device, emit=emit_ci,
                  push_to_hub=args.push_to_hub, hub_dry_run=args.dry_run)
    if result.promoted is not None:
        print(f"promoted {result.promoted['name']} into {args.registry} (record {result.promoted['seq']})",
              file=sys.stderr)
    if result.registered is not None:
        print(f"registered {result.registered['name']} version {result.registered['version']} in {args.registry} "
              "(blocked: no alias)", file=sys.stderr)
    if result.hub is not None:
        _print_hub(result.hub)
    if written != [result.report.exit_code]:  # re-decided after the files were written, or never written
        write_ci_outputs(args, result.report, args.out)
    return render_report(args, result.report, args.out, ci=False)


def _run_flow(args: argparse.Namespace) -> int:
    """``--runner``: the gate flow with its evaluations sharded over that task runner (aligngate.flows.gate)."""
    from aligngate.errors import InputError
    from aligngate.flows.gate import run_gate_flow

    if args.push_to_hub:
        raise InputError("--push-to-hub is not available with --runner: gate in process to push a pass")
    report = run_gate_flow(args.candidate, str(args.out), runner=args.runner, workers=args.workers,
                           runner_address=args.runner_address, policy=args.policy, adapter=args.adapter,
                           baseline=args.baseline, reward_model=args.reward_model, data_report=args.data_report,
                           registry=args.registry, name=args.name,
                           history=None if args.history is None else str(args.history), device=args.device)
    return render_report(args, report, args.out)


def _print_hub(hub: dict[str, Any]) -> None:
    import sys

    head = "would upload" if hub["dry_run"] else f"uploaded (commit {hub['commit']})"
    total = sum(f["size"] for f in hub["files"])
    print(f"push to the Hub repo {hub['repo']}: {head} {len(hub['files'])} files, {total} bytes", file=sys.stderr)
    for f in hub["files"]:
        print(f"  {f['path_in_repo']:40s} {f['size']:>12d}  sha256 {f['sha256']}", file=sys.stderr)
