"""The reward-model stage's decision: the ``reward.*`` checks of the registry over a
:class:`~aligngate.rewardtest.runner.RewardTestResult` (``test-reward-model``).

Every ``reward.*`` check the policy lists decides with the policy's spec; every other registered ``reward.*``
check with a default decides with the registered default (``aligngate checks`` shows them) when the test measures
it: an accuracy check only for a category in ``spec.reward_test.categories``; ``reward.hh_rlhf_accuracy`` only
when HH-RLHF pairs are given; ``reward.accuracy.preference`` (the user's own pairs) has no default. A listed check
whose data was not given is ``skipped`` (and blocks when required).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aligngate.policy import CheckSpec, LoadedPolicy
    from aligngate.rewardtest.runner import RewardTestResult
    from aligngate.verdict import CheckResult

__all__ = ["decide_reward", "reward_specs"]


def reward_specs(policy: LoadedPolicy | None, *, hh_given: bool = False, pairs_given: bool = False) -> list[CheckSpec]:
    """The specs ``test-reward-model`` decides by (see the module doc)."""
    from aligngate.checks.run import stage_specs
    from aligngate.rewardtest.config import RewardTestConfig

    cfg = policy.policy.spec.reward_test if policy is not None else RewardTestConfig()
    given = {"reward_model"} | ({"hh_rlhf_pairs"} if hh_given else set())
    given |= {"preference_pairs"} if pairs_given else set()
    listed = {c.id for c in policy.policy.spec.checks} if policy is not None else set()
    return [s for s in stage_specs(policy, "reward.", given.__contains__)
            if s.id in listed or not s.id.startswith("reward.accuracy.")
            or s.id.removeprefix("reward.accuracy.") in cfg.categories]


def decide_reward(specs: list[CheckSpec], result: RewardTestResult) -> list[CheckResult]:
    """One :class:`~aligngate.verdict.CheckResult` per spec, through the registry (missing data: ``skipped``)."""
    from aligngate.checks.context import ResultsContext
    from aligngate.checks.run import run_checks

    return run_checks(ResultsContext(reward=result), specs)
