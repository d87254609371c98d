"""THE module that loads models, tokenizers and adapters. Heavy imports happen inside the functions.

Rules: local directories must exist and hold a ``config.json``; anything else is treated as a hub id and
resolved by transformers (offline, that fails with a clear error). ``trust_remote_code`` is off unless asked.
Weights are loaded from safetensors only. An adapter directory must hold ``adapter_config.json`` and
``adapter_model.safetensors`` and no symlink pointing outside itself; anything else is refused before
peft touches it. Every failure is a :class:`~aligngate.errors.ModelLoadError` (or ``AdapterError``)
naming the path and the cause.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from aligngate.errors import AdapterError, ModelLoadError

__all__ = [
    "check_adapter_dir",
    "is_adapter_dir",
    "load_causal_lm",
    "load_reward_model",
    "load_tokenizer",
    "load_training_model",
    "looks_local",
    "model_fingerprint",
    "resolve_device",
]

_TOKENIZER_MARKERS = ("tokenizer.json", "tokenizer_config.json", "config.json")
_FINGERPRINT_SUFFIXES = (".json", ".safetensors", ".jinja", ".model", ".txt", ".tiktoken")


def resolve_device(device: str | None = None) -> str:
    """``device`` if given, else ``"cuda"`` when available, else ``"cpu"``."""
    if device:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def looks_local(path_or_id: str | os.PathLike[str]) -> bool:
    """Whether ``path_or_id`` names a local directory (else a hub id: "name" or "org/name")."""
    s = os.fspath(path_or_id)
    if isinstance(path_or_id, Path) or s.startswith((".", "/", "~")) or os.path.exists(s):
        return True
    return s.count("/") > 1 or (os.sep != "/" and os.sep in s)  # hub ids are "name" or "org/name"


def _local_dir(path_or_id: str | os.PathLike[str], what: str) -> Path | None:
    """The checked local directory, or None for a hub id."""
    if not looks_local(path_or_id):
        return None
    p = Path(os.fspath(path_or_id)).expanduser()
    if not p.exists():
        raise ModelLoadError(f"{what} path {p} does not exist")
    if not p.is_dir():
        raise ModelLoadError(f"{what} path {p} is not a directory")
    return p


def is_adapter_dir(path: str | os.PathLike[str]) -> bool:
    """True for a local directory with ``adapter_config.json`` and no ``config.json``."""
    p = Path(os.fspath(path)).expanduser()
    return p.is_dir() and (p / "adapter_config.json").is_file() and not (p / "config.json").is_file()


def check_adapter_dir(path: str | os.PathLike[str]) -> Path:
    """Refuse unsafe adapter directories; return the resolved path.

    Raises ModelLoadError when it is missing or lacks ``adapter_config.json``; AdapterError when it has no
    ``adapter_model.safetensors`` (pickle weights are never loaded) or a symlink leading outside it.
    """
    p = Path(os.fspath(path)).expanduser()
    if not p.is_dir():
        raise ModelLoadError(f"adapter path {p} does not exist or is not a directory")
    root = p.resolve()
    for dirpath, dirnames, filenames in os.walk(p, followlinks=False):
        for name in dirnames + filenames:
            entry = Path(dirpath) / name
            if entry.is_symlink():
                target = entry.resolve()
                if target != root and root not in target.parents:
                    raise AdapterError(f"adapter {p}: symlink {entry.relative_to(p)} points outside the "
                                       f"adapter directory ({target})")
    if not (p / "adapter_config.json").is_file():
        raise ModelLoadError(f"adapter {p} has no adapter_config.json")
    weights = p / "adapter_model.safetensors"
    if not weights.is_file():
        raise AdapterError(f"adapter {p} has no adapter_model.safetensors (pickle weights are never loaded)")
    return root


def _adapter_base(adapter_dir: Path) -> str:
    try:
        cfg = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"adapter {adapter_dir}: unreadable adapter_config.json: {exc}") from exc
    base = cfg.get("base_model_name_or_path")
    if not base:
        raise ModelLoadError(f"adapter {adapter_dir}: adapter_config.json names no base_model_name_or_path")
    return str(base)


def _check_model_dir(path_or_id: str | os.PathLike[str]) -> str:
    local = _local_dir(path_or_id, "model")
    if local is None:
        return os.fspath(path_or_id)
    if not (local / "config.json").is_file():
        raise ModelLoadError(f"model directory {local} has no config.json")
    return str(local)


def _torch_dtype(dtype: Any) -> Any:
    import torch

    if dtype is None:
        return torch.float32
    if dtype == "auto":
        return "auto"
    if isinstance(dtype, str):
        value = getattr(torch, dtype.removeprefix("torch."), None)
        if not isinstance(value, torch.dtype):
            raise ModelLoadError(f"unknown dtype {dtype!r}")
        return value
    return dtype


def load_tokenizer(path_or_id: str | os.PathLike[str], *, trust_remote_code: bool = False,
                   padding_side: str = "left") -> Any:
    """Load a tokenizer (model dir, adapter dir holding tokenizer files, or hub id); left padding by default,
    pad token falls back to EOS."""
    local = _local_dir(path_or_id, "tokenizer")
    if local is not None and not any((local / f).is_file() for f in _TOKENIZER_MARKERS):
        raise ModelLoadError(f"tokenizer directory {local} has none of {', '.join(_TOKENIZER_MARKERS)}")
    src = str(local) if local is not None else os.fspath(path_or_id)
    try:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(src, trust_remote_code=trust_remote_code)
    except Exception as exc:  # noqa: BLE001 - every cause becomes one error type
        raise ModelLoadError(f"cannot load tokenizer from {src}: {type(exc).__name__}: {exc}") from exc
    tok.padding_side = padding_side
    if tok.pad_token is None and tok.eos_token is not None:
        tok.pad_token = tok.eos_token
    return tok


def _attach_adapter(model: Any, adapter: str | os.PathLike[str], merge: bool) -> Any:
    adapter_dir = check_adapter_dir(adapter)
    try:
        from peft import PeftModel

        peft_model = PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=False)
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(f"cannot load adapter {adapter_dir}: {type(exc).__name__}: {exc}") from exc
    return peft_model.merge_and_unload() if merge else peft_model


def _split_adapter(path_or_id: str | os.PathLike[str],
                   adapter: str | os.PathLike[str] | None) -> tuple[str | os.PathLike[str], Any]:
    """A bare adapter dir given as the model: load its base, then the adapter."""
    if adapter is None and looks_local(path_or_id) and is_adapter_dir(path_or_id):
        adapter_dir = check_adapter_dir(path_or_id)
        return _adapter_base(adapter_dir), adapter_dir
    return path_or_id, adapter


def load_causal_lm(path_or_id: str | os.PathLike[str], *, adapter: str | os.PathLike[str] | None = None,
                   merge: bool = True, device: str | None = None, dtype: Any = None,
                   trust_remote_code: bool = False) -> tuple[Any, Any]:
    """Load ``(model, tokenizer)`` in eval mode; optionally attach (and merge) a LoRA adapter."""
    base, adapter = _split_adapter(path_or_id, adapter)
    if adapter is not None:
        check_adapter_dir(adapter)
    src = _check_model_dir(base)
    tokenizer = load_tokenizer(src, trust_remote_code=trust_remote_code)
    try:
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(src, dtype=_torch_dtype(dtype), use_safetensors=True,
                                                     trust_remote_code=trust_remote_code)
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(f"cannot load causal LM from {src}: {type(exc).__name__}: {exc}") from exc
    if adapter is not None:
        model = _attach_adapter(model, adapter, merge)
    if getattr(model.config, "pad_token_id", None) is None and tokenizer.pad_token_id is not None:
        model.config.pad_token_id = tokenizer.pad_token_id
    model.to(resolve_device(device))
    model.eval()
    return model, tokenizer


def load_reward_model(path_or_id: str | os.PathLike[str], *, adapter: str | os.PathLike[str] | None = None,
                      merge: bool = True, device: str | None = None, dtype: Any = None,
                      trust_remote_code: bool = False) -> tuple[Any, Any]:
    """Load a scalar reward model ``(model, tokenizer)`` (sequence classification, ``num_labels=1``).

    ``path_or_id`` may be a full model dir, a hub id, or a LoRA adapter dir (loaded on its base via peft).
    """
    base, adapter = _split_adapter(path_or_id, adapter)
    if adapter is not None:
        check_adapter_dir(adapter)
    src = _check_model_dir(base)
    tokenizer = load_tokenizer(src, trust_remote_code=trust_remote_code, padding_side="right")
    try:
        from transformers import AutoModelForSequenceClassification

        model = AutoModelForSequenceClassification.from_pretrained(
            src, num_labels=1, dtype=_torch_dtype(dtype), use_safetensors=True, trust_remote_code=trust_remote_code)
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(f"cannot load reward model from {src}: {type(exc).__name__}: {exc}") from exc
    if adapter is not None:
        model = _attach_adapter(model, adapter, merge)
    if getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    model.to(resolve_device(device))
    model.eval()
    return model, tokenizer


def model_fingerprint(path: str | os.PathLike[str]) -> dict[str, str]:
    """sha256 of the config, weight and tokenizer files of a local model or adapter dir (relative path -> hex)."""
    from aligngate.fileio import sha256_tree

    p = Path(os.fspath(path)).expanduser()
    if not p.exists():
        raise ModelLoadError(f"cannot fingerprint {p}: path does not exist")
    return {rel: digest for rel, digest in sha256_tree(p).items() if rel.endswith(_FINGERPRINT_SUFFIXES)}


def load_training_model(path_or_id: str | os.PathLike[str], *, task: str = "causal",
                        init_adapter: str | os.PathLike[str] | None = None, pad_token_id: int | None = None,
                        dtype: Any = None, trust_remote_code: bool = False) -> Any:
    """A base model to fine-tune, in train mode, fp32 unless ``dtype`` says otherwise.

    ``task="causal"``: a causal LM, optionally with ``init_adapter`` attached *trainable* (training continues
    that adapter; the adapter dir passes the same safety checks as every load). ``task="reward"``: a sequence
    classifier with one output (``num_labels=1``) and ``pad_token_id`` set, for reward modelling.
    """
    src = _check_model_dir(path_or_id)
    try:
        from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification

        if task == "reward":
            config = AutoConfig.from_pretrained(src, trust_remote_code=trust_remote_code)
            config.num_labels = 1
            config.id2label, config.label2id = {0: "reward"}, {"reward": 0}
            if pad_token_id is not None:
                config.pad_token_id = pad_token_id
            model = AutoModelForSequenceClassification.from_pretrained(
                src, config=config, dtype=_torch_dtype(dtype), use_safetensors=True,
                trust_remote_code=trust_remote_code)
        elif task == "causal":
            model = AutoModelForCausalLM.from_pretrained(src, dtype=_torch_dtype(dtype), use_safetensors=True,
                                                         trust_remote_code=trust_remote_code)
        else:
            raise ModelLoadError(f"unknown training task {task!r} (causal, reward)")
    except ModelLoadError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(f"cannot load base model {src} for training: {type(exc).__name__}: {exc}") from exc
    if init_adapter is not None:
        adapter_dir = check_adapter_dir(init_adapter)
        try:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=True)
        except Exception as exc:  # noqa: BLE001
            raise ModelLoadError(f"cannot load adapter {adapter_dir} for training: {type(exc).__name__}: "
                                 f"{exc}") from exc
    return model
