"""LoRA SFT / DPO and reward training: output files, manifest hashes, determinism, errors naming file:line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aligngate.errors import InputError
from aligngate.fileio import sha256_file, sha256_tree


def _check_manifest(out: Path, base: Path, data: Path) -> dict[str, Any]:
    man = json.loads((out / "manifest.json").read_text())
    assert man["data"]["sha256"] == sha256_file(data)
    assert man["base_model"]["sha256"] == sha256_tree(base)
    for rel, digest in man["outputs"].items():
        assert sha256_file(out / rel) == digest, rel
    assert set(man["outputs"]) == {p for p in sha256_tree(out) if p != "manifest.json"}
    assert man["steps"] == 3 and len(man["loss_curve"]) == 3 and man["final_loss"] == man["loss_curve"][-1]["loss"]
    assert man["seed"] == 0 and man["config"]["values"]["max_steps"] == 3
    assert {"torch", "transformers", "peft", "trl"} <= set(man["versions"])
    assert man["device"]["device"] in ("cpu", "cuda")
    return man


def test_sft_adapter_and_manifest(sft_run: Any, tiny_base: Path, data_dir: Path) -> None:
    out = sft_run.out_dir
    for name in ("adapter_model.safetensors", "adapter_config.json", "tokenizer.json", "manifest.json"):
        assert (out / name).is_file(), name
    man = _check_manifest(out, tiny_base, data_dir / "sft.jsonl")
    assert man["method"] == "sft" and man["kind"] == "lora-adapter"
    cfg = json.loads((out / "adapter_config.json").read_text())
    assert cfg["peft_type"] == "LORA" and cfg["r"] == 16  # TrainConfig's default: TRL's lora_r
    assert not list(out.parent.glob(".adapter.*")), "staging directory left behind"


def test_dpo_adapter_and_manifest(dpo_run: Any, tiny_base: Path, data_dir: Path) -> None:
    out = dpo_run.out_dir
    assert (out / "adapter_model.safetensors").is_file() and (out / "adapter_config.json").is_file()
    assert _check_manifest(out, tiny_base, data_dir / "dpo.jsonl")["method"] == "dpo"


def test_sft_is_deterministic_and_takes_prompt_completion(tiny_base: Path, data_dir: Path, fast_cfg: Any,
                                                          tmp_path: Path, sft_run: Any) -> None:
    from aligngate.training import train_sft

    again = train_sft(tiny_base, data_dir / "sft.jsonl", tmp_path / "again", fast_cfg)
    name = "adapter_model.safetensors"
    assert sha256_file(again.out_dir / name) == sha256_file(sft_run.out_dir / name)
    assert again.losses == sft_run.losses
    pc = train_sft(tiny_base, data_dir / "sft_pc.jsonl", tmp_path / "pc", fast_cfg.model_copy(update={"max_steps": 1}))
    assert (pc.out_dir / name).is_file() and pc.steps == 1


def test_reward_cli_json_summary(tiny_base: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from aligngate.cli import main
    from aligngate.embedded.corpus import reward_pairs

    data = tmp_path / "rm.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in reward_pairs()[:40]))
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("max_steps: 2\nbatch_size: 8\nlogging_steps: 1\n")
    out = tmp_path / "rm"
    code = main(["train", "--method", "reward", "--base", str(tiny_base), "--data", str(data), "--out", str(out),
                 "--config", str(cfg), "--output", "json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["out"] == str(out) and summary["steps"] == 2 and summary["final_loss"] is not None
    assert (out / "model.safetensors").is_file() and (out / "config.json").is_file()
    man = json.loads((out / "manifest.json").read_text())
    assert man["kind"] == "reward-model" and man["config"]["file_sha256"] == sha256_file(cfg)
    assert json.loads((out / "config.json").read_text())["pad_token_id"] is not None
    # existing, non-empty --out is refused without --overwrite (exit 2), and replaced with it
    again = ["train", "--method", "reward", "--base", str(tiny_base), "--data", str(data), "--out", str(out),
             "--config", str(cfg)]
    assert main(again) == 2
    assert "not empty" in capsys.readouterr().err
    assert main([*again, "--overwrite"]) == 0


@pytest.mark.parametrize(("line", "needle"), [
    ('{"prompt": "hi", "chosen": "a"}', "missing key 'rejected'"),
    ('{"prompt": "hi", "chosen": "a", "rejected": ', "invalid JSON"),
    ('["not", "an", "object"]', "JSON object"),
    ('{"prompt": "hi", "chosen": [{"role": "assistant"}], "rejected": "b"}', "chosen[0]"),
])
def test_bad_dpo_data_names_file_and_line(tiny_base: Path, tmp_path: Path, line: str, needle: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    from aligngate.cli import main
    from aligngate.training import train_dpo

    data = tmp_path / "bad.jsonl"
    data.write_text('{"prompt": "p", "chosen": "c", "rejected": "r"}\n\n' + line + "\n")
    with pytest.raises(InputError, match=rf"bad\.jsonl:3: .*{needle[:6]}"):
        train_dpo(tiny_base, data, tmp_path / "out")
    code = main(["train", "--method", "dpo", "--base", str(tiny_base), "--data", str(data), "--out",
                 str(tmp_path / "out")])
    assert code == 2
    err = capsys.readouterr().err
    assert f"{data}:3" in err and needle in err
    assert not (tmp_path / "out").exists()


def test_bad_sft_rows_and_config(tmp_path: Path) -> None:
    from aligngate.training import load_train_config
    from aligngate.training.data import load_rows, validate_rows

    rows, _ = load_rows([{"text": "no messages"}])
    with pytest.raises(InputError, match=r"<rows>:1: missing key 'messages'"):
        validate_rows(rows, "sft")
    rows, _ = load_rows([{"messages": [{"role": "user", "content": "hi"}]}])
    with pytest.raises(InputError, match="no assistant turn"):
        validate_rows(rows, "sft")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("max_step: 3\n")
    with pytest.raises(InputError, match=r"c\.yaml: key 'max_step': unknown key"):
        load_train_config(cfg)
    assert load_train_config(None, {"max_steps": 7}).max_steps == 7


def test_device_choice_cpu() -> None:
    import torch

    from aligngate.training.device import choose_device

    d = choose_device("auto", "auto")
    if torch.cuda.is_available():
        assert d.device == "cuda" and d.precision in ("bf16", "fp32")
    else:
        assert d.trainer_kwargs() == {"use_cpu": True, "bf16": False, "fp16": False}
    cpu = choose_device("cpu", "bf16")
    assert cpu.precision == "fp32" and cpu.trainer_kwargs()["bf16"] is False


def test_dpo_continues_the_sft_adapter(tiny_base: Path, data_dir: Path, fast_cfg: Any, sft_run: Any,
                                       tmp_path: Path) -> None:
    from aligngate.training import train_dpo

    cfg = fast_cfg.model_copy(update={"max_steps": 2, "init_adapter": str(sft_run.out_dir)})
    res = train_dpo(tiny_base, data_dir / "dpo.jsonl", tmp_path / "dpo", cfg)
    man = json.loads(res.manifest.read_text())
    assert man["config"]["init_adapter"]["sha256"] == sha256_tree(sft_run.out_dir)
    name = "adapter_model.safetensors"
    assert sha256_file(res.out_dir / name) != sha256_file(sft_run.out_dir / name)
    assert not (res.out_dir / "ref").exists()  # trl's frozen reference copy is not part of the output
    before = json.loads((sft_run.out_dir / "adapter_config.json").read_text())
    after = json.loads((res.out_dir / "adapter_config.json").read_text())
    assert after["r"] == before["r"] and after["base_model_name_or_path"] == before["base_model_name_or_path"]
    with pytest.raises(InputError, match="sft and dpo only"):
        from aligngate.training import train_reward

        train_reward(tiny_base, data_dir / "dpo.jsonl", tmp_path / "rm", cfg)


def test_signed_when_key_is_set(tiny_base: Path, data_dir: Path, fast_cfg: Any, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    from aligngate.training import train_sft

    monkeypatch.setenv("ALIGNGATE_SIGNING_KEY", "test-key")
    res = train_sft(tiny_base, data_dir / "sft.jsonl", tmp_path / "signed",
                    fast_cfg.model_copy(update={"max_steps": 1}))
    assert (res.out_dir / "aligngate_manifest.json").is_file() and (res.out_dir / "aligngate_manifest.sig").is_file()
    assert res.final_loss is not None
