"""Policy section ``spec.adapter_audit``: what a LoRA adapter may contain."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AuditConfig(BaseModel):
    """LoRA adapter audit settings."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    allowed_target_modules: list[str] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    """Module names a LoRA may target; anything else is a finding."""
    allow_modules_to_save: list[str] = Field(default_factory=list)
    """Modules an adapter may ship in full (``modules_to_save``); ``lm_head``/``embed_tokens``/norms are flagged otherwise."""
    max_rank: int = Field(default=256, ge=1)
    """Largest LoRA rank accepted."""
    max_scale: float = Field(default=16.0, gt=0)
    """Largest ``lora_alpha / r`` accepted."""
    max_file_mb: float = Field(default=8192.0, gt=0)
    """Largest single file accepted, in MiB."""
    expected_base: str | None = None
    """Base model the adapter must declare (path or hub id); ``--base`` on the command line overrides it."""
    require_signature: bool = False
    """Whether an adapter without a valid signed manifest is a blocking finding."""
