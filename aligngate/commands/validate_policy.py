"""``aligngate validate-policy FILE.yaml``: 0 valid, 2 invalid (file, line and key in the message).

Never 1 (that means "blocked by policy"): any failure while loading a file -- including an unexpected one such
as ``MemoryError`` or ``RecursionError`` -- is a :class:`~aligngate.errors.PolicyError` naming the file, exit 2.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from aligngate.commands._common import add_ci_flags, add_output_flag, check_ci_paths, emit, write_ci_files

if TYPE_CHECKING:
    from aligngate.errors import GateError


def add_parser(sub: Any) -> None:
    """Register the sub-command."""
    p = sub.add_parser("validate-policy", help="validate policy YAML files (exit 0 valid, 2 invalid)")
    p.add_argument("files", nargs="*", metavar="FILE.yaml")
    p.add_argument("--schema", action="store_true", help="print the policy JSON Schema and exit")
    add_ci_flags(p)
    add_output_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate each file; the first invalid one raises PolicyError (exit 2)."""
    from aligngate.errors import GateError, InputError, PolicyError
    from aligngate.policy import load_policy, policy_json_schema

    if args.schema:
        print(policy_json_schema(), end="")
        return 0
    if not args.files:
        raise InputError("validate-policy needs at least one FILE.yaml")
    check_ci_paths(args)
    done = []
    failed: list[tuple[GateError, str]] = []
    for f in args.files:
        try:
            lp = load_policy(f)
        except GateError as exc:
            failed.append((exc, f))
            continue
        except Exception as exc:  # noqa: BLE001 - fail closed: an invalid policy is exit 2, never 1
            failed.append((PolicyError(f"cannot validate policy (unexpected {type(exc).__name__})", file=f), f))
            continue
        done.append({"path": lp.path, "sha256": lp.sha256, "name": lp.policy.metadata.name,
                     "checks": [c.id for c in lp.policy.spec.checks]})
    if args.sarif or args.junit:
        _write_ci(args, done, failed)
    if failed:
        import sys

        for err, _f in failed[1:]:
            print(f"aligngate: error: {err}", file=sys.stderr)
        raise failed[0][0]
    emit(args, {"valid": True, "policies": done},
         lambda: "\n".join(f"ok: {d['path']} ({d['name']}, {len(d['checks'])} checks)" for d in done))
    return 0


def _write_ci(args: argparse.Namespace, done: list[dict[str, Any]], failed: list[tuple[GateError, str]]) -> None:
    """``--sarif``/``--junit`` for validate-policy: one case per file (``policy.valid``), each invalid file an error
    located at its file and line (SARIF rule ``policy.invalid``). A writer error is exit 2 (GateError)."""
    from aligngate.verdict import CheckResult, Report, now_iso, versions

    report = Report(command="validate-policy", started_at=now_iso(), versions=versions())
    for d in done:
        report.checks.append(CheckResult(id="policy.valid", status="pass", value=1.0, n=1,
                                         message=f"{d['path']}: valid ({d['name']}, {len(d['checks'])} checks)",
                                         details={"file": d["path"], "sha256": d["sha256"]}))
    for exc, f in failed:
        where = {"file": getattr(exc, "file", None) or f, "line": getattr(exc, "line", None),
                 "key": getattr(exc, "key", None)}
        report.checks.append(CheckResult(id="policy.valid", status="error", message=str(exc), details=where))
    report.finalize()
    write_ci_files(args, report)
