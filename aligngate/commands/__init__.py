"""CLI commands, one module each: ``add_parser(subparsers)`` and ``run(args) -> int``."""

COMMANDS = (
    "demo", "validate_policy", "curate", "train", "embedded_model", "audit_adapter", "judge", "eval",
    "test_reward_model", "gate", "checks_list", "pr_comment",
)
