"""Fast evaluation generation: aligngate's static-KV-cache greedy decoder and the choice of generation path.

:func:`~aligngate.fastgen.api.choose_backend` resolves ``spec.evaluation.backend`` (``auto`` | ``hf`` | ``static``)
for a loaded model; :class:`~aligngate.fastgen.decode.StaticDecoder` is the decoder
:func:`aligngate.generation.generate_ids` runs for ``static``. Nothing heavy is imported here; torch and
transformers load when a function runs.
"""

from __future__ import annotations

from aligngate.fastgen.api import Backend, Decode, Resolved, choose_backend

__all__ = ["Backend", "Decode", "Resolved", "choose_backend"]
