"""Measuring the host a benchmark runs on: CPU time, a stock-model reference rate, and RSS sampled during a run.

Imported by the bench scripts as ``bench.machine`` (each puts the repository root on ``sys.path``).
"""

from __future__ import annotations

import resource
import time

__all__ = ["RssSampler", "cpu_seconds", "reference_rate"]


def cpu_seconds() -> float:
    """User + system CPU seconds of this process so far."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def reference_rate(texts: list[str], n: int = 2048) -> float:
    """Machine reference, measured in the same run: sentences/s of stock all-MiniLM-L6-v2 (``transformers``,
    all 6 layers, float32, batch 64, mean pooling: the sentence-transformers recipe) on ``n`` of ``texts``.
    Curation's rows/s over this rate compares runs on machines of different speed (2-core hosts here have
    differed by 1.5x in CPU time per row for the same commit)."""
    import torch

    from aligngate.judge.encoder import model_path
    from aligngate.modelio import load_encoder

    model, tok = load_encoder(model_path(), device="cpu")
    sample = texts[:n]
    t0 = time.perf_counter()
    with torch.inference_mode():
        for start in range(0, len(sample), 64):
            enc = tok(sample[start : start + 64], padding=True, truncation=True, max_length=128, return_tensors="pt")
            hidden = model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=1)
    return len(sample) / (time.perf_counter() - t0)


class RssSampler:
    """Samples this process's resident set (``/proc/self/statm``) every ``every`` seconds in a daemon thread, so
    the run can show whether memory keeps growing: the peak over the first and the second half of the run."""

    def __init__(self, every: float = 0.25) -> None:
        import os
        import threading

        self.every = every
        self.samples: list[tuple[float, float]] = []
        self._page_mb = os.sysconf("SC_PAGE_SIZE") / 2**20
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _rss_mb(self) -> float:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * self._page_mb

    def _loop(self) -> None:
        t0 = time.perf_counter()
        while not self._stop.is_set():
            self.samples.append((time.perf_counter() - t0, self._rss_mb()))
            self._stop.wait(self.every)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def halves(self) -> tuple[float, float]:
        """Peak RSS (MB) in the first and in the second half of the sampled time (0, 0 without samples)."""
        if not self.samples:
            return 0.0, 0.0
        mid = self.samples[-1][0] / 2
        first = max((r for t, r in self.samples if t <= mid), default=0.0)
        second = max((r for t, r in self.samples if t > mid), default=first)
        return first, second
