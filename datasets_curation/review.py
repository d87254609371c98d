"""Human review: ``review.csv`` sorted by risk, and the accept step that releases reviewed rows.

``review.csv`` columns: ``line, risk, reasons, prompt_excerpt, response_excerpt, decision, reviewer, note``.
A reviewer fills ``decision`` with ``release`` (move the row into ``curated.jsonl``) or ``quarantine`` / ``keep``
(or leaves it empty). :func:`accept_review` applies the decisions: released rows get a ``_review`` field
(decision, reviewer, note, time, original reasons and line), both files are rewritten atomically, every decision is
appended to ``decisions.jsonl``, and the counts still add up. Unknown decisions are an error (a typo must never
release or silently keep a row); an unparseable row cannot be released.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from aligngate.curation.config import POISON_DETECTORS
from aligngate.curation.spill import SpillDB
from aligngate.errors import InputError
from aligngate.fileio import atomic_open

__all__ = ["COLUMNS", "ReviewWriter", "accept_review", "risk_of"]

COLUMNS = ("line", "risk", "reasons", "prompt_excerpt", "response_excerpt", "decision", "reviewer", "note")
_WEIGHTS = {"harmful_compliance": 1.0, "flipped_preference": 1.0, "trigger_phrase": 1.0, "pii_secret": 0.9,
            "verbose_non_answer": 0.7, "near_duplicate": 0.3, "duplicate": 0.3, "length_outlier": 0.3}
_FIXED = {"unparseable": 0.2, "invalid_utf8": 0.2, "too_long": 0.2, "schema": 0.2, "gx": 0.2}
_DECISIONS = {"", "release", "quarantine", "keep"}


def risk_of(reasons: list[str], scores: dict[str, Any]) -> float:
    """Review priority in 0..1: poisoning detectors first (by score), then PII, then quality issues."""
    risk = 0.0
    for r in reasons:
        det = r.split(":", 1)[0]
        if det in _WEIGHTS:
            sc = scores.get(det, 1.0)
            risk = max(risk, _WEIGHTS[det] * float(sc if isinstance(sc, int | float) else 1.0))
        else:
            risk = max(risk, _FIXED.get(det, 0.1))
    return round(risk, 4)


class ReviewWriter:
    """Collects quarantined rows (excerpts only) on disk and writes them sorted by risk (SQLite sorts, so memory
    does not grow with the number of quarantined rows). ``db``: the run's
    :class:`~aligngate.curation.spill.SpillDB` (default: a private one, deleted after :meth:`write`)."""

    def __init__(self, db: SpillDB | None = None) -> None:
        self._own = db is None
        self.db = db if db is not None else SpillDB()
        self.db.table("review_rows", "risk REAL NOT NULL, line INTEGER NOT NULL, reasons TEXT NOT NULL, "
                                     "prompt TEXT NOT NULL, response TEXT NOT NULL")
        self._pending: list[tuple[float, int, str, str, str]] = []

    def add(self, line: int, reasons: list[str], scores: dict[str, Any], prompt: str, response: str) -> None:
        """One quarantined row."""
        self._pending.append((risk_of(reasons, scores), line, ";".join(reasons), prompt[:300], response[:300]))
        if len(self._pending) >= 2000:
            self._flush()

    def _flush(self) -> None:
        self.db.insert("INSERT INTO review_rows VALUES (?, ?, ?, ?, ?)", self._pending)
        self._pending = []

    def write(self, path: Path) -> None:
        """Write ``review.csv`` atomically, riskiest first (ties by input line)."""
        self._flush()
        with atomic_open(path) as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(COLUMNS)
            for risk, line, reasons, p, r in self.db.conn.execute(
                    "SELECT risk, line, reasons, prompt, response FROM review_rows ORDER BY risk DESC, line"):
                w.writerow([line, f"{risk:.4f}", reasons, p, r, "", "", ""])
        if self._own:
            self.db.close()


def _read_decisions(csv_path: Path) -> dict[int, dict[str, str]]:
    try:
        fh = open(csv_path, encoding="utf-8-sig", newline="")  # noqa: SIM115 - closed by the `with fh` below; an
        # open error is reported apart from a read error
    except OSError as exc:
        raise InputError(f"cannot read review file {csv_path}: {exc}") from exc
    out: dict[int, dict[str, str]] = {}
    with fh:
        reader = csv.DictReader(fh)
        missing = {"line", "decision"} - set(reader.fieldnames or [])
        if missing:
            raise InputError(f"{csv_path}: missing column(s) {', '.join(sorted(missing))}")
        for i, row in enumerate(reader, start=2):
            decision = (row.get("decision") or "").strip().lower()
            if decision not in _DECISIONS:
                raise InputError(f"{csv_path}:{i}: unknown decision {row.get('decision')!r} "
                                 f"(use release, quarantine or leave empty)")
            try:
                line = int(str(row.get("line", "")).strip())
            except ValueError as exc:
                raise InputError(f"{csv_path}:{i}: 'line' is not a number: {row.get('line')!r}") from exc
            if decision:
                out[line] = {"decision": decision, "reviewer": (row.get("reviewer") or "").strip(),
                             "note": (row.get("note") or "").strip()}
    return out


def accept_review(out_dir: str | Path, csv_path: str | Path) -> dict[str, int]:
    """Apply reviewed decisions in ``out_dir``; returns counts (``released``, ``released_poison``, ``kept``,
    ``refused``, and the new ``curated`` / ``quarantined`` totals)."""
    from aligngate.verdict import now_iso

    out = Path(out_dir)
    cur_path, qua_path = out / "curated.jsonl", out / "quarantine.jsonl"
    for p in (cur_path, qua_path):
        if not p.is_file():
            raise InputError(f"{p} not found: --accept needs the --out directory of an earlier curate run")
    decisions = _read_decisions(Path(csv_path))
    at = now_iso()
    stats = {"released": 0, "released_poison": 0, "kept": 0, "refused": 0, "curated": 0, "quarantined": 0}
    log: list[dict[str, Any]] = []
    # curated.jsonl is renamed into place first: a crash in between duplicates a row, never loses one.
    with atomic_open(qua_path) as qua, atomic_open(cur_path) as cur:
        with open(cur_path, encoding="utf-8") as old:
            for line in old:
                cur.write(line)
                if '"_canary": ' not in line:  # planted canaries (curate --canaries) are no input line
                    stats["curated"] += 1
        with open(qua_path, encoding="utf-8") as old:
            for text in old:
                row = json.loads(text)
                d = decisions.get(int(row.get("_line", -1)))
                if d is None:
                    qua.write(text)
                    stats["quarantined"] += 1
                    continue
                entry = {"line": row.get("_line"), "reasons": row.get("_reasons", []), "at": at, **d}
                if d["decision"] == "release" and "_raw" not in row:
                    released = {k: v for k, v in row.items() if k not in ("_line", "_reasons", "_scores")}
                    released["_review"] = entry
                    cur.write(json.dumps(released, ensure_ascii=False) + "\n")
                    stats["released"] += 1
                    if {r.split(":", 1)[0] for r in entry["reasons"]} & set(POISON_DETECTORS):
                        stats["released_poison"] += 1
                    stats["curated"] += 1
                else:
                    if d["decision"] == "release":
                        entry["outcome"] = "refused: an unparseable row cannot be released"
                        stats["refused"] += 1
                    else:
                        stats["kept"] += 1
                    row["_review"] = entry
                    qua.write(json.dumps(row, ensure_ascii=False) + "\n")
                    stats["quarantined"] += 1
                log.append(entry)
    with open(out / "decisions.jsonl", "a", encoding="utf-8") as fh:
        for entry in log:
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
    return stats
