"""QLoRA (``aligngate train --quantize 4bit``) where it cannot run, and the settings it records where it can.

The 4-bit training run itself needs CUDA: ``tests/gpu/test_train_gpu.py::test_qlora_sft_adapter_audits_and_loads``.
Here: exit 2 with a message naming the flag and what is missing (no CUDA, no bitsandbytes, a reward model), nothing
written; and the profile, dtype and manifest record chosen for a CUDA device.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from aligngate.errors import InputError, TrainingError
from aligngate.training import TrainConfig, load_train_config
from aligngate.training.device import DeviceSettings
from aligngate.training.quantize import check_quantize, quantization_record
from aligngate.training.settings import choose_settings, fast_blocker

REPO = Path(__file__).resolve().parents[3]
CUDA_BF16 = DeviceSettings("cuda", "bf16", "a GPU")


def _cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _train_cli(tmp_path: Path, base: Path, data: Path, *extra: str,
               prelude: str = "") -> subprocess.CompletedProcess[str]:
    """``python -m aligngate train ...`` in a fresh interpreter (``prelude`` runs first)."""
    code = prelude + "import sys\nfrom aligngate.cli import main\nsys.exit(main(sys.argv[1:]))"
    argv = ["train", "--base", str(base), "--data", str(data), "--out", str(tmp_path / "out"), "--max-steps", "2",
            *extra]
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, cwd=tmp_path,
                          timeout=300)


@pytest.mark.skipif(_cuda(), reason="checks the no-CUDA error; this machine has CUDA (tests/gpu trains QLoRA)")
def test_quantize_4bit_without_cuda_exits_2_naming_the_gpu(tmp_path: Path, tiny_base: Path, data_dir: Path) -> None:
    r = _train_cli(tmp_path, tiny_base, data_dir / "sft.jsonl", "--method", "sft", "--quantize", "4bit")
    assert r.returncode == 2, r.stderr
    assert "--quantize 4bit" in r.stderr and "CUDA GPU" in r.stderr and "torch sees none" in r.stderr, r.stderr
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*")), "nothing is written"
    assert r.stdout == ""


def test_quantize_4bit_without_bitsandbytes_exits_2_with_the_install_hint(tmp_path: Path, tiny_base: Path,
                                                                          data_dir: Path) -> None:
    # sys.modules[name] = None is how Python marks a package as absent: the import raises ImportError
    r = _train_cli(tmp_path, tiny_base, data_dir / "dpo.jsonl", "--method", "dpo", "--quantize", "4bit",
                   prelude="import sys\nsys.modules['bitsandbytes'] = None\n")
    assert r.returncode == 2, r.stderr
    assert "bitsandbytes is not installed" in r.stderr and "pip install 'aligngate[gpu]'" in r.stderr, r.stderr
    assert not (tmp_path / "out").exists()


def test_quantize_a_reward_model_is_an_input_error(tmp_path: Path, tiny_base: Path, data_dir: Path) -> None:
    r = _train_cli(tmp_path, tiny_base, data_dir / "dpo.jsonl", "--method", "reward", "--quantize", "4bit")
    assert r.returncode == 2, r.stderr
    assert "QLoRA applies to sft and dpo" in r.stderr and "reward" in r.stderr, r.stderr


def test_check_quantize_names_every_missing_requirement() -> None:
    check_quantize("sft", "none", DeviceSettings("cpu", "fp32", "cpu"))  # nothing asked, nothing checked
    with pytest.raises(TrainingError, match=r"--quantize 4bit .*CUDA GPU.*training device 'cpu'"):
        check_quantize("sft", "4bit", DeviceSettings("cpu", "fp32", "cpu"))
    with pytest.raises(InputError, match="not to reward"):
        check_quantize("reward", "4bit", CUDA_BF16)
    with pytest.raises(InputError, match="unknown"):
        check_quantize("sft", "8bit", CUDA_BF16)


def test_check_quantize_passes_on_cuda_with_bitsandbytes() -> None:
    pytest.importorskip("bitsandbytes", reason="bitsandbytes (the [gpu] extra) is not installed")
    check_quantize("sft", "4bit", CUDA_BF16)
    check_quantize("dpo", "4bit", DeviceSettings("cuda", "fp16", "an older GPU"))


def test_config_file_quantize_key_is_validated(tmp_path: Path) -> None:
    cfg = tmp_path / "train.yaml"
    cfg.write_text("quantize: 4bit\nmax_steps: 5\n", encoding="utf-8")
    assert load_train_config(cfg).quantize == "4bit"
    cfg.write_text("quantize: 8bit\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"train.yaml: key 'quantize'"):
        load_train_config(cfg)
    assert TrainConfig().quantize == "none"


def _llama_config() -> Any:
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2)


@pytest.mark.parametrize("method", ["sft", "dpo"])
def test_qlora_trains_with_trl_settings_and_records_the_quantization(method: str) -> None:
    cfg = TrainConfig(quantize="4bit")
    assert fast_blocker(method, cfg, CUDA_BF16) == "quantize: 4bit (QLoRA trains with TRL's settings)"
    s = choose_settings(method, cfg, CUDA_BF16, _llama_config(), gpu_memory_bytes=80 * 2**30)
    assert s.profile == "cuda-stock" and s.args["activation_checkpointing"] is True  # TRL's default for QLoRA
    assert s.dtype == "bfloat16" and s.quantization is not None
    assert s.quantization | {"bitsandbytes": None} == {
        "quantize": "4bit", "library": "bitsandbytes", "bitsandbytes": None, "quant_type": "nf4",
        "double_quant": False, "compute_dtype": "bfloat16"}
    assert s.to_manifest()["quantization"] == s.quantization
    plain = choose_settings(method, TrainConfig(), CUDA_BF16, _llama_config(), gpu_memory_bytes=80 * 2**30)
    assert plain.profile == "cuda-fast" and plain.quantization is None
    assert quantization_record("4bit", DeviceSettings("cuda", "fp16", "x"))["compute_dtype"] == "float16"  # type: ignore[index]


def test_bnb_config_is_trls_4bit_config() -> None:
    pytest.importorskip("bitsandbytes", reason="bitsandbytes (the [gpu] extra) is not installed")
    import torch

    from aligngate.training.quantize import bnb_config

    c = bnb_config(CUDA_BF16)
    assert c.load_in_4bit and not c.load_in_8bit and c.bnb_4bit_quant_type == "nf4"
    assert c.bnb_4bit_compute_dtype == torch.bfloat16 and c.bnb_4bit_use_double_quant is False
