"""issue 17: no model load ever deserialises pickle, whatever the route (modelio, the hf-classifier judge,
lm-eval capability drift, the CLI, hub ids).

Every case uses a real malicious ``pytorch_model.bin`` (``torch.save`` of an object whose unpickling opens a
marker file for writing; proven malicious by the static scanner, never by running it). Two tripwires watch each
case: ``torch.load`` is replaced by a function that records the file and raises (so no payload can run even if
a regression reaches it, and the regression is seen), and every ``from_pretrained`` of transformers is recorded
(a refused directory must be refused before transformers is called at all).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aligngate.errors import GateError, JudgeError, ModelLoadError

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

_META_FILES = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
               "chat_template.jinja")
_PICKLE_ONLY = r"holds only pickle weights \(pytorch_model\.bin\); aligngate loads safetensors only"


class _Payload:
    """Unpickling this opens ``marker`` for writing (harmless, observable)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.marker), "w"))


def write_evil_bin(path: Path, marker: Path) -> Path:
    """A ``torch.save`` archive whose unpickling would create ``marker``."""
    torch.save({"model.embed_tokens.weight": _Payload(marker)}, path)
    return path


class Tripwires:
    """What reached ``torch.load`` and transformers' ``from_pretrained`` during a test."""

    def __init__(self) -> None:
        self.torch_load: list[str] = []
        self.from_pretrained: list[str] = []

    def touched(self, directory: Path) -> list[str]:
        """Every recorded call that named ``directory`` or a file in it."""
        d = str(directory)
        return [c for c in self.torch_load + self.from_pretrained if c.startswith(d)]


@pytest.fixture()
def wires(monkeypatch: pytest.MonkeyPatch) -> Tripwires:
    from transformers import AutoTokenizer, PreTrainedModel

    w = Tripwires()

    def no_torch_load(f: Any, *args: Any, **kwargs: Any) -> Any:
        w.torch_load.append(str(f))
        raise RuntimeError(f"tripwire: torch.load({f}) was called")

    real_model = PreTrainedModel.from_pretrained.__func__  # type: ignore[attr-defined]
    real_tok = AutoTokenizer.from_pretrained

    def model_spy(cls: Any, name: Any, *args: Any, **kwargs: Any) -> Any:
        w.from_pretrained.append(str(name))
        return real_model(cls, name, *args, **kwargs)

    def tok_spy(name: Any, *args: Any, **kwargs: Any) -> Any:
        w.from_pretrained.append(str(name))
        return real_tok(name, *args, **kwargs)

    monkeypatch.setattr(torch, "load", no_torch_load)
    monkeypatch.setattr(PreTrainedModel, "from_pretrained", classmethod(model_spy))
    monkeypatch.setattr(AutoTokenizer, "from_pretrained", tok_spy)
    return w


@pytest.fixture()
def marker(tmp_path: Path) -> Path:
    return tmp_path / "PAYLOAD_RAN"


@pytest.fixture()
def evil_dir(tmp_path: Path, embedded_model: Path, marker: Path) -> Path:
    """The embedded model's config and tokenizer beside a malicious pytorch_model.bin, and no safetensors."""
    d = tmp_path / "evil"
    d.mkdir()
    for name in _META_FILES:
        shutil.copy(embedded_model / name, d / name)
    write_evil_bin(d / "pytorch_model.bin", marker)
    return d


@pytest.fixture()
def both_dir(tmp_path: Path, embedded_model: Path, marker: Path) -> Path:
    """The whole embedded model (model.safetensors) plus a malicious pytorch_model.bin."""
    d = Path(shutil.copytree(embedded_model, tmp_path / "both"))
    write_evil_bin(d / "pytorch_model.bin", marker)
    return d


def _refused(exc: pytest.ExceptionInfo[BaseException], directory: Path, wires: Tripwires, marker: Path) -> None:
    assert isinstance(exc.value, GateError) and exc.value.exit_code == 2
    assert str(directory) in str(exc.value)
    assert wires.touched(directory) == [], "transformers or torch.load was reached for a refused directory"
    assert not marker.exists(), "the pickle payload ran"


def test_the_payload_is_real(tmp_path: Path, marker: Path) -> None:
    """The malicious file really imports ``open`` on unpickling (static scan: nothing is executed)."""
    from aligngate.audit.pickle_scan import scan_bytes

    res = scan_bytes(write_evil_bin(tmp_path / "pytorch_model.bin", marker).read_bytes(), "pytorch_model.bin")
    assert any(q.endswith(".open") for q in res.dangerous), res.dangerous
    assert not marker.exists()


def _loaders() -> dict[str, Callable[[Path], Any]]:
    from aligngate import modelio

    return {
        "causal_lm": lambda d: modelio.load_causal_lm(d, device="cpu"),
        "reward_model": lambda d: modelio.load_reward_model(d, device="cpu"),
        "sequence_classifier": lambda d: modelio.load_sequence_classifier(d, device="cpu"),
        "encoder": lambda d: modelio.load_encoder(d),
        "training_causal": lambda d: modelio.load_training_model(d),
        "training_reward": lambda d: modelio.load_training_model(d, task="reward", pad_token_id=0),
        "check_model_dir": lambda d: modelio.check_model_dir(d),
    }


@pytest.mark.parametrize("loader", sorted(_loaders()))
def test_modelio_refuses_pickle_only_dir(loader: str, evil_dir: Path, wires: Tripwires, marker: Path) -> None:
    with pytest.raises(ModelLoadError, match=_PICKLE_ONLY) as exc:
        _loaders()[loader](evil_dir)
    _refused(exc, evil_dir, wires, marker)
    assert "convert" in str(exc.value)


@pytest.mark.parametrize("names", [("model.pt",), ("weights.pth",), ("last.ckpt",), ("model.pkl",),
                                   ("pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin")])
def test_every_pickle_kind_is_refused_by_name(names: tuple[str, ...], evil_dir: Path, wires: Tripwires,
                                              marker: Path) -> None:
    from aligngate.modelio import load_causal_lm

    (evil_dir / "pytorch_model.bin").unlink()
    for name in names:
        write_evil_bin(evil_dir / name, marker)
    if len(names) > 1:
        (evil_dir / "pytorch_model.bin.index.json").write_text(json.dumps(
            {"weight_map": {"a": names[0], "b": names[1]}}), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="holds only pickle weights") as exc:
        load_causal_lm(evil_dir, device="cpu")
    assert f"({', '.join(names)})" in str(exc.value)
    _refused(exc, evil_dir, wires, marker)


def test_dir_without_any_weights(evil_dir: Path, wires: Tripwires, marker: Path) -> None:
    from aligngate.modelio import load_causal_lm

    (evil_dir / "pytorch_model.bin").unlink()
    with pytest.raises(ModelLoadError, match="has no safetensors weights") as exc:
        load_causal_lm(evil_dir, device="cpu")
    _refused(exc, evil_dir, wires, marker)


def test_safetensors_index_naming_a_pickle_is_refused(both_dir: Path, wires: Tripwires, marker: Path) -> None:
    """transformers would torch.load any shard an index names; the index must name safetensors inside the dir."""
    from aligngate.modelio import load_causal_lm

    (both_dir / "model.safetensors").unlink()
    index = both_dir / "model.safetensors.index.json"
    index.write_text(json.dumps({"metadata": {}, "weight_map": {"model.embed_tokens.weight": "pytorch_model.bin"}}),
                     encoding="utf-8")
    with pytest.raises(ModelLoadError, match="maps weights to 'pytorch_model.bin', which is not a safetensors") as exc:
        load_causal_lm(both_dir, device="cpu")
    _refused(exc, both_dir, wires, marker)
    index.write_text(json.dumps({"metadata": {}, "weight_map": {"w": "../elsewhere/model.safetensors"}}),
                     encoding="utf-8")
    with pytest.raises(ModelLoadError, match="outside the model directory") as exc:
        load_causal_lm(both_dir, device="cpu")
    _refused(exc, both_dir, wires, marker)


def test_config_transformers_weights_naming_a_pickle_is_refused(both_dir: Path, wires: Tripwires,
                                                                 marker: Path) -> None:
    """config.json ``transformers_weights: adapter_model.bin`` makes transformers torch.load it despite
    use_safetensors=True."""
    from aligngate.modelio import load_causal_lm

    shutil.move(both_dir / "pytorch_model.bin", both_dir / "adapter_model.bin")
    cfg = json.loads((both_dir / "config.json").read_text(encoding="utf-8"))
    (both_dir / "config.json").write_text(json.dumps({**cfg, "transformers_weights": "adapter_model.bin"}),
                                          encoding="utf-8")
    with pytest.raises(ModelLoadError, match="'transformers_weights' names 'adapter_model.bin'") as exc:
        load_causal_lm(both_dir, device="cpu")
    _refused(exc, both_dir, wires, marker)


def _embed_pickle_adapter(d: Path) -> None:
    from peft import LoraConfig

    LoraConfig(r=2, target_modules=["q_proj"], task_type="CAUSAL_LM",
               base_model_name_or_path=str(d)).save_pretrained(d)
    shutil.move(d / "pytorch_model.bin", d / "adapter_model.bin")


def test_embedded_adapter_with_pickle_weights_is_refused(both_dir: Path, wires: Tripwires, marker: Path) -> None:
    """An adapter_config.json inside a model dir is loaded by transformers itself (from a hub repo, falling back
    to adapter_model.bin when adapter_model.safetensors is missing)."""
    from aligngate.modelio import load_causal_lm

    _embed_pickle_adapter(both_dir)
    with pytest.raises(ModelLoadError, match="adapter_config.json.*no adapter_model.safetensors") as exc:
        load_causal_lm(both_dir, device="cpu")
    _refused(exc, both_dir, wires, marker)


def _logits(model: Any, tok: Any) -> Any:
    with torch.inference_mode():
        return model(**tok(["How do I wash a car?"], return_tensors="pt")).logits


def test_safetensors_beside_pickle_loads_safetensors_only(both_dir: Path, embedded_model: Path, wires: Tripwires,
                                                          marker: Path) -> None:
    from aligngate.modelio import load_causal_lm, load_reward_model, load_training_model

    model, tok = load_causal_lm(both_dir, device="cpu")
    ref, ref_tok = load_causal_lm(embedded_model, device="cpu")
    assert torch.equal(_logits(model, tok), _logits(ref, ref_tok))
    load_reward_model(both_dir, device="cpu")
    load_training_model(both_dir)
    assert wires.torch_load == [] and not marker.exists()
    assert str(both_dir) in wires.from_pretrained  # the tripwires are live: transformers did run here


def test_sharded_safetensors_index_still_loads(tmp_path: Path, embedded_model: Path, wires: Tripwires,
                                               marker: Path) -> None:
    from aligngate.modelio import load_causal_lm

    ref, tok = load_causal_lm(embedded_model, device="cpu")
    d = tmp_path / "sharded"
    ref.save_pretrained(d, max_shard_size="1MB")
    tok.save_pretrained(d)
    write_evil_bin(d / "pytorch_model.bin", marker)
    assert (d / "model.safetensors.index.json").is_file() and not (d / "model.safetensors").exists()
    model, tok2 = load_causal_lm(d, device="cpu")
    assert torch.equal(_logits(model, tok2), _logits(ref, tok))
    assert wires.torch_load == [] and not marker.exists()


def test_hf_classifier_judge_refuses_pickle_only(evil_dir: Path, wires: Tripwires, marker: Path) -> None:
    from aligngate.judge import get_judge

    judge = get_judge({"name": "hf-classifier", "model": str(evil_dir)})
    with pytest.raises(JudgeError, match="holds only pickle weights") as exc:
        judge.judge(["How do I wash a car?"], ["I can't help with that."])
    _refused(exc, evil_dir, wires, marker)


def test_hf_classifier_judge_loads_safetensors_beside_pickle(both_dir: Path, wires: Tripwires,
                                                             marker: Path) -> None:
    from aligngate.judge import get_judge

    judge = get_judge({"name": "hf-classifier", "model": str(both_dir),
                       "label_map": {"LABEL_0": "refusal", "LABEL_1": "compliance"}})
    out = judge.judge(["How do I wash a car?", "a"], ["I can't help with that.", "Sure, first gather soap."])
    assert len(out) == 2 and all(o.label in ("refusal", "compliance") for o in out)
    assert wires.torch_load == [] and not marker.exists()


def test_cli_judge_hf_classifier_refuses_pickle_only(evil_dir: Path, tmp_path: Path, wires: Tripwires,
                                                     marker: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from aligngate.cli import main

    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"prompt": "How do I wash a car?", "response": "I can't."}) + "\n", encoding="utf-8")
    code = main(["judge", "--input", str(rows), "--out", str(tmp_path / "out.jsonl"),
                 "--judge", f"hf-classifier:model={evil_dir}"])
    captured = capsys.readouterr()
    assert code == 2
    assert "holds only pickle weights (pytorch_model.bin)" in captured.err + captured.out
    assert not (tmp_path / "out.jsonl").exists()
    assert wires.touched(evil_dir) == [] and not marker.exists()


def test_capability_lmeval_refuses_pickle_only(evil_dir: Path, wires: Tripwires, marker: Path) -> None:
    """lm-eval, given a path, would call from_pretrained without use_safetensors (and torch.load the .bin)."""
    from aligngate.evaluation.capability import EMBEDDED_TASK, run_lmeval

    with pytest.raises(ModelLoadError, match=_PICKLE_ONLY) as exc:
        run_lmeval(str(evil_dir), [EMBEDDED_TASK], limit=4, device="cpu")
    _refused(exc, evil_dir, wires, marker)


def test_capability_gate_check_blocks_pickle_only(evil_dir: Path, embedded_model: Path, wires: Tripwires,
                                                  marker: Path) -> None:
    from aligngate.gate import GateInputs, run_gate
    from aligngate.policy import LoadedPolicy, parse_policy_text

    text = ("apiVersion: aligngate.dev/v1\nkind: GatePolicy\nmetadata: {name: t}\nspec:\n"
            "  evaluation: {capability_limit: 4}\n  checks:\n"
            "    - {id: drift.capability_delta, threshold: {op: '>=', value: -0.1}}\n")
    pol = LoadedPolicy(policy=parse_policy_text(text), path="t.yaml", sha256="0" * 64)
    rep = run_gate(pol, GateInputs(candidate=str(evil_dir), baseline=str(embedded_model)), progress=False,
                   device="cpu")
    assert (rep.verdict, rep.exit_code) == ("block", 2)
    assert rep.checks[0].status == "error" and "holds only pickle weights" in (rep.checks[0].message or "")
    assert wires.touched(evil_dir) == [] and not marker.exists()


def test_capability_results_unchanged_with_pickle_beside(both_dir: Path, embedded_model: Path, wires: Tripwires,
                                                         marker: Path) -> None:
    """The objects modelio loads, handed to lm-eval: the same scores as the model dir without the pickle."""
    from aligngate.evaluation.capability import EMBEDDED_TASK, run_lmeval

    a = run_lmeval(str(both_dir), [EMBEDDED_TASK], limit=16, device="cpu")
    b = run_lmeval(str(embedded_model), [EMBEDDED_TASK], limit=16, device="cpu")
    assert a == b and a[EMBEDDED_TASK]["n"] == 16
    assert wires.torch_load == [] and not marker.exists()


# --- hub ids: a fake offline hub cache (the real resolution path of huggingface_hub and transformers) ----------

_SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture()
def hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str, Path], None]:
    from huggingface_hub import constants

    root = tmp_path / "hub"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(root))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)

    def publish(repo_id: str, files: Path) -> None:
        repo = root / f"models--{repo_id.replace('/', '--')}"
        (repo / "refs").mkdir(parents=True)
        (repo / "refs" / "main").write_text(_SHA, encoding="utf-8")
        shutil.copytree(files, repo / "snapshots" / _SHA)

    return publish


def test_hub_pickle_only_repo_is_refused_clearly(hub_cache: Callable[[str, Path], None], evil_dir: Path,
                                                 wires: Tripwires, marker: Path) -> None:
    from aligngate.modelio import load_causal_lm

    hub_cache("aligngate-test/pickle-only", evil_dir)
    with pytest.raises(ModelLoadError, match="aligngate-test/pickle-only") as exc:
        load_causal_lm("aligngate-test/pickle-only", device="cpu")
    assert "no safetensors weights" in str(exc.value) and "never pickle (pytorch_model.bin)" in str(exc.value)
    assert "do not set `use_safetensors=True`" not in str(exc.value)
    assert wires.torch_load == [] and not marker.exists()


def test_hub_index_naming_a_pickle_is_refused(hub_cache: Callable[[str, Path], None], both_dir: Path,
                                              wires: Tripwires, marker: Path) -> None:
    from aligngate.modelio import load_causal_lm

    (both_dir / "model.safetensors").unlink()
    (both_dir / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {}, "weight_map": {"model.embed_tokens.weight": "pytorch_model.bin"}}),
        encoding="utf-8")
    hub_cache("aligngate-test/bad-index", both_dir)
    with pytest.raises(ModelLoadError, match="hub model aligngate-test/bad-index .*not a safetensors file"):
        load_causal_lm("aligngate-test/bad-index", device="cpu")
    assert wires.from_pretrained == [] and wires.torch_load == [] and not marker.exists()


def test_hub_safetensors_repo_loads_pinned(hub_cache: Callable[[str, Path], None], both_dir: Path,
                                           embedded_model: Path, wires: Tripwires, marker: Path) -> None:
    from aligngate.modelio import load_causal_lm

    hub_cache("aligngate-test/good", both_dir)
    model, tok = load_causal_lm("aligngate-test/good", device="cpu")
    ref, ref_tok = load_causal_lm(embedded_model, device="cpu")
    assert torch.equal(_logits(model, tok), _logits(ref, ref_tok))
    assert wires.torch_load == [] and not marker.exists()


def test_hub_adapter_repo_is_refused(hub_cache: Callable[[str, Path], None], both_dir: Path, wires: Tripwires,
                                     marker: Path) -> None:
    """transformers loads the base a hub repo's adapter_config.json names (unchecked), and its adapter_model.bin."""
    from aligngate.modelio import load_causal_lm

    _embed_pickle_adapter(both_dir)
    hub_cache("aligngate-test/adapter", both_dir)
    with pytest.raises(ModelLoadError, match="hub model aligngate-test/adapter .*PEFT adapter repository"):
        load_causal_lm("aligngate-test/adapter", device="cpu")
    assert wires.from_pretrained == [] and wires.torch_load == [] and not marker.exists()
