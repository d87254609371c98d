"""Which generation path a loaded model takes: the policy's ``spec.evaluation.backend`` resolved.

``hf`` is stock transformers ``generate``; ``static`` is :class:`~aligngate.fastgen.decode.StaticDecoder` (static KV
cache, CUDA-graphed decode steps on CUDA, eager on CPU) on a model whose adapter is already merged (evaluation
loads candidates merged). Both run through :func:`aligngate.generation.generate_ids`: the same prompt encoding,
length-sorted left-padded batches, stop tokens and non-finite-logits check. Nothing heavy is imported here.
"""

from __future__ import annotations

from typing import Any, Literal

from aligngate.errors import InputError

__all__ = ["Backend", "Decode", "Resolved", "choose_backend"]

Backend = Literal["auto", "hf", "static"]
"""The policy's choice (``spec.evaluation.backend``)."""
Decode = Literal["exact", "fused"]
"""The static decoder's mode (``spec.evaluation.decode``)."""
Resolved = Literal["hf", "static"]
"""The path a model actually takes."""


def _device_type(model: Any) -> str:
    try:
        return str(next(model.parameters()).device.type)
    except (StopIteration, AttributeError):
        return "cpu"


def choose_backend(model: Any, backend: Backend = "auto", *, name: str | None = None) -> tuple[Resolved, str]:
    """``(path, reason)`` for ``model``: ``hf`` when asked for; ``static`` when asked for (an
    :class:`~aligngate.errors.InputError` when the decoder cannot run this model: an explicit choice is never
    silently replaced); with ``auto``, ``static`` on CUDA for a supported model and ``hf`` otherwise."""
    from aligngate.fastgen.decode import supports_static_decode

    if backend == "hf":
        return "hf", "spec.evaluation.backend: hf"
    if backend not in ("auto", "static"):
        raise InputError(f"spec.evaluation.backend must be auto, hf or static, not {backend!r}")
    ok, why = supports_static_decode(model)
    if backend == "static":
        if not ok:
            what = name or getattr(getattr(model, "config", None), "_name_or_path", None) or type(model).__name__
            raise InputError(f"spec.evaluation.backend: static cannot run model {what}: {why} (use auto or hf)")
        return "static", "spec.evaluation.backend: static"
    if not ok:
        return "hf", f"auto: {why}"
    if _device_type(model) != "cuda":
        return "hf", "auto: not on CUDA"
    return "static", "auto: CUDA and a supported architecture"
