"""Tuning-data curation: readers, Great Expectations suites, poisoning detectors, quarantine.

The entry point is :func:`aligngate.curation.pipeline.curate_file` (re-exported lazily here, so importing the
package stays light).
"""

from __future__ import annotations

from typing import Any

__all__ = ["CurationResult", "curate_file"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from aligngate.curation import pipeline

        return getattr(pipeline, name)
    raise AttributeError(name)
