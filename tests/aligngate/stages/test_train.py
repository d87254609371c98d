"""The train stage as a library function: settings as a file, a mapping or a TrainConfig; DPO continues the SFT
adapter passed directly (no config file in between); failures raise GateError and save nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aligngate.errors import InputError
from aligngate.stages import train

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from aligngate.embedded.corpus import write_default_data

    root = tmp_path_factory.mktemp("train-data")
    write_default_data(root)
    return root


def test_dpo_continues_the_sft_adapter(tmp_path: Path, embedded_model: Path, data: Path) -> None:
    from aligngate.fileio import sha256_tree
    from aligngate.training import TrainConfig

    sft = train("sft", embedded_model, data / "sft.jsonl", tmp_path / "sft",
                config={"max_steps": 2, "torch_threads": 1})
    assert (sft.method, sft.steps, sft.out_dir) == ("sft", 2, tmp_path / "sft")
    assert (sft.out_dir / "adapter_model.safetensors").is_file() and sft.manifest.is_file()

    dpo = train("dpo", embedded_model, data / "dpo.jsonl", tmp_path / "adapter",
                config=TrainConfig(max_steps=3, learning_rate=3e-4), init_adapter=sft.out_dir)
    assert (dpo.method, dpo.steps) == ("dpo", 3)
    manifest = json.loads(dpo.manifest.read_text())
    started = manifest["config"]["init_adapter"]
    assert started["path"] == str(sft.out_dir.resolve()) and started["sha256"] == sha256_tree(sft.out_dir)
    assert manifest["config"]["values"]["learning_rate"] == 3e-4
    assert "path" not in manifest["config"]  # no config file was written to pass the settings


def test_config_file_and_overrides(tmp_path: Path, embedded_model: Path, data: Path) -> None:
    cfg = tmp_path / "sft.yaml"
    cfg.write_text("max_steps: 5\ntorch_threads: 1\n")
    res = train("sft", embedded_model, data / "sft.jsonl", tmp_path / "out", config=cfg, overrides={"max_steps": 1})
    assert res.steps == 1
    manifest = json.loads(res.manifest.read_text())
    assert manifest["config"]["path"] == str(cfg) and manifest["config"]["values"]["max_steps"] == 1


def test_failures_raise_and_save_nothing(tmp_path: Path, embedded_model: Path, data: Path) -> None:
    with pytest.raises(InputError, match="key 'max_stepz': unknown key"):
        train("sft", embedded_model, data / "sft.jsonl", tmp_path / "a", config={"max_stepz": 1})
    with pytest.raises(InputError, match="init_adapter applies to sft and dpo only"):
        train("reward", embedded_model, data / "reward_pairs.jsonl", tmp_path / "b", init_adapter=tmp_path)
    with pytest.raises(InputError, match="a file path, a mapping or a TrainConfig"):
        train("sft", embedded_model, data / "sft.jsonl", tmp_path / "c", config=42)  # type: ignore[arg-type]
    assert not any((tmp_path / d).exists() for d in ("a", "b", "c"))
