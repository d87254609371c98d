"""A canary-bearing candidate: LoRA SFT on a curate directory's ``curated.jsonl`` (canaries planted) for a given
number of epochs, with the embedded demo's training profile. Used by the tests, the bench and the demo to show
that ``leakage.*`` blocks a candidate that memorised its tuning data."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aligngate.errors import InputError

if TYPE_CHECKING:
    from aligngate.training import TrainResult

__all__ = ["build_canary_candidate", "steps_for_epochs"]


def steps_for_epochs(rows: int, epochs: float, batch_size: int) -> int:
    """Optimizer steps that show every row about ``epochs`` times."""
    if rows < 1 or epochs <= 0 or batch_size < 1:
        raise InputError(f"canary candidate: rows={rows}, epochs={epochs}, batch_size={batch_size} out of range")
    return max(1, math.ceil(rows * epochs / batch_size))


def build_canary_candidate(base: str | Path, data_dir: str | Path, out: str | Path, *, epochs: float = 30.0,
                           overwrite: bool = True, **overrides: Any) -> TrainResult:
    """Fine-tune ``base`` (LoRA SFT, the embedded demo profile with ``overrides``) on ``data_dir/curated.jsonl``
    for ``epochs`` epochs into ``out``. ``data_dir`` must hold the canaries of a ``curate --canaries N`` run."""
    from aligngate.embedded.profile import demo_train_config
    from aligngate.leakage.canaries import read_canaries
    from aligngate.stages.train import train

    d = Path(data_dir)
    if read_canaries(d) is None:
        raise InputError(f"{d}: no canaries.json (curate with --canaries N first)")
    rows = [json.loads(ln) for ln in (d / "curated.jsonl").read_text(encoding="utf-8").splitlines() if ln.strip()]
    cfg = demo_train_config("sft", **overrides)
    steps = steps_for_epochs(len(rows), epochs, cfg.batch_size)
    return train("sft", str(base), rows, str(out), config=cfg, overwrite=overwrite, overrides={"max_steps": steps})
