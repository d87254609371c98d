"""``adapter_config.json`` against the tensors: every tensor must be a LoRA role of a declared module.

The config is read as data (JSON, never code). Tensor names follow peft's saved layout:
``[base_model.model.]<module>.<role>`` with role one of ``lora_A.weight``, ``lora_B.weight``,
``lora_B.bias`` (``lora_bias``), ``lora_embedding_A``, ``lora_embedding_B``, ``lora_magnitude_vector``
(DoRA), or for a full copy (``modules_to_save``) ``weight``/``bias``; ``base_layer.weight`` is the full
embedding peft saves when embeddings are targeted; ``token_adapter.trainable_tokens_delta`` comes with
``trainable_token_indices``. Target matching follows peft: a list entry matches a module equal to it or
ending in ``.entry``; a string is a full-match regex; ``all-linear`` means every linear layer but the output.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from aligngate.audit.base_config import BaseDims
from aligngate.audit.findings import Finding, make
from aligngate.audit.safetensors_header import FLOAT_DTYPES, TensorInfo

__all__ = ["LoraModule", "check_config_vs_tensors", "parse_adapter_config"]

CONFIG_NAME = "adapter_config.json"
_ROLE_RE = re.compile(r"^(?P<module>.+?)\.(?P<role>lora_A\.weight|lora_B\.weight|lora_B\.bias|lora_embedding_A|"
                      r"lora_embedding_B|lora_magnitude_vector(?:\.weight)?|base_layer\.weight|"
                      r"token_adapter\.trainable_tokens_delta|(?:modules_to_save\.)?(?:weight|bias))$")
_LAYER_RE = re.compile(r"\.(?:layers|h|blocks|layer)\.(\d+)(?:\.|$)")
_OUTPUT_LAYERS = {"lm_head", "embed_out", "output", "score", "classifier"}
_SENSITIVE = {"lm_head", "embed_tokens", "wte", "wpe", "embed_in", "embed_out", "output", "word_embeddings",
              "embed_positions", "score", "shared"}


class ConfigError(ValueError):
    """adapter_config.json cannot be used at all (unsafe: exit 2)."""


@dataclass
class LoraModule:
    """One adapted module: its tensors by role, declared rank and scale."""

    key: str
    short: str
    tensors: dict[str, TensorInfo] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    rank: int | None = None
    scale: float | None = None
    kind: str = "lora"  # lora | embedding | full


def _number(v: Any) -> bool:
    """A JSON number (NaN / Infinity included: an absurd alpha is a scale finding, not a parse error)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def parse_adapter_config(raw: Any) -> dict[str, Any]:
    """Validate types of the fields the audit relies on; raise :class:`ConfigError` if they are unusable."""
    if not isinstance(raw, dict):
        raise ConfigError("adapter_config.json is not a JSON object")
    r = raw.get("r")
    if type(r) is not int or r < 1:
        raise ConfigError(f"r must be a positive integer, got {r!r}")
    if not _number(raw.get("lora_alpha", 8)):
        raise ConfigError(f"lora_alpha must be a number, got {raw.get('lora_alpha')!r}")
    tm = raw.get("target_modules")
    if tm is not None and not isinstance(tm, str) and not (
            isinstance(tm, list) and all(isinstance(t, str) for t in tm)):
        raise ConfigError("target_modules must be a string or a list of strings")
    mts = raw.get("modules_to_save")
    if mts is not None and not (isinstance(mts, list) and all(isinstance(t, str) for t in mts)):
        raise ConfigError("modules_to_save must be a list of strings")
    for pat, kind in (("rank_pattern", int), ("alpha_pattern", float)):
        val = raw.get(pat) or {}
        if not isinstance(val, dict) or not all(
                isinstance(k, str) and (type(v) is int if kind is int else _number(v)) for k, v in val.items()):
            raise ConfigError(f"{pat} must map strings to numbers")
        if kind is int and any(v < 1 for v in val.values()):
            raise ConfigError(f"{pat} ranks must be positive")
    ltt = raw.get("layers_to_transform")
    if ltt is not None and not (type(ltt) is int or (isinstance(ltt, list) and all(type(x) is int for x in ltt))):
        raise ConfigError("layers_to_transform must be an int or a list of ints")
    for key in ("target_modules", "exclude_modules"):
        v = raw.get(key)
        if isinstance(v, str) and v != "all-linear":
            try:
                re.compile(v)
            except re.error as exc:
                raise ConfigError(f"{key} is not a valid regex: {exc}") from None
    return raw


def _pattern_value(pattern: dict[str, Any], key: str, default: Any) -> Any:
    for pat, val in pattern.items():
        try:
            if pat == key or re.match(rf"(.*\.)?({pat})$", key):
                return val
        except re.error:
            if key.endswith(pat):
                return val
    return default


def _matches_list(key: str, names: Any) -> bool:
    if isinstance(names, str):
        try:
            return re.fullmatch(names, key) is not None
        except re.error:
            return False
    return any(key == t or key.endswith("." + t) for t in names or [])


class _Rules:
    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self.tm = cfg.get("target_modules")
        self.exclude = cfg.get("exclude_modules")
        self.mts = cfg.get("modules_to_save") or []
        ltt = cfg.get("layers_to_transform")
        self.layers = {ltt} if type(ltt) is int else (set(ltt) if ltt else None)

    def targeted(self, key: str, short: str) -> bool:
        if self.exclude and _matches_list(key, self.exclude):
            return False
        if self.tm == "all-linear":
            ok = short not in _OUTPUT_LAYERS
        elif self.tm is None:
            ok = False
        else:
            ok = _matches_list(key, self.tm)
        if ok and self.layers is not None:
            m = _LAYER_RE.search("." + key)
            ok = m is not None and int(m.group(1)) in self.layers
        return ok

    def saved(self, key: str) -> bool:
        return _matches_list(key, self.mts)


def _short(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def group_tensors(tensors: dict[str, tuple[TensorInfo, str]]) -> tuple[dict[str, LoraModule], list[Finding]]:
    """Group tensor names into modules by role; unknown names are findings."""
    mods: dict[str, LoraModule] = {}
    findings: list[Finding] = []
    for name, (info, file) in tensors.items():
        m = _ROLE_RE.match(name)
        if not m:
            findings.append(make("adapter.unknown_tensor", file, f"tensor {name!r} is not a LoRA weight of any "
                                 "module", tensor=name))
            continue
        key = m.group("module")
        key = key.removeprefix("base_model.model.")
        role = m.group("role").removeprefix("modules_to_save.")
        if role == "lora_magnitude_vector.weight":
            role = "lora_magnitude_vector"
        mod = mods.setdefault(key, LoraModule(key=key, short=_short(key)))
        mod.tensors[role] = info
        mod.files[role] = file
    return mods, findings


def check_config_vs_tensors(cfg: dict[str, Any], tensors: dict[str, tuple[TensorInfo, str]], *, policy: Any,
                            base: BaseDims | None) -> tuple[dict[str, LoraModule], list[Finding]]:
    """All config-vs-tensor findings; returns the modules (with rank and scale) for the weight statistics."""
    f: list[Finding] = []
    cfile = CONFIG_NAME
    if str(cfg.get("peft_type", "LORA")).upper() != "LORA":
        f.append(make("adapter.unsupported_peft_type", cfile, f"peft_type {cfg.get('peft_type')!r} is not LORA"))
    for key in ("layer_replication", "target_parameters"):
        if cfg.get(key):
            f.append(make("adapter.unsupported_peft_type", cfile, f"{key} is set: the adapter changes the base "
                          "architecture or targets raw parameters, which this audit cannot verify"))
    r, alpha = cfg["r"], cfg.get("lora_alpha", 8)
    rank_pattern, alpha_pattern = cfg.get("rank_pattern") or {}, cfg.get("alpha_pattern") or {}
    rs = bool(cfg.get("use_rslora"))
    for rk in [r, *rank_pattern.values()]:
        if rk > policy.max_rank:
            f.append(make("adapter.rank_too_large", cfile, f"declared rank {rk} exceeds policy max_rank "
                          f"{policy.max_rank}"))
            break
    rules = _Rules(cfg)
    allowed_save = set(policy.allow_modules_to_save)
    for name in rules.mts:
        short = _short(name)
        if (short in _SENSITIVE or "norm" in short.lower() or short.startswith("ln")) and short not in allowed_save:
            f.append(make("adapter.sensitive_modules_to_save", cfile, f"modules_to_save replaces {name!r} in full "
                          "(output head / embeddings / norms can rewrite behaviour for any input); allow it with "
                          "policy allow_modules_to_save"))
    if cfg.get("trainable_token_indices") and "embed_tokens" not in allowed_save:
        f.append(make("adapter.sensitive_modules_to_save", cfile, "trainable_token_indices rewrites embedding rows "
                      "of chosen tokens (a classic trigger-token backdoor vector)"))
    mods, gf = group_tensors(tensors)
    f += gf
    allowed = set(policy.allowed_target_modules)
    ranks_by_short: dict[str, set[tuple[int, int]]] = {}
    for key, mod in sorted(mods.items()):
        roles = set(mod.tensors)
        file = next(iter(mod.files.values()))
        for role, info in mod.tensors.items():
            if info.dtype not in FLOAT_DTYPES:
                f.append(make("adapter.non_float_dtype", mod.files[role], f"{key}.{role} has dtype {info.dtype}"))
        lora_roles = {x for x in roles if x.startswith("lora_")}
        full_roles = roles - lora_roles
        if full_roles == {"bias"} and (cfg.get("bias") == "all" or (cfg.get("bias") == "lora_only" and lora_roles)):
            full_roles = set()  # peft's bias="all" / "lora_only" saves the base biases it trains
        if lora_roles:
            if not rules.targeted(key, mod.short):
                f.append(make("adapter.undeclared_module", file, f"LoRA tensors for {key!r}, which "
                              "target_modules / layers_to_transform do not declare", module=key))
            elif mod.short not in allowed:
                f.append(make("adapter.module_not_allowed", file, f"LoRA on {key!r}: {mod.short!r} is not in the "
                              "policy allowed_target_modules", module=key))
        if full_roles:
            sensitive = mod.short in _SENSITIVE or "norm" in mod.short.lower()
            if "base_layer.weight" in full_roles or "token_adapter.trainable_tokens_delta" in full_roles:
                if mod.short not in allowed_save:
                    f.append(make("adapter.sensitive_modules_to_save", file, f"the adapter ships a full replacement "
                                  f"of {key!r} ({', '.join(sorted(full_roles))})", module=key))
            elif not rules.saved(key):
                f.append(make("adapter.undeclared_module", file, f"full weights for {key!r}, which modules_to_save "
                              "does not declare", module=key))
            elif sensitive and mod.short not in allowed_save:
                pass  # already reported from the config's modules_to_save
            mod.kind = "full"
        if "lora_magnitude_vector" in roles and not cfg.get("use_dora"):
            f.append(make("adapter.undeclared_module", file, f"DoRA magnitude vector for {key!r} but use_dora is "
                          "false", module=key))
        if "lora_B.bias" in roles and not cfg.get("lora_bias"):
            f.append(make("adapter.undeclared_module", file, f"lora_B.bias for {key!r} but lora_bias is false",
                          module=key))
        a = mod.tensors.get("lora_A.weight") or mod.tensors.get("lora_embedding_A")
        b = mod.tensors.get("lora_B.weight") or mod.tensors.get("lora_embedding_B")
        if not lora_roles:
            if full_roles:
                _check_full_shapes(mod, base, f)
            continue
        if a is None or b is None or len(a.shape) != 2 or len(b.shape) != 2:
            f.append(make("adapter.unknown_tensor", file, f"{key!r} lacks a 2-D lora_A/lora_B pair", module=key))
            continue
        mod.kind = "embedding" if "lora_embedding_A" in roles else "lora"
        ra, rb = a.shape[0], b.shape[1]
        want_r = _pattern_value(rank_pattern, key, r)
        mod.rank = ra
        if ra != rb or ra != want_r:
            f.append(make("adapter.rank_mismatch", file, f"{key!r}: tensors hold rank A={ra}, B={rb} but the config "
                          f"declares r={want_r}", module=key, declared=want_r, actual=[ra, rb]))
        if max(ra, rb) > policy.max_rank:
            f.append(make("adapter.rank_too_large", file, f"{key!r}: rank {max(ra, rb)} exceeds policy max_rank "
                          f"{policy.max_rank}", module=key))
        al = _pattern_value(alpha_pattern, key, alpha)
        rr = max(want_r, 1)
        mod.scale = float(al) / (math.sqrt(rr) if rs else rr)
        if not math.isfinite(mod.scale) or abs(mod.scale) > policy.max_scale:
            f.append(make("adapter.scale_too_large", file, f"{key!r}: lora_alpha/r = {al}/{rr}"
                          f"{' (rsLoRA: /sqrt r)' if rs else ''} = {mod.scale:g} exceeds policy max_scale "
                          f"{policy.max_scale:g}", module=key, scale=mod.scale))
        in_f, out_f = (a.shape[1], b.shape[0])
        ranks_by_short.setdefault(mod.short + (":emb" if mod.kind == "embedding" else ""), set()).add((in_f, out_f))
        mag = mod.tensors.get("lora_magnitude_vector")
        if mag is not None and mag.shape not in ((out_f,), (1, out_f)):
            f.append(make("adapter.shape_mismatch", file, f"{key!r}: magnitude vector {list(mag.shape)} does not "
                          f"match out_features {out_f}", module=key))
        _check_lora_shapes(mod, in_f, out_f, base, f)
    for short, shapes in ranks_by_short.items():
        if len(shapes) > 1:
            f.append(make("adapter.shape_mismatch", "adapter_model.safetensors", f"modules named {short!r} disagree "
                          f"on (in, out) features across layers: {sorted(shapes)}", module=short))
    if not mods:
        f.append(make("adapter.no_weights", "adapter_model.safetensors", "the weights file holds no tensors"))
    return mods, f


def _layer_ok(mod: LoraModule, base: BaseDims, f: list[Finding], file: str) -> None:
    m = _LAYER_RE.search("." + mod.key)
    if m and base.layers is not None and int(m.group(1)) >= base.layers:
        f.append(make("adapter.shape_mismatch", file, f"{mod.key!r}: layer {m.group(1)} does not exist in a base "
                      f"with {base.layers} layers", module=mod.key))


def _check_lora_shapes(mod: LoraModule, in_f: int, out_f: int, base: BaseDims | None, f: list[Finding]) -> None:
    if base is None:
        return
    file = next(iter(mod.files.values()))
    _layer_ok(mod, base, f, file)
    want: tuple[int | None, int | None] | None = (
        (base.vocab, base.hidden) if mod.kind == "embedding" else base.linear(mod.short))
    if want is not None:
        if (in_f, out_f) != tuple(want):
            f.append(make("adapter.shape_mismatch", file, f"{mod.key!r}: LoRA maps {in_f} -> {out_f} features but "
                          f"the base's {mod.short} is {want[0]} -> {want[1]}", module=mod.key))
        return
    dims = base.plausible_dims()
    if in_f not in dims or out_f not in dims:
        f.append(make("adapter.shape_mismatch", file, f"{mod.key!r}: {in_f} -> {out_f} features fit no layer size "
                      f"of the base ({sorted(dims)})", module=mod.key))


def _check_full_shapes(mod: LoraModule, base: BaseDims | None, f: list[Finding]) -> None:
    if base is None:
        return
    file = next(iter(mod.files.values()))
    _layer_ok(mod, base, f, file)
    w = mod.tensors.get("weight") or mod.tensors.get("base_layer.weight")
    if w is None:
        return
    want: tuple[int | None, ...] | None = None
    if mod.short in ("lm_head", "embed_tokens", "wte", "embed_in", "embed_out"):
        want = (base.vocab, base.hidden) if base.vocab else None
    elif "norm" in mod.short.lower():
        want = (base.hidden,)
    if want is not None and tuple(w.shape) != want:
        f.append(make("adapter.shape_mismatch", file, f"{mod.key!r}: full weight {list(w.shape)} does not match the "
                      f"base's {list(want)}", module=mod.key))
