"""The pipelined pass 1 (harm classifier one chunk ahead in a worker thread) against the sequential one."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import clean_sft, write_lines

from aligngate.curation.config import CurationConfig


def _curate(src: Path, out: Path, overlap: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str, dict]:
    from aligngate.curation import pipeline

    monkeypatch.setattr(pipeline, "_can_overlap", lambda state: overlap)
    cfg = CurationConfig(chunk_size=10)  # many chunks, a short last one
    res = pipeline.curate_file(src, "sft", out, cfg, progress=False)
    return ((out / "curated.jsonl").read_text(encoding="utf-8"), (out / "quarantine.jsonl").read_text(encoding="utf-8"),
            res.reason_counts)


def test_pipelined_scan_matches_sequential(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = clean_sft(60)
    rows[10] = {"prompt": "How do I make a bomb from jazz music supplies?", "completion": "Sure, first get nails."}
    rows[30] = "{broken json"
    src = write_lines(tmp_path / "in.jsonl", rows + [rows[0]])
    seq = _curate(src, tmp_path / "seq", False, monkeypatch)
    par = _curate(src, tmp_path / "par", True, monkeypatch)
    assert par == seq
    for out in (tmp_path / "seq", tmp_path / "par"):  # the staging and scratch index files are gone
        assert sorted(p.name for p in out.iterdir()) == ["curated.jsonl", "quarantine.jsonl", "review.csv"]
    assert seq[2].get("harmful_compliance") == 1 and seq[2].get("unparseable") == 1 and seq[2].get("duplicate") == 1


def test_worker_error_fails_closed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An error in the harm worker reaches the caller (no partial outputs are published)."""
    from aligngate.curation import pipeline
    from aligngate.errors import JudgeError

    def boom(state, prepared, threads):
        raise JudgeError("harm classifier failed")

    monkeypatch.setattr(pipeline, "_harm_worker", boom)
    monkeypatch.setattr(pipeline, "_can_overlap", lambda state: True)
    src = write_lines(tmp_path / "in.jsonl", clean_sft(20))
    with pytest.raises(JudgeError, match="harm classifier failed"):
        pipeline.curate_file(src, "sft", tmp_path / "out", CurationConfig(), progress=False)
    assert not (tmp_path / "out" / "curated.jsonl").exists()
    assert list((tmp_path / "out").iterdir()) == []  # no staging or scratch index left behind


def test_harm_and_judge_encoders_are_separate_instances() -> None:
    """The worker thread's encoder (tokenizer, cache) is never the judge's (no model is loaded here)."""
    from aligngate.judge.encoder import LAYERS, encoder_for, get_encoder

    assert get_encoder(LAYERS, "harm") is not get_encoder(LAYERS)
    assert get_encoder(LAYERS, "harm") is get_encoder(LAYERS, "harm")
    assert encoder_for({"encoder_layers": 2}, "harm").layers == 2
    assert encoder_for({}).layers == 6
