"""The registry: only passing reports are promoted; records are append-only and atomic; demotion folds in; what a
crash leaves behind is skipped with a warning and never stalls the next writer."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aligngate.errors import InputError
from aligngate.fileio import sha256_file
from aligngate.promotion import current, demote, events, promote


def _report(d: Path, verdict: str, code: int, tag: str = "") -> Path:
    d.mkdir(parents=True)
    (d / "report.json").write_text(json.dumps({"verdict": verdict, "exit_code": code, "subjects": {
        "candidate": {"model": "m", "adapter": "a"}}, "finished_at": "t", "tag": tag}))
    (d / "report.md").write_text(f"# report {tag}\n")
    return d


def test_promote_pass_refuse_block_and_demote(tmp_path: Path) -> None:
    reg = tmp_path / "reg"
    rec = promote(reg, "cand-a", _report(tmp_path / "a", "pass", 0))
    assert rec["seq"] == 1 and Path(rec["report"]).is_file()
    assert rec["report_sha256"] == sha256_file(tmp_path / "a" / "report.json") == sha256_file(rec["report"])
    assert (Path(rec["report"]).parent / "report.md").read_text() == "# report \n"
    with pytest.raises(InputError, match="only a passing candidate"):
        promote(reg, "cand-b", _report(tmp_path / "b", "block", 1))
    with pytest.raises(InputError, match="only a passing candidate"):
        promote(reg, "cand-c", _report(tmp_path / "c", "pass", 2))  # a pass verdict with a non-zero exit code
    assert set(current(reg)) == {"cand-a"}
    demote(reg, "cand-a", "re-check failed")
    state = current(reg)
    assert state["cand-a"]["status"] == "demoted" and state["cand-a"]["demote_reason"] == "re-check failed"
    assert [e["event"] for e in events(reg)] == ["promote", "demote"]
    first = next((reg / "records").glob("000001-*.json")).read_text()
    promote(reg, "cand-a", tmp_path / "a")
    assert next((reg / "records").glob("000001-*.json")).read_text() == first  # never rewritten
    assert current(reg)["cand-a"]["status"] == "promoted"
    assert [e["seq"] for e in events(reg)] == [1, 2, 3]


def test_demote_requires_a_live_promotion(tmp_path: Path) -> None:
    """Demoting a name never promoted, or already demoted, is an error and writes nothing."""
    reg = tmp_path / "reg"
    with pytest.raises(InputError, match="cannot demote 'ghost': it is not in the registry"):
        demote(reg, "ghost", "x")
    promote(reg, "v1", _report(tmp_path / "a", "pass", 0))
    bad = _report(tmp_path / "re", "block", 1)
    rec = demote(reg, "v1", "re-check block", bad)
    assert rec["report_sha256"] == sha256_file(bad / "report.json") == sha256_file(rec["report"])
    with pytest.raises(InputError, match="cannot demote 'v1': it is already demoted"):
        demote(reg, "v1", "again")
    assert [e["event"] for e in events(reg)] == ["promote", "demote"]
    # a demotion whose report directory is missing still happens (it must never be lost for want of a report)
    promote(reg, "v2", tmp_path / "a")
    rec = demote(reg, "v2", "gone", tmp_path / "missing")
    assert "report" not in rec and current(reg)["v2"]["status"] == "demoted"


def test_name_is_kept_but_never_makes_a_path(tmp_path: Path) -> None:
    reg = tmp_path / "reg"
    rec = promote(reg, "../../org/model v1", _report(tmp_path / "a", "pass", 0))
    assert [p.name for p in (reg / "records").iterdir()] == ["000001-promote-.._.._org_model_v1.json"]
    assert not [p for p in tmp_path.rglob("*promote*") if reg not in p.parents]
    assert set(current(reg)) == {"../../org/model v1"} and rec["name"] == "../../org/model v1"
    with pytest.raises(InputError, match="non-empty"):
        promote(reg, "", tmp_path / "a")


def test_crashed_half_records_are_skipped_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """An empty record, a truncated one and a leftover temp file: reads warn naming each file and go on; the next
    promotion succeeds and skips the numbers the broken files hold (nothing is overwritten)."""
    reg = tmp_path / "reg"
    promote(reg, "a", _report(tmp_path / "a", "pass", 0, "a"))
    recs = reg / "records"
    empty = recs / "000002-promote-b.json"
    empty.write_bytes(b"")
    truncated = recs / "000003-promote-c.json"
    truncated.write_text('{\n  "seq": 3,\n  "event": "prom')
    not_a_record = recs / "000004-promote-d.json"
    not_a_record.write_text("[1, 2]")
    leftover = recs / ".000005-promote-e.json.k2j3.tmp"
    leftover.write_text('{"seq": 5')
    with caplog.at_level(logging.WARNING, logger="aligngate.promotion"):
        assert [e["name"] for e in events(reg)] == ["a"]
        assert set(current(reg)) == {"a"}
    warned = caplog.text
    for p in (empty, truncated, not_a_record, leftover):
        assert str(p) in warned
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="aligngate.promotion"):
        rec = promote(reg, "f", _report(tmp_path / "f", "pass", 0, "f"))
    assert rec["seq"] == 5  # 2..4 stay taken by the broken files; 5 was never written (only its temp file)
    assert not leftover.exists() and str(leftover) in caplog.text  # removed by the writer, under the lock
    assert empty.read_bytes() == b"" and truncated.read_text().endswith('"prom')  # never rewritten
    assert sha256_file(rec["report"]) == sha256_file(tmp_path / "f" / "report.json")
    assert [e["seq"] for e in events(reg)] == [1, 5] and set(current(reg)) == {"a", "f"}


def test_crash_between_report_copy_and_record_reuses_the_number(tmp_path: Path) -> None:
    """A writer that died after copying its report but before its record leaves reports/NNNNNN (and a staging
    directory) that no record points to: the next writer takes that number and replaces them whole."""
    reg = tmp_path / "reg"
    promote(reg, "a", _report(tmp_path / "a", "pass", 0, "a"))
    orphan = reg / "reports" / "000002"
    orphan.mkdir()
    (orphan / "report.json").write_text('{"verdict": "pass", "crashed": true}')
    (orphan / "report.html").write_text("<p>stale</p>")
    stage = reg / "reports" / ".000002.abcd.tmp"
    stage.mkdir()
    (stage / "report.json").write_text("{")
    rec = promote(reg, "b", _report(tmp_path / "b", "pass", 0, "b"))
    assert rec["seq"] == 2 and not stage.exists()
    assert sorted(p.name for p in orphan.iterdir()) == ["report.json", "report.md"]  # the stale html is gone
    assert sha256_file(orphan / "report.json") == rec["report_sha256"]


_HOLD_LOCK = """
import sys, time
from pathlib import Path
from aligngate.promotion import _locked
with _locked(Path(sys.argv[1])):
    Path(sys.argv[2]).write_text("held")
    time.sleep(60)
"""


def test_a_writer_killed_while_holding_the_lock_does_not_stall_the_next(tmp_path: Path) -> None:
    reg, flag = tmp_path / "reg", tmp_path / "held"
    child = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(reg), str(flag)])
    try:
        deadline = time.monotonic() + 30
        while not flag.exists():
            assert child.poll() is None and time.monotonic() < deadline, "the lock holder did not start"
            time.sleep(0.02)
        from aligngate import promotion

        with pytest.raises(InputError, match=r"\.lock held by another writer"), promotion._locked(reg, timeout=0.2):
            pass
        child.kill()  # SIGKILL: no clean-up runs; the kernel drops the flock
        child.wait(timeout=10)
        rec = promote(reg, "a", _report(tmp_path / "a", "pass", 0))
        assert rec["seq"] == 1
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)


def test_a_registry_that_is_a_file_is_an_input_error(tmp_path: Path) -> None:
    reg = tmp_path / "registry"
    reg.write_text("a file, not a directory")
    with pytest.raises(InputError, match=f"registry {reg} is not a directory"):
        promote(reg, "a", _report(tmp_path / "a", "pass", 0))
    with pytest.raises(InputError, match=f"registry {reg} is not a directory"):
        current(reg)
    assert reg.read_text() == "a file, not a directory"
    under = tmp_path / "registry" / "sub"  # a parent that is a file
    with pytest.raises(InputError, match=f"registry {under}"):
        promote(under, "a", tmp_path / "a")
    (tmp_path / "r2").mkdir()
    (tmp_path / "r2" / "records").write_text("")
    with pytest.raises(InputError, match="records is not a directory"):
        events(tmp_path / "r2")
    assert current(tmp_path / "nowhere") == {}  # a registry not yet created has no events


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_an_unwritable_registry_is_an_input_error(tmp_path: Path) -> None:
    reg = tmp_path / "reg"
    reg.mkdir()
    reg.chmod(0o500)
    try:
        with pytest.raises(InputError, match=f"registry {reg} is not writable"):
            promote(reg, "a", _report(tmp_path / "a", "pass", 0))
    finally:
        reg.chmod(0o700)
