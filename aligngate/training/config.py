"""Typed training settings (``aligngate train --config FILE.yaml|json``).

Defaults are tuned for the embedded tiny chat model on 2 CPU cores (a demo fine-tune takes well under 30 s);
every field can be overridden from a YAML or JSON file whose unknown keys are rejected with the file name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aligngate.errors import InputError

__all__ = ["DEFAULT_STEPS", "LoraSettings", "TrainConfig", "load_train_config"]

DEFAULT_STEPS = {"sft": 150, "dpo": 100, "reward": 80}
"""Steps per method when ``max_steps`` is not set (tuned for the embedded tiny model on 2 CPU cores)."""


class LoraSettings(BaseModel):
    """LoRA adapter shape (peft ``LoraConfig``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    r: int = Field(default=8, ge=1)
    """Rank of the low-rank update."""
    alpha: int = Field(default=16, ge=1)
    """``lora_alpha``: the update is scaled by ``alpha / r``."""
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    """Dropout on the LoRA input."""
    target_modules: str | list[str] = "all-linear"
    """Modules to adapt: ``all-linear`` or a list of module names (``q_proj``, ``v_proj``, ...)."""


class TrainConfig(BaseModel):
    """Hyperparameters of one fine-tune. Recorded verbatim in ``manifest.json``."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    seed: int = 0
    """Seed for weight init of new heads, data order and dropout: the same seed gives the same weights on CPU."""
    max_steps: int | None = Field(default=None, ge=1)
    """Optimiser steps; the data is cycled as often as needed (None: 150 for sft, 100 for dpo, 80 for reward)."""
    batch_size: int = Field(default=16, ge=1)
    """Per-device batch size (pairs, for DPO and reward training)."""
    gradient_accumulation_steps: int = Field(default=1, ge=1)
    """Micro-batches accumulated per optimiser step."""
    learning_rate: float = Field(default=2e-3, gt=0)
    """Peak learning rate (AdamW)."""
    lr_scheduler_type: str = "linear"
    """transformers scheduler name (``linear``, ``cosine``, ``constant``, ...)."""
    warmup_steps: int = Field(default=0, ge=0)
    """Linear warm-up steps."""
    weight_decay: float = Field(default=0.0, ge=0)
    """AdamW weight decay."""
    max_grad_norm: float = Field(default=1.0, gt=0)
    """Gradient clipping norm."""
    max_length: int | None = Field(default=None, ge=8)
    """Token budget per example (None: 128 for sft/dpo, 256 for reward). trl truncates SFT/DPO sequences;
    reward pairs longer than this are dropped (the count is logged)."""
    logging_steps: int = Field(default=5, ge=1)
    """Loss is logged (and kept for the manifest's loss curve) every this many steps."""
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
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """``auto``: the GPU when there is one, else the CPU."""
    torch_threads: int | None = Field(default=None, ge=1)
    """CPU threads for torch during training (None: torch's default). 1 is fastest for tiny models on busy
    machines, where spinning OpenMP threads fight over the cores."""
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    """``auto``: bf16 on GPUs that support it, fp32 elsewhere (always fp32 on CPU)."""

    def effective_max_length(self, method: str) -> int:
        """``max_length`` or the method's default."""
        return self.max_length or (256 if method == "reward" else 128)

    def resolved(self, method: str) -> TrainConfig:
        """A copy with the method's defaults filled in (what the manifest records)."""
        return self.model_copy(update={"max_length": self.effective_max_length(method),
                                       "max_steps": self.max_steps or DEFAULT_STEPS[method]})

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
