"""LoRA SFT / DPO and reward-model training (trl + peft), with a sha256 manifest for every output.

Public API (imports nothing heavy until a function runs)::

    from aligngate.training import TrainConfig, train_sft, train_dpo, train_reward
    result = train_sft(base_dir, "data.jsonl", "out/adapter", TrainConfig(max_steps=100))
    result.out_dir, result.manifest, result.final_loss, result.losses, result.seconds
"""

from __future__ import annotations

from aligngate.training.config import LoraSettings, TrainConfig, load_train_config
from aligngate.training.dpo import train_dpo
from aligngate.training.reward import train_reward
from aligngate.training.runner import TrainResult
from aligngate.training.sft import train_sft

__all__ = ["METHODS", "LoraSettings", "TrainConfig", "TrainResult", "load_train_config", "train", "train_dpo",
           "train_reward", "train_sft"]

METHODS = {"sft": train_sft, "dpo": train_dpo, "reward": train_reward}


def train(method: str, base: str, data: object, out_dir: str, cfg: TrainConfig | None = None,
          **kw: object) -> TrainResult:
    """Dispatch to ``train_<method>``."""
    from aligngate.errors import InputError

    if method not in METHODS:
        raise InputError(f"unknown training method {method!r} (sft, dpo, reward)")
    return METHODS[method](base, data, out_dir, cfg, **kw)  # type: ignore[arg-type]
