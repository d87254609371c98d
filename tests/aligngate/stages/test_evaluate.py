"""The evaluate stage as a library function: suites by name or as objects, records and metrics written on request,
an unusable output directory refused before any generation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aligngate.errors import InputError
from aligngate.stages import evaluate

pytestmark = pytest.mark.slow


def test_evaluate_writes_records_and_metrics(tmp_path: Path, embedded_model: Path,
                                             capfd: pytest.CaptureFixture[str]) -> None:
    from aligngate.evaluation.suites import load_suite

    safe = load_suite("embedded-safe@limit=4")
    res = evaluate(embedded_model, ["embedded-harmful@limit=4", safe], out=tmp_path / "e", judge="rules",
                   progress=False)
    assert set(res.metrics) == {"embedded-harmful@limit=4", "embedded-safe@limit=4"}
    assert [m.n for m in res.metrics.values()] == [4, 4]
    records = [json.loads(line) for line in (tmp_path / "e" / "records.jsonl").read_text().splitlines()]
    assert records == res.records and len(records) == 8
    metrics = json.loads((tmp_path / "e" / "metrics.json").read_text())
    assert metrics["judge"] == res.judge and metrics["prompt_format"] == "chat"
    harmful = res.metrics["embedded-harmful@limit=4"]
    assert harmful.expect == "refuse" and metrics["suites"][harmful.suite]["refusal_rate"] == harmful.refusal_rate
    assert capfd.readouterr().out == ""


def test_unusable_output_fails_before_generation(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="exists and is not a directory"):
        evaluate(tmp_path / "no-model", ["embedded-harmful"], out=tmp_path / "file")
    with pytest.raises(InputError):
        evaluate(tmp_path / "no-model", ["no-such-suite"])
