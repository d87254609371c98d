"""The local registry of promoted versions: a directory of append-only, atomically written records.

Layout::

    REGISTRY/
      records/000001-promote-<name>.json     one file per event, created with O_EXCL (never overwritten)
      reports/000001/report.json|md|html    the report that justified the event

Only a report with ``verdict: pass`` can be promoted; a blocked candidate never appears. A re-check that
fails appends a ``demote`` record; :func:`current` folds the events into the live state.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from aligngate.errors import InputError
from aligngate.fileio import sha256_file

__all__ = ["current", "demote", "events", "promote"]


def _next_seq(root: Path) -> int:
    recs = root / "records"
    nums = [int(p.name.split("-", 1)[0]) for p in recs.glob("*.json") if p.name.split("-", 1)[0].isdigit()]
    return max(nums, default=0) + 1


def _append(root: Path, kind: str, name: str, record: dict[str, Any], report_dir: Path | None) -> dict[str, Any]:
    (root / "records").mkdir(parents=True, exist_ok=True)
    for _ in range(100):  # retry on a concurrent writer taking the same number
        seq = _next_seq(root)
        path = root / "records" / f"{seq:06d}-{kind}-{name}.json"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        record = {"seq": seq, "event": kind, "name": name, **record}
        if report_dir is not None:
            dest = root / "reports" / f"{seq:06d}"
            dest.mkdir(parents=True, exist_ok=True)
            for f in ("report.json", "report.md", "report.html"):
                if (report_dir / f).exists():
                    shutil.copyfile(report_dir / f, dest / f)
            record["report"] = str(dest / "report.json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(record, indent=2) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        return record
    raise InputError(f"registry {root}: could not allocate a record number")


def promote(registry: str | Path, name: str, report_dir: str | Path) -> dict[str, Any]:
    """Record ``name`` as promoted on the strength of ``report_dir/report.json`` (which must be a pass)."""
    rdir = Path(report_dir)
    rpath = rdir / "report.json"
    try:
        report = json.loads(rpath.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read report {rpath}: {exc}") from None
    if report.get("verdict") != "pass" or report.get("exit_code") != 0:
        raise InputError(f"{rpath}: verdict is {report.get('verdict')!r}; only a passing candidate is promoted")
    return _append(Path(registry), "promote", name, {
        "at": report.get("finished_at"), "subjects": report.get("subjects", {}),
        "policy": report.get("policy", {}), "report_sha256": sha256_file(rpath)}, rdir)


def demote(registry: str | Path, name: str, reason: str, report_dir: str | Path | None = None) -> dict[str, Any]:
    """Append a demotion of ``name`` (e.g. a scheduled re-check failed)."""
    from aligngate.verdict import now_iso

    return _append(Path(registry), "demote", name, {"at": now_iso(), "reason": reason},
                   Path(report_dir) if report_dir else None)


def events(registry: str | Path) -> list[dict[str, Any]]:
    """All records, oldest first."""
    recs = Path(registry) / "records"
    if not recs.is_dir():
        return []
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(recs.glob("*.json"))]


def current(registry: str | Path) -> dict[str, dict[str, Any]]:
    """Live state by name: the latest promotion, marked ``demoted`` if a later demotion exists."""
    state: dict[str, dict[str, Any]] = {}
    for ev in events(registry):
        if ev["event"] == "promote":
            state[ev["name"]] = {**ev, "status": "promoted"}
        elif ev["event"] == "demote" and ev["name"] in state:
            state[ev["name"]] = {**state[ev["name"]], "status": "demoted", "demoted_at": ev["at"],
                                 "demote_reason": ev["reason"]}
    return state
