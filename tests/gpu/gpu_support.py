"""Helpers of the GPU tests (``tests/gpu``): the device in use, CUDA-only marks, manifests and policy files."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.append(str(REPO))  # bench.gpu_models: random-init models of real shapes

EMBEDDED_DATA = REPO / "aligngate" / "embedded" / "data"
REHEARSAL = os.environ.get("ALIGNGATE_GPU_REHEARSAL") == "1"
"""Run on the CPU instead of skipping (``bench/gpu_run.py --smoke``)."""


def cuda() -> bool:
    """Whether torch sees a CUDA GPU."""
    import torch

    return bool(torch.cuda.is_available())


needs_cuda = pytest.mark.skipif("not __import__('torch').cuda.is_available()",
                                reason="needs a CUDA GPU (CUDA-only: training profiles, 4-bit, the static decoder by "
                                       "default; also skipped in the CPU rehearsal)")


def manifest(out: Path) -> dict[str, Any]:
    """``out/manifest.json``."""
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def write_policy(path: Path, *, harmful: list[str], safe: list[str], checks: list[dict[str, Any]],
                 drift: str | None = None, backend: str = "auto", decode: str = "exact", batch_size: int = 32,
                 max_new_tokens: int = 24, judge: str = "minilm", probe: bool = False) -> Path:
    """A gate policy file (JSON is YAML) with these evaluation settings and checks."""
    evaluation: dict[str, Any] = {"harmful_suites": harmful, "safe_suites": safe, "backend": backend,
                                  "decode": decode, "batch_size": batch_size, "max_new_tokens": max_new_tokens,
                                  "judge": judge}
    if drift:
        evaluation["drift_suite"] = drift
    policy = {"apiVersion": "aligngate.dev/v1", "kind": "GatePolicy", "metadata": {"name": path.stem},
              "spec": {"evaluation": evaluation,
                       "adapter_audit": {"max_rank": 256, "max_scale": 16, "probe": probe,
                                         "probe_max_new_tokens": 16},
                       "checks": checks}}
    path.write_text(json.dumps(policy, indent=1), encoding="utf-8")
    return path
