"""Tests for aligngate.modelio: loading local models and adapters, and refusing unsafe ones."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from aligngate.errors import AdapterError, GateError, ModelLoadError

pytest.importorskip("torch")
pytest.importorskip("transformers")

_TEXTS = ["How do I wash a car?", "Sure. First gather soap.", "I can't help with that."] * 4


def make_tiny_model(root: Path) -> Path:
    """A 1-layer random Llama with the embedded tokenizer and chat template, saved under root/base."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from aligngate.embedded.model import BuildConfig, train_tokenizer

    torch.manual_seed(0)
    tok = train_tokenizer(_TEXTS, BuildConfig(vocab_size=300, max_length=64))
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    out = root / "base"
    LlamaForCausalLM(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def make_adapter(base: Path, out: Path) -> Path:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base),
                           LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", task_type="CAUSAL_LM"))
    model.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("modelio")
    base = make_tiny_model(root)
    return base, make_adapter(base, root / "adapter")


def test_load_causal_lm_and_tokenizer(tiny: tuple[Path, Path]) -> None:
    from aligngate.modelio import load_causal_lm, load_tokenizer

    model, tok = load_causal_lm(tiny[0], device="cpu")
    assert not model.training
    assert tok.padding_side == "left" and tok.pad_token is not None
    assert load_tokenizer(str(tiny[0])).chat_template


def test_load_with_adapter_merged_and_unmerged(tiny: tuple[Path, Path]) -> None:
    from aligngate.modelio import load_causal_lm

    merged, _ = load_causal_lm(tiny[0], adapter=tiny[1], device="cpu")
    assert type(merged).__name__ == "LlamaForCausalLM"
    peft_model, _ = load_causal_lm(tiny[0], adapter=tiny[1], merge=False, device="cpu")
    assert "Peft" in type(peft_model).__name__
    bare, _ = load_causal_lm(tiny[1], device="cpu")  # adapter dir alone: base from adapter_config.json
    assert type(bare).__name__ == "LlamaForCausalLM"


def test_load_reward_model(tiny: tuple[Path, Path]) -> None:
    from aligngate.modelio import load_reward_model

    model, tok = load_reward_model(tiny[0], device="cpu")
    assert model.config.num_labels == 1 and model.config.pad_token_id == tok.pad_token_id


def test_missing_path_and_missing_config(tmp_path: Path) -> None:
    from aligngate.modelio import load_causal_lm

    with pytest.raises(ModelLoadError, match="does not exist"):
        load_causal_lm(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="config.json"):
        load_causal_lm(tmp_path / "empty")
    assert issubclass(ModelLoadError, GateError)


def test_adapter_symlink_outside_refused(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    from aligngate.modelio import check_adapter_dir, load_causal_lm

    bad = Path(shutil.copytree(tiny[1], tmp_path / "bad"))
    secret = tmp_path / "secret.txt"
    secret.write_text("x")
    os.symlink(secret, bad / "extra.json")
    with pytest.raises(AdapterError, match="outside"):
        check_adapter_dir(bad)
    with pytest.raises(AdapterError):
        load_causal_lm(tiny[0], adapter=bad)
    ok = Path(shutil.copytree(tiny[1], tmp_path / "ok"))
    os.symlink(ok / "adapter_config.json", ok / "alias.json")  # inside: allowed
    assert check_adapter_dir(ok) == ok.resolve()


def test_adapter_without_safetensors_refused(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    from aligngate.modelio import check_adapter_dir, load_causal_lm

    bad = Path(shutil.copytree(tiny[1], tmp_path / "bad"))
    (bad / "adapter_model.safetensors").rename(bad / "adapter_model.bin")
    with pytest.raises(AdapterError, match="safetensors"):
        check_adapter_dir(bad)
    with pytest.raises(AdapterError):
        load_causal_lm(tiny[0], adapter=bad)
    with pytest.raises(ModelLoadError):
        check_adapter_dir(tmp_path / "missing")


def test_model_fingerprint(tiny: tuple[Path, Path]) -> None:
    from aligngate.modelio import model_fingerprint

    fp = model_fingerprint(tiny[0])
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(fp)
    assert all(len(v) == 64 for v in fp.values())
    with pytest.raises(ModelLoadError):
        model_fingerprint(tiny[0] / "nope")


def test_resolve_device() -> None:
    from aligngate.modelio import resolve_device

    assert resolve_device("cpu") == "cpu"
    assert resolve_device() in {"cpu", "cuda"}


def test_load_tokenizer_errors_and_adapter_tokenizer(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    from aligngate.modelio import load_tokenizer

    with pytest.raises(ModelLoadError, match="tokenizer"):
        load_tokenizer(tmp_path)
    adapter_with_tok = Path(shutil.copytree(tiny[1], tmp_path / "a"))
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        shutil.copy(tiny[0] / name, adapter_with_tok / name)
    assert load_tokenizer(adapter_with_tok).chat_template


def test_hub_id_offline_is_model_load_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from aligngate.modelio import load_causal_lm

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="aligngate-test/no-such-model"):
        load_causal_lm("aligngate-test/no-such-model")
