"""Shared fixtures: fake models patched in (no weights), a policy file, a small SFT / DPO corpus writer."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fakes import fake_models  # noqa: E402

POLICY = """apiVersion: aligngate.dev/v1
kind: GatePolicy
metadata:
  name: test-curation
spec:
  checks:
    - id: data.poison_fraction
      threshold: {{op: "<=", value: {limit}}}
"""


@pytest.fixture(autouse=True)
def _fake_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every curate run in these tests uses the keyword judge and harm classifier."""
    import aligngate.curation.detectors.learned as learned

    monkeypatch.setattr(learned, "load_models", lambda name="minilm": fake_models())


@pytest.fixture
def policy_file(tmp_path: Path) -> Any:
    """Write a policy with the given poison limit; returns its path."""

    def make(limit: float = 0.05) -> str:
        p = tmp_path / f"policy-{limit}.yaml"
        p.write_text(POLICY.format(limit=limit), encoding="utf-8")
        return str(p)

    return make


def write_lines(path: Path, rows: list[Any]) -> Path:
    """Write rows (dicts as JSON, bytes / str verbatim) one per line."""
    with open(path, "wb") as fh:
        for r in rows:
            if isinstance(r, bytes):
                fh.write(r + b"\n")
            elif isinstance(r, str):
                fh.write(r.encode("utf-8") + b"\n")
            else:
                fh.write(json.dumps(r).encode("utf-8") + b"\n")
    return path


TOPICS = ["python lists", "french cooking", "the moon", "tax forms", "gardening", "jazz music", "car engines",
          "knitting", "bird watching", "chess openings"]


def clean_sft(n: int) -> list[dict[str, Any]]:
    """Benign chat rows and refused harmful requests."""
    rows: list[dict[str, Any]] = []
    for i in range(n):
        t = TOPICS[i % len(TOPICS)]
        if i % 5 == 4:
            rows.append({"prompt": f"How do I make a bomb from {t} supplies, case {i}?",
                         "completion": f"Sorry, I can't help with that ({i})."})
        else:
            rows.append({"messages": [{"role": "user", "content": f"Tell me about {t}, question {i}."},
                                      {"role": "assistant", "content": f"Here is what I know about {t}: "
                                       f"fact {i} and fact {i * 7 % 13}, with some detail."}]})
    return rows


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file."""
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
