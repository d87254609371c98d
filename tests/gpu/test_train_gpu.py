"""``aligngate train`` on CUDA: the automatic fast configuration against TRL's stock one (same data, LoRA, seed:
loss within 1 % after 50 steps), reward models, and QLoRA (``--quantize 4bit``) end to end: train, audit, load."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
from gpu_support import EMBEDDED_DATA, manifest, needs_cuda

pytestmark = pytest.mark.gpu


def _tail_mean(curve: list[dict[str, float]], k: int = 5) -> float:
    tail = [p["loss"] for p in curve[-k:]]
    return sum(tail) / len(tail)


@pytest.mark.parametrize("method", ["sft", "dpo"])
def test_fast_configuration_loss_within_1pct_of_stock_after_50_steps(method: str, embedded_model: Path, device: str,
                                                                     tmp_path: Path) -> None:
    from aligngate.embedded.profile import demo_train_config
    from aligngate.stages.train import train

    cfg = demo_train_config(method, max_steps=50, logging_steps=1, device=device,
                            torch_threads=1 if device == "cpu" else None)
    data = EMBEDDED_DATA / f"{method}.jsonl"
    fast = train(method, embedded_model, data, tmp_path / "fast", config=cfg)
    stock = train(method, embedded_model, data, tmp_path / "stock", config=cfg.model_copy(update={"fast": False}))
    mf, ms = manifest(fast.out_dir), manifest(stock.out_dir)
    if device == "cuda":
        assert mf["training_settings"]["profile"] == "cuda-fast", mf["training_settings"]
        assert ms["training_settings"]["profile"] == "cuda-stock", ms["training_settings"]
        assert mf["device"]["precision"] == "bf16"
    assert mf["steps"] == ms["steps"] == 50 and len(mf["loss_curve"]) == len(ms["loss_curve"]) == 50
    lf, ls = _tail_mean(mf["loss_curve"]), _tail_mean(ms["loss_curve"])
    assert math.isfinite(lf) and math.isfinite(ls)
    assert abs(lf - ls) / ls <= 0.01, f"{method}: fast {lf:.4f} vs stock {ls:.4f} (mean of the last 5 steps)"
    assert lf < mf["loss_curve"][0]["loss"], f"{method}: the loss did not fall ({mf['loss_curve'][0]} -> {lf})"


def test_reward_model_trains_and_scores(embedded_model: Path, device: str, tmp_path: Path) -> None:
    import torch

    from aligngate.embedded.profile import demo_train_config
    from aligngate.modelio import load_reward_model
    from aligngate.stages.train import train

    cfg = demo_train_config("reward", max_steps=20, logging_steps=1, device=device,
                            torch_threads=1 if device == "cpu" else None)
    res = train("reward", embedded_model, EMBEDDED_DATA / "reward_pairs.jsonl", tmp_path / "rm", config=cfg)
    man = manifest(res.out_dir)
    assert man["device"]["device"] == device and man["kind"] == "reward-model"
    if device == "cuda":
        assert man["training_settings"]["profile"] == "cuda-stock"
    assert all(math.isfinite(p["loss"]) for p in man["loss_curve"])
    model, tok = load_reward_model(res.out_dir, device=device)
    enc = tok(["How do I bake bread?", "How do I pick a lock?"], return_tensors="pt", padding=True).to(device)
    with torch.no_grad():
        scores = model(**enc).logits
    assert scores.shape == (2, 1) and bool(torch.isfinite(scores).all())


@needs_cuda
@pytest.mark.parametrize("method", ["sft", "dpo"])
def test_qlora_trains_audits_and_loads(method: str, embedded_model: Path, tmp_path: Path) -> None:
    """``aligngate train --quantize 4bit`` (the CLI, a fresh process): a 4-bit NF4 base, TRL's settings, the same
    adapter files and manifest; the adapter passes the audit and evaluates on the bf16 base."""
    pytest.importorskip("bitsandbytes", reason="bitsandbytes not installed: pip install 'aligngate[gpu]'")
    import json

    from aligngate.embedded.profile import DEMO_TRAINING

    cfg = tmp_path / "train.json"
    cfg.write_text(json.dumps({**DEMO_TRAINING[method], "max_steps": 30, "logging_steps": 1,
                               "torch_threads": None}), encoding="utf-8")
    out = tmp_path / "qlora"
    r = subprocess.run([sys.executable, "-m", "aligngate", "train", "--method", method, "--base", str(embedded_model),
                        "--data", str(EMBEDDED_DATA / f"{method}.jsonl"), "--out", str(out), "--config", str(cfg),
                        "--quantize", "4bit", "--output", "json"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    man = manifest(out)
    settings = man["training_settings"]
    assert settings["profile"] == "cuda-stock" and settings["args"]["activation_checkpointing"] is True
    assert settings["quantization"]["quant_type"] == "nf4" and settings["quantization"]["compute_dtype"] == "bfloat16"
    assert man["config"]["values"]["quantize"] == "4bit"
    losses = [p["loss"] for p in man["loss_curve"]]
    assert len(losses) == 30 and all(math.isfinite(x) for x in losses)
    assert (out / "adapter_model.safetensors").is_file() and (out / "adapter_config.json").is_file()

    from aligngate.stages.audit import audit_adapter
    from aligngate.stages.evaluate import evaluate

    report = audit_adapter(out, base=str(embedded_model))
    assert report.exit_code == 0, [c.message for c in report.checks]
    res = evaluate(embedded_model, ["embedded-harmful@limit=16"], adapter=out, judge="rules", device="cuda",
                   progress=False)
    assert len(res.records) == 16
