"""Malformed input: every bad line is quarantined with its reason, nothing crashes, the counts add up."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import clean_sft, read_jsonl, write_lines

from aligngate.curation.config import CurationConfig
from aligngate.curation.pipeline import curate_file


def _run(tmp_path: Path, rows: list, **cfg: object) -> tuple:
    src = write_lines(tmp_path / "in.jsonl", rows)
    res = curate_file(src, "sft", tmp_path / "out", CurationConfig(**cfg), progress=False)
    cur = read_jsonl(tmp_path / "out" / "curated.jsonl")
    qua = {r["_line"]: r for r in read_jsonl(tmp_path / "out" / "quarantine.jsonl")}
    assert res.input_rows == len(rows) == len(cur) + len(qua) == res.curated + res.quarantined
    return res, cur, qua


def test_each_bad_line_gets_its_reason(tmp_path: Path) -> None:
    good = clean_sft(20)
    big = json.dumps({"prompt": "hi", "completion": "x" * 5_000_000})
    rows = [*good[:5],
            '{"prompt": "broken", "completion": ',          # 6 broken JSON
            b'{"prompt": "caf\xe9 \xff", "completion": "ok"}',  # 7 invalid UTF-8
            {"prompt": 5, "completion": "a number prompt"},  # 8 wrong type
            big,                                             # 9 a 5 MB line
            "",                                              # 10 blank line
            "[1, 2, 3]",                                     # 11 not an object
            {"messages": "not a list"},                      # 12 wrong type
            {"prompt": "no completion"},                     # 13 missing field
            {"prompt": "   ", "completion": "empty prompt"},  # 14 empty turn (GX)
            {"prompt": "bell \x07 char", "completion": "control character"},  # 15 encoding sanity (GX)
            *good[5:]]
    res, cur, qua = _run(tmp_path, rows, max_line_bytes=1_000_000)
    assert qua[6]["_reasons"] == ["unparseable"] and qua[6]["_raw"].startswith('{"prompt": "broken"')
    assert qua[7]["_reasons"] == ["invalid_utf8"] and "\ufffd" in qua[7]["_raw"]
    assert qua[8]["_reasons"] == ["schema:type:prompt"]
    assert qua[9]["_reasons"] == ["too_long"] and len(qua[9]["_raw"]) <= 2000
    assert qua[10]["_reasons"] == ["unparseable"]
    assert qua[11]["_reasons"] == ["schema:not_an_object"]
    assert qua[12]["_reasons"] == ["schema:type:messages"]
    assert qua[13]["_reasons"] == ["schema:missing:completion"]
    assert "gx:expect_column_values_to_be_between:min_turn_chars" in qua[14]["_reasons"]
    assert "gx:expect_column_values_to_not_match_regex:prompt" in qua[15]["_reasons"]
    assert len(cur) == 20
    assert res.reason_counts["unparseable"] == 2


def test_role_order_and_dpo_equal_pair(tmp_path: Path) -> None:
    rows = [{"prompt": "What is 2+2?", "chosen": "4", "rejected": "4"},
            {"prompt": [{"role": "assistant", "content": "hi"}, {"role": "user", "content": "q?"}],
             "chosen": [{"role": "assistant", "content": "a"}], "rejected": [{"role": "assistant", "content": "b"}]},
            {"prompt": "Name a colour.", "chosen": "Blue.", "rejected": "I don't know."}]
    src = write_lines(tmp_path / "in.jsonl", rows)
    res = curate_file(src, "dpo", tmp_path / "out", CurationConfig(), progress=False)
    qua = {r["_line"]: r["_reasons"] for r in read_jsonl(tmp_path / "out" / "quarantine.jsonl")}
    assert qua[1] == ["gx:expect_column_pair_values_to_not_be_equal:chosen,rejected"]
    assert qua[2] == ["gx:expect_column_values_to_be_in_set:role_order_ok"]
    assert res.curated == 1
