"""The expected base model: does the declared base match it, and what shapes do its modules have.

Only the base's ``config.json`` is ever read, never its weights.

Base matching (``base_matches``), in order:

1. equal strings (after stripping trailing slashes) match;
2. when both name existing local paths, they match iff they resolve to the same directory (``samefile``);
3. otherwise they are compared as hub ids: a Hugging Face cache path ``.../models--org--name/snapshots/x``
   becomes ``org/name``; if both sides are ``org/name`` ids they must be equal (case-insensitive), else
   the basenames (``name``) must be equal (case-insensitive). So an adapter trained against
   ``/data/models/Llama-2-7b-hf`` matches ``meta-llama/Llama-2-7b-hf`` and a copy at another path on the
   auditing machine, but not ``/models/other`` while both exist locally and differ.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

__all__ = ["BaseDims", "base_matches", "load_base_config"]

_CACHE_RE = re.compile(r"models--([^/]+?)--([^/]+)")


def _norm(s: str) -> str:
    return s.strip().rstrip("/\\") or s.strip()


def _hub_id(s: str) -> tuple[str | None, str]:
    """(org or None, name) from a hub id, a cache path or a plain path."""
    m = _CACHE_RE.search(s)
    if m:
        return m.group(1).lower(), m.group(2).lower()
    parts = [p for p in re.split(r"[/\\]", _norm(s)) if p]
    if not parts:
        return None, ""
    if len(parts) == 2 and not s.startswith(("/", ".", "~")) and not os.path.exists(s):
        return parts[0].lower(), parts[1].lower()
    return None, parts[-1].lower()


def base_matches(declared: str | None, expected: str) -> tuple[bool, str]:
    """Whether the adapter's declared base matches ``expected``; returns (match, how it was decided)."""
    if not declared or not isinstance(declared, str):
        return False, "the adapter declares no base_model_name_or_path"
    d, e = _norm(declared), _norm(expected)
    if d == e:
        return True, "identical"
    de, ee = os.path.expanduser(d), os.path.expanduser(e)
    if os.path.exists(de) and os.path.exists(ee):
        try:
            same = os.path.samefile(de, ee)
        except OSError:
            same = False
        return same, "both local paths: " + ("same directory" if same else "different directories")
    (do, dn), (eo, en) = _hub_id(d), _hub_id(e)
    if do and eo:
        ok = (do, dn) == (eo, en)
        return ok, f"hub ids {do}/{dn} vs {eo}/{en}"
    ok = bool(dn) and dn == en
    return ok, f"basenames {dn!r} vs {en!r}"


class BaseDims:
    """Module shapes implied by a base config.json (decoder-only transformer conventions)."""

    def __init__(self, cfg: dict[str, Any], source: str) -> None:
        self.source = source
        if isinstance(cfg.get("text_config"), dict):
            cfg = {**cfg, **cfg["text_config"]}

        def first(*keys: str) -> int | None:
            for k in keys:
                v = cfg.get(k)
                if type(v) is int and v > 0:
                    return v
            return None

        self.hidden = first("hidden_size", "n_embd", "d_model", "dim")
        self.vocab = first("vocab_size")
        self.layers = first("num_hidden_layers", "n_layer", "num_layers")
        self.heads = first("num_attention_heads", "n_head", "num_heads")
        self.kv_heads = first("num_key_value_heads", "num_kv_heads") or self.heads
        self.inter = first("intermediate_size", "n_inner", "ffn_dim")
        if self.inter is None and self.hidden:
            self.inter = 4 * self.hidden
        hd = first("head_dim")
        if hd is None and self.hidden and self.heads:
            hd = self.hidden // self.heads
        self.head_dim = hd

    @property
    def usable(self) -> bool:
        """Whether enough is known to check shapes."""
        return bool(self.hidden)

    def linear(self, short: str) -> tuple[int, int] | None:
        """(in_features, out_features) of a known linear module, or None."""
        h, i = self.hidden, self.inter
        q = self.heads * self.head_dim if self.heads and self.head_dim else None
        kv = self.kv_heads * self.head_dim if self.kv_heads and self.head_dim else None
        table = {"q_proj": (h, q), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (q, h),
                 "gate_proj": (h, i), "up_proj": (h, i), "down_proj": (i, h), "lm_head": (h, self.vocab)}
        io = table.get(short)
        if io is None or None in io:
            return None
        return io  # type: ignore[return-value]

    def plausible_dims(self) -> set[int]:
        """Every feature size a linear layer of this model plausibly has (for unknown module names)."""
        out: set[int] = set()
        for v in (self.hidden, self.inter, self.vocab):
            if v:
                out.add(v)
        if self.hidden and self.inter:
            out.add(2 * self.inter)
        if self.heads and self.head_dim:
            q = self.heads * self.head_dim
            kv = (self.kv_heads or self.heads) * self.head_dim
            out |= {q, kv, q + 2 * kv, 3 * (self.hidden or 0)}
        out.discard(0)
        return out

    def to_dict(self) -> dict[str, Any]:
        """The dimensions used, for the report."""
        return {"source": self.source, "hidden": self.hidden, "intermediate": self.inter, "vocab": self.vocab,
                "layers": self.layers, "heads": self.heads, "kv_heads": self.kv_heads, "head_dim": self.head_dim}


def load_base_config(base: str) -> BaseDims | None:
    """Read ``base/config.json`` (a local directory, or a config.json file) as data; None if unavailable."""
    p = Path(os.path.expanduser(base))
    cfg_path = p / "config.json" if p.is_dir() else p
    if not (cfg_path.is_file() and cfg_path.name.endswith(".json")):
        return None
    try:
        if cfg_path.stat().st_size > 10 * 1024 * 1024:
            return None
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(cfg, dict):
        return None
    dims = BaseDims(cfg, str(cfg_path))
    return dims if dims.usable else None
