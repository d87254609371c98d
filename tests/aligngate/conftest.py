"""Fixtures for the CI and registry integration tests (SARIF, JUnit, MLflow, Hub, base binding): a tiny base model
directory (a real Llama config and a real safetensors file) and LoRA adapter directories written tensor by tensor
with safetensors, clean or with planted problems, so that a gate whose policy holds only ``adapter.audit`` decides
in about a second without loading a model."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

AUDIT_ONLY_POLICY = """\
apiVersion: aligngate.dev/v1
kind: GatePolicy
metadata: {name: audit-only}
spec:
  checks:
    - id: adapter.audit
      severity: block
"""

_HIDDEN, _KV_OUT, _LAYERS, _R = 64, 32, 2, 4


@pytest.fixture(scope="session")
def ci_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny base model directory: a Llama config.json and a model.safetensors (random weights, never loaded)."""
    import numpy as np
    from safetensors.numpy import save_file

    d = tmp_path_factory.mktemp("ci-base")
    (d / "config.json").write_text(json.dumps({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": _HIDDEN,
        "intermediate_size": 128, "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": _LAYERS,
        "vocab_size": 300, "max_position_embeddings": 64, "tie_word_embeddings": True}))
    rng = np.random.default_rng(0)
    save_file({"model.embed_tokens.weight": rng.standard_normal((300, _HIDDEN)).astype(np.float32)},
              str(d / "model.safetensors"))
    return d


@pytest.fixture
def ci_adapter(tmp_path: Path, ci_base: Path) -> Callable[..., Path]:
    """``make(name, nan=False, code_file=False, bound_to=None)``: a LoRA adapter for :func:`ci_base` (q_proj and
    v_proj of every layer). ``nan``: one NaN in a lora_B (adapter.nonfinite_weights, block); ``code_file``: a
    ``helper.py`` beside it (adapter.code_file, block); ``bound_to``: a training ``manifest.json`` recording that
    base directory's sha256 (``aligngate.training.manifest.base_fingerprint``)."""
    import numpy as np
    from safetensors.numpy import save_file

    def make(name: str = "adapter", *, nan: bool = False, code_file: bool = False,
             bound_to: Path | None = None) -> Path:
        d = tmp_path / name
        d.mkdir()
        (d / "adapter_config.json").write_text(json.dumps({
            "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": _R, "lora_alpha": 8,
            "target_modules": ["q_proj", "v_proj"], "base_model_name_or_path": str(ci_base)}))
        rng = np.random.default_rng(1)
        tensors: dict[str, Any] = {}
        for layer in range(_LAYERS):
            for mod, out in (("q_proj", _HIDDEN), ("v_proj", _KV_OUT)):
                pre = f"base_model.model.model.layers.{layer}.self_attn.{mod}"
                tensors[f"{pre}.lora_A.weight"] = (rng.standard_normal((_R, _HIDDEN)) * 0.01).astype(np.float32)
                tensors[f"{pre}.lora_B.weight"] = (rng.standard_normal((out, _R)) * 0.01).astype(np.float32)
        if nan:
            tensors["base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight"][2, 1] = np.nan
        save_file(tensors, str(d / "adapter_model.safetensors"))
        if code_file:
            (d / "helper.py").write_text("print('runs on load with trust_remote_code')\n")
        if bound_to is not None:
            from aligngate.training.manifest import base_fingerprint

            (d / "manifest.json").write_text(json.dumps({"manifest_version": 1,
                                                         "base_model": base_fingerprint(str(bound_to))}))
        return d

    return make


@pytest.fixture
def audit_only_policy(tmp_path: Path) -> Path:
    """A policy whose one check is ``adapter.audit`` (the gate decides without loading a model)."""
    p = tmp_path / "audit-only.yaml"
    p.write_text(AUDIT_ONLY_POLICY)
    return p


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """``run(*argv)`` -> (exit code, stdout, stderr) of ``aligngate.cli.main``."""
    from aligngate.cli import main

    def run(*argv: str | Path) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture(scope="session")
def issue24_adapters(embedded_model: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The demo's two SFT candidates of the embedded model (issue 24 tests): ``clean`` trained on the SFT rows
    without the planted poison, ``poisoned`` on all of them (about a third harmful compliance); demo profile."""
    import torch

    from aligngate.embedded.corpus import sft_dataset, sft_truth
    from aligngate.embedded.profile import demo_train_config
    from aligngate.stages.train import train

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rows, truth = sft_dataset(), sft_truth()
        root = tmp_path_factory.mktemp("issue24-adapters")
        out = {}
        for name, data in (("clean", [r for r, t in zip(rows, truth, strict=True) if not t["poison"]]),
                           ("poisoned", rows)):
            train("sft", str(embedded_model), data, root / name, config=demo_train_config("sft"))
            out[name] = root / name
        return out
    finally:
        torch.set_num_threads(before)
