"""Where and in what precision to train: bf16 on capable GPUs, fp32 on CPU. Nothing hard-codes the CPU."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from aligngate.errors import TrainingError

__all__ = ["DeviceSettings", "choose_device"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeviceSettings:
    """The device decision, as TrainingArguments keywords and as a manifest entry."""

    device: str
    """``cpu`` or ``cuda``."""
    precision: str
    """``fp32``, ``bf16`` or ``fp16`` (mixed precision on the GPU)."""
    name: str
    """Human-readable device name (GPU model or ``cpu``)."""

    def trainer_kwargs(self) -> dict[str, Any]:
        """``use_cpu`` / ``bf16`` / ``fp16`` for a trl config (which default to ``bf16=True``)."""
        return {"use_cpu": self.device == "cpu", "bf16": self.precision == "bf16", "fp16": self.precision == "fp16"}


def choose_device(device: str = "auto", precision: str = "auto") -> DeviceSettings:
    """Resolve ``auto`` settings: the GPU if torch sees one; bf16 where the GPU supports it; fp32 on CPU."""
    import torch

    has_cuda = torch.cuda.is_available()
    if device == "cuda" and not has_cuda:
        raise TrainingError("config asks for device 'cuda' but torch sees no CUDA GPU")
    use = "cuda" if (device == "cuda" or (device == "auto" and has_cuda)) else "cpu"
    if use == "cpu":
        if precision not in ("auto", "fp32"):
            log.warning("precision %s is not used on CPU; training in fp32", precision)
        return DeviceSettings("cpu", "fp32", "cpu")
    bf16_ok = bool(torch.cuda.is_bf16_supported())
    prec = precision
    if prec == "auto":
        prec = "bf16" if bf16_ok else "fp32"
    elif prec == "bf16" and not bf16_ok:
        raise TrainingError("config asks for bf16 but this GPU does not support it (use fp16 or fp32)")
    return DeviceSettings("cuda", prec, torch.cuda.get_device_name(0))
