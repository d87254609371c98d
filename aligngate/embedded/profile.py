"""The embedded demo's training profile: settings for the ~0.7M-parameter embedded chat model on 2 CPU cores.

The product's :class:`~aligngate.training.config.TrainConfig` defaults are TRL's and PEFT's for real models (a
1B model, thousands of rows, a GPU). The embedded model is four orders of magnitude smaller and the demo must
fine-tune it in well under 30 s on a laptop CPU, so it carries its own profile here, beside the model, with every
setting spelled out (these were the defaults before the product's defaults became TRL's; the demo's verdicts and
numbers are measured with exactly these):

- a high learning rate (2e-3) and a fixed small number of steps (sft 120, reward 80) in batches of 16;
- short sequences (128 tokens; 256 for reward pairs), which the embedded dialogues fit;
- LoRA r=8, alpha 16, no dropout, on every linear layer;
- one torch thread: for a model this small a second thread costs more in synchronisation than it gains (and
  collapses on a busy machine);
- SFT: loss on assistant turns only (the embedded chat template marks them) with a constant learning rate;
- DPO continues the SFT adapter at a low learning rate for few steps: at the SFT rate (2e-3) DPO drives its loss
  to ~0 within 30 steps and the tiny model's text degenerates (likelihood displacement).
"""

from __future__ import annotations

from typing import Any

from aligngate.training.config import TrainConfig

__all__ = ["DEMO_TRAINING", "demo_train_config"]

_COMMON: dict[str, Any] = {
    "seed": 0, "batch_size": 16, "gradient_accumulation_steps": 1, "learning_rate": 2e-3,
    "lr_scheduler_type": "linear", "warmup_steps": 0, "weight_decay": 0.0, "max_grad_norm": 1.0,
    "max_length": 128, "logging_steps": 5, "torch_threads": 1,
    "lora": {"r": 8, "alpha": 16, "dropout": 0.0, "target_modules": "all-linear"},
}

DEMO_TRAINING: dict[str, dict[str, Any]] = {
    "sft": {**_COMMON, "max_steps": 120, "assistant_only_loss": True, "lr_scheduler_type": "constant"},
    "dpo": {**_COMMON, "max_steps": 30, "learning_rate": 3e-4, "beta": 0.1},
    "reward": {**_COMMON, "max_steps": 80, "max_length": 256, "reward_mode": "full"},
}
"""Complete training settings per method (JSON-ready: written as the demo's ``--config`` files). DPO's
``init_adapter`` (the SFT adapter) is added by the demo."""


def demo_train_config(method: str, **overrides: Any) -> TrainConfig:
    """The demo profile of ``method`` (``sft``, ``dpo``, ``reward``) as a validated config, with ``overrides``."""
    if method not in DEMO_TRAINING:
        raise KeyError(f"no demo profile for method {method!r} (sft, dpo, reward)")
    return TrainConfig.model_validate({**DEMO_TRAINING[method], **overrides})
