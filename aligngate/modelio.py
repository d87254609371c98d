"""THE module that loads models, tokenizers and adapters. Heavy imports happen inside the functions.

Rules: local directories must exist and hold a ``config.json``; anything else is treated as a hub id and
resolved by transformers (offline, that fails with a clear error). ``trust_remote_code`` is off unless asked.

Weights are loaded from safetensors only and nothing is ever unpickled. Every ``from_pretrained`` passes
``use_safetensors=True``, and because transformers would still ``torch.load`` a pickle named by the model's
own files, each model directory is checked *before* transformers is called (:func:`check_model_dir`): it
needs ``model.safetensors``, a ``model.safetensors.index.json`` whose shards are all ``.safetensors`` inside
the directory, or sharded distributed ``.safetensors``; a ``transformers_weights`` key in ``config.json`` must
name a safetensors file; an ``adapter_config.json`` beside the model (which transformers would load on its
own, falling back to ``adapter_model.bin`` for a hub repo) needs ``adapter_model.safetensors``. A directory
with pickle weights only (``pytorch_model.bin``, ``*.pt``, ``*.pth``, ``*.ckpt``, ``*.pkl``, sharded ``.bin``)
is refused, naming the file. A hub id is first resolved to one commit (its ``config.json`` and index files
only, never a pickle), checked the same way, and loaded at that commit, so the files checked are the files
loaded; a hub repo holding an ``adapter_config.json`` is refused (transformers would load the base it names).

An adapter directory must hold ``adapter_config.json`` and ``adapter_model.safetensors`` and no symlink
pointing outside itself; anything else is refused before peft touches it. Every failure is a
:class:`~aligngate.errors.ModelLoadError` (or ``AdapterError``) naming the path and the cause.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aligngate.errors import AdapterError, ModelLoadError

__all__ = [
    "check_adapter_dir",
    "check_model_dir",
    "is_adapter_dir",
    "load_causal_lm",
    "load_encoder",
    "load_reward_model",
    "load_sequence_classifier",
    "load_tokenizer",
    "load_training_model",
    "looks_local",
    "model_fingerprint",
    "resolve_device",
]

_TOKENIZER_MARKERS = ("tokenizer.json", "tokenizer_config.json", "config.json")
_FINGERPRINT_SUFFIXES = (".json", ".safetensors", ".jinja", ".model", ".txt", ".tiktoken")
_SAFE_WEIGHTS = "model.safetensors"
_SAFE_INDEX = "model.safetensors.index.json"
_SAFE_SUFFIXES = (".safetensors", ".safetensors.index.json")
_DISTRIBUTED_SHARD = re.compile(r"^shard-[0-9]{5}-model-[0-9]{5}-of-[0-9]{5}\.safetensors$")
"""transformers loads a directory holding such files as a distributed (safetensors) checkpoint, first."""
_HUB_METADATA = ("config.json", "*.safetensors.index.json", "adapter_config.json")
"""What is fetched of a hub repo to check it before loading (never a pickle, never the full weights)."""
CONVERT_HINT = ("convert it to safetensors where you trust the file (load it once with transformers and call "
                "save_pretrained, which writes model.safetensors) or use a copy published as safetensors")
"""How to get from pickle weights to weights aligngate loads (part of the refusal message)."""


def resolve_device(device: str | None = None) -> str:
    """``device`` if given, else ``"cuda"`` when available, else ``"cpu"``."""
    if device:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def looks_local(path_or_id: str | os.PathLike[str]) -> bool:
    """Whether ``path_or_id`` names a local directory (else a hub id: "name" or "org/name")."""
    s = os.fspath(path_or_id)
    if isinstance(path_or_id, Path) or s.startswith((".", "/", "~")) or os.path.exists(s):
        return True
    return s.count("/") > 1 or (os.sep != "/" and os.sep in s)  # hub ids are "name" or "org/name"


def _local_dir(path_or_id: str | os.PathLike[str], what: str) -> Path | None:
    """The checked local directory, or None for a hub id."""
    if not looks_local(path_or_id):
        return None
    p = Path(os.fspath(path_or_id)).expanduser()
    if not p.exists():
        raise ModelLoadError(f"{what} path {p} does not exist")
    if not p.is_dir():
        raise ModelLoadError(f"{what} path {p} is not a directory")
    return p


def is_adapter_dir(path: str | os.PathLike[str]) -> bool:
    """True for a local directory with ``adapter_config.json`` and no ``config.json``."""
    p = Path(os.fspath(path)).expanduser()
    return p.is_dir() and (p / "adapter_config.json").is_file() and not (p / "config.json").is_file()


def check_adapter_dir(path: str | os.PathLike[str]) -> Path:
    """Refuse unsafe adapter directories; return the resolved path.

    Raises ModelLoadError when it is missing or lacks ``adapter_config.json``; AdapterError when it has no
    ``adapter_model.safetensors`` (pickle weights are never loaded) or a symlink leading outside it.
    """
    p = Path(os.fspath(path)).expanduser()
    if not p.is_dir():
        raise ModelLoadError(f"adapter path {p} does not exist or is not a directory")
    root = p.resolve()
    for dirpath, dirnames, filenames in os.walk(p, followlinks=False):
        for name in dirnames + filenames:
            entry = Path(dirpath) / name
            if entry.is_symlink():
                target = entry.resolve()
                if target != root and root not in target.parents:
                    raise AdapterError(f"adapter {p}: symlink {entry.relative_to(p)} points outside the "
                                       f"adapter directory ({target})")
    if not (p / "adapter_config.json").is_file():
        raise ModelLoadError(f"adapter {p} has no adapter_config.json")
    weights = p / "adapter_model.safetensors"
    if not weights.is_file():
        raise AdapterError(f"adapter {p} has no adapter_model.safetensors (pickle weights are never loaded)")
    return root


def _adapter_base(adapter_dir: Path) -> str:
    try:
        cfg = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"adapter {adapter_dir}: unreadable adapter_config.json: {exc}") from exc
    base = cfg.get("base_model_name_or_path")
    if not base:
        raise ModelLoadError(f"adapter {adapter_dir}: adapter_config.json names no base_model_name_or_path")
    return str(base)


def _relative_inside(name: Any, where: str, label: str) -> str:
    """``name`` as a relative path that stays inside the model directory (checked lexically: hub snapshots are
    symlinks into the blob store, so resolving would always lead outside)."""
    if not isinstance(name, str) or not name:
        raise ModelLoadError(f"{label}: {where} names {name!r}, not a file name")
    norm = os.path.normpath(name)
    if os.path.isabs(name) or norm == ".." or norm.startswith(".." + os.sep):
        raise ModelLoadError(f"{label}: {where} names {name!r}, outside the model directory")
    return name


def _pickle_files(d: Path) -> list[str]:
    """Names of the pickle-format weight files (by extension) and pickle shard indexes in ``d``, sorted."""
    from aligngate.audit.pickle_scan import PICKLE_EXTENSIONS

    try:
        names = [e.name for e in d.iterdir() if e.is_file()]
    except OSError:
        return []
    found = sorted(n for n in names if Path(n).suffix.lower() in PICKLE_EXTENSIONS)
    return found or sorted(n for n in names if n.lower().endswith(".bin.index.json"))


def _check_index(d: Path, name: str, label: str, files_present: bool) -> None:
    """A safetensors index must map every tensor to a ``.safetensors`` shard inside ``d`` (transformers would
    ``torch.load`` any other file it names)."""
    try:
        index = json.loads((d / name).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{label}: unreadable {name}: {exc}") from exc
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise ModelLoadError(f"{label}: {name} has no weight_map")
    for shard in sorted({str(v) for v in weight_map.values()}):
        _relative_inside(shard, f"{name} weight_map", label)
        if not shard.endswith(".safetensors"):
            raise ModelLoadError(f"{label}: {name} maps weights to {shard!r}, which is not a safetensors file; "
                                 f"aligngate loads safetensors only, never pickle: {CONVERT_HINT}")
        if files_present and not (d / shard).is_file():
            raise ModelLoadError(f"{label}: {name} names shard {shard!r}, which is missing")


def _check_weights(d: Path, label: str, *, files_present: bool = True) -> None:
    """Refuse a model directory that would make transformers unpickle anything (see the module doc).

    ``files_present`` is False for a hub snapshot holding only the metadata: the weight files themselves are
    fetched by transformers afterwards, at the same commit; names are checked, existence is left to it."""
    try:
        config = json.loads((d / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{label}: unreadable config.json: {exc}") from exc
    names = {e.name for e in d.iterdir() if e.is_file()}
    has_weights = _SAFE_WEIGHTS in names or any(_DISTRIBUTED_SHARD.match(n) for n in names)
    explicit = config.get("transformers_weights") if isinstance(config, dict) else None
    if explicit is not None:
        _relative_inside(explicit, "config.json key 'transformers_weights'", label)
        if not explicit.endswith(_SAFE_SUFFIXES):
            raise ModelLoadError(f"{label}: config.json key 'transformers_weights' names {explicit!r}, which is not "
                                 "a safetensors file; aligngate loads safetensors only, never pickle")
        if explicit.endswith(".index.json"):
            if files_present or (d / explicit).is_file():
                _check_index(d, explicit, label, files_present)
        elif files_present and not (d / explicit).is_file():
            raise ModelLoadError(f"{label}: config.json key 'transformers_weights' names {explicit!r}, "
                                 "which is missing")
        has_weights = True
    if _SAFE_INDEX in names:
        _check_index(d, _SAFE_INDEX, label, files_present)
        has_weights = True
    if "adapter_config.json" in names and not files_present:
        raise ModelLoadError(f"{label} is a PEFT adapter repository (adapter_config.json): transformers would load "
                             "the base model it names, unchecked; give the base model and the adapter as a local "
                             "directory instead")
    if "adapter_config.json" in names and "adapter_model.safetensors" not in names:
        raise ModelLoadError(f"{label} holds adapter_config.json, which transformers would load on its own, but no "
                             "adapter_model.safetensors (pickle adapter weights are never loaded)")
    if files_present and not has_weights:
        pickles = _pickle_files(d)
        if pickles:
            shown = ", ".join(pickles[:4]) + (f" and {len(pickles) - 4} more" if len(pickles) > 4 else "")
            raise ModelLoadError(f"{label} holds only pickle weights ({shown}); aligngate loads safetensors only: "
                                 f"{CONVERT_HINT}")
        raise ModelLoadError(f"{label} has no safetensors weights ({_SAFE_WEIGHTS} or {_SAFE_INDEX})")


def check_model_dir(path: str | os.PathLike[str]) -> Path:
    """Refuse a local model directory that is missing, lacks ``config.json``, or whose weights transformers
    would read with pickle (only ``.bin`` / ``.pt`` / ... weights, an index naming non-safetensors shards, a
    ``transformers_weights`` or adapter naming one). Returns the directory; raises ModelLoadError naming the
    directory and the file. Nothing is read but ``config.json``, the index and the directory listing."""
    local = _local_dir(Path(os.fspath(path)), "model")
    assert local is not None  # a Path is always local
    if not (local / "config.json").is_file():
        raise ModelLoadError(f"model directory {local} has no config.json")
    _check_weights(local, f"model directory {local}")
    return local


@dataclass(frozen=True)
class _Source:
    """Where ``from_pretrained`` loads from: a checked local directory, or a hub id pinned to one commit."""

    src: str
    revision: str | None = None
    local_files_only: bool = False

    @property
    def hub(self) -> bool:
        return self.revision is not None

    def kwargs(self) -> dict[str, Any]:
        """The arguments every model ``from_pretrained`` gets besides the class-specific ones."""
        kw: dict[str, Any] = {"use_safetensors": True}
        if self.revision is not None:
            kw["revision"] = self.revision
        if self.local_files_only:
            kw["local_files_only"] = True
        return kw


def _hub_source(repo_id: str, local_files_only: bool) -> _Source:
    """Fetch a hub repo's config and index files (at one commit), check them, and pin that commit."""
    try:
        from huggingface_hub import snapshot_download

        snap = Path(snapshot_download(repo_id, allow_patterns=list(_HUB_METADATA), local_files_only=local_files_only))
    except Exception as exc:  # noqa: BLE001 - offline, not found, gated: all one error
        raise ModelLoadError(f"cannot resolve hub model {repo_id}: {type(exc).__name__}: {exc}") from exc
    label = f"hub model {repo_id} (commit {snap.name})"
    if not (snap / "config.json").is_file():
        raise ModelLoadError(f"{label} has no config.json")
    _check_weights(snap, label, files_present=False)
    return _Source(repo_id, revision=snap.name, local_files_only=local_files_only)


def _model_source(path_or_id: str | os.PathLike[str], local_files_only: bool = False) -> _Source:
    """The checked source of a model: local directory (:func:`check_model_dir`) or pinned hub id."""
    if looks_local(path_or_id):
        return _Source(str(check_model_dir(Path(os.fspath(path_or_id)))))
    return _hub_source(os.fspath(path_or_id), local_files_only)


def _from_pretrained(cls: Any, source: _Source, what: str, **kwargs: Any) -> Any:
    """``cls.from_pretrained`` from a checked source with ``use_safetensors=True``; every failure is one
    ModelLoadError, with a plain explanation when a hub repo has no safetensors weights."""
    try:
        return cls.from_pretrained(source.src, **source.kwargs(), **kwargs)
    except Exception as exc:  # noqa: BLE001 - every cause becomes one error type
        text = str(exc)
        if source.hub and "safetensors" in text and ("does not appear to have" in text or "no file named" in text):
            raise ModelLoadError(
                f"cannot load {what} from hub model {source.src} (commit {source.revision}): it has no safetensors "
                f"weights ({_SAFE_WEIGHTS} or {_SAFE_INDEX}); aligngate loads safetensors only and never pickle "
                f"(pytorch_model.bin): {CONVERT_HINT}") from exc
        where = f"hub model {source.src} (commit {source.revision})" if source.hub else source.src
        raise ModelLoadError(f"cannot load {what} from {where}: {type(exc).__name__}: {exc}") from exc


def _torch_dtype(dtype: Any) -> Any:
    import torch

    if dtype is None:
        return torch.float32
    if dtype == "auto":
        return "auto"
    if isinstance(dtype, str):
        value = getattr(torch, dtype.removeprefix("torch."), None)
        if not isinstance(value, torch.dtype):
            raise ModelLoadError(f"unknown dtype {dtype!r}")
        return value
    return dtype


def load_tokenizer(path_or_id: str | os.PathLike[str], *, trust_remote_code: bool = False,
                   padding_side: str | None = "left", local_files_only: bool = False) -> Any:
    """Load a tokenizer (model dir, adapter dir holding tokenizer files, or hub id); left padding by default
    (``padding_side=None`` keeps the tokenizer's own), pad token falls back to EOS."""
    local = _local_dir(path_or_id, "tokenizer")
    if local is not None and not any((local / f).is_file() for f in _TOKENIZER_MARKERS):
        raise ModelLoadError(f"tokenizer directory {local} has none of {', '.join(_TOKENIZER_MARKERS)}")
    src = str(local) if local is not None else os.fspath(path_or_id)
    kw: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    if local_files_only:
        kw["local_files_only"] = True
    try:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(src, **kw)
    except Exception as exc:  # noqa: BLE001 - every cause becomes one error type
        raise ModelLoadError(f"cannot load tokenizer from {src}: {type(exc).__name__}: {exc}") from exc
    if padding_side is not None:
        tok.padding_side = padding_side
    if tok.pad_token is None and tok.eos_token is not None:
        tok.pad_token = tok.eos_token
    return tok


def _attach_adapter(model: Any, adapter: str | os.PathLike[str], merge: bool) -> Any:
    adapter_dir = check_adapter_dir(adapter)
    try:
        from peft import PeftModel

        peft_model = PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=False)
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(f"cannot load adapter {adapter_dir}: {type(exc).__name__}: {exc}") from exc
    return peft_model.merge_and_unload() if merge else peft_model


def _split_adapter(path_or_id: str | os.PathLike[str],
                   adapter: str | os.PathLike[str] | None) -> tuple[str | os.PathLike[str], Any]:
    """A bare adapter dir given as the model: load its base, then the adapter."""
    if adapter is None and looks_local(path_or_id) and is_adapter_dir(path_or_id):
        adapter_dir = check_adapter_dir(path_or_id)
        return _adapter_base(adapter_dir), adapter_dir
    return path_or_id, adapter


def _finish(model: Any, tokenizer: Any, device: str | None) -> Any:
    """pad_token_id from the tokenizer when the config has none; on ``device``, in eval mode."""
    if getattr(model.config, "pad_token_id", None) is None and tokenizer.pad_token_id is not None:
        model.config.pad_token_id = tokenizer.pad_token_id
    model.to(resolve_device(device))
    model.eval()
    return model


def load_causal_lm(path_or_id: str | os.PathLike[str], *, adapter: str | os.PathLike[str] | None = None,
                   merge: bool = True, device: str | None = None, dtype: Any = None,
                   trust_remote_code: bool = False) -> tuple[Any, Any]:
    """Load ``(model, tokenizer)`` in eval mode; optionally attach (and merge) a LoRA adapter."""
    base, adapter = _split_adapter(path_or_id, adapter)
    if adapter is not None:
        check_adapter_dir(adapter)
    source = _model_source(base)
    tokenizer = load_tokenizer(source.src, trust_remote_code=trust_remote_code)
    from transformers import AutoModelForCausalLM

    model = _from_pretrained(AutoModelForCausalLM, source, "causal LM", dtype=_torch_dtype(dtype),
                             trust_remote_code=trust_remote_code)
    if adapter is not None:
        model = _attach_adapter(model, adapter, merge)
    return _finish(model, tokenizer, device), tokenizer


def load_reward_model(path_or_id: str | os.PathLike[str], *, adapter: str | os.PathLike[str] | None = None,
                      merge: bool = True, device: str | None = None, dtype: Any = None,
                      trust_remote_code: bool = False) -> tuple[Any, Any]:
    """Load a scalar reward model ``(model, tokenizer)`` (sequence classification, ``num_labels=1``).

    ``path_or_id`` may be a full model dir, a hub id, or a LoRA adapter dir (loaded on its base via peft).
    """
    base, adapter = _split_adapter(path_or_id, adapter)
    if adapter is not None:
        check_adapter_dir(adapter)
    source = _model_source(base)
    tokenizer = load_tokenizer(source.src, trust_remote_code=trust_remote_code, padding_side="right")
    from transformers import AutoModelForSequenceClassification

    model = _from_pretrained(AutoModelForSequenceClassification, source, "reward model", num_labels=1,
                             dtype=_torch_dtype(dtype), trust_remote_code=trust_remote_code)
    if adapter is not None:
        model = _attach_adapter(model, adapter, merge)
    if getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return _finish(model, tokenizer, device), tokenizer


def load_sequence_classifier(path_or_id: str | os.PathLike[str], *, device: str | None = None, dtype: Any = None,
                             local_files_only: bool = False, trust_remote_code: bool = False) -> tuple[Any, Any]:
    """Load a sequence-classification model with its own labels ``(model, tokenizer)`` in eval mode (the
    ``hf-classifier`` judge). The tokenizer keeps its own padding side; ``local_files_only`` never goes online."""
    source = _model_source(path_or_id, local_files_only=local_files_only)
    tokenizer = load_tokenizer(source.src, trust_remote_code=trust_remote_code, padding_side=None,
                               local_files_only=local_files_only)
    from transformers import AutoModelForSequenceClassification

    model = _from_pretrained(AutoModelForSequenceClassification, source, "sequence classifier",
                             dtype=_torch_dtype(dtype), trust_remote_code=trust_remote_code)
    return _finish(model, tokenizer, device), tokenizer


def load_encoder(path_or_id: str | os.PathLike[str], *, device: str | None = "cpu",
                 dtype: Any = None) -> tuple[Any, Any]:
    """Load a bare encoder (``AutoModel``, e.g. all-MiniLM-L6-v2) and its tokenizer ``(model, tokenizer)`` in
    eval mode, fp32 unless ``dtype`` says otherwise; right padding (absolute position embeddings)."""
    source = _model_source(path_or_id)
    tokenizer = load_tokenizer(source.src, padding_side="right")
    from transformers import AutoModel

    model = _from_pretrained(AutoModel, source, "encoder", dtype=_torch_dtype(dtype), trust_remote_code=False)
    model.to(resolve_device(device))
    model.eval()
    return model, tokenizer


def model_fingerprint(path: str | os.PathLike[str]) -> dict[str, str]:
    """sha256 of the config, weight and tokenizer files of a local model or adapter dir (relative path -> hex)."""
    from aligngate.fileio import sha256_tree

    p = Path(os.fspath(path)).expanduser()
    if not p.exists():
        raise ModelLoadError(f"cannot fingerprint {p}: path does not exist")
    return {rel: digest for rel, digest in sha256_tree(p).items() if rel.endswith(_FINGERPRINT_SUFFIXES)}


def load_training_model(path_or_id: str | os.PathLike[str], *, task: str = "causal",
                        init_adapter: str | os.PathLike[str] | None = None, pad_token_id: int | None = None,
                        dtype: Any = None, trust_remote_code: bool = False, quantization_config: Any = None,
                        device_map: Any = None) -> Any:
    """A base model to fine-tune, in train mode, fp32 unless ``dtype`` says otherwise.

    ``quantization_config`` / ``device_map`` (causal only): a quantized base for QLoRA
    (:mod:`aligngate.training.quantize`), passed to ``from_pretrained`` as they are.

    ``task="causal"``: a causal LM, optionally with ``init_adapter`` attached *trainable* (training continues
    that adapter; the adapter dir passes the same safety checks as every load). ``task="reward"``: a sequence
    classifier with one output (``num_labels=1``) and ``pad_token_id`` set, for reward modelling.
    """
    if task not in ("causal", "reward"):
        raise ModelLoadError(f"unknown training task {task!r} (causal, reward)")
    source = _model_source(path_or_id)
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification

    what = "base model for training"
    if task == "reward":
        try:
            config = AutoConfig.from_pretrained(source.src, trust_remote_code=trust_remote_code,
                                                **{k: v for k, v in source.kwargs().items() if k != "use_safetensors"})
        except Exception as exc:  # noqa: BLE001
            raise ModelLoadError(f"cannot load the config of base model {source.src} for training: "
                                 f"{type(exc).__name__}: {exc}") from exc
        config.num_labels = 1
        config.id2label, config.label2id = {0: "reward"}, {"reward": 0}
        if pad_token_id is not None:
            config.pad_token_id = pad_token_id
        model = _from_pretrained(AutoModelForSequenceClassification, source, what, config=config,
                                 dtype=_torch_dtype(dtype), trust_remote_code=trust_remote_code)
    else:
        quant: dict[str, Any] = {}
        if quantization_config is not None:
            quant = {"quantization_config": quantization_config, "device_map": device_map}
        model = _from_pretrained(AutoModelForCausalLM, source, what, dtype=_torch_dtype(dtype),
                                 trust_remote_code=trust_remote_code, **quant)
    if init_adapter is not None:
        adapter_dir = check_adapter_dir(init_adapter)
        try:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=True)
        except Exception as exc:  # noqa: BLE001
            raise ModelLoadError(f"cannot load adapter {adapter_dir} for training: {type(exc).__name__}: "
                                 f"{exc}") from exc
    return model
