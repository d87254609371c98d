"""LoRA supervised fine-tuning with trl's ``SFTTrainer``: rows with ``messages`` or ``prompt``/``completion``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aligngate.training.config import TrainConfig
from aligngate.training.runner import RunContext, TrainResult, run_training

__all__ = ["train_sft"]


def _build(ctx: RunContext) -> Any:
    from trl import SFTConfig, SFTTrainer

    model, peft_config = ctx.causal_lm()
    args = SFTConfig(max_length=ctx.cfg.effective_max_length("sft"), packing=False,
                     completion_only_loss=ctx.cfg.completion_only_loss,
                     assistant_only_loss=ctx.cfg.assistant_only_loss, **ctx.common_args())
    return SFTTrainer(model=model, args=args, train_dataset=ctx.dataset, processing_class=ctx.tokenizer,
                      peft_config=peft_config)


def _save(trainer: Any, ctx: RunContext, dest: Path) -> None:
    trainer.model.save_pretrained(str(dest), safe_serialization=True)


def train_sft(base: str | Path, data: str | Path | Sequence[dict[str, Any]], out_dir: str | Path,
              cfg: TrainConfig | None = None, *, overwrite: bool = False,
              config_path: str | None = None) -> TrainResult:
    """LoRA SFT of ``base`` on ``data`` (JSONL path or rows); the adapter, tokenizer and manifest go to ``out_dir``."""
    return run_training("sft", base, data, out_dir, cfg, build=_build, save=_save, kind="lora-adapter",
                        overwrite=overwrite, config_path=config_path)
