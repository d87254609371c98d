"""A zoo of LoRA adapters built in-process with peft on a tiny random Llama, then mutated."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path
from typing import Any

import pytest

POLICY = """\
apiVersion: aligngate.dev/v1
kind: GatePolicy
metadata: {{name: audit-test}}
spec:
  adapter_audit:
{extra}    max_rank: 256
    max_scale: 16
  checks:
    - id: adapter.audit
      severity: block
"""


def llama_config(hidden: int = 64, inter: int = 128, vocab: int = 300) -> Any:
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=vocab, hidden_size=hidden, intermediate_size=inter, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                       tie_word_embeddings=True)


def build_adapter(out: Path, base_dir: Path | str, *, cfg: Any = None, **lora: Any) -> Path:
    """Save a peft LoRA (random A and B) for a fresh tiny Llama into ``out``."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaForCausalLM

    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg or llama_config())
    kw = {"r": 8, "lora_alpha": 16, "target_modules": ["q_proj", "v_proj"], "init_lora_weights": False}
    kw.update(lora)
    pm = get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", **kw))
    pm.save_pretrained(out)
    c = json.loads((out / "adapter_config.json").read_text())
    c["base_model_name_or_path"] = str(base_dir)
    (out / "adapter_config.json").write_text(json.dumps(c, indent=2))
    return out


def read_tensors(path: Path) -> dict[str, Any]:
    from safetensors.numpy import load_file

    return dict(load_file(str(path)))


def write_tensors(path: Path, tensors: dict[str, Any]) -> None:
    from safetensors.numpy import save_file

    save_file(tensors, str(path))


def edit_config(d: Path, **changes: Any) -> None:
    p = d / "adapter_config.json"
    c = json.loads(p.read_text())
    c.update(changes)
    p.write_text(json.dumps(c, indent=2))


def raw_header(path: Path) -> tuple[dict[str, Any], bytes]:
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n]), data[8 + n:]


def write_raw(path: Path, header: dict[str, Any], body: bytes) -> None:
    h = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(h)) + h + body)


@pytest.fixture(scope="session")
def zoo_root(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The base models and the clean adapters, built once."""
    from transformers import LlamaForCausalLM

    root = tmp_path_factory.mktemp("zoo")
    base = root / "base"
    LlamaForCausalLM(llama_config()).save_pretrained(base)
    other = root / "other-base"
    LlamaForCausalLM(llama_config(hidden=128, inter=256, vocab=500)).save_pretrained(other)
    clean = build_adapter(root / "clean", base)
    all_linear = build_adapter(root / "all-linear", base, r=16, lora_alpha=32, target_modules="all-linear")
    big_rank = build_adapter(root / "r64", base, r=64, lora_alpha=64)
    wrong_shapes = build_adapter(root / "wrong-shapes", base, cfg=llama_config(hidden=128, inter=256, vocab=500))
    embed = build_adapter(root / "embed", base, modules_to_save=["embed_tokens"])
    return {"root": root, "base": base, "other": other, "clean": clean, "all_linear": all_linear,
            "r64": big_rank, "wrong_shapes": wrong_shapes, "embed": embed}


@pytest.fixture
def copy_adapter(zoo_root: dict[str, Path], tmp_path: Path):
    """Copy one of the built adapters into this test's tmp dir."""

    def make(name: str = "clean", dest: str = "adapter") -> Path:
        out = tmp_path / dest
        shutil.copytree(zoo_root[name], out)
        return out

    return make


@pytest.fixture
def policy_file(tmp_path: Path):
    """Write a policy with only the adapter audit, with extra ``adapter_audit`` lines."""

    def make(**extra: Any) -> Path:
        lines = "".join(f"    {k}: {json.dumps(v)}\n" for k, v in extra.items())
        p = tmp_path / f"policy-{len(list(tmp_path.glob('policy-*')))}.yaml"
        p.write_text(POLICY.format(extra=lines))
        return p

    return make


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """Run ``aligngate.cli.main([...])``; returns (exit code, parsed JSON stdout or None)."""
    from aligngate import cli as cli_mod

    try:
        cli_mod.build_parser()
    except ModuleNotFoundError:  # other commands not written yet: register this one only
        monkeypatch.setattr(cli_mod, "COMMANDS", ("audit_adapter",))
    monkeypatch.delenv("ALIGNGATE_SIGNING_KEY", raising=False)

    def run(*argv: str) -> tuple[int, Any]:
        capsys.readouterr()
        code = cli_mod.main(list(argv))
        out = capsys.readouterr().out
        try:
            return code, json.loads(out)
        except ValueError:
            return code, None

    return run
