"""History of gate runs: every run appends its metrics; control rules watch the series over time.

Storage is SQLite (stdlib ``sqlite3``; default ``runs/history.sqlite``, configurable). One row per gate run in
``runs`` and one row per (run, metric) in ``metrics``, written in a single transaction, so a crash never leaves
half a run. Metrics are the checks' values (``refusal.harmful_refusal_rate`` …) plus per-suite refusal rates.

Control rules (:func:`control_check`) decide whether the newest values of a metric have drifted from the
history: a two-sided tabular CUSUM on standardised values and Shewhart limits (mean ± k·σ of a reference window).
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aligngate.errors import InputError

if TYPE_CHECKING:
    from aligngate.verdict import Report

__all__ = ["ControlResult", "append_run", "control_check", "cusum", "metric_series", "runs"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, at TEXT NOT NULL, verdict TEXT NOT NULL,
  exit_code INTEGER NOT NULL, model TEXT, adapter TEXT, policy_sha256 TEXT, report TEXT);
CREATE TABLE IF NOT EXISTS metrics (
  run_id INTEGER NOT NULL REFERENCES runs(id), key TEXT NOT NULL, value REAL NOT NULL, n INTEGER,
  PRIMARY KEY (run_id, key));
CREATE INDEX IF NOT EXISTS runs_name ON runs(name, id);
"""


def _connect(db: str | Path) -> sqlite3.Connection:
    """Open (creating if needed) the store; a path that cannot hold one is an InputError naming it."""
    try:
        Path(db).parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(str(db), timeout=30)
    except (OSError, sqlite3.Error) as exc:
        raise InputError(f"history store {db}: cannot open it: {exc}") from None
    try:
        con.executescript(_SCHEMA)
    except sqlite3.Error as exc:
        con.close()
        raise InputError(f"history store {db}: cannot open it: {exc}") from None
    return con


def _metrics_of(report: Mapping[str, Any]) -> dict[str, tuple[float, int | None]]:
    out: dict[str, tuple[float, int | None]] = {}
    for c in report.get("checks", []):
        v = c.get("value")
        if isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v)):
            out[c["id"]] = (float(v), c.get("n"))
    cand = (report.get("summary") or {}).get("metrics", {}).get("candidate", {})
    for suite, m in cand.items():
        out[f"suite.{suite}.refusal_rate"] = (float(m["refusal_rate"]), m.get("n"))
    return out


def append_run(db: str | Path, name: str, report: Report | Mapping[str, Any], report_path: str | None = None) -> int:
    """Append one gate run (its verdict and every numeric metric); returns the run id. ``report``: a
    :class:`~aligngate.verdict.Report`, or its JSON form (a mapping, e.g. a hand-made history entry)."""
    if not isinstance(report, Mapping):
        report = report.model_dump(mode="json")
    cand = (report.get("subjects") or {}).get("candidate", {})
    con = _connect(db)
    try:
        return _insert_run(con, name, report, cand, report_path)
    except sqlite3.Error as exc:
        raise InputError(f"history store {db}: cannot record the run: {exc}") from None
    finally:
        con.close()


def _insert_run(con: sqlite3.Connection, name: str, report: Mapping[str, Any], cand: Mapping[str, Any],
                report_path: str | None) -> int:
    with con:
        cur = con.execute(
            "INSERT INTO runs(name, at, verdict, exit_code, model, adapter, policy_sha256, report) "
            "VALUES (?,?,?,?,?,?,?,?)",
            (name, report.get("finished_at") or "", report.get("verdict", "block"), int(report.get("exit_code", 2)),
             cand.get("model"), cand.get("adapter"), (report.get("policy") or {}).get("sha256"), report_path))
        run_id = int(cur.lastrowid or 0)
        con.executemany("INSERT INTO metrics(run_id, key, value, n) VALUES (?,?,?,?)",
                        [(run_id, k, v, n) for k, (v, n) in _metrics_of(report).items()])
    return run_id


def runs(db: str | Path, name: str | None = None) -> list[dict[str, Any]]:
    """Runs, oldest first (optionally of one name)."""
    con = _connect(db)
    con.row_factory = sqlite3.Row
    try:
        q = "SELECT * FROM runs" + (" WHERE name = ?" if name else "") + " ORDER BY id"
        return [dict(r) for r in con.execute(q, (name,) if name else ())]
    finally:
        con.close()


def metric_series(db: str | Path, name: str, key: str) -> list[float]:
    """Values of one metric over the runs of ``name``, oldest first."""
    con = _connect(db)
    try:
        rows = con.execute("SELECT m.value FROM metrics m JOIN runs r ON r.id = m.run_id "
                           "WHERE r.name = ? AND m.key = ? ORDER BY r.id", (name, key)).fetchall()
        return [float(r[0]) for r in rows]
    finally:
        con.close()


def cusum(values: list[float], mean: float, sd: float, *, k: float = 0.5, h: float = 4.0) -> dict[str, Any]:
    """Two-sided tabular CUSUM on standardised values; alarm when either sum exceeds ``h`` (in σ units)."""
    sd = max(sd, 1e-9)
    hi = lo = 0.0
    first: int | None = None
    path = []
    for i, x in enumerate(values):
        z = (x - mean) / sd
        hi, lo = max(0.0, hi + z - k), min(0.0, lo + z + k)
        path.append((hi, lo))
        if first is None and (hi > h or -lo > h):
            first = i
    return {"alarm": first is not None, "first_alarm_index": first, "s_hi": hi, "s_lo": lo, "path": path}


@dataclass
class ControlResult:
    """Outcome of the control rules on one metric."""

    key: str
    alarm: bool
    reason: str
    reference_mean: float
    reference_sd: float
    latest: float | None
    n_reference: int
    n_monitored: int


def control_check(values: list[float], key: str, *, reference: int = 5, k: float = 0.5, h: float = 4.0,
                  sigma_limit: float = 3.0, min_sd: float = 0.02) -> ControlResult:
    """CUSUM and Shewhart limits of ``values[reference:]`` against the first ``reference`` values.

    ``min_sd`` floors the reference spread (a perfectly stable history would otherwise alarm on noise).
    With fewer than ``reference + 1`` values there is nothing to monitor yet: no alarm.
    """
    import statistics

    ref, mon = values[:reference], values[reference:]
    if len(ref) < 2 or not mon:
        return ControlResult(key, False, "not enough history", float("nan"), float("nan"),
                             values[-1] if values else None, len(ref), len(mon))
    mean, sd = statistics.fmean(ref), max(statistics.pstdev(ref), min_sd)
    cs = cusum(mon, mean, sd, k=k, h=h)
    outside = [x for x in mon if abs(x - mean) > sigma_limit * sd]
    reasons = []
    if cs["alarm"]:
        reasons.append(f"CUSUM exceeded h={h} at monitored run {cs['first_alarm_index'] + 1}")
    if outside:
        reasons.append(f"{len(outside)} value(s) outside mean ± {sigma_limit}σ ({mean:.3f} ± {sigma_limit * sd:.3f})")
    return ControlResult(key, bool(reasons), "; ".join(reasons) or "in control", mean, sd, mon[-1], len(ref),
                         len(mon))


def to_json(result: ControlResult) -> str:
    """JSON form for artifacts."""
    return json.dumps(result.__dict__)
