"""``aligngate checks``: list every check id a report can contain, what it needs, its registered default spec and
what it measures; under a check that reports ids in its details (``adapter.audit``), the catalogue of those ids."""

from __future__ import annotations

import argparse
from typing import Any

from aligngate.commands._common import add_output_flag, emit

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register the sub-command."""
    p = sub.add_parser("checks", help="list the registered checks (every checks[].id a report can contain)",
                       description="List every registered check: the ids policies name and reports contain, what "
                                   "each needs, its registered default (what decides in curate, audit-adapter and "
                                   "test-reward-model when the policy does not list it) and what it measures; "
                                   "indented under adapter.audit, the finding ids of its details.findings; under "
                                   "data.quarantine_fraction, the curation detectors.")
    p.add_argument("--no-catalogue", action="store_true", help="leave out the finding ids listed under checks")
    add_output_flag(p)
    p.set_defaults(func=run)


_CATALOGUE_TITLE = {"adapter.audit": "finding ids in adapter.audit details.findings",
                    "data.quarantine_fraction": "detectors (quarantine reasons in quarantine.jsonl _reasons)"}


def _first_line(text: str) -> str:
    return " ".join(text.split("\n\n")[0].split())


def run(args: argparse.Namespace) -> int:
    """Print every registered check with what it needs, its default and its description."""
    from aligngate.checks import registered

    defs = sorted(registered().values(), key=lambda d: d.id)
    show_cat = not getattr(args, "no_catalogue", False)
    payload = {"checks": [
        {"id": d.id, "needs": list(d.needs), "description": d.description, "params": d.params,
         "default": None if d.default is None else {"op": d.default.op, "value": d.default.value,
                                                    "severity": d.default.severity, "required": d.default.required},
         **({"catalogue": [{"id": k, "severity": sev, "meaning": what} for k, (sev, what) in d.catalogue().items()]}
            if d.catalogue is not None else {})}
        for d in defs]}

    def text() -> str:
        lines = [f"{'check':44s} {'needs':30s} {'default':24s} description"]
        for d in defs:
            default = d.default.describe() if d.default is not None else "- (policy sets it)"
            lines.append(f"{d.id:44s} {','.join(d.needs) or '-':30s} {default:24s} {_first_line(d.description)}")
            if d.catalogue is not None and show_cat:
                lines.append(f"    {_CATALOGUE_TITLE.get(d.id, 'ids reported by ' + d.id)}:")
                lines += [f"    {k:40s} {sev:8s} {what}" for k, (sev, what) in d.catalogue().items()]
        return "\n".join(lines)

    emit(args, payload, text)
    return 0
