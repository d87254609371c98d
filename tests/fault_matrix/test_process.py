"""Fault matrix, class ``process``: runs killed mid-way (SIGTERM, SIGINT, SIGKILL) and concurrent gates into one
registry -- all real subprocesses."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fm_build import child_env, clean_sft_rows, policy, stale_pass, write_rows
from fm_cases import Case, Result, check, fault, rows_in_out

pytestmark = pytest.mark.slow


class Tail:
    """Collects a child's stderr in a thread (so the pipe never fills) and waits for a string in it."""

    def __init__(self, p: subprocess.Popen[bytes]) -> None:
        self.p, self.buf = p, bytearray()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.p.stderr is not None
        while chunk := self.p.stderr.read1(4096):  # type: ignore[attr-defined]
            self.buf += chunk

    def wait_for(self, needle: bytes, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.buf:
            assert self.p.poll() is None, f"exited {self.p.returncode} before {needle!r}: {self.buf[-2000:]!r}"
            assert time.monotonic() < deadline, f"no {needle!r} after {timeout} s"
            time.sleep(0.05)

    def result(self, out: Path, timeout: float = 120) -> Result:
        code = self.p.wait(timeout=timeout)
        self.thread.join(timeout=10)
        return Result(code, "", self.buf.decode(errors="replace"), out / "report.json")


def _long_gate_policy(path: Path) -> Path:
    """The full harmful suite, 64 new tokens, one prompt at a time: generation runs for many seconds."""
    p = policy(path, harmful="embedded-harmful")
    p.write_text(p.read_text().replace("max_new_tokens: 8", "max_new_tokens: 64\n    batch_size: 1"))
    return p


@fault(Case("process", "SIGTERM mid-gate (during generation)", "gate", 2, "block", ("interrupted by SIGTERM",),
            no_promotion=True, no_stale_pass=True),
       Case("process", "SIGINT (Ctrl-C) mid-gate (during generation)", "gate", 2, "block",
            ("interrupted by SIGINT",), no_promotion=True, no_stale_pass=True),
       Case("process", "SIGKILL mid-gate (during generation)", "gate", -9, "block", (),
            no_promotion=True, no_stale_pass=True,
            also="the in-progress report (block, exit_code 2, status running) is what is left"))
def test_signal_mid_gate(case: Case, tmp_path: Path, assets: Any, spawn: Callable[..., Any]) -> None:
    sig = {"SIGTERM": signal.SIGTERM, "SIGINT": signal.SIGINT, "SIGKILL": signal.SIGKILL}[case.name.split()[0]]
    out = stale_pass(tmp_path / "out")
    p = spawn("gate", "--policy", _long_gate_policy(tmp_path / "long.yaml"), "--candidate", assets.model,
              "--out", out, "--registry", tmp_path / "reg")
    tail = Tail(p)
    tail.wait_for(b"generate")
    p.send_signal(sig)
    check(case, tail.result(out), registry=tmp_path / "reg", stale_out=out)
    assert not list(out.glob(".report-staging.*"))


def _big_data(tmp_path: Path) -> Path:
    return write_rows(tmp_path / "big.jsonl", clean_sft_rows(4000))


def _curate_policy(tmp_path: Path) -> Path:
    p = tmp_path / "c.yaml"
    p.write_text("apiVersion: aligngate.dev/v1\nkind: GatePolicy\nmetadata: {name: c}\nspec:\n"
                 "  curation: {judge: rules, chunk_size: 500}\n")
    return p


def _wait_staging(p: subprocess.Popen[bytes], out: Path, tail: Tail, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not any(s.stat().st_size > 0 for s in out.glob(".curate-staging.*")):
        assert p.poll() is None, tail.buf[-2000:]
        assert time.monotonic() < deadline
        time.sleep(0.05)


@fault(Case("process", "SIGTERM mid-curate (staging file half written)", "curate", 2, "block",
            ("interrupted by SIGTERM",), no_stale_pass=True,
            also="staging and scratch files removed; no curated.jsonl; the input untouched"))
def test_sigterm_mid_curate(case: Case, tmp_path: Path, spawn: Callable[..., Any]) -> None:
    data = _big_data(tmp_path)
    before = data.read_bytes()
    out = stale_pass(tmp_path / "out")
    p = spawn("curate", "--kind", "sft", "--input", data, "--policy", _curate_policy(tmp_path), "--out", out,
              "--no-progress")
    tail = Tail(p)
    _wait_staging(p, out, tail)
    p.send_signal(signal.SIGTERM)
    check(case, tail.result(out), stale_out=out)
    assert not [x.name for x in out.iterdir() if x.name.startswith(".")]
    assert not (out / "curated.jsonl").exists() and data.read_bytes() == before


@fault(Case("process", "SIGKILL mid-curate, then a re-run into the same --out", "curate", -9, "block", (),
            no_stale_pass=True, also="the kill leaves the in-progress report; the re-run removes the scratch "
                                     "files and every line of its input ends in one output (lineage)"))
def test_sigkill_mid_curate(case: Case, tmp_path: Path, spawn: Callable[..., Any],
                            cli: Callable[..., Result]) -> None:
    out = stale_pass(tmp_path / "out")
    p = spawn("curate", "--kind", "sft", "--input", _big_data(tmp_path), "--policy", _curate_policy(tmp_path),
              "--out", out, "--no-progress")
    tail = Tail(p)
    _wait_staging(p, out, tail)
    p.kill()
    check(case, tail.result(out), stale_out=out)
    assert list(out.glob(".curate-*"))  # SIGKILL cannot clean up: the next run must
    small = write_rows(tmp_path / "small.jsonl", [*clean_sft_rows(12), "{broken"])
    rerun = cli("curate", "--kind", "sft", "--input", small, "--policy", _curate_policy(tmp_path), "--out", out,
                "--no-progress", out=out)
    assert rerun.code == 0 and rerun.report is not None and rerun.report["verdict"] == "pass"
    assert not [x.name for x in out.iterdir() if x.name.startswith(".")]
    assert rows_in_out(small, out) == (13, 12, 1)


_WORKER = """
import sys
from aligngate.cli import main
policy, cand, good, bad, reg, out, tag, n = sys.argv[1:9]
codes = []
for i in range(int(n)):
    report = bad if i % 3 == 2 else good
    codes.append(main(["gate", "--policy", policy, "--candidate", cand, "--data-report", report,
                       "--out", f"{out}/{tag}-{i}", "--registry", reg, "--name", f"{tag}-{i}", "--output", "json"]))
print("CODES " + " ".join(map(str, codes)), file=sys.stderr)
"""


@fault(Case("process", "5 processes x 6 gates into one registry, every 3rd blocked", "gate", 1, "block",
            ("data.poison_fraction", "fails <= 0.1"), no_promotion=True,
            also="exactly the 20 passes are promoted, numbers 1..20 distinct, each record's report copy is a pass "
                 "with the recorded sha256"))
def test_concurrent_gates(case: Case, tmp_path: Path, assets: Any) -> None:
    from aligngate.fileio import sha256_file
    from aligngate.promotion import current, events

    bad = tmp_path / "poisoned-report"
    bad.mkdir()
    rep = json.loads((assets.data_report / "report.json").read_text())
    rep["summary"]["counts"]["poison"] = rep["summary"]["counts"]["input"] // 2  # over the 0.1 limit: exit 1
    (bad / "report.json").write_text(json.dumps(rep))
    pol = policy(tmp_path / "p.yaml", "    - {id: data.poison_fraction, threshold: {op: '<=', value: 0.1}}\n")
    reg, outs = tmp_path / "reg", tmp_path / "outs"
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, str(pol), str(assets.model), str(assets.data_report),
                               str(bad), str(reg), str(outs), f"w{k}", "6"], env=child_env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for k in range(5)]
    codes = {}
    for k, p in enumerate(procs):
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()[-2000:]
        line = [x for x in err.decode().splitlines() if x.startswith("CODES ")][-1]
        codes.update({f"w{k}-{i}": int(c) for i, c in enumerate(line.split()[1:])})
    passed = {n for n, c in codes.items() if c == 0}
    assert len(passed) == 20 and {c for n, c in codes.items() if n not in passed} == {1}
    blocked = min(set(codes) - passed)
    res = Result(codes[blocked], "", "", outs / blocked / "report.json")
    check(case, res, registry=reg, promoted_ok=passed)
    evs = events(reg)
    assert sorted(e["seq"] for e in evs) == list(range(1, 21))
    assert set(current(reg)) == passed
    for e in evs:
        copy = Path(e["report"])
        assert json.loads(copy.read_text())["verdict"] == "pass" and sha256_file(copy) == e["report_sha256"]


@fault(Case("process", "registry holding an empty record left by a crash", "gate", 0, "pass",
            ("data.poison_fraction",), also="promoted with the next free number; the empty record is skipped"))
def test_registry_with_crashed_record(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    from aligngate.promotion import current, events

    reg = tmp_path / "reg"
    (reg / "records").mkdir(parents=True)
    (reg / "records" / "000001-promote-crashed.json").write_bytes(b"")
    out = tmp_path / "out"
    pol = policy(tmp_path / "p.yaml", "    - {id: data.poison_fraction, threshold: {op: '<=', value: 0.1}}\n")
    res = cli("gate", "--policy", pol, "--candidate", assets.model, "--data-report", assets.data_report,
              "--out", out, "--registry", reg, "--name", "after-crash", out=out)
    check(case, res)
    assert [(e["seq"], e["name"]) for e in events(reg)] == [(2, "after-crash")] and set(current(reg)) == {"after-crash"}
