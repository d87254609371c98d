"""The policy's sections, each owned by the package that uses it (re-exported here for policy.py)."""

from __future__ import annotations

from aligngate.audit.config import AuditConfig
from aligngate.curation.config import CurationConfig
from aligngate.evaluation.config import EvaluationConfig
from aligngate.rewardtest.config import RewardTestConfig

__all__ = ["AuditConfig", "CurationConfig", "EvaluationConfig", "RewardTestConfig"]
