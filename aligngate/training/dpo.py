"""LoRA DPO with trl's ``DPOTrainer``. No reference model copy: with a fresh LoRA the frozen base is the
reference; when continuing an adapter (``init_adapter``) trl uses a frozen copy of that adapter instead."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aligngate.training.config import TrainConfig
from aligngate.training.runner import RunContext, TrainResult, run_training

__all__ = ["train_dpo"]


def _build(ctx: RunContext) -> Any:
    from trl import DPOConfig, DPOTrainer

    model, peft_config = ctx.causal_lm()
    args = DPOConfig(**ctx.trainer_args(beta=ctx.cfg.beta, max_length=ctx.cfg.effective_max_length("dpo")))
    return DPOTrainer(model=model, ref_model=None, args=args, train_dataset=ctx.dataset,
                      processing_class=ctx.tokenizer, peft_config=peft_config)


def _save(trainer: Any, ctx: RunContext, dest: Path) -> None:
    # When DPO continues an adapter, trl keeps a frozen copy of it named "ref" as the reference policy;
    # only the trained "default" adapter is the output.
    trainer.model.save_pretrained(str(dest), safe_serialization=True, selected_adapters=["default"])


def train_dpo(base: str | Path, data: str | Path | Sequence[dict[str, Any]], out_dir: str | Path,
              cfg: TrainConfig | None = None, *, overwrite: bool = False,
              config_path: str | None = None) -> TrainResult:
    """LoRA DPO of ``base`` on ``prompt``/``chosen``/``rejected`` rows; adapter, tokenizer, manifest in ``out_dir``."""
    return run_training("dpo", base, data, out_dir, cfg, build=_build, save=_save, kind="lora-adapter",
                        overwrite=overwrite, config_path=config_path)
