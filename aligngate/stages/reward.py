"""The reward-model stage: adversarial tests of a reward model, decided by the ``reward.*`` checks.

    report = test_reward_model("runs/reward", out="runs/reward-test")

Scores adversarial preference pairs (safety, verbosity, style, sycophancy; plus the user's own pairs), the length
bias on equal-quality answers and invariance under meaning-preserving edits, writes ``out/pairs.jsonl`` (per-pair
scores), and decides through the registry: every ``reward.*`` check the policy lists, with its spec, and every other
registered ``reward.*`` check with a default, with the registered default spec. Runs behind
:func:`aligngate.guard.run_guarded` (never raises for a failure of the run; the report carries it).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aligngate.policy import LoadedPolicy
    from aligngate.verdict import Report

__all__ = ["test_reward_model"]


def test_reward_model(reward_model: str | os.PathLike[str], *, out: str | os.PathLike[str],
                      policy: str | os.PathLike[str] | LoadedPolicy | None = None, pairs: str | None = None,
                      hh_rlhf: str | None = None, device: str | None = None, progress: bool = True) -> Report:
    """Test ``reward_model`` (HF sequence-classification dir, LoRA reward adapter dir, or hub id) and decide.
    ``pairs``: JSONL of your own preference pairs; ``hh_rlhf``: HH-RLHF style JSONL(.gz); ``device``: scoring
    device (default: the GPU when there is one)."""
    from aligngate.guard import run_guarded

    model = os.fspath(reward_model)
    out_dir = Path(out)

    def body(report: Report) -> None:
        from aligngate.fileio import write_jsonl
        from aligngate.policy import as_loaded_policy
        from aligngate.rewardtest.gatecheck import decide_reward, reward_specs
        from aligngate.rewardtest.runner import run_reward_test

        loaded = as_loaded_policy(policy)
        report.policy = {"path": loaded.path, "sha256": loaded.sha256}
        cfg = loaded.policy.spec.reward_test
        if device:
            cfg = cfg.model_copy(update={"device": device})
        specs = reward_specs(loaded, hh_given=bool(hh_rlhf or cfg.hh_rlhf),
                             pairs_given=bool(pairs or cfg.preference_data))
        report.subjects = {"reward_model": _subject(model)}
        result = run_reward_test(model, cfg, pairs_path=pairs, hh_rlhf=hh_rlhf,
                                 categories=_categories(cfg.categories, [s.id for s in specs]), progress=progress)
        write_jsonl(out_dir / "pairs.jsonl", result.pairs)
        report.checks = decide_reward(specs, result)
        report.summary = {**result.summary(), "pairs_file": str(out_dir / "pairs.jsonl")}
        defaulted = [s.id for s in specs if loaded.check(s.id) is None]
        if defaulted:
            report.summary["notes"] = [f"not in the policy, decided with the registered defaults "
                                       f"(aligngate checks): {', '.join(defaulted)}",
                                       *report.summary.get("notes", [])]

    return run_guarded("test-reward-model", out_dir, body,
                       verbose=logging.getLogger().isEnabledFor(logging.DEBUG))


def _categories(configured: list[str], ids: list[str]) -> list[str]:
    from aligngate.rewardtest.config import ALL_CATEGORIES

    named = [i.removeprefix("reward.accuracy.") for i in ids if i.startswith("reward.accuracy.")]
    return list(dict.fromkeys([*configured, *(c for c in named if c in ALL_CATEGORIES)]))


def _subject(path: str) -> dict[str, Any]:
    info: dict[str, Any] = {"model": path}
    if Path(path).is_dir():
        from aligngate.modelio import model_fingerprint

        info["sha256"] = model_fingerprint(path)
    return info


test_reward_model.__test__ = False  # type: ignore[attr-defined]  # a stage, not a pytest test, wherever imported
