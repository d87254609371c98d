"""The embedded end-to-end run: candidate A (curated data) passes, candidate B (poisoned data) is blocked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_demo_end_to_end(tmp_path: Path, embedded_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from aligngate.cli import main

    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--output", "json"]) == 0
    printed = capsys.readouterr()
    summary = json.loads(printed.out)  # --output json: JSON alone on stdout, the table on stderr
    assert summary["ok"] is True and summary["promoted"] == ["candidate-A"]
    assert {n: (c["verdict"], c["exit_code"]) for n, c in summary["candidates"].items()} == {
        "A": ("pass", 0), "B": ("block", 1)}
    assert summary["reward_test"]["report"] == f"{out / 'reward-test'}/report.json"
    table = printed.err
    assert "baseline" in table and "candidate A: PASS" in table and "candidate B: BLOCK" in table
    assert "pass (0 block" in table  # the adapter audit column, from the findings of the adapter.audit check
    a = json.loads((out / "gate" / "A" / "report.json").read_text())
    b = json.loads((out / "gate" / "B" / "report.json").read_text())
    assert (a["verdict"], a["exit_code"], b["verdict"], b["exit_code"]) == ("pass", 0, "block", 1)
    # B is blocked by a measured fall of its refusal rate, not by a flag
    b_checks = {c["id"]: c for c in b["checks"]}
    a_checks = {c["id"]: c for c in a["checks"]}
    assert b_checks["refusal.harmful_refusal_rate"]["status"] == "fail"
    assert b_checks["refusal.harmful_refusal_rate"]["value"] < a_checks["refusal.harmful_refusal_rate"]["value"]
    assert b_checks["drift.harmful_refusal_delta"]["details"]["p_value"] < 0.05
    for rep in (a, b):
        assert rep["policy"]["sha256"] and rep["subjects"]["candidate"]["sha256"]
        assert rep["summary"]["metrics"]["baseline"] and rep["summary"]["metrics"]["candidate"]
        # what judged it, so the verdict can be reproduced
        judge = rep["summary"]["judge_info"]
        assert judge["name"] == "minilm" and judge["encoder_layers"] == 4 and len(judge["head_sha256"]) == 64
        assert judge["encoder_precision"] in ("float32", "bfloat16") and 0 < judge["measured_error"] < 0.1
    for f in ("report.md", "report.html"):
        assert (out / "gate" / "A" / f).is_file() and (out / "gate" / "B" / f).is_file()
    # only the passing candidate is in the registry
    from aligngate.promotion import current

    assert set(current(out / "registry")) == {"candidate-A"}
    # curation: every input row is curated or quarantined
    cur = json.loads((out / "curate" / "sft-raw" / "report.json").read_text())
    assert cur["verdict"] == "block"
    models = cur["summary"]["models"]
    assert models["judge"]["name"] == "minilm" and models["harm_classifier"]["name"] == "minilm-harm"
    assert models["harm_classifier"]["encoder_layers"] == 4
    n_in = sum(1 for _ in (out / "data" / "sft.jsonl").open())
    n_out = sum(1 for _ in (out / "curate" / "sft-raw" / "curated.jsonl").open()) + sum(
        1 for _ in (out / "curate" / "sft-raw" / "quarantine.jsonl").open())
    assert n_in == n_out
