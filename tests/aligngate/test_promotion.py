"""The registry: only passing reports are promoted; records are append-only; demotion folds in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aligngate.errors import InputError
from aligngate.promotion import current, demote, events, promote


def _report(d: Path, verdict: str, code: int) -> Path:
    d.mkdir(parents=True)
    (d / "report.json").write_text(json.dumps({"verdict": verdict, "exit_code": code, "subjects": {
        "candidate": {"model": "m", "adapter": "a"}}, "finished_at": "t"}))
    return d


def test_promote_pass_refuse_block_and_demote(tmp_path: Path) -> None:
    reg = tmp_path / "reg"
    rec = promote(reg, "cand-a", _report(tmp_path / "a", "pass", 0))
    assert rec["seq"] == 1 and Path(rec["report"]).is_file()
    with pytest.raises(InputError, match="only a passing candidate"):
        promote(reg, "cand-b", _report(tmp_path / "b", "block", 1))
    assert set(current(reg)) == {"cand-a"}
    demote(reg, "cand-a", "re-check failed")
    state = current(reg)
    assert state["cand-a"]["status"] == "demoted" and state["cand-a"]["demote_reason"] == "re-check failed"
    assert [e["event"] for e in events(reg)] == ["promote", "demote"]
    first = (reg / "records").glob("000001-*.json").__next__().read_text()
    promote(reg, "cand-a", tmp_path / "a")
    assert (reg / "records").glob("000001-*.json").__next__().read_text() == first  # never rewritten
    assert current(reg)["cand-a"]["status"] == "promoted"
