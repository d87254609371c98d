"""``aligngate checks``: list the registered checks a policy may name."""

from __future__ import annotations

import argparse
from typing import Any

from aligngate.commands._common import add_output_flag, emit


def add_parser(sub: Any) -> None:
    """Register the sub-command."""
    p = sub.add_parser("checks", help="list the registered checks policies may name")
    add_output_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print every registered check with what it needs."""
    from aligngate.checks import registered

    defs = sorted(registered().values(), key=lambda d: d.id)
    payload = {"checks": [{"id": d.id, "needs": list(d.needs), "description": d.description, "params": d.params}
                          for d in defs]}
    emit(args, payload, lambda: "\n".join(f"{d.id:42s} needs {','.join(d.needs) or '-':28s} "
                                          f"{d.description.splitlines()[0] if d.description else ''}"
                                          for d in defs))
    return 0
