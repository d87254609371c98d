"""QLoRA: LoRA on a base model quantized to 4 bits (``aligngate train --quantize 4bit``).

The base loads through :mod:`aligngate.modelio` with a bitsandbytes ``BitsAndBytesConfig`` built the way TRL's
``get_quantization_config`` builds it for ``--load_in_4bit`` (NF4, no nested quantization, compute in the
training precision, bf16 on GPUs that have it) and placed on the process's GPU as TRL's ``get_kbit_device_map``
does. TRL then trains LoRA on top with its own settings (gradient checkpointing on): the ``cuda-stock`` profile.
The adapter, manifest and audit are the same as for bf16 LoRA; the manifest's ``training_settings.quantization``
records how the base was quantized.

4-bit training needs a CUDA GPU and bitsandbytes (``pip install 'aligngate[gpu]'``; pinned in requirements.lock).
Without either, :func:`check_quantize` raises a :class:`~aligngate.errors.TrainingError` before anything loads
(exit 2). Reward models are not quantized.
"""

from __future__ import annotations

import importlib.metadata
import os
from typing import Any, Literal

from aligngate.errors import InputError, TrainingError
from aligngate.training.device import DeviceSettings

__all__ = ["QUANTIZE_CHOICES", "Quantize", "bnb_config", "check_quantize", "compute_dtype", "kbit_device_map",
           "quantization_record"]

Quantize = Literal["none", "4bit"]
QUANTIZE_CHOICES: tuple[str, ...] = ("none", "4bit")

_COMPUTE_DTYPE = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}
_INSTALL_HINT = "pip install 'aligngate[gpu]' (bitsandbytes, pinned in requirements.lock)"


def _bitsandbytes_problem(load: bool) -> str | None:
    """Why bitsandbytes cannot be used here (None: it is installed and, with ``load``, imports). Without a GPU it
    is only looked up: importing it there logs warnings about CPU kernels that do not matter."""
    if not load:
        import importlib.util

        found = importlib.util.find_spec("bitsandbytes") is not None
        return None if found else f"bitsandbytes is not installed; {_INSTALL_HINT}"
    try:
        import bitsandbytes  # noqa: F401
    except ImportError as exc:
        return f"bitsandbytes is not installed ({exc}); {_INSTALL_HINT}"
    except Exception as exc:  # noqa: BLE001 - a broken native library is reported, not raised through
        return f"bitsandbytes does not load: {type(exc).__name__}: {exc}"
    return None


def check_quantize(method: str, quantize: str, device: DeviceSettings) -> None:
    """Raise unless ``quantize`` can run for ``method`` on ``device``: 4-bit needs sft/dpo, CUDA and bitsandbytes.

    Every missing requirement is named in one message (the flag, the device torch sees, the package)."""
    if quantize == "none":
        return
    if quantize not in QUANTIZE_CHOICES:
        raise InputError(f"--quantize {quantize!r}: unknown (choose from {', '.join(QUANTIZE_CHOICES)})")
    if method not in ("sft", "dpo"):
        raise InputError(f"--quantize {quantize}: QLoRA applies to sft and dpo LoRA training, not to {method}")
    problems: list[str] = []
    if device.device != "cuda":
        problems.append("it needs a CUDA GPU and torch sees none (torch.cuda.is_available() is False; "
                        f"training device '{device.device}')")
    bnb = _bitsandbytes_problem(load=device.device == "cuda")
    if bnb is not None:
        problems.append(bnb)
    if problems:
        raise TrainingError(f"--quantize {quantize} (QLoRA, bitsandbytes NF4) cannot run here: "
                            + "; ".join(problems) + ". Train without --quantize (bf16 LoRA) or on a CUDA GPU.")


def compute_dtype(device: DeviceSettings) -> str:
    """The 4-bit layers' compute dtype: the training precision (TRL: ``bnb_4bit_compute_dtype = dtype``)."""
    return _COMPUTE_DTYPE.get(device.precision, "float32")


def bnb_config(device: DeviceSettings) -> Any:
    """``BitsAndBytesConfig`` for a 4-bit NF4 base (TRL's ``get_quantization_config`` with its ``ModelConfig``
    defaults: ``bnb_4bit_quant_type="nf4"``, ``use_bnb_nested_quant=False``, storage left to bitsandbytes)."""
    import torch
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=False,
                              bnb_4bit_compute_dtype=getattr(torch, compute_dtype(device)))


def kbit_device_map() -> dict[str, int]:
    """The whole model on this process's GPU (TRL's ``get_kbit_device_map``: one GPU per process under DDP)."""
    return {"": int(os.environ.get("LOCAL_RANK", "0"))}


def quantization_record(quantize: str, device: DeviceSettings) -> dict[str, Any] | None:
    """What the manifest records about the base's quantization (None: not quantized)."""
    if quantize == "none":
        return None
    try:
        version: str | None = importlib.metadata.version("bitsandbytes")
    except importlib.metadata.PackageNotFoundError:
        version = None
    return {"quantize": quantize, "library": "bitsandbytes", "bitsandbytes": version, "quant_type": "nf4",
            "double_quant": False, "compute_dtype": compute_dtype(device)}
