"""The stages of the gate as plain functions: what the demo and the Prefect flows call.

Each stage runs the same code path as its CLI command (in-process, ``--output json``), so a flow run and a
command-line run produce identical files; the stage returns the exit code and the report it wrote.
The gate stage calls the library directly so that several gate runs can share one baseline evaluation.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["StageResult", "audit", "curate", "gate", "run_cli", "test_reward_model", "train"]


@dataclass
class StageResult:
    """What a stage did."""

    stage: str
    exit_code: int
    out: str | None = None
    report: dict[str, Any] | None = None
    stdout: dict[str, Any] | None = None
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        """``pass`` / ``block`` from the report, or from the exit code."""
        if self.report and "verdict" in self.report:
            return str(self.report["verdict"])
        return "pass" if self.exit_code == 0 else "block"


def run_cli(stage: str, argv: list[str], out: str | Path | None = None) -> StageResult:
    """Run ``aligngate <argv> --output json`` in-process; stdout JSON is captured, stderr passes through."""
    from aligngate.cli import main

    buf = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(buf):
        code = main([*argv, "--output", "json"])
    seconds = time.perf_counter() - t0
    text = buf.getvalue().strip()
    parsed: dict[str, Any] | None = None
    if text:
        with contextlib.suppress(ValueError):
            parsed = json.loads(text)
    report = None
    if out is not None and (Path(out) / "report.json").is_file():
        report = json.loads((Path(out) / "report.json").read_text(encoding="utf-8"))
    return StageResult(stage, code, str(out) if out else None, report, parsed, seconds)


def curate(kind: str, data: str | Path, out: str | Path, policy: str | Path | None = None) -> StageResult:
    """``aligngate curate``: curated.jsonl / quarantine.jsonl / report.json (exit 1 if the data is blocked)."""
    argv = ["curate", "--kind", kind, "--input", str(data), "--out", str(out)]
    return run_cli("curate", argv + (["--policy", str(policy)] if policy else []), out)


def train(method: str, base: str | Path, data: str | Path, out: str | Path,
          config: str | Path | None = None) -> StageResult:
    """``aligngate train``: a LoRA adapter (sft/dpo) or a reward model, with manifest.json."""
    argv = ["train", "--method", method, "--base", str(base), "--data", str(data), "--out", str(out), "--overwrite"]
    res = run_cli(f"train-{method}", argv + (["--config", str(config)] if config else []))
    res.out = str(out)
    return res


def audit(adapter: str | Path, out: str | Path, *, base: str | Path | None = None,
          policy: str | Path | None = None) -> StageResult:
    """``aligngate audit-adapter``."""
    argv = ["audit-adapter", str(adapter), "--out", str(out)]
    argv += ["--base", str(base)] if base else []
    argv += ["--policy", str(policy)] if policy else []
    return run_cli("audit", argv, out)


def test_reward_model(reward_model: str | Path, out: str | Path, policy: str | Path | None = None,
                      hh_rlhf: str | Path | None = None) -> StageResult:
    """``aligngate test-reward-model``."""
    argv = ["test-reward-model", "--reward-model", str(reward_model), "--out", str(out)]
    argv += ["--policy", str(policy)] if policy else []
    argv += ["--hh-rlhf", str(hh_rlhf)] if hh_rlhf else []
    return run_cli("reward-test", argv, out)


def gate(policy: str | Path | None, candidate: str | Path, out: str | Path, *, adapter: str | Path | None = None,
         baseline: str | Path | None = None, reward_model: str | Path | None = None,
         data_report: str | Path | None = None, registry: str | Path | None = None, name: str | None = None,
         cache: dict[str, Any] | None = None, progress: bool = True,
         history: str | Path | None = None) -> StageResult:
    """Gate one candidate; promote it into ``registry`` only if it passes. Errors block (exit 2)."""
    from aligngate.gate import GateInputs
    from aligngate.gate.runner import gate_to_dir

    t0 = time.perf_counter()
    s = (lambda p: None if p is None else str(p))
    inputs = GateInputs(candidate=str(candidate), adapter=s(adapter), baseline=s(baseline),
                        reward_model=s(reward_model), data_report=s(data_report))
    report, rec = gate_to_dir(policy, inputs, out, registry=registry, name=name, history=history, cache=cache,
                              progress=progress)
    res = StageResult("gate", report.exit_code, str(out), report.model_dump(mode="json"), None,
                      time.perf_counter() - t0)
    if rec is not None:
        res.extra["promoted"] = rec
    return res
