"""``aligngate validate-policy FILE.yaml``: 0 valid, 2 invalid (file, line and key in the message).

Never 1 (that means "blocked by policy"): any failure while loading a file -- including an unexpected one such
as ``MemoryError`` or ``RecursionError`` -- is a :class:`~aligngate.errors.PolicyError` naming the file, exit 2.
"""

from __future__ import annotations

import argparse
from typing import Any

from aligngate.commands._common import add_output_flag, emit


def add_parser(sub: Any) -> None:
    """Register the sub-command."""
    p = sub.add_parser("validate-policy", help="validate policy YAML files (exit 0 valid, 2 invalid)")
    p.add_argument("files", nargs="*", metavar="FILE.yaml")
    p.add_argument("--schema", action="store_true", help="print the policy JSON Schema and exit")
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
    done = []
    for f in args.files:
        try:
            lp = load_policy(f)
        except GateError:
            raise
        except Exception as exc:  # noqa: BLE001 - fail closed: an invalid policy is exit 2, never 1
            raise PolicyError(f"cannot validate policy (unexpected {type(exc).__name__})", file=f) from None
        done.append({"path": lp.path, "sha256": lp.sha256, "name": lp.policy.metadata.name,
                     "checks": [c.id for c in lp.policy.spec.checks]})
    emit(args, {"valid": True, "policies": done},
         lambda: "\n".join(f"ok: {d['path']} ({d['name']}, {len(d['checks'])} checks)" for d in done))
    return 0
