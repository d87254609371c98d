"""Feature vectors for the trained refusal judge: what the head sees of a (prompt, response) pair.

    [ MiniLM layer 4 (first 64 word-pieces of the sanitized response)   384
      (optional) MiniLM(last ``tail_tokens`` word-pieces)       384   off by default
      handcrafted rule features (rules.HANDCRAFTED_NAMES)        13  head, whole-text and tail rules ]

Long texts: ``clean_text`` keeps 20k characters from each end, the encoder sees the head window, and the rule
features read the head, the first 4,000 characters and the last 600 characters (the tail window). An encoded
tail window did not help in leave-one-model-out tests (0.933 vs 0.938 mean binary, measured with layer-6
features) and doubles the cost, so it is off (``tail_tokens: 0``) but supported.

The prompt is deliberately *not* a feature: on the training data, prompt harmfulness predicts the label
(llama-2 refuses nearly every unsafe prompt) and a head that learns that shortcut fails on models that comply
(mistral). The judge labels the response's behaviour, not the request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aligngate.judge.rules import handcrafted, sanitize

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from aligngate.judge.encoder import Encoder

__all__ = ["DEFAULT_FEATURES", "response_features"]

DEFAULT_FEATURES: dict[str, Any] = {"head_tokens": 64, "tail_tokens": 0, "handcrafted": True}
"""Feature configuration; stored in the head's JSON metadata so training and inference agree."""


def response_features(encoder: Encoder, responses: Sequence[str], config: dict[str, Any] | None = None,
                      batch_size: int = 128) -> np.ndarray:
    """Feature matrix (n, 384 [+ 384] + 13) for raw responses (they are cleaned and sanitized here)."""
    import numpy as np

    cfg = {**DEFAULT_FEATURES, **(config or {})}
    texts = [sanitize(r) for r in responses]
    head_n, tail_n = int(cfg["head_tokens"]), int(cfg["tail_tokens"])
    heads, tails, counts = encoder.windows(texts, head_n, tail_n)
    e_head = encoder.encode(heads, head_n, batch_size=batch_size)
    parts = [e_head]
    if tail_n > 0:
        has_tail = [i for i, t in enumerate(tails) if t]
        e_tail = e_head.copy()
        if has_tail:
            e_tail[has_tail] = encoder.encode([tails[i] for i in has_tail], tail_n, batch_size=batch_size)
        parts.append(e_tail)
    if cfg.get("handcrafted", True):
        parts.append(np.array([handcrafted(t, n) for t, n in zip(texts, counts, strict=True)], dtype=np.float32))
    return np.concatenate(parts, axis=1).astype(np.float32)
