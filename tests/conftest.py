"""Shared test set-up: offline, quiet, with the public data sets from ../shared/data when present."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))  # development tooling outside the package (judge_training)
sys.path.insert(0, str(REPO / "tests" / "support"))  # test-only helpers (tiny_llama)
SHARED_DATA = Path(os.environ.get("ALIGNGATE_SHARED_DATA", REPO.parent / "shared" / "data"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip GPU tests without CUDA (unless ``ALIGNGATE_GPU_REHEARSAL=1``: tests/gpu on the CPU, see its conftest)."""
    try:
        import torch

        has_gpu = torch.cuda.is_available()
    except ImportError:
        has_gpu = False
    if has_gpu or os.environ.get("ALIGNGATE_GPU_REHEARSAL") == "1":
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (torch.cuda.is_available() is False): `make test-gpu` on a "
                                   "GPU runner; ALIGNGATE_GPU_REHEARSAL=1 rehearses tests/gpu on the CPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (public safety data sets); skips where a user's clone has none."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"public data sets not present at {SHARED_DATA} (../shared/data); CI always has them")
    return SHARED_DATA


@pytest.fixture(scope="session")
def embedded_model() -> Path:
    """The embedded tiny chat model (built once and cached under ~/.cache/aligngate)."""
    from aligngate.embedded.model import embedded_model_dir

    return embedded_model_dir(progress=False)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root."""
    return REPO


@pytest.fixture(scope="session")
def one_torch_thread() -> Iterator[None]:
    """Torch on one thread for the session: tiny models train fastest that way (spinning OpenMP threads fight on
    busy 2-core machines). Packages that train make it autouse in their conftest."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
