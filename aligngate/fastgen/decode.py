"""A static-KV-cache greedy decoder for Llama-like causal LMs with CUDA-graphed decode steps.

Why our own loop: HF ``generate`` spends most of a small model's decode step launching kernels from Python
(87 ms for one batch-64 step of a 1B model whose arithmetic needs < 1 ms), and compiling ``model.forward`` under
``generate`` with ``mode="reduce-overhead"`` breaks on output aliasing. Here a step -- embedding, every layer,
the LM head, the greedy argmax and the bookkeeping (position, cache slot, key mask, stop flags, output column) --
reads and writes only preallocated tensors, so it is captured with ``torch.cuda.CUDAGraph`` and replayed with
no Python and no host-device traffic.

Numerics follow the stock path on purpose: the model's own embedding, RMSNorm, rotary, MLP and LM-head modules
are called on the same shapes as HF ``generate`` calls them (left padding, positions from the attention mask,
the LM head on the last position only, float32 logits before argmax); prefill logits are bitwise equal to HF's.
Only attention + cache are ours, in two modes:

- ``exact`` (default): attention over exactly the keys so far through transformers' own SDPA function, as its
  dynamic cache does; since that shape changes every step, the step is captured piecewise (one graph per layer
  boundary, the SDPA call launched eagerly between them). Token-identical to stock on CPU; on an H100 the
  teacher-forced logits were bitwise equal, but free-running outputs still split at near-ties (see
  bench/results/gpu-2026-11-23.md).
- ``fused``: one graph for the whole step per ``(batch, cache length bucket)``, attention over the cache view
  with its unused tail masked (query heads grouped per key/value head): ~3-7x faster than ``exact``, but SDPA's
  kernels round differently over the longer key range (logits within ~0.1 of stock; near-ties flip).

Every step's logits -- prefill and decode -- are checked for NaN/Inf on device (one ``amax`` per step, as the stock
path's logits processor does, :func:`aligngate.generation.nonfinite_rows`); the per-row flags are read once per
batch, so a corrupt model is reported, never judged on the garbage it decodes.

Supported: decoder-only models whose layers hold ``self_attn.{q,k,v,o}_proj``, ``input_layernorm``,
``post_attention_layernorm`` and ``mlp`` (llama, mistral and qwen2 without sliding windows) whose generation config
asks for no logits processor that changes greedy picks; see :func:`supports_static_decode`. torch is imported
inside the functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["StaticDecoder", "supports_static_decode"]

_SUPPORTED_TYPES = ("llama", "mistral", "qwen2")


_GREEDY_PROCESSORS = {
    "repetition_penalty": lambda v: v is not None and v != 1.0,
    "encoder_repetition_penalty": lambda v: v is not None and v != 1.0,
    "no_repeat_ngram_size": lambda v: bool(v),
    "bad_words_ids": lambda v: bool(v),
    "suppress_tokens": lambda v: bool(v),
    "begin_suppress_tokens": lambda v: bool(v),
    "sequence_bias": lambda v: bool(v),
    "min_length": lambda v: bool(v),
    "min_new_tokens": lambda v: bool(v),
    "forced_bos_token_id": lambda v: v is not None,
    "forced_eos_token_id": lambda v: v is not None,
    "exponential_decay_length_penalty": lambda v: v is not None,
}
"""Generation-config settings with which stock greedy ``generate`` applies a logits processor that can change the
picked token; the static decoder applies none, so a model whose ``generation_config`` sets one stays on stock."""


def supports_static_decode(model: Any) -> tuple[bool, str]:
    """``(True, "")`` when :class:`StaticDecoder` can run ``model`` with the stock path's greedy picks, else
    ``(False, reason)``."""
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
        mod = getattr(attn, name, None)
        if type(mod).__name__ != "Linear" or hasattr(mod, "base_layer"):
            return False, f"self_attn.{name} is not a plain Linear (unmerged adapter or quantised)"
    if hasattr(attn, "q_norm"):
        return False, "q/k norms are not supported"
    gen = getattr(model, "generation_config", None)
    for key, active in _GREEDY_PROCESSORS.items():
        value = getattr(gen, key, None)
        if active(value):
            return False, f"generation_config sets {key}={value!r} (a logits processor the static decoder lacks)"
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
    bad: Any          # [B] bool: row has met non-finite logits (NaN, +Inf, or no finite entry)
    out: Any          # [B, N] long: generated tokens
    bufs: dict[str, Any] = field(default_factory=dict)  # piecewise mode: tensors passed between segments
    segments: list[Any] = field(default_factory=list)    # piecewise mode: one graph per segment


@dataclass
class StaticDecoder:
    """Greedy decoding over a preallocated KV cache; CUDA-graphed decode steps on CUDA, eager elsewhere.

    ``max_batch`` and ``max_len`` (prompt width + new tokens) size the cache once.

    ``exact=True`` (default): token-identical to HF ``generate``. Attention must see exactly the keys so far
    (SDPA's kernels round differently over a masked longer cache), so each step is captured piecewise: one
    graph per layer boundary, with the exact-length SDPA call launched eagerly between them (as vLLM's
    piecewise graphs do). ``exact=False``: one graph for the whole step, attention over the cache view rounded
    up to ``len_bucket`` with its tail masked: fewer launches, logits within bf16 rounding of the stock ones.
    """

    model: Any
    max_batch: int
    max_len: int
    max_new_tokens: int
    stop_ids: tuple[int, ...]
    len_bucket: int = 64
    use_graphs: bool | None = None
    check_every: int = 8
    exact: bool = True
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
    def prefill_logits(self, ids: Any, mask: Any) -> Any:
        """Run the left-padded prompts ``ids`` [B, W] (``mask`` 1 = real) through the model, fill the cache
        columns ``0..W-1`` and return the float32 logits [B, V] of the last position."""
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
        return self._logits_last(h)

    # ---- one decode step -------------------------------------------------------------------------------
    def _pre_attn(self, i: int, h: Any, cos: Any, sin: Any, g: _Graph) -> Any:
        """Layer ``i`` up to attention: write the token's keys/values at ``g.slot``; return the query [B,H,1,D]."""
        b = h.shape[0]
        layer = self.layers[i]
        q, k, v = self._qkv(layer, layer.input_layernorm(h), cos, sin)
        self.k_cache[i][:b].index_copy_(2, g.slot, k)
        self.v_cache[i][:b].index_copy_(2, g.slot, v)
        return q

    def _post_attn(self, i: int, h: Any, o: Any) -> Any:
        """Layer ``i`` from the attention output ``o`` [B,1,H*D] on: o_proj, residual, MLP."""
        layer = self.layers[i]
        h = h + layer.self_attn.o_proj(o)
        return h + layer.mlp(layer.post_attention_layernorm(h))

    def _finish(self, h: Any, g: _Graph) -> None:
        """LM head, non-finite check, greedy pick and the step's bookkeeping, all on device."""
        import torch

        from aligngate.generation import nonfinite_rows

        logits = self._logits_last(h)
        g.bad.logical_or_(nonfinite_rows(logits))
        nxt = torch.argmax(logits, dim=-1)
        b = nxt.shape[0]
        g.out.index_copy_(1, g.step, nxt.view(b, 1))
        g.done.logical_or_((nxt[:, None] == self.stop_t[None, :]).any(-1))
        g.tok.copy_(nxt)
        g.pos.add_(1)
        g.slot.add_(1)
        g.step.add_(1)

    def _embed(self, g: _Graph) -> tuple[Any, Any, Any]:
        b = g.tok.shape[0]
        g.valid.index_fill_(1, g.slot, True)
        h = self.model.model.embed_tokens(g.tok.view(b, 1))
        cos, sin = self.model.model.rotary_emb(h, g.pos.view(b, 1))
        return h, cos, sin

    def _attn_exact(self, i: int, q: Any, g: _Graph, cur: int) -> Any:
        """Stock-identical attention: transformers' own SDPA function on exactly ``cur`` contiguous keys (the
        layout its dynamic cache hands over) and the [B,H,1,D] query view; returns [B,1,H*D]."""
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        b = q.shape[0]
        kc = self.k_cache[i][:b, :, :cur].contiguous()
        vc = self.v_cache[i][:b, :, :cur].contiguous()
        kmask = g.valid.view(b, 1, 1, -1)[..., :cur]
        o, _ = sdpa_attention_forward(self.layers[i].self_attn, q, kc, vc, kmask, dropout=0.0, scaling=self.scaling)
        return o.reshape(b, 1, -1)

    def _attn_fused(self, i: int, q: Any, g: _Graph) -> Any:
        """Attention over the whole masked cache view (static shape, capturable); [B,1,H*D]."""
        import torch.nn.functional as F

        b, length = g.valid.shape
        kc, vc = self.k_cache[i][:b, :, :length], self.v_cache[i][:b, :, :length]
        qg = q.reshape(b, self.n_kv, self.n_rep, self.head_dim)  # query heads grouped per kv head
        o = F.scaled_dot_product_attention(qg, kc, vc, attn_mask=g.valid.view(b, 1, 1, length), scale=self.scaling)
        return o.reshape(b, 1, -1)

    def _step_fused(self, g: _Graph) -> None:
        h, cos, sin = self._embed(g)
        for i in range(len(self.layers)):
            h = self._post_attn(i, h, self._attn_fused(i, self._pre_attn(i, h, cos, sin, g), g))
        self._finish(h, g)

    # piecewise: segment 0 = embed + layer 0 up to attention; segment i = rest of layer i-1 + layer i up to
    # attention; last segment = rest of the last layer + head. Attention runs eagerly in between.
    def _segment(self, j: int, g: _Graph) -> None:
        n = len(self.layers)
        if j == 0:
            h, cos, sin = self._embed(g)
            g.bufs["cos"].copy_(cos)
            g.bufs["sin"].copy_(sin)
        else:
            h = self._post_attn(j - 1, g.bufs["h"], g.bufs["o"])
        if j == n:
            self._finish(h, g)
            return
        g.bufs["q"].copy_(self._pre_attn(j, h, g.bufs["cos"], g.bufs["sin"], g).transpose(1, 2))
        g.bufs["h"].copy_(h)

    def _step_exact(self, g: _Graph, cur: int) -> None:
        for j in range(len(self.layers) + 1):
            if g.segments:
                g.segments[j].replay()
            else:
                self._segment(j, g)
            if j < len(self.layers):
                # [B,1,H,D] buffer seen as [B,H,1,D]: the strides transformers hands to SDPA
                g.bufs["o"].copy_(self._attn_exact(j, g.bufs["q"].transpose(1, 2), g, cur))

    def _new_state(self, b: int, length: int) -> _Graph:
        import torch

        dev, lng = self.device, torch.long
        hid = self.model.config.hidden_size
        n_heads = self.n_kv * self.n_rep

        def z(*shape: int, dtype: Any = self.dtype) -> Any:
            return torch.zeros(*shape, dtype=dtype, device=dev)

        bufs = {"h": z(b, 1, hid), "q": z(b, 1, n_heads, self.head_dim), "o": z(b, 1, n_heads * self.head_dim),
                "cos": z(b, 1, self.head_dim), "sin": z(b, 1, self.head_dim)}
        return _Graph(graph=None, tok=z(b, dtype=lng), pos=z(b, dtype=lng), slot=z(1, dtype=lng),
                      step=z(1, dtype=lng), valid=z(b, length, dtype=torch.bool), done=z(b, dtype=torch.bool),
                      bad=z(b, dtype=torch.bool), out=z(b, self.max_new_tokens + 1, dtype=lng), bufs=bufs)

    def _state(self, b: int, length: int) -> _Graph:
        import torch

        key = (b, self.max_len if self.exact else length)
        if key in self._graphs:
            return self._graphs[key]
        g = self._new_state(*key)
        if self.use_graphs:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):  # warm-up writes land in the last column, which later steps overwrite
                for _ in range(2):
                    g.slot.fill_(key[1] - 1)
                    g.step.zero_()
                    self._step_exact(g, key[1]) if self.exact else self._step_fused(g)
            torch.cuda.current_stream().wait_stream(side)
            g.slot.fill_(key[1] - 1)
            g.step.zero_()
            if self.exact:
                for j in range(len(self.layers) + 1):
                    graph = torch.cuda.CUDAGraph()
                    with torch.cuda.graph(graph, pool=self.pool):
                        self._segment(j, g)
                    g.segments.append(graph)
            else:
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph, pool=self.pool):
                    self._step_fused(g)
                g.graph = graph
        self._graphs[key] = g
        return g

    # ---- a whole batch ----------------------------------------------------------------------------------
    def generate_batch(self, ids: Any, mask: Any) -> tuple[list[list[int]], list[bool]]:
        """Greedy continuations (up to ``max_new_tokens`` each, stop token included when hit) of one left-padded
        batch ``ids`` [B, W] with attention ``mask``, and per row whether any step's logits were non-finite
        (accumulated on device, read once per batch). Stops early once every row has hit a stop token."""
        import torch

        from aligngate.generation import nonfinite_rows

        b, w = ids.shape
        n = self.max_new_tokens
        if b > self.max_batch or w + n > self.max_len:
            raise ValueError(f"batch {b}x{w}+{n} exceeds the decoder's cache {self.max_batch}x{self.max_len}")
        length = min(_round_up(w + n, self.len_bucket), self.max_len)
        with torch.inference_mode():
            g = self._state(b, length)
            if not self.exact:
                # fused attention reads the masked tail of the cache too: clear an earlier batch's values there
                # (a NaN would leak through its zero attention weight into this batch)
                for kc, vc in zip(self.k_cache, self.v_cache, strict=True):
                    kc[:b, :, w:length].zero_()
                    vc[:b, :, w:length].zero_()
            logits = self.prefill_logits(ids, mask)
            first = torch.argmax(logits, dim=-1)
            g.bad.copy_(nonfinite_rows(logits))
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
                if self.exact:
                    self._step_exact(g, w + s)
                elif g.graph is not None:
                    g.graph.replay()
                else:
                    self._step_fused(g)
            out = g.out[:, :n].tolist()
            bad = [bool(x) for x in g.bad.tolist()]
        stops = set(self.stop_ids)
        result = []
        for row in out:
            cut = next((k for k, t in enumerate(row) if t in stops), len(row) - 1)
            result.append(row[:cut + 1])
        return result, bad


def _round_up(x: int, m: int) -> int:
    return ((x + m - 1) // m) * m
