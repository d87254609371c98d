"""Refusal judges and the harmful-request classifier.

``get_judge(name_or_config)`` returns a :class:`~aligngate.judge.base.Judge`:

- ``"minilm"`` (default): shared all-MiniLM-L6-v2 embeddings + a trained head shipped in ``judge/weights/``.
- ``"rules"``: keyword / regex baseline.
- ``"hf-classifier"``: any HF sequence-classification model; config ``{"name": "hf-classifier", "model": DIR_OR_ID,
  "label_map": {...}, "template": ..., "max_length": 512}``.
- ``"openai"``: OpenAI-compatible chat endpoint; config ``{"name": "openai", "base_url": ..., "model": ...,
  "api_key_env": "OPENAI_API_KEY"}``.

A config may be a dict or a string ``"name"`` / ``"name:key=value,key=value"``. Importing this package imports
nothing heavy (no torch); models load on first use.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from aligngate.errors import JudgeError
from aligngate.judge.base import LABELS, Judge, Judgement, Label, judge_pairs

__all__ = ["DEFAULT_JUDGE", "LABELS", "Judge", "Judgement", "Label", "describe", "get_judge", "judge_names",
           "judge_pairs", "register_judge"]

DEFAULT_JUDGE = "minilm"

_FACTORIES: dict[str, Callable[..., Judge]] = {}


def _arrays_sha256(head: Any) -> str:
    import hashlib

    digest = hashlib.sha256()
    for key in sorted(head.arrays):
        digest.update(key.encode() + head.arrays[key].tobytes())
    return digest.hexdigest()


def describe(model: Any) -> dict[str, Any]:
    """What a report records about a judge or the harm classifier, so a verdict can be reproduced: its name, and
    for the MiniLM heads the encoder precision and depth, the head's measured error and the sha256 of its arrays
    (and of the harm head the judge reads prompts with). Never loads a model that has not been loaded yet."""
    info: dict[str, Any] = {"name": getattr(model, "name", type(model).__name__)}
    head = getattr(model, "_head", None)
    if head is not None:
        info["encoder_layers"] = head.meta.get("encoder_layers", 6)
        info["head_sha256"] = _arrays_sha256(head)
    harm_head = getattr(model, "_harm_head", None)
    if harm_head is not None:
        info["harm_head_sha256"] = _arrays_sha256(harm_head)
    encoder = getattr(model, "_encoder", None)
    if encoder is not None and hasattr(encoder, "precision"):
        info["encoder_precision"] = encoder.precision
    error = getattr(model, "measured_error", None) if head is not None else None
    if isinstance(error, int | float):
        info["measured_error"] = error
    return info


def register_judge(name: str, factory: Callable[..., Judge]) -> None:
    """Register a judge factory under ``name`` (called with the config's other keys as keyword arguments)."""
    _FACTORIES[name] = factory


def _minilm(**kw: Any) -> Judge:
    from aligngate.judge.minilm import MiniLMJudge

    return MiniLMJudge(**kw)


def _rules(**kw: Any) -> Judge:
    from aligngate.judge.rules import RulesJudge

    if kw:
        raise JudgeError(f"rules judge takes no options, got {sorted(kw)}")
    return RulesJudge()


def _hf(**kw: Any) -> Judge:
    from aligngate.judge.hf_classifier import HFClassifierJudge

    return HFClassifierJudge(**kw)


def _openai(**kw: Any) -> Judge:
    from aligngate.judge.openai_judge import OpenAIJudge

    return OpenAIJudge(**kw)


register_judge("minilm", _minilm)
register_judge("rules", _rules)
register_judge("hf-classifier", _hf)
register_judge("openai", _openai)


def judge_names() -> list[str]:
    """Registered judge names."""
    return sorted(_FACTORIES)


def _parse_value(value: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def _parse(spec: str) -> dict[str, Any]:
    spec = spec.strip()
    if spec.startswith("{"):
        try:
            loaded = json.loads(spec)
        except json.JSONDecodeError as exc:
            raise JudgeError(f"judge config is not valid JSON: {exc}") from exc
        if not isinstance(loaded, dict):
            raise JudgeError("judge config JSON must be an object")
        return loaded
    name, _, rest = spec.partition(":")
    cfg: dict[str, Any] = {"name": name.strip()}
    if rest.strip():
        for part in rest.split(","):
            key, eq, value = part.partition("=")
            if not eq or not key.strip():
                raise JudgeError(f"judge option {part!r} is not key=value (in {spec!r})")
            cfg[key.strip()] = _parse_value(value.strip())
    return cfg


def get_judge(name_or_config: str | Mapping[str, Any] | None = None) -> Judge:
    """Build a judge from a name, a ``"name:key=value,..."`` / JSON string, or a config mapping."""
    if name_or_config is None:
        cfg: dict[str, Any] = {"name": DEFAULT_JUDGE}
    elif isinstance(name_or_config, str):
        cfg = _parse(name_or_config)
    elif isinstance(name_or_config, Mapping):
        cfg = dict(name_or_config)
    else:
        raise JudgeError(f"judge config must be a name or a mapping, got {type(name_or_config).__name__}")
    name = str(cfg.pop("name", DEFAULT_JUDGE) or DEFAULT_JUDGE)
    factory = _FACTORIES.get(name)
    if factory is None:
        raise JudgeError(f"unknown judge {name!r}; known: {', '.join(judge_names())}")
    try:
        return factory(**cfg)
    except TypeError as exc:
        raise JudgeError(f"bad options for judge {name!r}: {exc}") from exc
