"""The fail-closed guard: a run never leaves a stale pass, and report.json always agrees with the exit code."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from aligngate.checks import check
from aligngate.guard import run_guarded
from aligngate.stages.gate import gate
from aligngate.verdict import CheckResult, Measurement, Report


@check("guard.value", needs=("candidate",))
def _value(ctx: Any, spec: Any) -> Measurement:
    return Measurement(value=float(spec.params.get("v", 1.0)), n=10)


POLICY = ("apiVersion: aligngate.dev/v1\nkind: GatePolicy\nmetadata: {name: t}\nspec:\n  checks:\n"
          "    - {id: guard.value, params: {v: 1.0}, threshold: {op: '>=', value: 0.5}}\n")


def _passing(report: Report) -> None:
    report.checks.append(CheckResult(id="x", status="pass", value=1.0, n=1))


def _stale_pass(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps({"verdict": "pass", "exit_code": 0}))
    (out / "report.md").write_text("PASS")


def _read(out: Path) -> dict[str, Any]:
    return json.loads((out / "report.json").read_text())  # type: ignore[no-any-return]


def test_the_previous_report_is_replaced_by_a_blocking_marker_at_start(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _stale_pass(out)
    seen: dict[str, Any] = {}

    def body(report: Report) -> None:
        seen.update(_read(out))
        seen["md"] = (out / "report.md").exists()
        _passing(report)

    rep = run_guarded("gate", out, body)
    assert (seen["verdict"], seen["exit_code"], seen["status"]) == ("block", 2, "running")
    assert "in progress" in seen["errors"][0] and seen["md"] is False
    assert (rep.verdict, rep.exit_code) == ("pass", 0) and _read(out)["status"] == "complete"


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), RuntimeError("boom"), MemoryError()])
def test_any_exception_or_interrupt_ends_in_a_written_block(tmp_path: Path, exc: BaseException) -> None:
    out = tmp_path / "out"
    _stale_pass(out)

    def body(report: Report) -> None:
        _passing(report)
        raise exc

    rep = run_guarded("gate", out, body)
    assert (rep.verdict, rep.exit_code) == ("block", 2)
    on_disk = _read(out)
    assert (on_disk["verdict"], on_disk["exit_code"], on_disk["status"]) == ("block", 2, "complete")
    assert "PASS" not in (out / "report.md").read_text()


def test_a_failing_after_step_turns_the_written_report_into_block(tmp_path: Path) -> None:
    out = tmp_path / "out"

    def after(report: Report, staged: Path) -> None:
        assert _read(staged)["verdict"] == "pass"
        raise OSError("registry is read-only")

    rep = run_guarded("gate", out, _passing, after=after)
    assert (rep.verdict, rep.exit_code) == ("block", 2) and "read-only" in rep.errors[0]
    assert _read(out)["exit_code"] == 2 and not list(out.glob(".report-staging.*"))


def test_an_unwritable_output_is_an_error(tmp_path: Path) -> None:
    out = tmp_path / "file"
    out.write_text("not a directory")
    rep = run_guarded("gate", out, _passing)
    assert (rep.verdict, rep.exit_code) == ("block", 2)


def _gate(tmp_path: Path, **kw: Any) -> tuple[Report, Any]:
    (tmp_path / "m").mkdir(exist_ok=True)
    (tmp_path / "m" / "config.json").write_text("{}")
    (tmp_path / "p.yaml").write_text(POLICY)
    res = gate(tmp_path / "m", policy=tmp_path / "p.yaml", out=tmp_path / "out", progress=False, **kw)
    return res.report, res.promoted


def test_gate_promotion_failure_agrees_with_the_report(tmp_path: Path) -> None:
    """issue 17: a registry path that is a file made the process exit 2 while report.json said pass."""
    (tmp_path / "registry").write_text("a file, not a directory")
    rep, rec = _gate(tmp_path, registry=tmp_path / "registry")
    assert rec is None and (rep.verdict, rep.exit_code) == ("block", 2)
    assert (_read(tmp_path / "out")["verdict"], _read(tmp_path / "out")["exit_code"]) == ("block", 2)


def test_gate_history_failure_blocks(tmp_path: Path) -> None:
    """issue 17: an unwritable --history after the checks left the previous pass report in --out."""
    _stale_pass(tmp_path / "out")
    (tmp_path / "hist").mkdir()  # a directory where the SQLite file should be
    rep, rec = _gate(tmp_path, history=tmp_path / "hist", registry=tmp_path / "registry")
    assert rec is None and rep.exit_code == 2 and _read(tmp_path / "out")["exit_code"] == 2
    assert not (tmp_path / "registry").exists() or not list((tmp_path / "registry").rglob("*promote*"))


def test_gate_passes_and_promotes(tmp_path: Path) -> None:
    rep, rec = _gate(tmp_path, registry=tmp_path / "registry")
    assert rep.exit_code == 0 and rec is not None and _read(tmp_path / "out")["verdict"] == "pass"


_SLOW_RUN = """
import sys, time
from pathlib import Path
from aligngate.guard import run_guarded
from aligngate.verdict import CheckResult
out = Path(sys.argv[1])
def body(report):
    report.checks.append(CheckResult(id="x", status="pass", value=1.0, n=1))
    (out / "started").write_text("1")
    time.sleep(60)
rep = run_guarded("gate", out, body)
sys.exit(rep.exit_code)
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_a_signal_mid_run_never_leaves_a_pass(tmp_path: Path, sig: signal.Signals) -> None:
    out = tmp_path / "out"
    _stale_pass(out)
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_RUN, str(out)], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not (out / "started").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.05)
    os.kill(proc.pid, sig)
    rc = proc.wait(timeout=60)
    rep = _read(out)
    assert (rep["verdict"], rep["exit_code"]) == ("block", 2)
    if sig == signal.SIGKILL:
        assert rep["status"] == "running"  # the marker written at start stays
    else:
        assert rc == 2 and rep["status"] == "complete" and "interrupted" in rep["errors"][0]
