"""A static-KV-cache greedy decoder for Llama-like causal LMs, one CUDA graph per decode step shape.

Why our own loop: HF ``generate`` spends most of a small model's decode step launching kernels from Python
(87 ms for one batch-64 step of a 1B model whose arithmetic needs < 1 ms), and compiling ``model.forward`` under
``generate`` with ``mode="reduce-overhead"`` breaks on output aliasing. Here the whole step -- embedding, every
layer, the LM head, the greedy argmax and the bookkeeping (position, cache slot, key mask, stop flags, output
column) -- reads and writes only preallocated tensors, so it is captured once per ``(batch, cache length)`` with
``torch.cuda.CUDAGraph`` and replayed with no Python and no host-device traffic.

Numerics follow the stock path on purpose: the model's own embedding, RMSNorm, rotary, MLP and LM-head modules
are called on the same shapes as HF ``generate`` calls them (left padding, positions from the attention mask,
the LM head on the last position only, float32 logits before argmax); only the attention + cache is ours: a
static cache whose unused tail is masked out, SDPA with a boolean mask, and for decode the query heads grouped
per key/value head (what transformers' SDPA path does for one query token) instead of repeating the cache.

Supported: decoder-only models whose layers hold ``self_attn.{q,k,v,o}_proj``, ``input_layernorm``,
``post_attention_layernorm`` and ``mlp`` (llama, mistral and qwen2 without sliding windows); see
:func:`supports_static_decode`. torch is imported inside the functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["StaticDecoder", "supports_static_decode"]

_SUPPORTED_TYPES = ("llama", "mistral", "qwen2")


def supports_static_decode(model: Any) -> tuple[bool, str]:
    """``(True, "")`` when :class:`StaticDecoder` can run ``model``, else ``(False, reason)``."""
    cfg = getattr(model, "config", None)
    mtype = getattr(cfg, "model_type", None)
    if mtype not in _SUPPORTED_TYPES:
        return False, f"model_type {mtype!r} is not one of {_SUPPORTED_TYPES}"
    if getattr(cfg, "sliding_window", None) and getattr(cfg, "use_sliding_window", mtype == "mistral"):
        return False, "sliding-window attention is not supported"
    inner = getattr(model, "model", None)
    layers = getattr(inner, "layers", None)
    if inner is None or layers is None or not hasattr(model, "lm_head"):
        return False, "not a plain *ForCausalLM (peft adapter not merged?)"
    attn = layers[0].self_attn
    for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
        if type(getattr(attn, name, None)).__name__ != "Linear":
            return False, f"self_attn.{name} is not a plain Linear (unmerged adapter or quantised)"
    if hasattr(attn, "q_norm"):
        return False, "q/k norms are not supported"
    return True, ""


@dataclass
class _Graph:
    """One captured decode step and the static tensors it reads and writes."""

    graph: Any
    tok: Any          # [B] long: the token fed this step
    pos: Any          # [B] long: its position id
    slot: Any         # [1] long: the cache column it is written to
    step: Any         # [1] long: the output column its successor is written to
    valid: Any        # [B, L] bool: keys each row may attend to
    done: Any         # [B] bool: row has produced a stop token
    out: Any          # [B, N] long: generated tokens


@dataclass
class StaticDecoder:
    """Greedy decoding over a preallocated KV cache; CUDA-graphed decode steps on CUDA, eager elsewhere.

    ``max_batch`` and ``max_len`` (prompt width + new tokens) size the cache once; each batch uses a view of it
    rounded up to ``len_bucket`` so a handful of graphs serve a whole suite.
    """

    model: Any
    max_batch: int
    max_len: int
    max_new_tokens: int
    stop_ids: tuple[int, ...]
    len_bucket: int = 64
    use_graphs: bool | None = None
    check_every: int = 8
    _graphs: dict[tuple[int, int], _Graph] = field(default_factory=dict)

    def __post_init__(self) -> None:
        import torch

        m = self.model
        cfg = m.config
        p = next(m.parameters())
        self.device, self.dtype = p.device, p.dtype
        if self.use_graphs is None:
            self.use_graphs = self.device.type == "cuda"
        self.layers = list(m.model.layers)
        attn = self.layers[0].self_attn
        self.head_dim = int(getattr(attn, "head_dim", cfg.hidden_size // cfg.num_attention_heads))
        self.n_kv = int(cfg.num_key_value_heads)
        self.n_rep = int(cfg.num_attention_heads) // self.n_kv
        self.scaling = float(getattr(attn, "scaling", self.head_dim ** -0.5))
        self.max_len = _round_up(self.max_len, self.len_bucket)
        shape = (self.max_batch, self.n_kv, self.max_len, self.head_dim)
        self.k_cache = [torch.zeros(shape, device=self.device, dtype=self.dtype) for _ in self.layers]
        self.v_cache = [torch.zeros(shape, device=self.device, dtype=self.dtype) for _ in self.layers]
        self.stop_t = torch.tensor(sorted(set(self.stop_ids)) or [-1], device=self.device, dtype=torch.long)
        self.pool = torch.cuda.graph_pool_handle() if self.use_graphs else None

    # ---- the model pieces -------------------------------------------------------------------------------
    def _rope(self, q: Any, k: Any, cos: Any, sin: Any) -> tuple[Any, Any]:
        import torch

        def rot(x: Any) -> Any:
            half = x.shape[-1] // 2
            return torch.cat((-x[..., half:], x[..., :half]), dim=-1)

        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
        return (q * cos) + (rot(q) * sin), (k * cos) + (rot(k) * sin)

    def _qkv(self, layer: Any, x: Any, cos: Any, sin: Any) -> tuple[Any, Any, Any]:
        b, t = x.shape[:2]
        a = layer.self_attn
        q = a.q_proj(x).view(b, t, -1, self.head_dim).transpose(1, 2)
        k = a.k_proj(x).view(b, t, -1, self.head_dim).transpose(1, 2)
        v = a.v_proj(x).view(b, t, -1, self.head_dim).transpose(1, 2)
        q, k = self._rope(q, k, cos, sin)
        return q, k, v

    def _logits_last(self, h: Any) -> Any:
        return self.model.lm_head(self.model.model.norm(h)[:, -1:, :])[:, -1, :].float()

    # ---- prefill ----------------------------------------------------------------------------------------
    def prefill(self, ids: Any, mask: Any, length: int) -> Any:
        """Run the left-padded prompts ``ids`` [B, W] (``mask`` 1 = real) through the model, fill the cache
        columns ``0..W-1`` and return the first greedy token [B]."""
        import torch
        import torch.nn.functional as F

        b, w = ids.shape
        pos = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 1)
        amask = None  # no padding: is_causal, as transformers does (SDPA's flash kernel)
        if not bool(mask.bool().all()):
            causal = torch.ones(w, w, dtype=torch.bool, device=ids.device).tril()
            amask = causal[None, None] & mask.bool()[:, None, None, :]
            amask = amask | torch.eye(w, dtype=torch.bool, device=ids.device)[None, None]  # pad rows: no empty row
        h = self.model.model.embed_tokens(ids)
        cos, sin = self.model.model.rotary_emb(h, pos)
        for i, layer in enumerate(self.layers):
            res = h
            x = layer.input_layernorm(h)
            q, k, v = self._qkv(layer, x, cos, sin)
            self.k_cache[i][:b, :, :w].copy_(k)
            self.v_cache[i][:b, :, :w].copy_(v)
            if self.n_rep > 1:
                k = k[:, :, None].expand(b, self.n_kv, self.n_rep, w, self.head_dim).reshape(b, -1, w, self.head_dim)
                v = v[:, :, None].expand(b, self.n_kv, self.n_rep, w, self.head_dim).reshape(b, -1, w, self.head_dim)
            o = F.scaled_dot_product_attention(q, k, v, attn_mask=amask, is_causal=amask is None and w > 1,
                                               scale=self.scaling)
            h = res + layer.self_attn.o_proj(o.transpose(1, 2).reshape(b, w, -1))
            res = h
            h = res + layer.mlp(layer.post_attention_layernorm(h))
        return torch.argmax(self._logits_last(h), dim=-1)

    # ---- one decode step (captured) ---------------------------------------------------------------------
    def _step(self, g: _Graph) -> None:
        import torch
        import torch.nn.functional as F

        b, length = g.valid.shape
        g.valid.index_fill_(1, g.slot, True)
        kmask = g.valid.view(b, 1, 1, length)
        h = self.model.model.embed_tokens(g.tok.view(b, 1))
        cos, sin = self.model.model.rotary_emb(h, g.pos.view(b, 1))
        for i, layer in enumerate(self.layers):
            res = h
            x = layer.input_layernorm(h)
            q, k, v = self._qkv(layer, x, cos, sin)
            kc = self.k_cache[i][:b, :, :length]
            vc = self.v_cache[i][:b, :, :length]
            kc.index_copy_(2, g.slot, k)
            vc.index_copy_(2, g.slot, v)
            qg = q.reshape(b, self.n_kv, self.n_rep, self.head_dim)  # query heads grouped per kv head
            o = F.scaled_dot_product_attention(qg, kc, vc, attn_mask=kmask, scale=self.scaling)
            h = res + layer.self_attn.o_proj(o.reshape(b, 1, -1))
            res = h
            h = res + layer.mlp(layer.post_attention_layernorm(h))
        nxt = torch.argmax(self._logits_last(h), dim=-1)
        g.out.index_copy_(1, g.step, nxt.view(b, 1))
        g.done.logical_or_((nxt[:, None] == self.stop_t[None, :]).any(-1))
        g.tok.copy_(nxt)
        g.pos.add_(1)
        g.slot.add_(1)
        g.step.add_(1)

    def _new_state(self, b: int, length: int) -> _Graph:
        import torch

        dev, lng = self.device, torch.long
        return _Graph(graph=None, tok=torch.zeros(b, dtype=lng, device=dev), pos=torch.zeros(b, dtype=lng, device=dev),
                      slot=torch.zeros(1, dtype=lng, device=dev), step=torch.zeros(1, dtype=lng, device=dev),
                      valid=torch.zeros(b, length, dtype=torch.bool, device=dev),
                      done=torch.zeros(b, dtype=torch.bool, device=dev),
                      out=torch.zeros(b, self.max_new_tokens + 1, dtype=lng, device=dev))

    def _state(self, b: int, length: int) -> _Graph:
        import torch

        key = (b, length)
        if key in self._graphs:
            return self._graphs[key]
        g = self._new_state(b, length)
        if self.use_graphs:
            g.slot.fill_(length - 2)  # warm-up writes land in columns later steps overwrite
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(2):
                    g.slot.fill_(length - 2)
                    g.step.zero_()
                    self._step(g)
            torch.cuda.current_stream().wait_stream(side)
            g.slot.fill_(length - 2)
            g.step.zero_()
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, pool=self.pool):
                self._step(g)
            g.graph = graph
        self._graphs[key] = g
        return g

    # ---- a whole batch ----------------------------------------------------------------------------------
    def generate_batch(self, ids: Any, mask: Any) -> list[list[int]]:
        """Greedy continuations (up to ``max_new_tokens`` each, stop token included when hit) of one left-padded
        batch ``ids`` [B, W] with attention ``mask``; stops early once every row has hit a stop token."""
        import torch

        b, w = ids.shape
        n = self.max_new_tokens
        if b > self.max_batch or w + n > self.max_len:
            raise ValueError(f"batch {b}x{w}+{n} exceeds the decoder's cache {self.max_batch}x{self.max_len}")
        length = min(_round_up(w + n, self.len_bucket), self.max_len)
        with torch.inference_mode():
            g = self._state(b, length)
            first = self.prefill(ids, mask, length)
            g.out.zero_()
            g.out[:, 0] = first
            g.tok.copy_(first)
            g.pos.copy_(mask.long().sum(-1))
            g.slot.fill_(w)
            g.step.fill_(1)
            g.valid.zero_()
            g.valid[:, :w] = mask.bool()
            g.done.copy_((first[:, None] == self.stop_t[None, :]).any(-1))
            for s in range(1, n):
                if (s - 1) % self.check_every == 0 and bool(g.done.all()):
                    break
                if g.graph is not None:
                    g.graph.replay()
                else:
                    self._step(g)
            out = g.out[:, :n].tolist()
        stops = set(self.stop_ids)
        result = []
        for row in out:
            cut = next((k for k, t in enumerate(row) if t in stops), len(row) - 1)
            result.append(row[:cut + 1])
        return result


def _round_up(x: int, m: int) -> int:
    return ((x + m - 1) // m) * m
