"""Typed policy files: ``apiVersion`` / ``kind`` / ``metadata`` / ``spec``, validated with pydantic.

Policy YAML is parsed with a loader that rejects duplicate keys, tags (``!function`` and friends) and
``include``-style indirection, and remembers the line of every key, so that every error names
``file:line`` and the key. The JSON Schema published under ``policies/schema/`` is generated from these
models (``aligngate validate-policy --schema``); a test keeps it in sync.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from aligngate.errors import PolicyError
from aligngate.fileio import sha256_bytes
from aligngate.policy_sections import AuditConfig, CurationConfig, EvaluationConfig, RewardTestConfig

__all__ = [
    "API_VERSION",
    "DEFAULT_POLICY",
    "CheckSpec",
    "LoadedPolicy",
    "Policy",
    "PolicySpec",
    "Threshold",
    "load_policy",
    "parse_policy_text",
    "policy_json_schema",
]

API_VERSION = "aligngate.dev/v1"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Threshold(_Strict):
    """When a measured value passes."""

    op: Literal[">=", ">", "<=", "<", "=="]
    """Comparison: ``value <op> threshold``."""
    value: float
    """The threshold."""
    bound: Literal["point", "ci_lower", "ci_upper"] = "point"
    """Compare the point estimate, or a bound of its 95 % confidence interval (statistically honest gates)."""


class CheckSpec(_Strict):
    """One check the policy enables, by registered name."""

    id: str
    """Registered check name, e.g. ``refusal.harmful_refusal_rate`` (``aligngate checks`` lists them)."""
    threshold: Threshold | None = None
    """Pass condition. Checks that yield findings rather than a number (``adapter.audit``) need none."""
    severity: Literal["block", "warn"] = "block"
    """``block``: a failure blocks promotion (exit 1). ``warn``: reported only."""
    mode: Literal["enforce", "audit"] = "enforce"
    """``audit`` runs and reports the check but never blocks (roll a new check out dry first)."""
    required: bool = True
    """A required check that cannot run (its subject was not given) makes the verdict ``block`` (exit 2)."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Check-specific parameters (e.g. ``suite``)."""
    description: str | None = None
    """Free text shown in reports."""


class PolicySpec(_Strict):
    """What the gate measures and how it decides."""

    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    """Generation and judging settings for ``eval`` and the refusal / drift checks."""
    curation: CurationConfig = Field(default_factory=CurationConfig)
    """Tuning-data curation: detector thresholds and the dataset-level poison limit."""
    adapter_audit: AuditConfig = Field(default_factory=AuditConfig)
    """LoRA adapter audit settings."""
    reward_test: RewardTestConfig = Field(default_factory=RewardTestConfig)
    """Reward-model adversarial test settings."""
    checks: list[CheckSpec] = Field(default_factory=list)
    """The checks the gate runs."""

    @field_validator("checks")
    @classmethod
    def _unique_ids(cls, checks: list[CheckSpec]) -> list[CheckSpec]:
        seen: set[str] = set()
        for c in checks:
            if c.id in seen:
                raise ValueError(f"check '{c.id}' listed twice")
            seen.add(c.id)
        return checks


class Metadata(_Strict):
    """Who owns the policy."""

    name: str
    description: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)


class Policy(_Strict):
    """A gate policy file."""

    apiVersion: Literal["aligngate.dev/v1"]  # noqa: N815 - K8s-style field name
    kind: Literal["GatePolicy"]
    metadata: Metadata
    spec: PolicySpec = Field(default_factory=PolicySpec)

    @model_validator(mode="after")
    def _known_checks(self) -> Policy:
        from checks import registered_ids  # light: the registry imports nothing heavy

        known = registered_ids()
        for i, c in enumerate(self.spec.checks):
            if c.id not in known:
                raise ValueError(f"spec.checks.{i}.id: unknown check '{c.id}' (known: {', '.join(sorted(known))})")
        return self


class LoadedPolicy(BaseModel):
    """A validated policy with where it came from."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    policy: Policy
    path: str
    sha256: str

    def check(self, check_id: str) -> CheckSpec | None:
        """The spec of one check, if the policy enables it."""
        return next((c for c in self.policy.spec.checks if c.id == check_id), None)


# ---------------------------------------------------------------- YAML with line numbers
class _LineLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys and custom tags, recording key lines by path."""


def _no_tags(loader: _LineLoader, suffix: str, node: yaml.Node) -> Any:
    raise PolicyError(f"YAML tag '{node.tag}' is not allowed", line=node.start_mark.line + 1)


_LineLoader.add_multi_constructor("!", _no_tags)


def _walk(node: yaml.Node, path: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for knode, vnode in node.value:
            if knode.tag == "tag:yaml.org,2002:merge":
                raise PolicyError("YAML merge keys ('<<') are not allowed", line=knode.start_mark.line + 1, key="<<")
            key = knode.value
            if key in seen:
                raise PolicyError(
                    f"duplicate key (first at line {seen[key]})", line=knode.start_mark.line + 1,
                    key=".".join(str(p) for p in (*path, key)))
            seen[key] = knode.start_mark.line + 1
            lines[(*path, key)] = knode.start_mark.line + 1
            _walk(vnode, (*path, key), lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), lines)


def _line_for(loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> int | None:
    for cut in range(len(loc), -1, -1):
        if loc[:cut] in lines:
            return lines[loc[:cut]]
    return None


def parse_policy_text(text: str, file: str = "<policy>") -> Policy:
    """Parse and validate policy YAML text. Raises :class:`PolicyError` with file, line and key."""
    try:
        node = yaml.compose(text, Loader=_LineLoader)
    except PolicyError as exc:
        raise PolicyError(str(exc).split(": ", 1)[-1], file=file, line=exc.line, key=exc.key) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise PolicyError(f"invalid YAML: {getattr(exc, 'problem', exc)}", file=file,
                          line=mark.line + 1 if mark else None) from None
    if node is None:
        raise PolicyError("empty policy file", file=file, line=1)
    lines: dict[tuple[Any, ...], int] = {}
    try:
        _walk(node, (), lines)
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - _LineLoader is a SafeLoader
    except PolicyError as exc:
        msg = str(exc)
        if exc.key:
            msg = msg.split(f"key '{exc.key}': ", 1)[-1]
        raise PolicyError(msg.split(": ", 1)[-1] if exc.line and not exc.key else msg, file=file,
                          line=exc.line, key=exc.key) from None
    if not isinstance(data, dict):
        raise PolicyError("a policy must be a mapping with apiVersion, kind, metadata, spec", file=file, line=1)
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        # model-level validators report 'spec.checks.N.id: ...' in the message: use that location
        if not loc and ": " in msg and msg.split(": ", 1)[0].count(".") >= 1:
            dotted, msg = msg.split(": ", 1)
            loc = tuple(int(p) if p.isdigit() else p for p in dotted.split("."))
        key = ".".join(str(p) for p in loc) or None
        more = f" (and {exc.error_count() - 1} more error(s))" if exc.error_count() > 1 else ""
        raise PolicyError(msg + more, file=file, line=_line_for(loc, lines), key=key) from None


DEFAULT_POLICY = Path(__file__).resolve().parents[1] / "policies" / "default.yaml"
"""The repository's default policy, used when no ``--policy`` is given."""


def load_policy(path: str | Path | None = None) -> LoadedPolicy:
    """Read, validate and hash a policy file (``None``: :data:`DEFAULT_POLICY`)."""
    p = Path(path) if path else DEFAULT_POLICY
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise PolicyError("policy file not found", file=str(p)) from None
    except OSError as exc:
        raise PolicyError(f"cannot read policy file: {exc.strerror}", file=str(p)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise PolicyError("policy file is not valid UTF-8", file=str(p), line=line) from None
    return LoadedPolicy(policy=parse_policy_text(text, str(p)), path=str(p), sha256=sha256_bytes(raw))


def policy_json_schema() -> str:
    """The published JSON Schema of policy files (``policies/schema/policy.v1.json``)."""
    schema = Policy.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://aligngate.dev/schema/policy.v1.json"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
