"""Training on several GPUs: ``aligngate train`` under ``accelerate launch`` with an accelerate configuration.

    result = train_launched("sft", "base-model", "sft.jsonl", "runs/sft",
                            accelerate_config="configs/accelerate/ddp.yaml", num_processes=4)

The repository ships two configurations (TRL's, for this TRL): ``configs/accelerate/ddp.yaml`` (data parallel,
one process per GPU) and ``configs/accelerate/fsdp.yaml`` (FSDP2, for a base that does not fit one GPU). Each
process runs the same :func:`aligngate.training.train`; the main one writes the output and its manifest
(:mod:`aligngate.training.runner`). The Prefect ``finetune-gpu`` deployment passes its ``accelerate_config``
parameter here. A launch that fails raises a :class:`~aligngate.errors.TrainingError` naming the configuration
file and carrying the end of the processes' output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aligngate.errors import InputError, TrainingError
from aligngate.training.runner import TrainResult

__all__ = ["launch_command", "train_launched"]


def launch_command(method: str, base: str, data: str, out: str, *, accelerate_config: str,
                   config_file: str | None = None, num_processes: int | None = None,
                   overwrite: bool = False) -> list[str]:
    """The ``accelerate launch ... -m aligngate train ...`` command line."""
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", accelerate_config]
    if num_processes is not None:
        cmd += ["--num_processes", str(num_processes)]
    cmd += ["-m", "aligngate", "train", "--method", method, "--base", base, "--data", data, "--out", out,
            "--output", "json"]
    if config_file is not None:
        cmd += ["--config", config_file]
    if overwrite:
        cmd.append("--overwrite")
    return cmd


def train_launched(method: str, base: str | os.PathLike[str], data: str | os.PathLike[str],
                   out: str | os.PathLike[str], *, accelerate_config: str | os.PathLike[str],
                   config: Mapping[str, Any] | str | os.PathLike[str] | None = None,
                   init_adapter: str | os.PathLike[str] | None = None, num_processes: int | None = None,
                   overwrite: bool = False, timeout_s: float | None = None) -> TrainResult:
    """Train as :func:`aligngate.stages.train` does, in ``accelerate launch`` processes (``num_processes``; default
    one per visible GPU); the result is read back from the manifest the main process wrote. ``config``: a settings
    mapping or a YAML/JSON file."""
    cfg_path = Path(accelerate_config)
    if not cfg_path.is_file():
        raise InputError(f"accelerate config not found: {cfg_path}")
    if num_processes is not None and num_processes < 1:
        raise InputError(f"num_processes must be at least 1, got {num_processes}")
    if num_processes is None:  # one process per GPU this machine has (the config's own count where it has none)
        import torch

        num_processes = torch.cuda.device_count() or None
    out_dir = Path(out)
    with tempfile.TemporaryDirectory(prefix="aligngate-launch-") as tmp:
        config_file: str | None = None
        if isinstance(config, str | os.PathLike):
            config_file = os.fspath(config)
            if init_adapter is not None:
                raise InputError("init_adapter with a config file: put init_adapter in the file")
        elif config is not None or init_adapter is not None:
            values = dict(config or {})
            if init_adapter is not None:
                values["init_adapter"] = os.fspath(init_adapter)
            config_file = str(Path(tmp) / "train.json")
            Path(config_file).write_text(json.dumps(values), encoding="utf-8")
        cmd = launch_command(method, os.fspath(base), os.fspath(data), os.fspath(out_dir),
                             accelerate_config=str(cfg_path), config_file=config_file,
                             num_processes=num_processes, overwrite=overwrite)
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise TrainingError(f"{method} training under accelerate ({cfg_path}) ran past {timeout_s}s") from None
    if proc.returncode != 0:  # the processes' own error lines first (accelerate adds its traceback after them)
        lines = proc.stderr.strip().splitlines()
        ours = list(dict.fromkeys(ln for ln in lines if ln.startswith("aligngate: error:")))
        detail = "\n".join(ours or lines[-15:])
        raise TrainingError(f"{method} training under accelerate ({cfg_path}) failed with exit "
                            f"{proc.returncode}:\n{detail}")
    try:
        man = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TrainingError(f"{method} training under accelerate ({cfg_path}) wrote no readable manifest in "
                            f"{out_dir}: {exc}") from None
    return TrainResult(out_dir=out_dir, manifest=out_dir / "manifest.json", final_loss=man.get("final_loss"),
                       losses=list(man.get("loss_curve", [])), seconds=float(man.get("wall_seconds", 0.0)),
                       method=method, steps=int(man.get("steps", 0)))
