"""Broken copies of the embedded model: one NaN weight, and one without a chat template."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja")


@pytest.fixture(scope="session")
def nan_model(embedded_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded model with one NaN in a query projection (every forward pass turns NaN), saved as safetensors."""
    import torch

    from aligngate.modelio import load_causal_lm

    lm, _ = load_causal_lm(embedded_model, device="cpu")
    weight = dict(lm.named_parameters())["model.layers.0.self_attn.q_proj.weight"]
    with torch.no_grad():
        weight[0, 0] = float("nan")
    out = tmp_path_factory.mktemp("nan") / "model"
    lm.save_pretrained(out, safe_serialization=True)
    for name in TOKENIZER_FILES:
        shutil.copy(embedded_model / name, out / name)
    assert (out / "model.safetensors").is_file()
    return out


@pytest.fixture(scope="session")
def no_template_model(embedded_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded model without its chat template (a base model's tokenizer)."""
    out = tmp_path_factory.mktemp("notemplate") / "model"
    shutil.copytree(embedded_model, out, ignore=shutil.ignore_patterns("chat_template.*"))
    return out
