"""Fault matrix, classes ``train`` and ``demo``: corrupt bases, broken data and hostile configs for fine-tuning,
and a broken policy handed to the demo."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fm_build import PAYLOAD_FILE, copy_dir, edit_tensors, write_evil_pickle, write_rows
from fm_cases import Case, Result, check, fault

pytestmark = pytest.mark.slow


def _train(cli: Callable[..., Result], base: Path, data: Path, out: Path, *extra: Any,
           method: str = "sft") -> Result:
    return cli("train", "--method", method, "--base", base, "--data", data, "--out", out, "--max-steps", "2", *extra)


@fault(Case("train", "pickle-only base model with a payload", "train", 2, None,
            ("base", "holds only pickle weights"), no_payload=True, also="--out not created"))
def test_pickle_base(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    marker = tmp_path / PAYLOAD_FILE
    base = copy_dir(assets.model, tmp_path / "base")
    (base / "model.safetensors").unlink()
    write_evil_pickle(base / "pytorch_model.bin", marker)
    check(case, _train(cli, base, assets.clean_rows, tmp_path / "adapter"), marker=marker)
    assert not (tmp_path / "adapter").exists()


@fault(Case("train", "base with a NaN final norm (loss NaN)", "train", 2, None, ("base", "diverged", "NaN"),
            also="--out not created",
            was="exit 0: loss logged as 0.0000 (NaN filtered), an adapter of NaN weights saved"))
def test_nan_base(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    base = copy_dir(assets.model, tmp_path / "base")
    edit_tensors(base / "model.safetensors", lambda t: t["model.norm.weight"].fill_(float("nan")))
    check(case, _train(cli, base, assets.clean_rows, tmp_path / "adapter"))
    assert not (tmp_path / "adapter").exists()


@fault(Case("train", "data of blank lines only", "train", 2, None, ("blank.jsonl", "no training rows")),
       Case("train", "data with a broken JSON line", "train", 2, None, ("broken.jsonl:3", "invalid JSON")),
       Case("train", "SFT rows given to --method dpo", "train", 2, None, ("rows.jsonl:1", "missing key 'chosen'")))
def test_bad_training_data(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    method = "sft"
    if "blank" in case.name:
        data = tmp_path / "blank.jsonl"
        data.write_text("\n \n\n")
    elif "broken" in case.name:
        data = write_rows(tmp_path / "broken.jsonl", [{"prompt": "a", "completion": "b"}] * 2 + ['{"prompt": '])
    else:
        data, method = write_rows(tmp_path / "rows.jsonl", [{"prompt": "a", "completion": "b"}]), "dpo"
    check(case, _train(cli, assets.model, data, tmp_path / "adapter", method=method))
    assert not (tmp_path / "adapter").exists()


@fault(Case("train", "--config with a !!python/object/apply tag (payload)", "train", 2, None,
            ("cfg.yaml", "python/object/apply:os.system"),
            no_payload=True),
       Case("train", "--config with learning_rate .nan", "train", 2, None, ("cfg.yaml", "learning_rate")))
def test_hostile_config(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    marker = tmp_path / PAYLOAD_FILE
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"learning_rate: !!python/object/apply:os.system ['touch {marker}']\n" if "tag" in case.name
                   else "learning_rate: .nan\n")
    res = _train(cli, assets.model, assets.clean_rows, tmp_path / "adapter", "--config", cfg)
    check(case, res, marker=marker if case.no_payload else None)


@fault(Case("train", "--out a non-empty directory", "train", 2, None, ("keep", "not empty"),
            also="its files untouched"))
def test_out_not_empty(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    out = tmp_path / "keep"
    out.mkdir()
    (out / "notes.txt").write_text("precious\n")
    check(case, _train(cli, assets.model, assets.clean_rows, out))
    assert [p.name for p in out.iterdir()] == ["notes.txt"] and (out / "notes.txt").read_text() == "precious\n"


@fault(Case("demo", "demo with a policy whose threshold is .nan", "demo", 2, None,
            ("nan.yaml:6", "non-finite number '.nan'"), also="stops at the first stage (curate), within seconds"))
def test_demo_broken_policy(case: Case, cli: Callable[..., Result], tmp_path: Path) -> None:
    import time

    pol = tmp_path / "nan.yaml"
    pol.write_text("apiVersion: aligngate.dev/v1\nkind: GatePolicy\nmetadata: {name: x}\nspec:\n  checks:\n"
                   "    - {id: refusal.harmful_refusal_rate, threshold: {op: '>=', value: .nan}}\n")
    t0 = time.monotonic()
    check(case, cli("demo", "--policy", pol, "--out", tmp_path / "demo"))
    assert time.monotonic() - t0 < 60 and not (tmp_path / "demo" / "registry").exists()
