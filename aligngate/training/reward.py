"""Reward-model training with trl's ``RewardTrainer``: a sequence-classification head (``num_labels=1``).

``reward_mode: full`` (default) fine-tunes every weight and saves a plain Hugging Face model directory;
``reward_mode: lora`` saves a LoRA adapter (task ``SEQ_CLS``) with the ``score`` head in ``modules_to_save``.
Both load with :func:`aligngate.rewardtest.scoring.load_reward_model`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aligngate.training.config import TrainConfig
from aligngate.training.runner import RunContext, TrainResult, run_training

__all__ = ["load_seq_cls_base", "train_reward"]


def load_seq_cls_base(base: str, pad_token_id: int | None) -> Any:
    """``AutoModelForSequenceClassification`` with one label and ``pad_token_id`` set (fp32), via modelio."""
    from aligngate.modelio import load_training_model

    return load_training_model(base, task="reward", pad_token_id=pad_token_id)


def _build(ctx: RunContext) -> Any:
    from trl import RewardConfig, RewardTrainer

    model = load_seq_cls_base(ctx.base, ctx.tokenizer.pad_token_id)
    args = RewardConfig(**ctx.trainer_args(max_length=ctx.cfg.effective_max_length("reward"),
                                           center_rewards_coefficient=ctx.cfg.center_rewards_coefficient))
    peft = ctx.lora_config("SEQ_CLS", modules_to_save=["score"]) if ctx.cfg.reward_mode == "lora" else None
    return RewardTrainer(model=model, args=args, train_dataset=ctx.dataset, processing_class=ctx.tokenizer,
                         peft_config=peft)


def _save(trainer: Any, ctx: RunContext, dest: Path) -> None:
    trainer.model.save_pretrained(str(dest), safe_serialization=True)


def train_reward(base: str | Path, data: str | Path | Sequence[dict[str, Any]], out_dir: str | Path,
                 cfg: TrainConfig | None = None, *, overwrite: bool = False,
                 config_path: str | None = None) -> TrainResult:
    """Train a reward model on ``prompt``/``chosen``/``rejected`` rows; the model and manifest go to ``out_dir``
    (``cfg`` None: :class:`~aligngate.training.config.TrainConfig`'s defaults)."""
    cfg = cfg or TrainConfig()
    return run_training("reward", base, data, out_dir, cfg, build=_build, save=_save,
                        kind="reward-model" if cfg.reward_mode == "full" else "reward-lora-adapter",
                        overwrite=overwrite, config_path=config_path)
