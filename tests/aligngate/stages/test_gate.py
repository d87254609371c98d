"""The gate stage as a library function: a typed result, reports always written, never a raise, nothing on stdout,
safe on several threads at once."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from aligngate.report import read_report
from aligngate.stages import GateResult, gate


@pytest.mark.slow
def test_pass_is_promoted_and_recorded(tmp_path: Path, embedded_model: Path,
                                       capfd: pytest.CaptureFixture[str]) -> None:
    """The baseline gated against itself passes: the result carries the written report, the promotion record and
    the history row; nothing is printed on stdout."""
    from aligngate.history import runs
    from aligngate.promotion import current

    res = gate(embedded_model, out=tmp_path / "g", baseline=embedded_model, registry=tmp_path / "reg",
               name="v1", history=tmp_path / "h.sqlite", progress=False)
    assert isinstance(res, GateResult)
    assert (res.verdict, res.exit_code) == ("pass", 0), res.report.errors
    assert res.report == read_report(tmp_path / "g")  # what the caller gets is what is on disk
    assert res.promoted is not None and res.promoted["name"] == "v1" and res.promoted["event"] == "promote"
    assert current(tmp_path / "reg")["v1"]["seq"] == res.promoted["seq"]
    assert [r["verdict"] for r in runs(tmp_path / "h.sqlite", "v1")] == ["pass"]
    assert capfd.readouterr().out == ""


def test_failures_are_reports_not_raises(tmp_path: Path, embedded_model: Path) -> None:
    """A missing candidate or an invalid policy ends in a written block report (exit 2) naming the cause; nothing is
    promoted."""
    from aligngate.policy import load_policy

    missing = gate(tmp_path / "no-model", out=tmp_path / "a", registry=tmp_path / "reg")
    assert (missing.verdict, missing.exit_code, missing.promoted) == ("block", 2, None)
    assert "no-model" in "; ".join(missing.report.errors)
    assert read_report(tmp_path / "a") == missing.report

    bad = tmp_path / "p.yaml"
    bad.write_text("apiVersion: aligngate.dev/v1\nkind: GatePolicy\nmetadata: {name: x}\nspec: {checks: [{id: x}]}\n")
    invalid = gate(embedded_model, out=tmp_path / "b", policy=bad, registry=tmp_path / "reg")
    assert invalid.exit_code == 2 and f"{bad}:4" in "; ".join(invalid.report.errors)
    assert not (tmp_path / "reg").exists()

    loaded = load_policy(None)  # a loaded policy is accepted as it is, and recorded
    res = gate(tmp_path / "no-model", out=tmp_path / "c", policy=loaded)
    assert res.report.policy == {"path": loaded.path, "sha256": loaded.sha256}


def test_concurrent_stages_do_not_touch_each_others_output(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Stages (gate, curate, adapter audit) run on several threads at once while the main thread prints: each report
    names its own subject, and every line the main thread printed reaches stdout (no stage redirects it)."""
    from aligngate.stages import audit_adapter, curate
    from aligngate.verdict import Report

    reports: dict[int, Report] = {}

    def run(i: int) -> None:
        subject, out = tmp_path / f"missing-{i}", tmp_path / f"out-{i}"
        if i % 3 == 0:
            reports[i] = gate(subject, out=out, progress=False).report
        elif i % 3 == 1:
            reports[i] = curate(subject, "sft", out, progress=False)
        else:
            reports[i] = audit_adapter(subject, out=out)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(9)]
    for t in threads:
        t.start()
    for k in range(200):
        print(f"main line {k}")
        sys.stdout.flush()
    for t in threads:
        t.join()
    assert capsys.readouterr().out.splitlines() == [f"main line {k}" for k in range(200)]
    assert len(reports) == 9
    for i, report in reports.items():
        assert report == read_report(tmp_path / f"out-{i}")
        said = "; ".join([*report.errors, *(c.message for c in report.checks)])
        assert report.exit_code == 2 and f"missing-{i}" in said, said
        assert not any(f"missing-{j}" in said for j in reports if j != i)
