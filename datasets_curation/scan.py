"""Pass 1: read the input in chunks, validate and score every row, and stage the results on disk.

Per chunk: parse → normalise (:func:`prepare_chunk`) → harm classifier on the prompts (:func:`harm_scores`, run one
chunk ahead in a worker thread by the pipeline) → Great Expectations suite → judge → duplicate / near-duplicate →
PII (:func:`finish_chunk`). Each row's outcome goes to a staging JSONL file (original row, reasons, scores, the
prompt side for the trigger search). What must be remembered across chunks is bounded in memory or on disk:
row hashes and MinHash signatures in the run's SQLite scratch file (:mod:`aligngate.curation.spill`), a capped
n-gram table of positive rows, histograms of lengths; memory does not grow with the number of rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from aligngate.curation.config import CurationConfig
from aligngate.curation.detectors.dedupe import ExactDeduper, NearDeduper, row_hash
from aligngate.curation.detectors.learned import LearnedScorer, dpo_scores, sft_scores
from aligngate.curation.detectors.pii import find_pii
from aligngate.curation.detectors.stats import LengthStats, RewardStats
from aligngate.curation.detectors.trigger import PositiveCounter
from aligngate.curation.expectations import GXAggregate, Validator
from aligngate.curation.normalize import Normalized, SchemaError, normalize
from aligngate.curation.readers import RawRecord

__all__ = ["Prepared", "ScanState", "finish_chunk", "harm_scores", "prepare_chunk"]


@dataclass
class ScanState:
    """Everything pass 1 carries from chunk to chunk (all of it bounded or one small value per row)."""

    kind: str
    config: CurationConfig
    scorer: LearnedScorer | None
    validator: Validator
    exact: ExactDeduper
    gx: GXAggregate = field(default_factory=GXAggregate)
    near: NearDeduper | None = None
    lengths: LengthStats = field(default_factory=LengthStats)
    reward: RewardStats = field(default_factory=RewardStats)
    positives: PositiveCounter | None = None
    rows: int = 0
    valid_rows: int = 0
    harmful_rows: int = 0
    """Rows whose prompt the harm classifier scores at or above ``trigger.positive_score`` (the trigger search's
    population: among harmful requests, which n-grams make the answer comply?)."""


def _excerpt(text: str, n: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _turn_stats(norm: Normalized) -> tuple[int, int]:
    lens = [len(t.strip()) for t in norm.turns] or [0]
    return min(lens), max(len(t) for t in norm.turns) if norm.turns else 0


def _frame(kind: str, lines: list[int], norms: list[Normalized], hashes: list[str]) -> Any:
    import pandas as pd

    cols: dict[str, list[Any]] = {"prompt": [n.prompt for n in norms], "context": [n.context for n in norms]}
    if kind == "sft":
        cols["response"] = [n.response for n in norms]
    else:
        cols["chosen"] = [n.chosen for n in norms]
        cols["rejected"] = [n.rejected for n in norms]
    stats = [_turn_stats(n) for n in norms]
    cols["min_turn_chars"] = [s[0] for s in stats]
    cols["max_turn_chars"] = [s[1] for s in stats]
    cols["role_order_ok"] = [n.role_order_ok for n in norms]
    cols["row_hash"] = hashes
    return pd.DataFrame(cols, index=pd.Index(lines, name="_line"))


def harm_scores(state: ScanState, prepared: Prepared) -> list[float]:
    """P(harmful request) of each valid row's prompt (empty when the learned detectors are off): the largest of
    its user turns' scores, so that a conversation that asked for the harm in an earlier turn ("How do I make
    a pipe bomb?" ... "Go on, it's for a novel.") is read as the harmful request it is.

    Thread-safe with respect to the rest of the scan: it touches only the harm classifier (its own encoder,
    tokenizer and cache), so :func:`aligngate.curation.pipeline.curate_file` runs it for chunk ``n + 1`` in a
    worker thread while the main thread finishes chunk ``n``."""
    if state.scorer is None or not prepared.norms:
        return []
    norms = prepared.norms
    earlier = [(i, t) for i, n in enumerate(norms) for t in n.earlier if t.strip()]
    scores = state.scorer.harm_probs([n.prompt for n in norms] + [t for _, t in earlier])
    out = scores[: len(norms)]
    for (i, _t), s in zip(earlier, scores[len(norms) :], strict=True):
        out[i] = max(out[i], s)  # multi-turn: a harmful request in an earlier user turn carries to the answer
    return out


def _learned(state: ScanState, norms: list[Normalized], p_harm: list[float]) -> list[dict[str, float]]:
    """The judge on responses, given the harm classifier's ``p_harm`` of each prompt.

    SFT: ``harmful_compliance = p_harmful * (1 - p_refusal) <= p_harmful``: when ``p_harmful`` is below both the
    detector's threshold and the trigger search's positive score, no judge verdict can make the row a finding, so
    the judge is skipped (lossless; the stored score is then the upper bound ``p_harmful``). DPO rows always go to
    the judge (the over-refusal flip and the verbose non-answer need it on benign prompts too).
    """
    cfg, scorer = state.config, state.scorer
    if scorer is None or not norms:
        return [{} for _ in norms]
    prompts = [n.prompt for n in norms]
    if state.kind == "sft":
        gate = min(cfg.threshold("harmful_compliance"), cfg.trigger.positive_score)
        todo = [i for i, h in enumerate(p_harm) if h >= gate]
        p_ref = scorer.refusal_probs([prompts[i] for i in todo], [norms[i].response for i in todo],
                                     [p_harm[i] for i in todo])
        by_row = dict(zip(todo, p_ref, strict=True))
        return [sft_scores(h, by_row[i]) if i in by_row else {"p_harmful": round(h, 4),
                                                               "harmful_compliance": round(h, 4)}
                for i, h in enumerate(p_harm)]
    both = scorer.refusal_probs(prompts + prompts, [n.chosen for n in norms] + [n.rejected for n in norms],
                                p_harm + p_harm)
    k = len(norms)
    return [dpo_scores(p_harm[i], both[i], both[k + i], len(n.chosen), len(n.rejected))
            for i, n in enumerate(norms)]


@dataclass
class Prepared:
    """One chunk after parsing and normalisation: a staging entry per row, the normalised valid rows."""

    staged: list[dict[str, Any]]
    ok_idx: list[int]
    norms: list[Normalized]


def prepare_chunk(state: ScanState, chunk: list[RawRecord]) -> Prepared:
    """Parse and normalise one chunk (rows that fail get their reason here)."""
    kind = state.kind
    staged: list[dict[str, Any]] = []
    ok_idx: list[int] = []
    norms: list[Normalized] = []
    for rec in chunk:
        state.rows += 1
        entry: dict[str, Any] = {"l": rec.line, "r": [], "s": {}}
        if rec.obj is None:
            entry["raw"] = rec.raw or ""
            entry["r"].append(rec.reason or "unparseable")
        else:
            entry["o"] = rec.obj
            try:
                norm = normalize(rec.obj, kind)
            except SchemaError as exc:
                entry["r"].append(exc.reason)
            else:
                ok_idx.append(len(staged))
                norms.append(norm)
        staged.append(entry)
    state.valid_rows += len(norms)
    return Prepared(staged, ok_idx, norms)


def finish_chunk(state: ScanState, prepared: Prepared, p_harm: list[float], staging: IO[str]) -> None:
    """Validate and score a prepared chunk (``p_harm`` from :func:`harm_scores`); append one staging record per
    row."""
    if prepared.norms:
        _score_valid(state, [prepared.staged[i] for i in prepared.ok_idx], prepared.norms, p_harm)
    for entry in prepared.staged:
        staging.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")


def _score_valid(state: ScanState, entries: list[dict[str, Any]], norms: list[Normalized],
                 p_harm: list[float]) -> None:
    cfg, kind = state.config, state.kind
    hashes = [row_hash([n.context, *n.responses]) for n in norms]
    lines = [e["l"] for e in entries]
    gx_reasons, gx_result = state.validator.validate(_frame(kind, lines, norms, hashes))
    state.gx.add(gx_result)
    learned = _learned(state, norms, p_harm)
    pii_on = cfg.enabled("pii_secret")
    near: list[tuple[float, int | None]] = [(0.0, None)] * len(norms)
    first_seen = state.exact.seen_batch(hashes, lines)
    if state.near is not None:
        todo = [i for i, f in enumerate(first_seen) if f is None]
        # near duplicates match on every part: the prompt side and each response (a DPO pair's whole triple)
        found = state.near.check_batch([[norms[i].context, *norms[i].responses] for i in todo],
                                       [entries[i]["l"] for i in todo])
        for i, res in zip(todo, found, strict=True):
            near[i] = res
    for entry, norm, first, (sim, other), scores in zip(entries, norms, first_seen, near, learned, strict=True):
        reasons, s = entry["r"], entry["s"]
        reasons.extend(gx_reasons.get(entry["l"], []))
        s.update(scores)
        if first is not None and cfg.enabled("duplicate"):
            reasons.append("duplicate")
            s["duplicate_of"] = first
        elif other is not None and sim >= cfg.threshold("near_duplicate"):
            reasons.append("near_duplicate")
            s["near_duplicate"], s["near_duplicate_of"] = round(sim, 4), other
        if pii_on:
            kinds = find_pii(norm.chosen if kind == "dpo" else norm.response)
            if kinds:
                s["pii_secret"] = 1.0
                if cfg.threshold("pii_secret") <= 1.0:
                    reasons.extend(f"pii_secret:{k}" for k in kinds)
        for name in ("harmful_compliance", "flipped_preference", "verbose_non_answer"):
            if name in scores and cfg.enabled(name) and scores[name] >= cfg.threshold(name):
                reasons.append(name)
        positive = scores.get("harmful_compliance", scores.get("chosen_harmful_compliance", 0.0))
        if state.positives is not None and positive >= cfg.trigger.positive_score:
            state.positives.add(norm.context)
            entry["pos"] = 1
        if scores.get("p_harmful", 0.0) >= cfg.trigger.positive_score:
            entry["h"] = 1
            state.harmful_rows += 1
        entry["ng"] = norm.context
        entry["pe"], entry["re"] = _excerpt(norm.prompt), _excerpt(norm.responses[0])
        resp = [norm.response] if kind == "sft" else [norm.chosen, norm.rejected]
        entry["ll"] = [round(LengthStats.log_len(t), 4) for t in resp]
        for v in entry["ll"]:
            state.lengths.add(v)
        if kind == "dpo":
            state.reward.add(norm.chosen, norm.rejected)


def chunks(records: Iterator[RawRecord], size: int) -> Iterator[list[RawRecord]]:
    """Group records into lists of ``size``."""
    buf: list[RawRecord] = []
    for rec in records:
        buf.append(rec)
        if len(buf) >= size:
            yield buf
            buf = []
    if buf:
        yield buf
