"""Curation fails closed: no readable row is an error, and a killed run leaves no scratch copy of the data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aligngate.cli import main
from aligngate.curation.pipeline import remove_scratch


def test_a_dataset_of_blank_lines_is_an_error(tmp_path: Path) -> None:
    """issue 17: a file of blank lines passed curation with zero rows."""
    data = tmp_path / "blank.jsonl"
    data.write_text("\n\n   \n\t\n")
    out = tmp_path / "out"
    assert main(["curate", "--kind", "sft", "--input", str(data), "--out", str(out), "--no-progress",
                 "--output", "json"]) == 2
    rep = json.loads((out / "report.json").read_text())
    assert (rep["verdict"], rep["exit_code"]) == ("block", 2) and "readable row" in rep["errors"][0]
    # nothing lost: every line is still in quarantine.jsonl
    assert len((out / "quarantine.jsonl").read_text().splitlines()) == 4


def test_scratch_files_of_a_killed_run_are_removed(tmp_path: Path) -> None:
    for name in (".curate-staging.abc.jsonl", ".curate-index.abc.sqlite", ".curated.jsonl.x1.tmp", "keep.txt"):
        (tmp_path / name).write_text("x")
    gone = remove_scratch(tmp_path)
    assert len(gone) == 3 and [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


@pytest.mark.slow
def test_sigterm_mid_curate_blocks_and_removes_staging(tmp_path: Path) -> None:
    """issue 17: a killed curate left staging files (a full copy of the input) in --out; SIGTERM was not handled."""
    data = tmp_path / "big.jsonl"
    with data.open("w") as fh:
        for i in range(30000):
            fh.write(json.dumps({"prompt": f"How do I repaint fence number {i} in my garden?",
                                 "completion": f"Sand fence {i}, prime it, then apply two thin coats."}) + "\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").write_text(json.dumps({"verdict": "pass", "exit_code": 0}))
    proc = subprocess.Popen([sys.executable, "-m", "aligngate", "curate", "--kind", "sft", "--input", str(data),
                             "--out", str(out), "--no-progress"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while not list(out.glob(".curate-staging.*")) or os.path.getsize(next(out.glob(".curate-staging.*"))) == 0:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 2
    rep = json.loads((out / "report.json").read_text())
    assert (rep["verdict"], rep["exit_code"]) == ("block", 2) and "SIGTERM" in rep["errors"][0]
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]
