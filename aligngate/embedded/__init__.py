"""The embedded default: a tiny chat model built locally from a project-written corpus, plus default data.

- :mod:`aligngate.embedded.corpus`: the seeded compositional corpus, SFT / DPO / reward data with planted
  poison and ground truth, and the ``embedded-*`` eval suites (no torch import).
- :mod:`aligngate.embedded.model`: builds and caches the tiny Llama chat model (imports torch lazily).
"""

from __future__ import annotations
