"""How a run trains on the machine at hand: the trainer settings and model loading chosen beside the user's config.

Three profiles, recorded in ``manifest.json`` (``training_settings``) so a run can be reproduced:

- ``cpu``: fp32, no gradient checkpointing (what a CPU can do; small models);
- ``cuda-fast``: sft / dpo on a bf16 GPU with ``fast: true`` (the default): the automatic fast configuration of
  :func:`aligngate.training.autoconfig.fast_training_kwargs` -- bf16 weights, tf32, padding-free SFT with varlen
  attention, gradient checkpointing only where the estimated peak memory needs it;
- ``cuda-stock``: everything else on a GPU (reward models, ``fast: false``, fp16/fp32 precision, QLoRA with
  ``quantize: 4bit``): TRL's own configuration, gradient checkpointing on as TRL defaults; a 4-bit base is recorded
  in ``quantization``.

The user's hyperparameters (batch size, learning rate, LoRA, steps) are the same in every profile; only memory
layout, kernels and recomputation change.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from aligngate.training.config import TrainConfig
from aligngate.training.device import DeviceSettings

__all__ = ["TrainSettings", "choose_settings", "fast_blocker"]


@dataclass(frozen=True)
class TrainSettings:
    """Trainer keyword arguments and model-loading choices of one run."""

    profile: str
    """``cpu``, ``cuda-fast`` or ``cuda-stock``."""
    args: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for the TRL config, on top of the user's hyperparameters."""
    dtype: str | None = None
    """dtype the base model is loaded in (None: its float32 default; mixed precision comes from ``args``)."""
    attn_implementation: str | None = None
    """Attention implementation set on the model (None: transformers' default)."""
    notes: list[str] = field(default_factory=list)
    estimated_peak_gib: float | None = None
    """The fast configuration's estimate of peak GPU memory (None elsewhere)."""
    quantization: dict[str, Any] | None = None
    """How the base was quantized (``--quantize 4bit``: bitsandbytes NF4, :mod:`aligngate.training.quantize`);
    None: not quantized."""

    @property
    def padding_free(self) -> bool:
        """Whether SFT batches are flattened without padding (the rows are then truncated by aligngate)."""
        return bool(self.args.get("padding_free"))

    def to_manifest(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def _gpu_memory_bytes() -> int:
    import torch

    return int(torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory)


def fast_blocker(method: str, cfg: TrainConfig, device: DeviceSettings) -> str | None:
    """Why the fast configuration does not apply to this run (None: it does, on a CUDA GPU)."""
    if device.device != "cuda":
        return "not on a CUDA GPU"
    if cfg.quantize != "none":
        return f"quantize: {cfg.quantize} (QLoRA trains with TRL's settings)"
    if not cfg.fast:
        return "fast: false"
    if method not in ("sft", "dpo"):
        return f"no fast configuration for {method} training"
    if device.precision != "bf16":
        return f"precision {device.precision} (the fast configuration is bf16)"
    return None


def choose_settings(method: str, cfg: TrainConfig, device: DeviceSettings, model_config: Any = None, *,
                    gpu_memory_bytes: int | None = None) -> TrainSettings:
    """The profile for ``method`` with ``cfg`` on ``device``; ``model_config`` (the loaded base's config) sizes
    the fast configuration's memory estimate and is needed for it, against ``gpu_memory_bytes`` (default: the
    current GPU's total memory)."""
    if device.device == "cpu":
        return TrainSettings("cpu", {"activation_checkpointing": False},
                             notes=["CPU: fp32, no gradient checkpointing"])
    why = fast_blocker(method, cfg, device) or (None if model_config is not None else "base config unknown")
    if why is not None:
        from aligngate.training.quantize import compute_dtype, quantization_record

        quant = quantization_record(cfg.quantize, device)
        return TrainSettings("cuda-stock", {"activation_checkpointing": True,
                                            "activation_checkpointing_kwargs": {"use_reentrant": False}},
                             dtype=compute_dtype(device) if quant else None,
                             notes=[f"TRL's stock configuration ({why}): gradient checkpointing on"],
                             quantization=quant)
    from aligngate.training.autoconfig import fast_training_kwargs

    memory = _gpu_memory_bytes() if gpu_memory_bytes is None else gpu_memory_bytes
    fast = fast_training_kwargs(model_config, memory, method, batch_size=cfg.batch_size,
                                max_length=cfg.effective_max_length(method))
    args = dict(fast["args"])
    ckpt = bool(args.pop("gradient_checkpointing", False))
    ckpt_kwargs = args.pop("gradient_checkpointing_kwargs", None)
    args["activation_checkpointing"] = ckpt
    if ckpt_kwargs is not None:
        args["activation_checkpointing_kwargs"] = ckpt_kwargs
    args.pop("per_device_train_batch_size", None)  # the user's batch size is kept as is
    init = fast["model_init_kwargs"]
    return TrainSettings("cuda-fast", args, dtype=init.get("dtype"),
                         attn_implementation=init.get("attn_implementation"), notes=list(fast["notes"]),
                         estimated_peak_gib=round(float(fast["estimated_peak_gib"]), 2))
