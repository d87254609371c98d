"""Shared fixtures: one tiny random Llama base and small SFT / DPO runs, built once per session."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session", autouse=True)
def _one_thread(one_torch_thread: None) -> None:
    """Every test here trains tiny models: one torch thread (see ``tests/conftest.py``)."""


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama chat model (tokenizer trained on the embedded corpus)."""
    from tiny_llama import build_tiny_llama

    from aligngate.embedded.corpus import pretrain_dialogues

    texts = [m["content"] for r in pretrain_dialogues() for m in r["messages"]]
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-base"), texts, hidden_size=32)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sft.jsonl (messages, with curated-output extra columns), sft_pc.jsonl, dpo.jsonl."""
    from aligngate.embedded.corpus import dpo_dataset, sft_dataset

    d = tmp_path_factory.mktemp("train-data")
    sft = [{**r, "_line": i, "_reasons": []} for i, r in enumerate(sft_dataset()[:48], start=1)]
    _write_jsonl(d / "sft.jsonl", sft)
    pc = [{"prompt": r["messages"][0]["content"], "completion": r["messages"][1]["content"]} for r in sft]
    _write_jsonl(d / "sft_pc.jsonl", pc)
    _write_jsonl(d / "dpo.jsonl", dpo_dataset()[:48])
    return d


@pytest.fixture(scope="session")
def fast_cfg() -> Any:
    """A few steps only: these tests check files and hashes, not learning."""
    from aligngate.training import TrainConfig

    return TrainConfig(max_steps=3, batch_size=8, logging_steps=1)


@pytest.fixture(scope="session")
def sft_run(tiny_base: Path, data_dir: Path, fast_cfg: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One LoRA SFT run on messages rows."""
    from aligngate.training import train_sft

    return train_sft(tiny_base, data_dir / "sft.jsonl", tmp_path_factory.mktemp("sft") / "adapter", fast_cfg)


@pytest.fixture(scope="session")
def dpo_run(tiny_base: Path, data_dir: Path, fast_cfg: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One LoRA DPO run."""
    from aligngate.training import train_dpo

    return train_dpo(tiny_base, data_dir / "dpo.jsonl", tmp_path_factory.mktemp("dpo") / "adapter", fast_cfg)
