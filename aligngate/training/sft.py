"""LoRA supervised fine-tuning with trl's ``SFTTrainer``: rows with ``messages`` or ``prompt``/``completion``.

With the fast configuration (padding-free batches) TRL does not truncate (it refuses ``max_length`` there), so the
tokenized rows are truncated here exactly as TRL would (keep the start, drop rows left without a loss token).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aligngate.training.config import TrainConfig
from aligngate.training.runner import RunContext, TrainResult, run_training

__all__ = ["train_sft"]


def truncate_rows(dataset: Any, max_length: int) -> Any:
    """TRL's own truncation of prepared SFT rows: every per-token column cut to its first ``max_length`` tokens,
    then rows with no token left to learn from (all labels -100) dropped."""

    def cut(row: dict[str, Any]) -> dict[str, Any]:
        n = len(row["input_ids"])
        return {k: v[:max_length] for k, v in row.items() if isinstance(v, list) and len(v) == n}

    out = dataset.map(cut)
    if "labels" in out.column_names:
        out = out.filter(lambda row: any(label != -100 for label in row["labels"]))
    return out


def _build(ctx: RunContext) -> Any:
    from trl import SFTConfig, SFTTrainer

    model, peft_config = ctx.causal_lm()
    limit = ctx.cfg.effective_max_length("sft")
    args = SFTConfig(**ctx.trainer_args(max_length=limit, packing=False,
                                        completion_only_loss=ctx.cfg.completion_only_loss,
                                        assistant_only_loss=ctx.cfg.assistant_only_loss))
    trainer = SFTTrainer(model=model, args=args, train_dataset=ctx.dataset, processing_class=ctx.tokenizer,
                         peft_config=peft_config)
    if ctx.settings.padding_free:
        trainer.train_dataset = truncate_rows(trainer.train_dataset, limit)
    return trainer


def _save(trainer: Any, ctx: RunContext, dest: Path) -> None:
    trainer.model.save_pretrained(str(dest), safe_serialization=True)


def train_sft(base: str | Path, data: str | Path | Sequence[dict[str, Any]], out_dir: str | Path,
              cfg: TrainConfig | None = None, *, overwrite: bool = False,
              config_path: str | None = None) -> TrainResult:
    """LoRA SFT of ``base`` on ``data`` (JSONL path or rows); the adapter, tokenizer and manifest go to ``out_dir``."""
    return run_training("sft", base, data, out_dir, cfg, build=_build, save=_save, kind="lora-adapter",
                        overwrite=overwrite, config_path=config_path)
