"""Typed training settings (``aligngate train --config FILE.yaml|json``).

Defaults are TRL's and PEFT's for real models (TRL 1.16, PEFT 0.21; each field names its source), so that
``aligngate train`` on a 1B-8B model trains as a TRL user would expect. Where TRL's trainer default is meant for
full fine-tuning and aligngate trains a LoRA, the LoRA value of TRL's own example scripts is used (learning rates).
The embedded demo model keeps its own, much faster profile (:mod:`aligngate.embedded.profile`). Every field can be
overridden from a YAML or JSON file whose unknown keys are rejected with the file name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aligngate.errors import InputError

__all__ = ["DEFAULT_LEARNING_RATE", "DEFAULT_MAX_LENGTH", "LoraSettings", "TrainConfig", "load_train_config"]

DEFAULT_LEARNING_RATE = {"sft": 2e-4, "dpo": 5e-6, "reward": 1e-4}
"""Learning rate per method when ``learning_rate`` is not set. sft: 2.0e-4, TRL's LoRA example
(``trl/scripts/sft.py``: "~10x the full fine-tuning rate" of ``SFTConfig.learning_rate`` = 2e-5); dpo: 5.0e-6,
TRL's LoRA example (``trl/scripts/dpo.py``; ``DPOConfig.learning_rate`` = 1e-6 for full fine-tuning); reward:
1e-4, ``RewardConfig.learning_rate`` (a reward model is fully fine-tuned by default, ``reward_mode: full``)."""
DEFAULT_MAX_LENGTH = 1024
"""Token budget per example when ``max_length`` is not set: ``SFTConfig``, ``DPOConfig`` and ``RewardConfig``
all default to 1024."""


class LoraSettings(BaseModel):
    """LoRA adapter shape (peft ``LoraConfig``). Defaults: TRL's ``ModelConfig`` (``lora_r`` 16, ``lora_alpha``
    32, ``lora_dropout`` 0.05), which its ``get_peft_config`` turns into the ``LoraConfig`` of every TRL script
    run with ``--use_peft``; PEFT's own ``LoraConfig`` defaults (r 8, alpha 8, dropout 0) are for its quick starts."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    r: int = Field(default=16, ge=1)
    """Rank of the low-rank update (TRL ``ModelConfig.lora_r``)."""
    alpha: int = Field(default=32, ge=1)
    """``lora_alpha``: the update is scaled by ``alpha / r`` (TRL ``ModelConfig.lora_alpha``)."""
    dropout: float = Field(default=0.05, ge=0.0, lt=1.0)
    """Dropout on the LoRA input (TRL ``ModelConfig.lora_dropout``; DPO and reward training switch dropout off,
    TRL's ``disable_dropout``)."""
    target_modules: str | list[str] = "all-linear"
    """Modules to adapt: ``all-linear`` (PEFT's shorthand for every linear layer but the output head) or a list of
    module names (``q_proj``, ``v_proj``, ...). PEFT's default when none is given is architecture-specific
    (``q_proj``/``v_proj`` only for Llama); TRL's "LoRA without regret" guide recommends all linear layers, which
    match full fine-tuning where attention-only LoRA does not."""


class TrainConfig(BaseModel):
    """Hyperparameters of one fine-tune. Recorded verbatim in ``manifest.json``."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    seed: int = 0
    """Seed for weight init of new heads, data order and dropout: the same seed gives the same weights on CPU
    (``TrainingArguments.seed`` defaults to 42; aligngate records the seed in every manifest)."""
    num_train_epochs: float = Field(default=3.0, gt=0)
    """Passes over the data when ``max_steps`` is not set (``TrainingArguments.num_train_epochs``, which TRL's
    configs inherit)."""
    max_steps: int | None = Field(default=None, ge=1)
    """Optimiser steps, overriding ``num_train_epochs``; the data is cycled as often as needed (None: epochs)."""
    batch_size: int = Field(default=8, ge=1)
    """Per-device batch size (pairs, for DPO and reward training) (``per_device_train_batch_size``)."""
    gradient_accumulation_steps: int = Field(default=1, ge=1)
    """Micro-batches accumulated per optimiser step (``TrainingArguments``: 1)."""
    learning_rate: float | None = Field(default=None, gt=0)
    """Peak learning rate (AdamW); None: the method's default (:data:`DEFAULT_LEARNING_RATE`)."""
    lr_scheduler_type: str = "linear"
    """transformers scheduler name (``linear``, ``cosine``, ``constant``, ...) (``TrainingArguments``: linear)."""
    warmup_steps: int = Field(default=0, ge=0)
    """Linear warm-up steps (``TrainingArguments``: 0)."""
    weight_decay: float = Field(default=0.0, ge=0)
    """AdamW weight decay (``TrainingArguments``: 0)."""
    max_grad_norm: float = Field(default=1.0, gt=0)
    """Gradient clipping norm (``TrainingArguments``: 1.0)."""
    max_length: int | None = Field(default=None, ge=8)
    """Token budget per example (None: :data:`DEFAULT_MAX_LENGTH`). trl truncates SFT/DPO sequences; reward
    pairs longer than this are dropped (the count is logged)."""
    logging_steps: int = Field(default=10, ge=1)
    """Loss is logged (and kept for the manifest's loss curve) every this many steps (TRL's configs: 10)."""
    init_adapter: str | None = None
    """sft/dpo: continue training this existing LoRA adapter directory (e.g. DPO after SFT) instead of a fresh
    one; the result is still one adapter on the same base. With DPO a frozen copy of the initial adapter is the
    reference model."""
    lora: LoraSettings = Field(default_factory=LoraSettings)
    """LoRA shape for ``sft`` and ``dpo`` (and ``reward`` when ``reward_mode`` is ``lora``)."""
    beta: float = Field(default=0.1, gt=0)
    """DPO temperature (``DPOConfig.beta``)."""
    completion_only_loss: bool | None = None
    """SFT on prompt/completion rows: loss on the completion only (trl default ``None`` = yes)."""
    assistant_only_loss: bool = False
    """SFT on ``messages`` rows: loss on assistant turns only. Needs a chat template with
    ``{% generation %}`` markers (the embedded model's has them); trl rejects other templates."""
    reward_mode: Literal["full", "lora"] = "full"
    """Reward model: full fine-tune (simplest to load) or LoRA with the ``score`` head saved in full."""
    center_rewards_coefficient: float | None = None
    """RewardTrainer's auxiliary loss pushing rewards towards zero mean (None: off)."""
    quantize: Literal["none", "4bit"] = "none"
    """``4bit``: QLoRA, the base quantized to 4-bit NF4 with bitsandbytes and LoRA trained on top in the training
    precision (:mod:`aligngate.training.quantize`; TRL's ``--load_in_4bit``). sft and dpo only; needs a CUDA GPU
    and bitsandbytes (else an error, exit 2). TRL's settings apply (gradient checkpointing on)."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """``auto``: the GPU when there is one, else the CPU."""
    torch_threads: int | None = Field(default=None, ge=1)
    """CPU threads for torch during training (None: torch's default). 1 is fastest for tiny models on busy
    machines, where spinning OpenMP threads fight over the cores."""
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    """``auto``: bf16 on GPUs that support it, fp32 elsewhere (always fp32 on CPU)."""
    fast: bool = True
    """On a CUDA GPU in bf16, train sft and dpo with the automatic fast configuration
    (:func:`aligngate.training.autoconfig.fast_training_kwargs`: padding-free SFT with varlen attention, tf32,
    gradient checkpointing only where the estimated peak memory needs it); the same batches, LoRA and loss as
    TRL's configuration. False: TRL's stock configuration (gradient checkpointing on, its default). No effect on
    CPU or for reward models. The settings used are recorded in ``manifest.json`` (``training_settings``)."""

    def effective_max_length(self, method: str) -> int:
        """``max_length`` or the default (:data:`DEFAULT_MAX_LENGTH`)."""
        return self.max_length or DEFAULT_MAX_LENGTH

    def effective_learning_rate(self, method: str) -> float:
        """``learning_rate`` or the method's default (:data:`DEFAULT_LEARNING_RATE`)."""
        return self.learning_rate or DEFAULT_LEARNING_RATE[method]

    def resolved(self, method: str) -> TrainConfig:
        """A copy with the method's defaults filled in (what the manifest records)."""
        return self.model_copy(update={"max_length": self.effective_max_length(method),
                                       "learning_rate": self.effective_learning_rate(method)})

    def to_manifest(self) -> dict[str, Any]:
        """A JSON-ready dict of every setting."""
        return self.model_dump(mode="json")


def load_train_config(path: str | Path | None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read a YAML/JSON training config (or the defaults when ``path`` is None), then apply ``overrides``."""
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"{p}: cannot read training config: {exc.strerror or exc}") from None
        try:
            if p.suffix.lower() == ".json":
                loaded = json.loads(text)
            else:
                import yaml

                loaded = yaml.safe_load(text)
        except Exception as exc:  # noqa: BLE001 - any parse error is an input error naming the file
            raise InputError(f"{p}: invalid training config: {exc}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise InputError(f"{p}: a training config must be a mapping of settings")
        data = loaded
    data = {**data, **(overrides or {})}
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(x) for x in err["loc"])
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        raise InputError(f"{path or '<config>'}: key '{key}': {msg}") from None
