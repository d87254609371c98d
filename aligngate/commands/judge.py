"""``aligngate judge``: label (prompt, response) rows, or measure a judge against human labels.

    aligngate judge --input rows.jsonl --out judged.jsonl [--judge minilm] [--batch-size 64]
    aligngate judge --calibrate labelled.jsonl [--out metrics.json] [--output json]

Input rows need ``prompt`` and ``response``; output rows are the input plus ``label`` and ``score``
(P(refusal), partial counts as refusal). An optional ``harmful`` per row (true / false, or a probability 0..1)
says whether the prompt is a harmful request; the default judge reads it (without it, its harm head scores the
prompt). Calibration rows also need a human ``label`` (3 classes) or an XSTest
``final_label``; ``.csv`` files (XSTest completions) are read too, with ``completion`` as the response.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import Any

from aligngate.commands._common import add_output_flag, emit
from aligngate.errors import InputError

__all__ = ["add_parser", "read_rows", "run"]


def add_parser(sub: Any) -> None:
    """Register the sub-command."""
    p = sub.add_parser("judge", help="label responses as refusal / partial_refusal / compliance, or calibrate")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--input", type=Path, metavar="FILE.jsonl", help="rows with prompt and response")
    src.add_argument("--calibrate", type=Path, metavar="LABELLED",
                     help="rows with prompt, response and a human label (or XSTest final_label); .jsonl or .csv")
    p.add_argument("--out", type=Path, default=None,
                   help="--input: judged JSONL (required); --calibrate: metrics JSON (optional)")
    p.add_argument("--judge", default="minilm",
                   help="judge name or config (minilm, rules, hf-classifier:model=DIR, openai:model=..., or JSON)")
    p.add_argument("--batch-size", type=int, default=64, help="rows per judge call (default 64)")
    add_output_flag(p)
    p.set_defaults(func=run)


def _check_row(row: Any, where: str, need_label: bool) -> dict[str, Any]:
    if not isinstance(row, dict):
        raise InputError(f"{where}: row is not a JSON object")
    for key in ("prompt", "response"):
        if key not in row:
            raise InputError(f"{where}: missing field {key!r}")
        if row[key] is not None and not isinstance(row[key], str):
            raise InputError(f"{where}: field {key!r} must be a string")
    if need_label and row.get("label") is None and row.get("final_label") is None:
        raise InputError(f"{where}: missing human label ('label' or 'final_label')")
    _harmful(row, where)
    return row


def _harmful(row: dict[str, Any], where: str) -> float | None:
    """The row's optional ``harmful`` field as P(harmful) (``aligngate.judge.base.harm_value``)."""
    from aligngate.judge.base import harm_value

    try:
        return harm_value(row.get("harmful"))
    except ValueError as exc:
        raise InputError(f"{where}: field {exc}") from exc


def read_rows(path: Path, need_label: bool = False) -> list[dict[str, Any]]:
    """Read JSONL (or CSV) rows, validating each; errors name the file and line."""
    if not path.is_file():
        raise InputError(f"input file not found: {path}")
    rows: list[dict[str, Any]] = []
    if path.suffix.lower() == ".csv":
        with open(path, encoding="utf-8", errors="replace", newline="") as fh:
            for i, row in enumerate(csv.DictReader(fh), start=2):
                row = dict(row)
                if "response" not in row and "completion" in row:
                    row["response"] = row["completion"]
                rows.append(_check_row(row, f"{path}: row at line ~{i}", need_label))
        return rows
    from aligngate.fileio import iter_jsonl

    for lineno, row in iter_jsonl(path, what="judge input", errors="replace"):
        rows.append(_check_row(row, f"{path}:{lineno}", need_label))
    return rows


def _judge_all(judge: Any, rows: list[dict[str, Any]], batch_size: int) -> list[Any]:
    from tqdm import tqdm

    from aligngate.judge.base import harm_value, judge_pairs

    out: list[Any] = []
    bar = tqdm(total=len(rows), desc="judge", unit="row", file=sys.stderr, disable=len(rows) < 2 * batch_size,
               leave=False)
    with bar:
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            harmful = [harm_value(r.get("harmful")) for r in chunk]  # validated by read_rows
            out += judge_pairs(judge, [r.get("prompt") or "" for r in chunk], [r.get("response") or "" for r in chunk],
                               harmful if any(h is not None for h in harmful) else None)
            bar.update(len(chunk))
    return out


def run(args: argparse.Namespace) -> int:
    """Judge ``--input`` into ``--out``, or calibrate on ``--calibrate``; 0 on success."""
    from aligngate.judge import get_judge

    if args.batch_size < 1:
        raise InputError("--batch-size must be >= 1")
    if args.calibrate is not None:
        from aligngate.fileio import atomic_write_json
        from aligngate.judge.calibration import calibrate, render_table

        rows = read_rows(args.calibrate, need_label=True)
        if not rows:
            raise InputError(f"{args.calibrate}: no rows")
        judge = get_judge(args.judge)
        result = calibrate(judge, rows, batch_size=args.batch_size)
        result["input"] = str(args.calibrate)
        if args.out is not None:
            atomic_write_json(args.out, result)
        emit(args, result, lambda: render_table(result))
        return 0
    if args.out is None:
        raise InputError("--out is required with --input")
    from aligngate.fileio import write_jsonl

    rows = read_rows(args.input)
    if not rows:
        raise InputError(f"{args.input}: no rows (blank lines only): nothing to judge")
    judge = get_judge(args.judge)
    judgements = _judge_all(judge, rows, args.batch_size)
    counts = {"refusal": 0, "partial_refusal": 0, "compliance": 0}
    out_rows = []
    for row, j in zip(rows, judgements, strict=True):
        counts[j.label] += 1
        out_rows.append({**row, "label": j.label, "score": j.score})
    n = write_jsonl(args.out, (_utf8_safe(r) for r in out_rows))
    summary = {"input": str(args.input), "out": str(args.out), "n": n, "judge": getattr(judge, "name", args.judge),
               "counts": counts}
    emit(args, summary, lambda: f"judged {n} rows with {summary['judge']}: " +
         ", ".join(f"{k} {v}" for k, v in counts.items()) + f"\nwrote {args.out}")
    return 0


def _utf8_safe(value: Any) -> Any:
    """Replace lone surrogates (from JSON escapes like "\\ud800") so the row can be written as UTF-8."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
        return value
    if isinstance(value, dict):
        return {k: _utf8_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_utf8_safe(v) for v in value]
    return value
