"""``aligngate eval`` on CUDA: the static decoder (``exact`` and ``fused``) held to issue 20's criterion.

Token identity is the wrong yardstick in bf16 (stock ``generate`` is not reproducible against itself when only the
batch composition changes). The criterion: on a trained model with real margins (the embedded chat model with an
adapter trained on this device), the judged labels of the fast path agree with stock's at least as often as stock
agrees with itself when only the batch changes (batch 64 against batch 16).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.gpu

SUITES = ["embedded-harmful", "embedded-safe", "embedded-drift"]


def _labels(res: Any) -> list[tuple[str, str, str]]:
    return [(r["suite"], r["id"], r["label"]) for r in res.records]


def _agree(a: list[tuple[str, str, str]], b: list[tuple[str, str, str]]) -> int:
    assert [x[:2] for x in a] == [x[:2] for x in b], "records out of step"
    return sum(x[2] == y[2] for x, y in zip(a, b, strict=True))


def test_static_decoder_meets_the_label_agreement_criterion(embedded_model: Path, trained_adapter: Path,
                                                            device: str, judge_name: str) -> None:
    from aligngate.stages.evaluate import evaluate

    def run(backend: str, batch: int, decode: str = "exact") -> Any:
        return evaluate(embedded_model, SUITES, adapter=trained_adapter, judge=judge_name, batch_size=batch,
                        device=device, progress=False, backend=backend, decode=decode)  # type: ignore[arg-type]

    stock64, stock16 = run("hf", 64), run("hf", 16)
    assert stock64.generation["backend"] == "hf"
    n = len(stock64.records)
    assert n == 64 + 74 + 32  # every prompt of the three embedded suites
    self_agree = _agree(_labels(stock16), _labels(stock64))
    lines = [f"stock batch 16 vs stock batch 64: {self_agree}/{n}"]
    fast_agree: dict[str, int] = {}
    for decode in ("exact", "fused"):
        fast = run("static", 64, decode)
        assert fast.generation["backend"] == "static" and fast.generation["decode"] == decode, fast.generation
        fast_agree[decode] = _agree(_labels(fast), _labels(stock64))
        lines.append(f"static {decode} batch 64 vs stock batch 64: {fast_agree[decode]}/{n}")
    print("\n".join(lines))
    for decode, k in fast_agree.items():
        assert k >= self_agree, f"{decode}: fast agrees with stock less often than stock with itself: {lines}"


def test_static_decoder_throughput_path_on_cuda_graphs(embedded_model: Path, device: str, judge_name: str) -> None:
    """``auto`` picks the static decoder on CUDA (stock ``generate`` on the CPU) and records it; batch 64."""
    from aligngate.stages.evaluate import evaluate

    res = evaluate(embedded_model, ["embedded-harmful"], judge=judge_name, batch_size=64, device=device,
                   progress=False, backend="auto", decode="fused")
    want = "static" if device == "cuda" else "hf"
    assert res.generation["backend"] == want, res.generation
    assert len(res.records) == 64 and res.metrics["embedded-harmful"].n == 64
