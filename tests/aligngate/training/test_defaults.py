"""Realistic defaults (TRL's and PEFT's, read from the installed sources), the machine's training settings and
their record in the manifest, and padding-free SFT's truncation matching TRL's own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _lora_example_rate(method: str) -> float:
    """``--learning_rate`` of the ``# LoRA`` example in the docstring of TRL's ``trl/scripts/<method>.py``."""
    import re
    from importlib.util import find_spec

    spec = find_spec(f"trl.scripts.{method}")
    assert spec is not None and spec.origin is not None
    text = Path(spec.origin).read_text(encoding="utf-8")
    lora = text[text.index("# LoRA"):]
    match = re.search(r"--learning_rate ([0-9.e-]+)", lora)
    assert match is not None
    return float(match.group(1))


def test_defaults_are_trls_and_pefts() -> None:
    from transformers import TrainingArguments
    from trl import DPOConfig, ModelConfig, RewardConfig, SFTConfig

    from aligngate.training.config import DEFAULT_LEARNING_RATE, DEFAULT_MAX_LENGTH, TrainConfig

    def default(cls: Any, name: str) -> Any:
        return cls.__dataclass_fields__[name].default

    cfg, model_cfg = TrainConfig(), ModelConfig()
    assert (cfg.lora.r, cfg.lora.alpha, cfg.lora.dropout) == (model_cfg.lora_r, model_cfg.lora_alpha,
                                                              model_cfg.lora_dropout)
    for trl_cfg in (SFTConfig, DPOConfig, RewardConfig):
        assert default(trl_cfg, "max_length") == DEFAULT_MAX_LENGTH
        assert cfg.logging_steps == default(trl_cfg, "logging_steps")
    assert cfg.num_train_epochs == default(TrainingArguments, "num_train_epochs")
    assert cfg.batch_size == default(TrainingArguments, "per_device_train_batch_size")
    assert (cfg.lr_scheduler_type, cfg.warmup_steps, cfg.weight_decay, cfg.max_grad_norm) == (
        default(TrainingArguments, "lr_scheduler_type"), default(TrainingArguments, "warmup_steps"),
        default(TrainingArguments, "weight_decay"), default(TrainingArguments, "max_grad_norm"))
    assert cfg.beta == default(DPOConfig, "beta")
    # reward models are fully fine-tuned by default: RewardConfig's rate; LoRA SFT / DPO: the rates of the LoRA
    # examples in TRL's own scripts (their trainer configs' defaults are for full fine-tuning)
    assert DEFAULT_LEARNING_RATE["reward"] == default(RewardConfig, "learning_rate")
    for method in ("sft", "dpo"):
        assert DEFAULT_LEARNING_RATE[method] == _lora_example_rate(method)
    resolved = cfg.resolved("dpo")
    assert resolved.learning_rate == DEFAULT_LEARNING_RATE["dpo"] and resolved.max_length == DEFAULT_MAX_LENGTH
    assert cfg.resolved("sft").max_steps is None  # epochs decide


def test_train_reward_without_a_config(tiny_base: Path, tmp_path: Path) -> None:
    from aligngate.embedded.corpus import reward_pairs
    from aligngate.training import train_reward

    rows = reward_pairs()[:16]
    res = train_reward(tiny_base, rows, tmp_path / "rm")
    man = json.loads(res.manifest.read_text())
    assert res.steps == 6  # 3 epochs (TrainingArguments' default) of 16 pairs in batches of 8
    assert man["config"]["values"]["learning_rate"] == 1e-4 and man["config"]["values"]["max_length"] == 1024
    settings = man["training_settings"]
    if man["device"]["device"] == "cpu":
        assert settings["profile"] == "cpu" and settings["args"] == {"activation_checkpointing": False}
    else:  # no fast configuration for reward models
        assert settings["profile"] == "cuda-stock"


def test_settings_profiles() -> None:
    from transformers import LlamaConfig

    from aligngate.training.autoconfig import VARLEN_ATTENTION, detect_features
    from aligngate.training.config import TrainConfig
    from aligngate.training.device import DeviceSettings
    from aligngate.training.settings import choose_settings

    cpu = choose_settings("sft", TrainConfig(), DeviceSettings("cpu", "fp32", "cpu"))
    assert cpu.profile == "cpu" and cpu.args == {"activation_checkpointing": False} and cpu.dtype is None
    gpu = DeviceSettings("cuda", "bf16", "a GPU")
    one_b = LlamaConfig(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, vocab_size=128256,
                        tie_word_embeddings=True)
    fast = choose_settings("sft", TrainConfig(), gpu, one_b, gpu_memory_bytes=80 * 2**30)
    assert fast.profile == "cuda-fast" and fast.dtype == "bfloat16" and fast.padding_free
    assert fast.args["activation_checkpointing"] is False and fast.args["max_length"] is None
    assert fast.args["bf16"] and fast.args["tf32"] and "per_device_train_batch_size" not in fast.args
    if not detect_features()["flash_attn"]:
        assert fast.attn_implementation == VARLEN_ATTENTION
    small = choose_settings("dpo", TrainConfig(), gpu, one_b, gpu_memory_bytes=6 * 2**30)
    assert small.profile == "cuda-fast" and small.args["activation_checkpointing"] is True
    assert small.args["activation_checkpointing_kwargs"] == {"use_reentrant": False} and not small.padding_free
    for method, cfg, dev in (("reward", TrainConfig(), gpu), ("sft", TrainConfig(fast=False), gpu),
                             ("sft", TrainConfig(), DeviceSettings("cuda", "fp16", "old GPU"))):
        stock = choose_settings(method, cfg, dev, one_b, gpu_memory_bytes=80 * 2**30)
        assert stock.profile == "cuda-stock" and stock.args["activation_checkpointing"] is True, (method, cfg)
    assert json.loads(json.dumps(fast.to_manifest()))["profile"] == "cuda-fast"


def test_padding_free_truncation_matches_trls(tiny_base: Path, data_dir: Path) -> None:
    """Padding-free SFT gets no truncation from TRL; aligngate's equals what TRL does with ``max_length``."""
    from trl import SFTConfig, SFTTrainer

    from aligngate.modelio import load_training_model
    from aligngate.training.data import load_rows, to_dataset, validate_rows
    from aligngate.training.runner import load_tokenizer
    from aligngate.training.sft import truncate_rows

    tok = load_tokenizer(str(tiny_base))
    located, _ = load_rows(data_dir / "sft.jsonl")
    dataset = to_dataset(validate_rows(located, "sft"), "sft", chat=True)

    def prepared(max_length: int | None, out: Path) -> Any:
        args = SFTConfig(output_dir=str(out), max_length=max_length, report_to="none", use_cpu=True, bf16=False,
                         activation_checkpointing=False)
        return SFTTrainer(model=load_training_model(str(tiny_base)), args=args, train_dataset=dataset,
                          processing_class=tok).train_dataset

    full = prepared(None, data_dir / "full")
    longest = max(len(x) for x in full["input_ids"])
    limit = longest // 2
    ours, trls = truncate_rows(full, limit), prepared(limit, data_dir / "cut")
    assert max(len(x) for x in ours["input_ids"]) == limit
    assert ours["input_ids"] == trls["input_ids"] and ours["labels"] == trls["labels"]
