"""Fixtures of the fault matrix: the expensive subjects are built once per session, every fault in a tmp_path.

* ``assets.model``: the embedded tiny chat model (cached under ~/.cache/aligngate);
* ``assets.adapter``: a LoRA adapter for it, made with peft (B = 0, so gating it is gating the base: it passes);
* ``assets.reward_model``: a reward model (sequence classification, one output) on the embedded model's config;
* ``assets.data_report``: a clean ``aligngate curate`` output directory (for ``gate --data-report``).

``cli(*argv, out=DIR)`` runs ``aligngate.cli.main`` in-process and returns a :class:`fm_cases.Result` with the
``DIR/report.json`` it wrote; ``spawn(*argv)`` starts ``python -m aligngate`` as a subprocess (signals,
concurrency, resource limits).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.append(str(Path(__file__).resolve().parent))  # appended: never shadows another dir's conftest

from fm_build import child_env, clean_sft_rows, write_rows
from fm_cases import Result


@dataclass(frozen=True)
class Assets:
    """The subjects built once per session."""

    model: Path
    adapter: Path
    reward_model: Path
    data_report: Path
    clean_rows: Path


@pytest.fixture(scope="session", autouse=True)
def _one_thread(one_torch_thread: None) -> None:
    """Tiny models on a busy 2-core machine: one torch thread."""


@pytest.fixture(scope="session")
def assets(embedded_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Assets:
    """Build the shared subjects (about 10 s, once)."""
    import shutil

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoConfig, AutoModelForCausalLM, LlamaForSequenceClassification

    from aligngate.cli import main

    root = tmp_path_factory.mktemp("fault-matrix-assets")
    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(str(embedded_model), use_safetensors=True)
    lora = LoraConfig(task_type="CAUSAL_LM", r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])
    adapter = root / "adapter"
    get_peft_model(base, lora).save_pretrained(adapter)

    cfg = AutoConfig.from_pretrained(str(embedded_model))
    cfg.num_labels, cfg.pad_token_id = 1, 0
    reward = root / "reward-model"
    LlamaForSequenceClassification(cfg).save_pretrained(reward)
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        shutil.copy(embedded_model / name, reward / name)

    rows = write_rows(root / "clean.jsonl", clean_sft_rows())
    pol = root / "curate.yaml"
    pol.write_text("apiVersion: aligngate.dev/v1\nkind: GatePolicy\nmetadata: {name: c}\nspec:\n"
                   "  curation: {judge: rules}\n")
    data_report = root / "data-report"
    assert main(["curate", "--kind", "sft", "--input", str(rows), "--policy", str(pol), "--out", str(data_report),
                 "--no-progress", "--output", "json"]) == 0
    return Assets(model=embedded_model, adapter=adapter, reward_model=reward, data_report=data_report,
                  clean_rows=rows)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """``cli(*argv, out=DIR)``: run the CLI in-process; the result carries ``DIR/report.json`` if given."""
    from aligngate.cli import main

    def run(*argv: Any, out: Path | None = None) -> Result:
        capsys.readouterr()
        code = main([str(a) for a in argv])
        cap = capsys.readouterr()
        return Result(code, cap.out, cap.err, out / "report.json" if out is not None else None)

    return run


_LIMITED = ("import os, resource, signal, sys; n = int(sys.argv[1]); signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
            "resource.setrlimit(resource.RLIMIT_FSIZE, (n, n)); "
            "os.execv(sys.executable, [sys.executable, '-m', 'aligngate', *sys.argv[2:]])")
"""Launcher for a full disk: writes past N bytes fail with EFBIG (SIGXFSZ ignored); both survive the exec."""


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """``spawn(*argv, fsize=None)``: start ``python -m aligngate ARGV`` (stdout/stderr piped); ``fsize``: no file
    it writes may grow past that many bytes (a full disk)."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(*argv: Any, fsize: int | None = None) -> subprocess.Popen[bytes]:
        head = [sys.executable, "-m", "aligngate"] if fsize is None else [sys.executable, "-c", _LIMITED, str(fsize)]
        p = subprocess.Popen([*head, *map(str, argv)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=child_env())
        procs.append(p)
        return p

    yield start
    for p in procs:  # never leave a child behind
        if p.poll() is None:
            p.kill()
            p.wait()
