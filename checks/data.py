"""Data checks: the tuning data's curation, decided by ``aligngate curate`` and by the gate alike.

Each reads :meth:`~aligngate.checks.types.CheckContext.data`, a :class:`~aligngate.checks.types.DataSummary`:
``curate`` builds it from the curation it just ran, the gate from the curate ``report.json`` in ``--data-report
DIR`` (a report of another command, of a failed run, or without counts is an error there: fail closed). The
``data.reward_hacking.*`` checks need preference (DPO) data.
"""

from __future__ import annotations

from typing import Any

from aligngate.checks import Default, check
from aligngate.checks.types import CheckContext, DataSummary
from aligngate.errors import InputError
from aligngate.policy import CheckSpec
from aligngate.verdict import Measurement

__all__: list[str] = []


def _detectors() -> dict[str, tuple[str, str]]:
    from aligngate.curation.config import DETECTORS

    return {name: ("poison" if d.poison else "quality", f"{d.description} ({'/'.join(d.kinds)})")
            for name, d in DETECTORS.items()}


def _lineage_ok(d: DataSummary) -> bool:
    return d.curated + d.quarantined == d.input_rows


@check("data.poison_fraction", needs=("data",), default=Default("<=", 0.05, "block"))
def poison_fraction(ctx: CheckContext, spec: CheckSpec) -> Measurement:
    """Share of the tuning data quarantined as poison (by harmful_compliance, flipped_preference or trigger_phrase)
    over input rows."""
    from aligngate.curation.config import POISON_DETECTORS

    d = ctx.data()
    if not _lineage_ok(d):
        raise InputError(f"{d.source}: lineage broken ({d.input_rows} input != {d.curated} curated + "
                         f"{d.quarantined} quarantined)")
    triggers = [t.get("ngram") for t in d.triggers]
    return Measurement(
        value=round(d.poison_rows / d.input_rows, 6), n=d.input_rows,
        message=f"{d.poison_rows} of {d.input_rows} rows quarantined as poison ({', '.join(POISON_DETECTORS)})"
                + (f"; trigger phrases: {', '.join(map(repr, triggers))}" if triggers else ""),
        details={"source": d.source, "counts": d.counts, "poison_rows": d.poison_rows, "triggers": d.triggers,
                 "sha256": d.sha256})


@check("data.lineage", needs=("data",), default=Default("==", 0, "block"))
def lineage(ctx: CheckContext, spec: CheckSpec) -> Measurement:
    """Input rows not accounted for: every input row must end in exactly one of curated.jsonl and
    quarantine.jsonl (value: input - curated - quarantined)."""
    d = ctx.data()
    return Measurement(value=float(d.input_rows - d.curated - d.quarantined), n=d.input_rows,
                       message=f"{d.input_rows} input = {d.curated} curated + {d.quarantined} quarantined")


@check("data.quarantine_fraction", needs=("data",), default=Default(severity="warn"), catalogue=_detectors)
def quarantine_fraction(ctx: CheckContext, spec: CheckSpec) -> Measurement:
    """Share of input rows quarantined for any reason (informational unless a policy sets a threshold)."""
    d = ctx.data()
    return Measurement(value=round(d.quarantined / d.input_rows, 6), n=d.input_rows, passed=True,
                       message=f"{d.quarantined} rows quarantined (all reasons)")


@check("data.gx_validation", needs=("data",), default=Default(severity="warn"))
def gx_validation(ctx: CheckContext, spec: CheckSpec) -> Measurement:
    """Great Expectations validation of every chunk (value: percent of expectations met; passes when all are)."""
    d = ctx.data()
    stats = d.gx.get("statistics") or {}
    pct = stats.get("success_percent")
    return Measurement(value=None if pct is None else float(pct), n=d.input_rows,
                       passed=bool(d.gx.get("success", True)),
                       message=f"{stats.get('successful_expectations', 0)} of {stats.get('evaluated_expectations', 0)} "
                               "expectations met on every chunk")


@check("data.trigger_phrases", needs=("data",), default=Default("<=", 0, "warn"))
def trigger_phrases(ctx: CheckContext, spec: CheckSpec) -> Measurement:
    """Number of backdoor trigger n-grams found in prompts (statistically tied to harmful compliance)."""
    d = ctx.data()
    found = [t.get("ngram") for t in d.triggers]
    return Measurement(value=float(len(found)), n=d.input_rows,
                       message=("trigger n-grams found: " + ", ".join(repr(t) for t in found)) if found
                       else "no trigger n-gram found", details={"triggers": d.triggers})


def _rh(ctx: CheckContext) -> tuple[dict[str, Any], int]:
    rh = ctx.data().reward_hacking or {}
    return rh, int(rh.get("pairs") or 0)


@check("data.reward_hacking.chosen_longer_fraction", needs=("data", "preference_data"),
       default=Default("<=", 0.75, "warn"))
def chosen_longer_fraction(ctx: CheckContext, spec: CheckSpec) -> Measurement:
    """Fraction of DPO pairs whose chosen response is the longer one (a length-hacking preference signal)."""
    rh, pairs = _rh(ctx)
    value = rh.get("chosen_longer_fraction")
    return Measurement(value=None if value is None else float(value), n=pairs,
                       message=f"fraction of {pairs} pairs whose chosen response is longer")


@check("data.reward_hacking.length_spearman", needs=("data", "preference_data"), default=Default("<=", 0.3, "warn"))
def length_spearman(ctx: CheckContext, spec: CheckSpec) -> Measurement:
    """Spearman correlation of preference (chosen = 1) with response length over DPO pairs (0 when every length
    is equal: no correlation)."""
    rh, pairs = _rh(ctx)
    value = rh.get("length_spearman")
    if value is None:
        return Measurement(value=0.0, n=pairs, message=f"response lengths of the {pairs} pairs do not vary: "
                                                      "no correlation with length")
    return Measurement(value=float(value), n=pairs,
                       message=f"Spearman correlation of preference with response length over {pairs} pairs")


@check("data.reward_hacking.mean_length_ratio", needs=("data", "preference_data"), default=Default(severity="warn"))
def mean_length_ratio(ctx: CheckContext, spec: CheckSpec) -> Measurement:
    """Mean length ratio chosen / rejected over DPO pairs (informational unless a policy sets a threshold)."""
    rh, pairs = _rh(ctx)
    value = rh.get("mean_length_ratio")
    return Measurement(value=None if value is None else float(value), n=pairs, passed=True,
                       message=f"mean length ratio chosen / rejected over {pairs} pairs")
