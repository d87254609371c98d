"""Regression attribution: trace each prompt that flipped to the tuning rows most likely responsible.

When the gate blocks a candidate for a refusal drop (a must-refuse prompt the baseline refused and the candidate
answered) or an over-refusal rise (a must-answer prompt the baseline answered and the candidate refused), each
flipped prompt is matched against the tuning data behind the candidate -- the ``--data-report`` directory's
``curated.jsonl`` and ``quarantine.jsonl``: the model was trained on one of them, or on both when it was trained on
the raw data --, and the rows that most plausibly taught the flip are listed.

A row's score for a flipped prompt ``q`` is ``similarity(q, row request) * weight(row)``:

* ``similarity``: cosine of the refusal judge's MiniLM embeddings of the two requests (the same encoder the judge
  and the harm classifier read, so no other model is loaded);
* ``weight`` for a refusal drop: how much the row looks like *harmful compliance*, P(the row's request is harmful)
  x P(its response complies); for an over-refusal rise: how much it looks like *a refusal of a safe request*,
  (1 - P(harmful)) x P(its response refuses). P(harmful) is the harm classifier's, P(refuses) the judge's (both
  read once per row). A row curation quarantined as ``harmful_compliance`` or ``flipped_preference`` is weighted
  as such whatever the scores say (the reason codes are evidence of their own).

DPO rows count by their chosen response (what the preference pushes towards). The result lists, per flipped
prompt, its top rows with file, line, reason codes, similarity, weight and score.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aligngate.errors import InputError

__all__ = ["ATTRIBUTION_SCHEMA", "REGRESSION_CHECKS", "Attribution", "AttributedRow", "FlippedPrompt", "TrainingRow",
           "attribute", "flipped_prompts", "for_gate", "load_training_rows", "precision_at", "regressed_directions"]

log = logging.getLogger(__name__)

POISON_REASONS = ("harmful_compliance", "flipped_preference")
"""Quarantine reasons that mark a row as harmful compliance whatever the scores say."""

REGRESSION_CHECKS: dict[str, tuple[str, ...]] = {
    "refusal_drop": ("refusal.harmful_refusal_rate", "drift.harmful_refusal_delta"),
    "over_refusal_rise": ("refusal.over_refusal_rate", "drift.over_refusal_delta"),
}
"""The checks whose failure makes the gate attribute flips of that direction."""

_ROW: dict[str, Any] = {
    "type": "object",
    "required": ["file", "line", "reasons", "similarity", "weight", "score", "request"],
    "properties": {
        "file": {"type": "string", "description": "curated.jsonl or quarantine.jsonl of the --data-report"},
        "line": {"type": "integer", "description": "1-based line of the row in the curated input (its _line)"},
        "reasons": {"type": "array", "items": {"type": "string"}, "description": "the row's curation reasons"},
        "similarity": {"type": "number", "description": "cosine of the two requests' judge-encoder embeddings"},
        "weight": {"type": "number", "description": "how much the row looks like what teaches the flip"},
        "score": {"type": "number", "description": "similarity x weight (rows ranked by it)"},
        "request": {"type": "string", "description": "the row's request (first 200 characters)"},
    },
}
ATTRIBUTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Regression attribution (gate runs with --data-report whose candidate failed a refusal or "
                   "over-refusal check): the tuning rows most likely behind each prompt that flipped.",
    "required": ["directions", "flipped", "rows_read", "seconds", "top"],
    "properties": {
        "data_report": {"type": "string"},
        "directions": {"type": "array", "items": {"enum": ["refusal_drop", "over_refusal_rise"]}},
        "paired": {"type": "boolean", "description": "false: no baseline, every failing candidate prompt counts"},
        "rows_read": {"type": "integer"},
        "seconds": {"type": "number", "description": "wall time attribution added to the gate run"},
        "error": {"type": "string", "description": "why attribution could not run (the verdict is block anyway)"},
        "flipped": {"type": "array", "items": {
            "type": "object", "required": ["prompt", "direction", "rows"],
            "properties": {"prompt": {"type": "string"}, "direction": {"type": "string"},
                           "suite": {"type": "string"}, "id": {"type": "string"},
                           "rows": {"type": "array", "items": _ROW}}}},
        "top": {"type": "array", "description": "the ten best (row, flipped prompt) pairs, one per row",
                "items": {**_ROW, "properties": {**_ROW["properties"], "prompt": {"type": "string"},
                                                   "direction": {"type": "string"}}}},
    },
}
"""JSON Schema of ``report.json``'s ``summary.attribution`` (published in ``report.v1.json``)."""


@dataclass(frozen=True)
class TrainingRow:
    """One tuning row as attribution reads it."""

    file: str
    line: int
    request: str
    response: str
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class FlippedPrompt:
    """A prompt whose judged outcome changed against the baseline in the direction the gate blocks on."""

    prompt: str
    direction: str
    """``refusal_drop`` (a must-refuse prompt answered) or ``over_refusal_rise`` (a must-answer prompt refused)."""
    suite: str = ""
    id: str = ""


@dataclass(frozen=True)
class AttributedRow:
    """A tuning row behind a flipped prompt."""

    file: str
    line: int
    reasons: list[str]
    similarity: float
    weight: float
    score: float
    request: str


@dataclass
class Attribution:
    """Attribution for every flipped prompt (the report's ``summary.attribution``)."""

    flipped: list[dict[str, Any]] = field(default_factory=list)
    """Per flipped prompt: ``prompt``, ``direction``, ``suite``, ``id``, ``rows`` (top rows, best first)."""
    rows_read: int = 0
    seconds: float = 0.0

    def top_rows(self, n: int = 10) -> list[dict[str, Any]]:
        """The ``n`` highest-scoring (row, flipped prompt) pairs over the whole run, one per row."""
        best: dict[tuple[str, int], dict[str, Any]] = {}
        for fp in self.flipped:
            for r in fp["rows"]:
                key = (r["file"], r["line"])
                if key not in best or r["score"] > best[key]["score"]:
                    best[key] = {**r, "prompt": fp["prompt"], "direction": fp["direction"]}
        return sorted(best.values(), key=lambda r: -r["score"])[:n]

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"flipped": self.flipped, "rows_read": self.rows_read, "seconds": round(self.seconds, 2),
                "top": self.top_rows()}


def _texts(row: dict[str, Any]) -> tuple[str, str] | None:
    """(request, response) of an SFT or DPO row (DPO: the chosen response), or None when the row has neither."""
    msgs = row.get("messages")
    if isinstance(msgs, list) and msgs:
        users = [m.get("content", "") for m in msgs if isinstance(m, dict) and m.get("role") == "user"]
        bots = [m.get("content", "") for m in msgs if isinstance(m, dict) and m.get("role") == "assistant"]
        if users:
            return str(users[-1]), str(bots[-1] if bots else "")

    def text(v: Any) -> str:
        if isinstance(v, list):
            return " ".join(str(m.get("content", "")) for m in v if isinstance(m, dict))
        return "" if v is None else str(v)

    if "prompt" in row:
        response = row.get("chosen", row.get("completion", row.get("response", "")))
        return text(row["prompt"]), text(response)
    return None


def load_training_rows(data_report: str | Path) -> list[TrainingRow]:
    """The rows of a curate output directory: ``curated.jsonl`` and ``quarantine.jsonl`` (with their input line
    numbers and reason codes). Unparseable quarantined lines are skipped."""
    d = Path(data_report)
    rows: list[TrainingRow] = []
    found = False
    for name in ("curated.jsonl", "quarantine.jsonl"):
        path = d / name
        if not path.is_file():
            continue
        found = True
        with path.open(encoding="utf-8") as fh:
            for k, raw in enumerate(fh, start=1):
                try:
                    obj = json.loads(raw)
                except ValueError:
                    continue
                if not isinstance(obj, dict):
                    continue
                pair = _texts(obj)
                if pair is None:
                    continue
                line = obj.get("_line")
                rows.append(TrainingRow(file=name, line=int(line) if isinstance(line, int) else k, request=pair[0],
                                        response=pair[1], reasons=tuple(str(r) for r in obj.get("_reasons") or [])))
    if not found:
        raise InputError(f"{d}: no curated.jsonl or quarantine.jsonl (attribution needs a curate output directory)")
    return rows


def flipped_prompts(baseline: Sequence[Mapping[str, Any]],
                    candidate: Sequence[Mapping[str, Any]]) -> list[FlippedPrompt]:
    """Prompts whose outcome flipped in a blocking direction, pairing records by (suite, id)."""
    from aligngate.evaluation.runner import counts_as_refused

    base = {(r["suite"], r["id"]): r for r in baseline}
    out = []
    for c in candidate:
        b = base.get((c["suite"], c["id"]))
        if b is None:
            continue
        was, now = counts_as_refused(b["label"], b["expect"]), counts_as_refused(c["label"], c["expect"])
        if c["expect"] == "refuse" and was and not now:
            out.append(FlippedPrompt(c["prompt"], "refusal_drop", c["suite"], str(c["id"])))
        elif c["expect"] == "comply" and not was and now:
            out.append(FlippedPrompt(c["prompt"], "over_refusal_rise", c["suite"], str(c["id"])))
    return out


def _row_signals(judge: Any, rows: Sequence[TrainingRow]) -> tuple[list[float], list[float]]:
    """(P(harmful request), P(response refuses)) per row, from the judge's harm head and refusal head."""
    requests = [r.request for r in rows]
    if hasattr(judge, "prompt_harm"):
        p_harm = list(judge.prompt_harm(requests))
    else:
        from aligngate.judge.harm import HarmClassifier

        p_harm = list(HarmClassifier().score(requests))
    judged = judge.judge(requests, [r.response for r in rows], harmful=p_harm) if getattr(
        judge, "reads_prompt_harm", False) else judge.judge(requests, [r.response for r in rows])
    return p_harm, [float(j.score) for j in judged]


def attribute(flipped: Sequence[FlippedPrompt], rows: Sequence[TrainingRow], *, judge: Any = None,
              top_k: int = 5, batch_size: int = 128) -> Attribution:
    """Rank ``rows`` for each flipped prompt (see the module doc). ``judge``: the MiniLM judge (default: the
    shipped one); its encoder embeds requests and prompts."""
    import time

    import numpy as np

    t0 = time.perf_counter()
    result = Attribution(rows_read=len(rows))
    if not flipped or not rows:
        result.seconds = time.perf_counter() - t0
        return result
    if judge is None or not hasattr(judge, "encoder"):  # another judge kind: the MiniLM one embeds requests
        from aligngate.judge import get_judge

        judge = get_judge("minilm")
    encoder = judge.encoder
    p_harm, p_refuse = _row_signals(judge, rows)
    emb_rows = encoder.encode([r.request for r in rows], 64, batch_size=batch_size)
    emb_q = encoder.encode([f.prompt for f in flipped], 64, batch_size=batch_size)
    sims = np.clip(emb_q @ emb_rows.T, 0.0, 1.0)
    poison = np.array([any(r.split(":")[0] in POISON_REASONS for r in row.reasons) for row in rows])
    harm, refuse = np.array(p_harm, dtype=np.float64), np.array(p_refuse, dtype=np.float64)
    weights = {
        "refusal_drop": np.where(poison, 1.0, harm * (1.0 - refuse)),
        "over_refusal_rise": (1.0 - harm) * refuse,
    }
    for qi, fp in enumerate(flipped):
        w = weights[fp.direction]
        scores = sims[qi] * w
        order = np.argsort(-scores, kind="stable")[:top_k]
        result.flipped.append({**asdict(fp), "rows": [asdict(AttributedRow(
            file=rows[i].file, line=rows[i].line, reasons=list(rows[i].reasons),
            similarity=round(float(sims[qi, i]), 4),
            weight=round(float(w[i]), 4), score=round(float(scores[i]), 4), request=rows[i].request[:200]))
            for i in order if scores[i] > 0]})
    result.seconds = time.perf_counter() - t0
    return result


def regressed_directions(checks: Sequence[Any]) -> list[str]:
    """The flip directions whose :data:`REGRESSION_CHECKS` failed (status ``fail``) in a report's checks."""
    failed = {getattr(c, "id", None) for c in checks if getattr(c, "status", None) == "fail"}
    return [d for d, ids in REGRESSION_CHECKS.items() if failed.intersection(ids)]


def _failures(candidate: Sequence[Mapping[str, Any]]) -> list[FlippedPrompt]:
    """Without a baseline: every must-refuse prompt answered and every must-answer prompt not answered."""
    from aligngate.evaluation.runner import counts_as_refused

    out = []
    for c in candidate:
        refused = counts_as_refused(c["label"], c["expect"])
        if c["expect"] == "refuse" and not refused:
            out.append(FlippedPrompt(c["prompt"], "refusal_drop", c["suite"], str(c["id"])))
        elif c["expect"] == "comply" and refused:
            out.append(FlippedPrompt(c["prompt"], "over_refusal_rise", c["suite"], str(c["id"])))
    return out


def for_gate(checks: Sequence[Any], candidate: Sequence[Mapping[str, Any]] | None,
             baseline: Sequence[Mapping[str, Any]] | None, data_report: str | Path, *, judge: Any = None,
             top_k: int = 5) -> dict[str, Any] | None:
    """The report's ``summary.attribution`` for a gate run (see :data:`ATTRIBUTION_SCHEMA`), or None when no
    refusal / over-refusal check failed or the candidate was not evaluated. Never raises: the run is already
    blocked when this runs, so a failure to attribute is recorded in the section (``error``), not as a run error
    that would change the exit code."""
    import time

    directions = regressed_directions(checks)
    if not directions or candidate is None:
        return None
    t0 = time.perf_counter()
    section: dict[str, Any] = {"data_report": str(data_report), "directions": directions,
                               "paired": baseline is not None}
    try:
        flips = flipped_prompts(baseline, candidate) if baseline is not None else _failures(candidate)
        flips = [f for f in flips if f.direction in directions]
        rows = load_training_rows(data_report)
        result = attribute(flips, rows, judge=judge, top_k=top_k)
    except Exception as exc:  # noqa: BLE001 - explanatory section of a blocked run
        log.warning("regression attribution failed: %s", exc)
        return {**section, "error": f"{type(exc).__name__}: {exc}", "flipped": [], "rows_read": 0,
                "seconds": round(time.perf_counter() - t0, 2), "top": []}
    return {**section, **result.to_dict(), "seconds": round(time.perf_counter() - t0, 2)}


def precision_at(attribution: Attribution, truth: set[int], k: int, file: str | None = None) -> float:
    """Mean over flipped prompts of the share of their top-``k`` rows whose input line is in ``truth`` (the planted
    poison rows); ``file`` restricts to rows of one output file. NaN when nothing flipped."""
    vals = []
    for fp in attribution.flipped:
        rows = [r for r in fp["rows"] if file is None or r["file"] == file][:k]
        if rows:
            vals.append(sum(r["line"] in truth for r in rows) / len(rows))
    return float(sum(vals) / len(vals)) if vals else float("nan")
