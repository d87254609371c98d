"""The embedded demo's training profile: complete, valid, and independent of the product's TRL defaults."""

from __future__ import annotations

import json

import pytest


def test_demo_profile_pins_every_setting_the_demo_was_measured_with() -> None:
    from aligngate.embedded.profile import DEMO_TRAINING, demo_train_config
    from aligngate.training.config import TrainConfig

    steps = {"sft": 120, "dpo": 30, "reward": 80}
    for method in ("sft", "dpo", "reward"):
        cfg = demo_train_config(method).resolved(method)
        assert cfg.max_steps == steps[method] and cfg.batch_size == 16 and cfg.logging_steps == 5
        assert cfg.learning_rate == (3e-4 if method == "dpo" else 2e-3)
        assert cfg.max_length == (256 if method == "reward" else 128)
        assert (cfg.lora.r, cfg.lora.alpha, cfg.lora.dropout, cfg.lora.target_modules) == (8, 16, 0.0, "all-linear")
        assert cfg.torch_threads == 1 and cfg.seed == 0
        # the profile does not follow the product's defaults: nothing the demo relies on is left to them
        defaults = TrainConfig().resolved(method)
        for key in ("learning_rate", "batch_size", "max_length", "logging_steps", "lora"):
            assert getattr(cfg, key) != getattr(defaults, key), (method, key)
        assert json.loads(json.dumps(DEMO_TRAINING[method])) == DEMO_TRAINING[method]  # written as config files
    assert demo_train_config("sft").assistant_only_loss and demo_train_config("sft").lr_scheduler_type == "constant"
    assert demo_train_config("dpo", init_adapter="x").init_adapter == "x"
    with pytest.raises(KeyError, match="ppo"):
        demo_train_config("ppo")
