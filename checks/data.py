"""Gate check ``data.poison_fraction``: the tuning data's share of rows quarantined as poison.

Reads the ``report.json`` that ``aligngate curate`` wrote in ``--data-report DIR``. Value: the poison fraction
(rows quarantined by harmful_compliance, flipped_preference or trigger_phrase over input rows), ``n``: input rows.
A curate report that ended in an error, or that has no counts, is an error here too (fail closed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aligngate.checks import check

__all__: list[str] = []


def _read(ctx: Any) -> tuple[dict[str, Any], str]:
    from aligngate.errors import InputError

    directory = getattr(ctx, "data_report_dir", None)
    if directory is None:
        raise InputError("data.poison_fraction needs --data-report DIR (a curate output directory)")
    path = Path(directory) / "report.json"
    if hasattr(ctx, "data_report") and callable(ctx.data_report):
        return ctx.data_report(), str(path)
    try:
        return json.loads(path.read_text(encoding="utf-8")), str(path)
    except FileNotFoundError:
        raise InputError(f"data report not found: {path}") from None
    except ValueError as exc:
        raise InputError(f"data report {path} is not valid JSON: {exc}") from None


@check("data.poison_fraction", needs=("data_report",))
def poison_fraction(ctx: Any, spec: Any) -> Any:
    """Share of the tuning data quarantined as poison by ``aligngate curate``."""
    from aligngate.errors import InputError
    from aligngate.verdict import Measurement

    rep, path = _read(ctx)
    if rep.get("command") not in (None, "curate"):
        raise InputError(f"{path} is a '{rep.get('command')}' report, not a curate report")
    if rep.get("errors") or rep.get("exit_code") == 2:
        raise InputError(f"the curate run behind {path} ended in an error: {'; '.join(rep.get('errors') or [])}")
    summary = rep.get("summary") or {}
    counts = summary.get("counts") or {}
    n = counts.get("input")
    if not n or "poison" not in counts:
        raise InputError(f"{path} has no row counts (not a completed curate run)")
    if counts.get("curated", 0) + counts.get("quarantined", 0) != n:
        raise InputError(f"{path}: lineage broken ({n} input != curated + quarantined)")
    frac = counts["poison"] / n
    triggers = [t.get("ngram") for t in summary.get("triggers") or []]
    return Measurement(
        value=round(frac, 6), n=int(n),
        message=f"{counts['poison']} of {n} rows quarantined as poison"
                + (f"; trigger phrases: {', '.join(map(repr, triggers))}" if triggers else ""),
        details={"report": path, "counts": counts, "triggers": summary.get("triggers") or [],
                 "sha256": ((rep.get("subjects") or {}).get("data") or {}).get("sha256", {})})
