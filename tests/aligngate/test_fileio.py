"""File helpers: atomic writes leave no partial files; JSONL errors name file and line; hashing skips links."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from aligngate.errors import InputError
from aligngate.fileio import atomic_open, atomic_write_json, iter_jsonl, sha256_file, sha256_tree, write_jsonl


def test_atomic_write_keeps_old_content_on_crash(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    atomic_write_json(target, {"a": 1})
    with pytest.raises(RuntimeError), atomic_open(target) as fh:
        fh.write('{"half": ')
        raise RuntimeError("crash mid-write")
    assert target.read_text().strip().startswith('{\n  "a": 1')
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temp file left behind


def test_iter_jsonl_reads_gz_and_names_bad_lines(tmp_path: Path) -> None:
    assert write_jsonl(tmp_path / "ok.jsonl", [{"x": 1}, {"x": 2}]) == 2
    gz = tmp_path / "ok.jsonl.gz"
    gz.write_bytes(gzip.compress(b'{"x": 1}\n\n{"x": 3}\n'))
    assert [(i, r["x"]) for i, r in iter_jsonl(gz)] == [(1, 1), (3, 3)]
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"x": 1}\n[1, 2]\n')
    with pytest.raises(InputError, match=r"bad.jsonl:2: each line must be a JSON object"):
        list(iter_jsonl(bad))
    bad.write_bytes(b'{"x": 1}\n{"x": "\xff"}\n')
    with pytest.raises(InputError, match=r"bad.jsonl:2: not valid UTF-8"):
        list(iter_jsonl(bad))
    assert list(iter_jsonl(bad, errors="replace"))[1][1]["x"] == "\ufffd"
    with pytest.raises(InputError, match="data not found"):
        list(iter_jsonl(tmp_path / "none.jsonl", what="data"))


def test_sha256_tree_does_not_follow_symlinks(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("a")
    (tmp_path / "outside.txt").write_text("secret")
    os.symlink(tmp_path / "outside.txt", tmp_path / "d" / "link.txt")
    assert sha256_tree(tmp_path / "d") == {"a.txt": sha256_file(tmp_path / "d" / "a.txt")}
