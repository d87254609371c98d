"""Several processes: ``aligngate train`` under torchrun (DDP over gloo on the CPU, as DDP over NCCL on GPUs) writes
one output from the main process; :func:`aligngate.training.launch.train_launched` under ``accelerate launch``; the
shipped accelerate configurations (DDP, FSDP) load as accelerate reads them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aligngate.errors import InputError, TrainingError
from aligngate.fileio import sha256_file

REPO = Path(__file__).resolve().parents[3]
CPU_ONE = """compute_environment: LOCAL_MACHINE
distributed_type: 'NO'
mixed_precision: 'no'
num_machines: 1
num_processes: 1
use_cpu: true
"""


def _cfg(tmp_path: Path, **values: object) -> Path:
    path = tmp_path / "train.json"
    path.write_text(json.dumps({"max_steps": 3, "batch_size": 4, "logging_steps": 1, "max_length": 64,
                                "torch_threads": 1, **values}), encoding="utf-8")
    return path


@pytest.mark.slow
def test_two_processes_write_one_output(tmp_path: Path, tiny_base: Path, data_dir: Path) -> None:
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.is_file():
        pytest.skip(f"torchrun not found beside {sys.executable}")
    out = tmp_path / "adapter"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([str(torchrun), "--nproc_per_node", "2", "--master_port", str(29500 + os.getpid() % 1000),
                        "-m", "aligngate", "train", "--method", "sft", "--base", str(tiny_base), "--data",
                        str(data_dir / "sft.jsonl"), "--out", str(out), "--config", str(_cfg(tmp_path)),
                        "--output", "json"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    man = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert man["device"]["processes"] == 2 and man["steps"] == 3 and len(man["loss_curve"]) == 3
    for rel, digest in man["outputs"].items():
        assert sha256_file(out / rel) == digest, rel
    assert (out / "adapter_model.safetensors").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adapter", "train.json"], "a process left a stage behind"


@pytest.mark.slow
def test_train_launched_under_accelerate(tmp_path: Path, tiny_base: Path, data_dir: Path) -> None:
    from aligngate.training.launch import train_launched

    acc = tmp_path / "cpu.yaml"
    acc.write_text(CPU_ONE, encoding="utf-8")
    res = train_launched("sft", tiny_base, data_dir / "sft.jsonl", tmp_path / "out", accelerate_config=acc,
                         config={"max_steps": 2, "batch_size": 4, "max_length": 64, "torch_threads": 1,
                                 "logging_steps": 1})
    assert res.steps == 2 and res.final_loss is not None and len(res.losses) == 2
    man = json.loads(res.manifest.read_text(encoding="utf-8"))
    assert man["device"]["processes"] == 1 and man["config"]["values"]["max_steps"] == 2
    with pytest.raises(TrainingError, match=r"under accelerate \(.*cpu.yaml\) failed with exit 1:\n"
                                            r"aligngate: error: base model not found: .*nowhere$"):
        train_launched("sft", tmp_path / "nowhere", data_dir / "sft.jsonl", tmp_path / "out2", accelerate_config=acc)
    with pytest.raises(InputError, match="accelerate config not found"):
        train_launched("sft", tiny_base, data_dir / "sft.jsonl", tmp_path / "o", accelerate_config=tmp_path / "x")


@pytest.mark.parametrize(("name", "kind"), [("ddp", "MULTI_GPU"), ("fsdp", "FSDP")])
def test_shipped_accelerate_configs_load(name: str, kind: str) -> None:
    from accelerate.commands.config.config_args import load_config_from_file

    cfg = load_config_from_file(str(REPO / "configs" / "accelerate" / f"{name}.yaml"))
    assert str(cfg.distributed_type).endswith(kind) and cfg.mixed_precision == "bf16" and not cfg.use_cpu
    if name == "fsdp":
        assert cfg.fsdp_config["fsdp_state_dict_type"] == "FULL_STATE_DICT"
