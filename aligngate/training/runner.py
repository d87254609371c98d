"""The shared training run: validate data, stage the output, train, save, write the manifest, move into place.

Each method module (:mod:`.sft`, :mod:`.dpo`, :mod:`.reward`) supplies only ``build(ctx) -> trainer`` and
``save(trainer, ctx, dest)``; everything else (output staging, seeding, the machine's training settings, loss
curve, manifest, signing) is here. On a CUDA GPU sft and dpo train with the automatic fast configuration
(:mod:`aligngate.training.settings`); the settings used go into the manifest.

Several GPUs: ``accelerate launch --config_file configs/accelerate/ddp.yaml -m aligngate train ...`` (or
``fsdp.yaml`` where the base does not fit one GPU) runs one process per GPU; every process trains its share of
each batch and only the main one writes the output (under FSDP every process joins in gathering the weights first).
The manifest records the number of processes (``device.processes``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aligngate.errors import GateError, InputError, TrainingError
from aligngate.training.config import TrainConfig
from aligngate.training.data import load_rows, to_dataset, validate_rows
from aligngate.training.manifest import build_manifest, sign_if_configured, write_manifest
from aligngate.training.settings import TrainSettings, choose_settings, fast_blocker

__all__ = ["RunContext", "TrainResult", "run_training", "staged_output"]

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What a finished fine-tune produced."""

    out_dir: Path
    manifest: Path
    final_loss: float | None
    losses: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    method: str = ""
    steps: int = 0

    def summary(self) -> dict[str, Any]:
        """The JSON summary ``aligngate train --output json`` prints."""
        return {"out": str(self.out_dir), "manifest": str(self.manifest), "method": self.method,
                "final_loss": self.final_loss, "steps": self.steps, "seconds": round(self.seconds, 2)}


@dataclass
class RunContext:
    """Everything a method needs to build its trainer."""

    method: str
    base: str
    cfg: TrainConfig
    tokenizer: Any
    dataset: Any
    scratch: Path
    device: Any
    callbacks: list[Any]
    settings: TrainSettings
    """The machine's training settings; final once the base model is loaded (:meth:`causal_lm`)."""

    def trainer_args(self, **method_kwargs: Any) -> dict[str, Any]:
        """Keyword arguments for a trl config: the user's hyperparameters, then the method's own keywords, then the
        machine's settings (which may override ``max_length`` for padding-free SFT)."""
        c = self.cfg
        common = dict(
            output_dir=str(self.scratch), max_steps=c.max_steps or -1, num_train_epochs=c.num_train_epochs,
            per_device_train_batch_size=c.batch_size, gradient_accumulation_steps=c.gradient_accumulation_steps,
            learning_rate=c.effective_learning_rate(self.method), lr_scheduler_type=c.lr_scheduler_type,
            warmup_steps=c.warmup_steps, weight_decay=c.weight_decay, max_grad_norm=c.max_grad_norm,
            logging_steps=min(c.logging_steps, c.max_steps or c.logging_steps), save_strategy="no",
            report_to="none", logging_nan_inf_filter=False, seed=c.seed, data_seed=c.seed, disable_tqdm=True,
            dataloader_num_workers=0, **self.device.trainer_kwargs())
        return {**common, **method_kwargs, **self.settings.args}

    def causal_lm(self) -> tuple[Any, Any]:
        """(model, peft_config) for sft/dpo: the base with ``init_adapter`` attached trainable, else a fresh LoRA.
        On a GPU where the fast configuration applies the base loads in its dtype and attention implementation."""
        from aligngate.modelio import load_training_model

        fast = fast_blocker(self.method, self.cfg, self.device) is None
        if self.cfg.quantize != "none":  # QLoRA: the base in 4-bit NF4 on this process's GPU
            from aligngate.training.quantize import bnb_config, compute_dtype, kbit_device_map

            model = load_training_model(self.base, init_adapter=self.cfg.init_adapter,
                                        dtype=compute_dtype(self.device), quantization_config=bnb_config(self.device),
                                        device_map=kbit_device_map())
        else:
            model = load_training_model(self.base, init_adapter=self.cfg.init_adapter,
                                        dtype="bfloat16" if fast else None)
        self.settings = choose_settings(self.method, self.cfg, self.device, model.config)
        if self.settings.attn_implementation:
            base_model = model.get_base_model() if hasattr(model, "get_base_model") else model
            base_model.set_attn_implementation(self.settings.attn_implementation)
        return model, (None if self.cfg.init_adapter else self.lora_config("CAUSAL_LM"))

    def lora_config(self, task_type: str, modules_to_save: list[str] | None = None) -> Any:
        """peft ``LoraConfig`` from the config's LoRA settings."""
        from peft import LoraConfig

        lo = self.cfg.lora
        return LoraConfig(r=lo.r, lora_alpha=lo.alpha, lora_dropout=lo.dropout, target_modules=lo.target_modules,
                          task_type=task_type, modules_to_save=modules_to_save)


@contextlib.contextmanager
def staged_output(out_dir: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty staging directory beside ``out_dir``; on success move it into place atomically."""
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise InputError(f"output directory exists and is not empty: {out} (pass --overwrite to replace it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        yield stage
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, old)
        os.replace(stage, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink()
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _loss_callback(losses: list[dict[str, float]]) -> Any:
    from transformers import TrainerCallback

    class _Progress(TrainerCallback):
        """Keeps the loss curve and reports progress on stderr (stdout stays clean for --output json)."""

        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
            if logs and "loss" in logs:
                losses.append({"step": int(state.global_step), "loss": float(logs["loss"])})
                print(f"aligngate train: step {state.global_step}/{state.max_steps} loss {float(logs['loss']):.4f}",
                      file=sys.stderr, flush=True)

    return _Progress()


def load_tokenizer(base: str) -> Any:
    """The base model's tokenizer (through :mod:`aligngate.modelio`) with a pad token (eos when it has none)."""
    from aligngate.errors import ModelLoadError
    from aligngate.modelio import load_tokenizer as _load

    try:
        tok = _load(base, padding_side="right")
    except ModelLoadError as exc:
        raise InputError(f"cannot load tokenizer of base model {base}: {exc}") from None
    if tok.pad_token is None:
        raise TrainingError(f"tokenizer of {base} has neither a pad nor an eos token")
    return tok


def _check_kept(trainer: Any, n_rows: int, method: str) -> None:
    """trl drops over-long (reward) or fully masked (sft) rows: say how many, and fail if none are left."""
    kept = len(getattr(trainer, "train_dataset", None) or [])
    if kept == 0:
        raise TrainingError(f"{method}: no training rows left after tokenisation (all longer than max_length?)")
    if kept < n_rows:
        log.warning("%s: %d of %d rows dropped by the trainer (longer than max_length or fully masked)",
                    method, n_rows - kept, n_rows)


def _check_finite(trainer: Any, losses: list[dict[str, float]], train_loss: Any, method: str, base: str) -> None:
    """A run whose loss or trained weights are NaN/Inf produced nothing usable: TrainingError, nothing is saved."""
    import math

    import torch

    bad_loss = [x["loss"] for x in losses if not math.isfinite(x["loss"])]
    if isinstance(train_loss, float) and not math.isfinite(train_loss):
        bad_loss.append(train_loss)
    bad = [n for n, p in trainer.model.named_parameters() if p.requires_grad and not bool(torch.isfinite(p).all())]
    if bad_loss or bad:
        what = f"{len(bad)} trained tensor(s) hold NaN/Inf (e.g. {bad[0]})" if bad else "the loss is NaN/Inf"
        raise TrainingError(f"{method} training on base model {base} diverged: {what}; a corrupt base model "
                            "(non-finite weights), corrupt data or a too high learning rate (nothing was saved)")


def _check_base(base: str) -> None:
    """A local path must exist; anything shaped like a hub id (``name`` or ``owner/name``) is left to the loader."""
    if Path(base).exists():
        return
    if base.startswith(("/", ".", "~")) or base.count("/") > 1 or "\\" in base:
        raise InputError(f"base model not found: {base}")


def run_training(method: str, base: str | Path, data: str | Path | Sequence[dict[str, Any]], out_dir: str | Path,
                 cfg: TrainConfig | None, *, build: Callable[[RunContext], Any],
                 save: Callable[[Any, RunContext, Path], None], kind: str, overwrite: bool = False,
                 config_path: str | None = None) -> TrainResult:
    """Run one fine-tune end to end and return its :class:`TrainResult`."""
    from aligngate.training.device import choose_device

    cfg = cfg or TrainConfig()
    cfg = cfg.resolved(method)
    if cfg.init_adapter is not None:
        if method == "reward":
            raise InputError("init_adapter applies to sft and dpo only")
        from aligngate.modelio import check_adapter_dir

        check_adapter_dir(cfg.init_adapter)
    base = str(base)
    _check_base(base)
    located, label = load_rows(data)
    rows = validate_rows(located, method)
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise InputError(f"output directory exists and is not empty: {out} (pass --overwrite to replace it)")
    device = choose_device(cfg.device, cfg.precision)
    from aligngate.training.quantize import check_quantize

    check_quantize(method, cfg.quantize, device)
    import torch
    from transformers import set_seed

    set_seed(cfg.seed)
    threads = torch.get_num_threads()
    if cfg.torch_threads:
        torch.set_num_threads(cfg.torch_threads)
    try:
        return _run(method, base, located, label, rows, out, cfg, device, build=build, save=save, kind=kind,
                    overwrite=overwrite, config_path=config_path)
    except _OtherProcess as other:  # the main process writes the output; the others return what they trained
        return other.result
    finally:
        torch.set_num_threads(threads)


def _run(method: str, base: str, located: list[Any], label: str, rows: list[dict[str, Any]], out: Path,
         cfg: TrainConfig, device: Any, *, build: Callable[[RunContext], Any],
         save: Callable[[Any, RunContext, Path], None], kind: str, overwrite: bool,
         config_path: str | None) -> TrainResult:
    tok = load_tokenizer(base)
    chat = bool(getattr(tok, "chat_template", None))
    dataset = to_dataset(rows, method, chat=chat)
    losses: list[dict[str, float]] = []
    t0 = time.perf_counter()
    with staged_output(out, overwrite=overwrite) as stage, tempfile.TemporaryDirectory(prefix="aligngate-train-") as sc:
        ctx = RunContext(method=method, base=base, cfg=cfg, tokenizer=tok, dataset=dataset, scratch=Path(sc),
                         device=device, callbacks=[_loss_callback(losses)],
                         settings=choose_settings(method, cfg, device))
        try:
            trainer = build(ctx)
            _check_kept(trainer, len(dataset), method)
            from transformers.trainer_callback import PrinterCallback

            trainer.remove_callback(PrinterCallback)  # it prints log dicts to stdout; ours reports on stderr
            for cb in ctx.callbacks:
                trainer.add_callback(cb)
            output = trainer.train()
        except GateError:
            raise
        except Exception as exc:  # noqa: BLE001 - any library failure is a training error
            raise TrainingError(f"{method} training failed: {type(exc).__name__}: {exc}") from exc
        seconds = time.perf_counter() - t0
        _check_finite(trainer, losses, getattr(output, "training_loss", None), method, base)
        train_loss = getattr(output, "training_loss", None)
        result: dict[str, Any] = {"steps": int(trainer.state.global_step), "losses": losses,
                  "final_loss": losses[-1]["loss"] if losses else train_loss,
                  "train_loss": train_loss, "seconds": round(seconds, 3)}
        done = TrainResult(out_dir=out, manifest=out / "manifest.json", final_loss=result["final_loss"],
                           losses=losses, seconds=seconds, method=method, steps=result["steps"])
        processes = int(getattr(trainer.args, "world_size", 1) or 1)
        if getattr(trainer, "is_fsdp_enabled", False):
            trainer.save_model(str(stage))  # every process gathers the sharded weights; the main one writes
        if processes > 1 and not trainer.is_world_process_zero():
            raise _OtherProcess(done)  # several processes (accelerate launch): only the main one writes the output
        if not getattr(trainer, "is_fsdp_enabled", False):
            save(trainer, ctx, stage)
        tok.save_pretrained(stage)
        manifest = build_manifest(method=method, base=base, data_label=label, data_rows=rows,
                                  config=cfg.to_manifest(), config_path=config_path, out_dir=stage, result=result,
                                  device={"device": device.device, "precision": device.precision,
                                          "name": device.name, "processes": processes}, kind=kind,
                                  settings=ctx.settings.to_manifest())
        write_manifest(stage, manifest)
        sign_if_configured(stage)
    return done


class _OtherProcess(Exception):  # noqa: N818 - control flow, never reported
    """Raised inside the staged output by a process other than the main one, so that its stage is discarded."""

    def __init__(self, result: TrainResult) -> None:
        super().__init__("not the main process")
        self.result = result
