"""The promote stage: promote a gate result or a report directory, only on a pass; demote a live version."""

from __future__ import annotations

from pathlib import Path

import pytest

from aligngate.errors import InputError
from aligngate.stages import demote, gate, promote
from aligngate.verdict import CheckResult, Report, write_report


def _written(d: Path, status: str) -> Path:
    d.mkdir()
    write_report(Report(checks=[CheckResult(id="refusal.harmful_refusal_rate", status=status, value=0.9, n=10)])
                 .finalize(), d)
    return d


def test_promote_and_demote(tmp_path: Path) -> None:
    from aligngate.promotion import current

    reg = tmp_path / "reg"
    rec = promote(reg, "v1", _written(tmp_path / "pass", "pass"))
    assert (rec["seq"], rec["event"], rec["name"]) == (1, "promote", "v1")
    with pytest.raises(InputError, match="only a passing candidate is promoted"):
        promote(reg, "v2", _written(tmp_path / "fail", "fail"))
    blocked = gate(tmp_path / "missing", out=tmp_path / "g")  # a GateResult is accepted as the report
    with pytest.raises(InputError, match="only a passing candidate is promoted"):
        promote(reg, "v3", blocked)
    down = demote(reg, "v1", "re-check blocked", blocked)
    assert (down["event"], down["reason"]) == ("demote", "re-check blocked")
    assert Path(down["report"]).read_bytes() == (tmp_path / "g" / "report.json").read_bytes()
    assert {n: e["status"] for n, e in current(reg).items()} == {"v1": "demoted"}
