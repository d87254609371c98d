"""Adversarial reward-model tests: per-category pairwise accuracy, length bias, invariance, HH-RLHF accuracy.

    from aligngate.rewardtest import RewardTestConfig, run_reward_test
    result = run_reward_test("runs/reward-model", RewardTestConfig())
    result.metrics["reward.accuracy.verbosity"]["value"]; result.measurement("reward.length_bias")

Nothing heavy is imported until a model is scored.
"""

from __future__ import annotations

from aligngate.rewardtest.config import ALL_CATEGORIES, RewardTestConfig
from aligngate.rewardtest.runner import RewardTestResult, accuracy_metric, run_reward_test

__all__ = ["ALL_CATEGORIES", "RewardTestConfig", "RewardTestResult", "accuracy_metric", "run_reward_test"]
