"""Readers: JSONL bytes edge cases, Parquet, Hugging Face ``save_to_disk`` directories, offline hub ids."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import clean_sft, read_jsonl, write_lines

from aligngate.curation.config import CurationConfig
from aligngate.curation.pipeline import curate_file
from aligngate.curation.readers import iter_records
from aligngate.errors import InputError


def test_jsonl_long_line_is_skipped_without_holding_it(tmp_path: Path) -> None:
    src = write_lines(tmp_path / "in.jsonl", [{"a": 1}, "x" * 3_000_000, {"b": 2}])
    recs = list(iter_records(str(src), max_line_bytes=1024))
    assert [r.line for r in recs] == [1, 2, 3]
    assert recs[1].reason == "too_long" and len(recs[1].raw or "") <= 2000
    assert recs[2].obj == {"b": 2}


def test_jsonl_without_final_newline_and_gzip(tmp_path: Path) -> None:
    import gzip

    p = tmp_path / "in.jsonl.gz"
    with gzip.open(p, "wb") as fh:
        fh.write(b'{"a": 1}\n{"a": 2}')
    assert [r.obj for r in iter_records(str(p), 10_000)] == [{"a": 1}, {"a": 2}]


def test_parquet_and_hf_disk(tmp_path: Path) -> None:
    import datasets
    import pandas as pd

    rows = [{"prompt": r["prompt"], "completion": r["completion"]} for r in clean_sft(30) if "prompt" in r]
    rows += [{"prompt": f"What is {i} + 1?", "completion": f"It is {i + 1}."} for i in range(20)]
    pq = tmp_path / "d.parquet"
    pd.DataFrame(rows).to_parquet(pq)
    res = curate_file(pq, "sft", tmp_path / "o1", CurationConfig(), progress=False)
    assert res.input_rows == len(rows) == res.curated + res.quarantined
    assert res.sha256 == {"d.parquet": res.sha256["d.parquet"]}
    ds_dir = tmp_path / "ds"
    datasets.Dataset.from_list(rows).save_to_disk(str(ds_dir))
    res2 = curate_file(ds_dir, "sft", tmp_path / "o2", CurationConfig(), progress=False)
    assert res2.input_rows == len(rows) and res2.curated == res.curated
    assert read_jsonl(tmp_path / "o2" / "curated.jsonl")[0] == read_jsonl(tmp_path / "o1" / "curated.jsonl")[0]


def test_hub_id_offline_is_a_clean_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(InputError, match="cannot load Hugging Face dataset"):
        curate_file("nobody-here/no-such-dataset", "sft", tmp_path / "o", CurationConfig(), progress=False)
    with pytest.raises(InputError, match="not found"):
        curate_file(tmp_path / "missing.jsonl", "sft", tmp_path / "o", CurationConfig(), progress=False)
