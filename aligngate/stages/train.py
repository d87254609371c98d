"""The train stage: a LoRA adapter (``sft``/``dpo``) or a reward model (``reward``), with its sha256 manifest.

    sft = train("sft", "base-model", "sft.jsonl", "runs/sft", config={"max_steps": 100})
    dpo = train("dpo", "base-model", "dpo.jsonl", "runs/adapter", init_adapter=sft.out_dir)
    dpo.out_dir, dpo.manifest, dpo.final_loss, dpo.steps

Training decides nothing, so it writes no report: it returns a :class:`~aligngate.training.TrainResult` or raises a
:class:`~aligngate.errors.GateError` (an invalid config or data, a missing base model, a diverged run: nothing is
saved then). The output is staged and moved into ``out`` only when complete.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aligngate.training import TrainConfig, TrainResult

__all__ = ["train"]

PathLike = str | os.PathLike[str]


def _config(config: PathLike | TrainConfig | Mapping[str, Any] | None, overrides: Mapping[str, Any] | None,
            init_adapter: PathLike | None) -> tuple[TrainConfig, str | None]:
    """The effective settings and the config file they came from (recorded in the manifest)."""
    from aligngate.training import TrainConfig, load_train_config

    extra = dict(overrides or {})
    if init_adapter is not None:
        extra["init_adapter"] = os.fspath(init_adapter)
    if config is None or isinstance(config, str | os.PathLike):
        path = None if config is None else os.fspath(config)
        return load_train_config(path, extra), path
    if isinstance(config, TrainConfig):
        if not extra:
            return config, None
        return load_train_config(None, {**config.model_dump(), **extra}), None
    if isinstance(config, Mapping):
        return load_train_config(None, {**config, **extra}), None
    from aligngate.errors import InputError

    raise InputError(f"training config: a file path, a mapping or a TrainConfig is needed, got {type(config).__name__}")


def train(method: str, base: PathLike, data: PathLike | Sequence[Mapping[str, Any]], out: PathLike, *,
          config: PathLike | TrainConfig | Mapping[str, Any] | None = None, init_adapter: PathLike | None = None,
          overwrite: bool = False, overrides: Mapping[str, Any] | None = None) -> TrainResult:
    """Fine-tune ``base`` on ``data`` (a JSONL file, a dataset path or a list of rows) into ``out``.

    ``method``: ``sft``, ``dpo`` or ``reward``. ``config``: a YAML/JSON file, a mapping of settings or a
    :class:`~aligngate.training.TrainConfig`; ``overrides`` replace single settings of it. ``init_adapter``
    (sft/dpo): continue this LoRA adapter (e.g. DPO after SFT) instead of starting a fresh one; the result is one
    adapter on the same base and the manifest records the adapter it started from. ``overwrite``: replace a
    non-empty ``out``. Raises :class:`~aligngate.errors.GateError` on failure.
    """
    from aligngate.training import train as run_training

    cfg, config_path = _config(config, overrides, init_adapter)
    source: Any = data if not isinstance(data, str | os.PathLike) else os.fspath(data)
    return run_training(method, os.fspath(base), source, os.fspath(out), cfg, overwrite=overwrite,
                        config_path=config_path)
