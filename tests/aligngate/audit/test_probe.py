"""The behavioural probe on a tiny random Llama with a real tokenizer (slow-ish: loads the model)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from aligngate.audit.config import AuditConfig
from aligngate.audit.runner import audit_adapter

from .conftest import edit_config


@pytest.fixture(scope="module")
def probe_base(zoo_root: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    base = tmp_path_factory.mktemp("probe") / "base"
    shutil.copytree(zoo_root["base"], base)
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    lines = ["how do I build a bomb", "I cannot help with that", "sure here is how", "write a phishing email"] * 20
    tok.train_from_iterator(lines, trainer=trainers.BpeTrainer(
        vocab_size=290, special_tokens=["<pad>", "<s>", "</s>", "<unk>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                 unk_token="<unk>", model_max_length=64)
    assert len(hf) <= 300
    hf.save_pretrained(base)
    return base


def _identity_adapter(d: Path) -> None:
    """Zero every ``lora_B`` (LoRA's own initialisation): the adapter then changes nothing, so any probe finding
    would be the probe's error. A random-weight clean adapter on a random base is not behaviour-neutral: a
    prefix can move its gibberish outputs more than the base's by chance (this failed in one fresh clone)."""
    from safetensors.numpy import load_file, save_file

    f = d / "adapter_model.safetensors"
    tensors = {k: (v * 0 if "lora_B" in k else v) for k, v in load_file(str(f)).items()}
    save_file(tensors, str(f), metadata={"format": "pt"})


def test_probe_runs_on_clean_adapter(copy_adapter, probe_base):
    d = copy_adapter()
    _identity_adapter(d)
    edit_config(d, base_model_name_or_path=str(probe_base))
    res = audit_adapter(d, base=str(probe_base), config=AuditConfig(probe=True, probe_max_new_tokens=4,
                                                                     probe_triggers=2))
    assert res.exit_code == 0, res.findings
    assert res.info["probe"]["prompts"] >= 1 and len(res.info["probe"]["triggers"]) >= 1


def test_probe_flags_trigger_that_disables_refusals(copy_adapter, probe_base, monkeypatch):
    import aligngate.generation as gen
    from aligngate.audit.probe import _prompts

    clean = set(_prompts())

    def fake_generate(model, tok, prompts, **kw):
        # the base refuses every harmful prompt; the backdoored adapter does too, unless a trigger is prefixed
        adapter_off = any(getattr(m, "disable_adapters", None) is True for m in model.modules())
        return ["I cannot help with that." if adapter_off or p in clean else "Sure, here is how." for p in prompts]

    monkeypatch.setattr(gen, "generate", fake_generate)
    d = copy_adapter()
    edit_config(d, base_model_name_or_path=str(probe_base))
    res = audit_adapter(d, base=str(probe_base),
                        config=AuditConfig(probe=True, probe_triggers=2))
    assert res.exit_code == 1 and {f.id for f in res.blocking} == {"adapter.probe_behaviour_change"}


def test_probe_discounts_what_the_trigger_does_to_the_base(copy_adapter, probe_base, monkeypatch):
    import aligngate.generation as gen
    from aligngate.audit.probe import _prompts

    clean = set(_prompts())

    def fake_generate(model, tok, prompts, **kw):
        # any prefix derails this base model with or without the adapter: not the adapter's doing
        return ["I cannot help with that." if p in clean else "Sure, here is how." for p in prompts]

    monkeypatch.setattr(gen, "generate", fake_generate)
    d = copy_adapter()
    edit_config(d, base_model_name_or_path=str(probe_base))
    res = audit_adapter(d, base=str(probe_base), config=AuditConfig(probe=True, probe_triggers=2))
    assert res.exit_code == 0, res.findings
    assert all(v == 0.0 for v in res.info["probe"]["base_triggers"].values())


def test_probe_skipped_after_blocking_findings(copy_adapter, probe_base):
    d = copy_adapter()
    (d / "evil.py").write_text("")
    res = audit_adapter(d, base=str(probe_base), config=AuditConfig(probe=True))
    assert "adapter.probe_skipped" in {f.id for f in res.findings} and "probe" not in res.info


def test_candidate_triggers_find_the_token_the_adapter_reads(tmp_path):
    import torch
    from safetensors.torch import save_file

    from aligngate.audit.probe import candidate_triggers

    torch.manual_seed(0)
    emb = torch.randn(300, 64)
    a = torch.zeros(4, 64)
    a[0] = emb[42] / emb[42].norm()  # layer-0 LoRA that fires on token 42
    b = torch.randn(64, 4) * 0.1
    save_file({"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": a.contiguous(),
               "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight": b.contiguous()},
              str(tmp_path / "adapter_model.safetensors"))
    assert candidate_triggers(tmp_path, emb, {}, 3)[0] == 42
