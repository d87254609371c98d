"""Fault matrix, class ``output``: outputs that cannot be written -- ``--out`` a file, a full disk (simulated with
``RLIMIT_FSIZE`` in a subprocess: writes past the limit fail with EFBIG), a read-only directory, a registry or
history store that is not one -- and stale ``pass`` reports that must not survive a failed run."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fm_build import policy, stale_pass, write_rows
from fm_cases import Case, Result, check, fault

pytestmark = pytest.mark.slow

DATA_CHECK = "    - {id: data.poison_fraction, threshold: {op: '<=', value: 0.1}}\n"
"""A check that measures without loading a model (reads a curate report): cheap gates in subprocesses."""


def _file(tmp_path: Path) -> Path:
    f = tmp_path / "not-a-dir"
    f.write_text("precious\n")
    return f


def _argv(command: str, assets: Any, tmp_path: Path, out: Path) -> list[Any]:
    pol = policy(tmp_path / "p.yaml")
    return {
        "gate": ["gate", "--policy", pol, "--candidate", assets.model, "--out", out, "--registry", tmp_path / "reg"],
        "curate": ["curate", "--kind", "sft", "--input", assets.clean_rows, "--policy", pol, "--out", out,
                   "--no-progress"],
        "audit-adapter": ["audit-adapter", assets.adapter, "--out", out],
        "test-reward-model": ["test-reward-model", "--reward-model", assets.reward_model, "--policy", pol,
                              "--out", out],
        "eval": ["eval", "--model", assets.model, "--suite", "embedded-harmful@limit=4", "--out", out, "--judge",
                 "rules"],
        "train": ["train", "--method", "sft", "--base", assets.model, "--data", assets.clean_rows, "--out", out,
                  "--max-steps", "1"],
        "embedded-model": ["embedded-model", "--cache-dir", out],
        "demo": ["demo", "--out", out],
    }[command]


OUT_IS_FILE = {
    "gate": "exists and is not a directory", "curate": "exists and is not a directory",
    "audit-adapter": "exists and is not a directory", "test-reward-model": "exists and is not a directory",
    "eval": "exists and is not a directory", "train": "exists and is not empty",
    "embedded-model": "File exists", "demo": "Not a directory",
}


OUT_WAS = {cmd: "'unexpected FileExistsError' and a second 'unexpected NotADirectoryError'"
           for cmd in ("gate", "curate", "audit-adapter", "test-reward-model")}
OUT_WAS["eval"] = "generated every response first, then 'unexpected FileExistsError'"


@fault(*[Case("output", "--out (--cache-dir) is an existing file", cmd, 2, None, ("not-a-dir", says),
              no_promotion=cmd == "gate",
              also="the file is left intact" + ("; fails before generating" if cmd == "eval" else ""),
              was=OUT_WAS.get(cmd, ""))
         for cmd, says in OUT_IS_FILE.items()])
def test_out_is_a_file(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    f = _file(tmp_path)
    res = cli(*_argv(case.command, assets, tmp_path, f))
    check(case, res, registry=tmp_path / "reg" if case.no_promotion else None)
    assert f.read_text() == "precious\n"
    if case.command == "eval":
        assert "generate" not in res.stderr


@fault(Case("output", "judge --out is a directory", "judge", 2, None, ("judged-dir",)))
def test_judge_out_is_a_dir(case: Case, cli: Callable[..., Result], tmp_path: Path) -> None:
    rows = write_rows(tmp_path / "rows.jsonl", [{"prompt": "How do I bake bread?", "response": "Knead and bake."}])
    (tmp_path / "judged-dir").mkdir()
    check(case, cli("judge", "--input", rows, "--out", tmp_path / "judged-dir", "--judge", "rules"))


def _finish(p: subprocess.Popen[bytes], out: Path, timeout: int = 240) -> Result:
    stdout, stderr = p.communicate(timeout=timeout)
    return Result(p.returncode, stdout.decode(errors="replace"), stderr.decode(errors="replace"), out / "report.json")


@fault(Case("output", "disk full: the final reports cannot be written", "gate", 2, "block",
            ("File too large: '", "report.json'"), no_promotion=True, no_stale_pass=True,
            also="subprocess, RLIMIT_FSIZE 1000 B: the blocking in-progress report stays",
            was="'[Errno 27] File too large', naming no file"),
       Case("output", "disk full: not even the in-progress report fits", "gate", 2, None,
            ("File too large: '", "out/report.json'"), no_promotion=True, no_stale_pass=True,
            also="subprocess, RLIMIT_FSIZE 200 B: no report.json left at all",
            was="the stale pass report.json/.md survived (exit 2 beside a pass report)"))
def test_gate_disk_full(case: Case, tmp_path: Path, assets: Any, spawn: Callable[..., Any]) -> None:
    out = stale_pass(tmp_path / "out")
    limit = 200 if "not even" in case.name else 1000
    p = spawn("gate", "--policy", policy(tmp_path / "p.yaml", DATA_CHECK), "--candidate", assets.model,
              "--data-report", assets.data_report, "--out", out, "--registry", tmp_path / "reg",
              fsize=limit)
    res = _finish(p, out)
    check(case, res, registry=tmp_path / "reg", stale_out=out)
    if case.verdict is not None:
        assert res.report is not None and res.report["status"] == "running"
    assert not list(out.glob(".report-staging.*"))


@fault(Case("output", "disk full mid-curate", "curate", 2, "block", ("full or read-only disk", "curate-out"),
            no_stale_pass=True, also="subprocess, RLIMIT_FSIZE 8 KB: no curated.jsonl, no scratch files left",
            was="'unexpected OperationalError: disk I/O error', naming no file"))
def test_curate_disk_full(case: Case, tmp_path: Path, spawn: Callable[..., Any]) -> None:
    from fm_build import clean_sft_rows

    data = write_rows(tmp_path / "data.jsonl", clean_sft_rows(400))
    pol = tmp_path / "c.yaml"
    pol.write_text("apiVersion: aligngate.dev/v1\nkind: GatePolicy\nmetadata: {name: c}\nspec:\n"
                   "  curation: {judge: rules}\n")
    out = stale_pass(tmp_path / "curate-out")
    p = spawn("curate", "--kind", "sft", "--input", data, "--policy", pol, "--out", out, "--no-progress",
              fsize=8000)
    res = _finish(p, out)
    check(case, res, stale_out=out)
    assert not (out / "curated.jsonl").exists()
    assert not [x.name for x in out.iterdir() if x.name.startswith(".")]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions (the RLIMIT_FSIZE cases cover "
                                              "unwritable outputs there)")
@fault(Case("output", "--out a read-only directory (chmod 500)", "gate", 2, "block", ("Permission denied",),
            no_promotion=True, no_stale_pass=True, also="skipped as root"))
def test_read_only_out(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    out = stale_pass(tmp_path / "out")
    out.chmod(0o500)
    try:
        res = cli("gate", "--policy", policy(tmp_path / "p.yaml"), "--candidate", assets.model, "--out", out,
                  "--registry", tmp_path / "reg", out=out)
    finally:
        out.chmod(0o700)
    check(case, res, registry=tmp_path / "reg", stale_out=out)


@fault(Case("output", "--registry path is a file", "gate", 2, "block", ("registry", "is not a directory"),
            no_stale_pass=True, also="the checks passed; report.json says block/2 like the exit code"))
def test_registry_is_a_file(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    reg = _file(tmp_path)
    out = stale_pass(tmp_path / "out")
    res = cli("gate", "--policy", policy(tmp_path / "p.yaml"), "--candidate", assets.model, "--out", out,
              "--registry", reg, out=out)
    check(case, res, stale_out=out)
    assert res.report["checks"][0]["status"] == "pass" and reg.read_text() == "precious\n"


@fault(Case("output", "--history is a directory", "gate", 2, "block", ("history store", "hist"),
            no_promotion=True, no_stale_pass=True,
            was="'unexpected OperationalError: unable to open database file', no path"),
       Case("output", "--history is not a SQLite file", "gate", 2, "block", ("history store", "hist"),
            no_promotion=True, no_stale_pass=True))
def test_history_unwritable(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    hist = tmp_path / "hist"
    if "directory" in case.name:
        hist.mkdir()
    else:
        hist.write_text("this is not a database, it is a note\n" * 200)
    out = stale_pass(tmp_path / "out")
    res = cli("gate", "--policy", policy(tmp_path / "p.yaml"), "--candidate", assets.model, "--out", out,
              "--registry", tmp_path / "reg", "--history", hist, out=out)
    check(case, res, registry=tmp_path / "reg", stale_out=out)


@fault(Case("output", "--sarif / --junit path is a directory", "gate", 2, None, ("--sarif", "sarif-dir"),
            no_promotion=True, also="refused before anything runs (a writer error never follows a promotion)"),
       Case("output", "--junit under a path that is a file", "audit-adapter", 2, None, ("--junit", "not-a-dir")))
def test_ci_output_paths(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    if case.command == "gate":
        (tmp_path / "sarif-dir").mkdir()
        res = cli("gate", "--policy", policy(tmp_path / "p.yaml", DATA_CHECK), "--candidate", assets.model,
                  "--data-report", assets.data_report, "--out", tmp_path / "out", "--registry", tmp_path / "reg",
                  "--sarif", tmp_path / "sarif-dir", out=tmp_path / "out")
        check(case, res, registry=tmp_path / "reg")
    else:
        res = cli("audit-adapter", assets.adapter, "--out", tmp_path / "out", "--junit",
                  _file(tmp_path) / "j.xml", out=tmp_path / "out")
        check(case, res)


@fault(Case("output", "PR comment: the GitHub API answers 500", "pr-comment", 2, None,
            ("HTTP 500", "/repos/acme/bot/issues/5/comments"), also="a loopback server; the token is never shown"),
       Case("output", "PR comment: no token in the environment", "pr-comment", 2, None, ("GITHUB_TOKEN",)))
def test_pr_comment(case: Case, cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Down(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self.send_response(500)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Down)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("GITHUB_API_URL", f"http://127.0.0.1:{server.server_address[1]}")
        monkeypatch.delenv("GH_TOKEN", raising=False)
        if "no token" in case.name:
            monkeypatch.delenv("GITHUB_TOKEN", raising=False)
        else:
            monkeypatch.setenv("GITHUB_TOKEN", "secret-token-value")
        body = tmp_path / "report.md"
        body.write_text("## aligngate\n")
        res = cli("pr-comment", "--body-file", body, "--repo", "acme/bot", "--pr", "5")
        check(case, res)
        assert "secret-token-value" not in res.text()
    finally:
        server.shutdown()
        server.server_close()
