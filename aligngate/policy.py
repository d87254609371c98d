"""Typed policy files: ``apiVersion`` / ``kind`` / ``metadata`` / ``spec``, validated with pydantic.

Policy files are read defensively (regular files only, at most 1 MiB, never blocking on a FIFO or device)
and their YAML is built straight from the parser's event stream: anchors and aliases (alias bombs), tags
(``!function``, ``!!python/object``, ``!!binary`` ...), merge keys, duplicate keys, non-finite numbers and
nesting deeper than 64 levels are refused before anything is expanded, and the line of every key is
remembered, so that every error -- including an unexpected one -- is a :class:`PolicyError` naming
``file:line`` and the key. The JSON Schema published under ``policies/schema/`` is generated from these
models (``aligngate validate-policy --schema``); a test keeps it in sync.
"""

from __future__ import annotations

import json
import math
import os
import stat
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
    "PACKAGED_POLICIES",
    "MAX_DEPTH",
    "MAX_POLICY_BYTES",
    "CheckSpec",
    "LoadedPolicy",
    "Policy",
    "PolicySpec",
    "Threshold",
    "as_loaded_policy",
    "load_policy",
    "packaged_policy",
    "parse_policy_text",
    "resolve_policy_path",
    "policy_json_schema",
]

API_VERSION = "aligngate.dev/v1"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Threshold(_Strict):
    """When a measured value passes."""

    op: Literal[">=", ">", "<=", "<", "=="]
    """Comparison: ``value <op> threshold``."""
    value: float = Field(allow_inf_nan=False)
    """The threshold (a finite number: NaN or infinity would make the comparison meaningless)."""
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

    apiVersion: Literal["aligngate.dev/v1"]
    kind: Literal["GatePolicy"]
    metadata: Metadata
    spec: PolicySpec = Field(default_factory=PolicySpec)

    @model_validator(mode="after")
    def _known_checks(self) -> Policy:
        from aligngate.checks import registered_ids  # light: the registry imports nothing heavy

        known = registered_ids()
        for i, c in enumerate(self.spec.checks):
            if c.id not in known:
                raise ValueError(f"spec.checks.{i}.id: unknown check '{c.id}' (known: {', '.join(sorted(known))})")
        return self

    @model_validator(mode="after")
    def _finite_numbers(self) -> Policy:
        """No NaN or infinity anywhere (``"nan"`` / ``"1e400"`` strings coerce to them in float fields)."""
        todo: list[tuple[tuple[Any, ...], Any]] = [((), self.model_dump())]
        while todo:
            path, value = todo.pop()
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{'.'.join(str(p) for p in path)}: non-finite number {value} is not allowed")
            if isinstance(value, dict):
                todo.extend(((*path, k), v) for k, v in reversed(value.items()))
            elif isinstance(value, (list, tuple)):
                todo.extend(((*path, i), v) for i, v in reversed(list(enumerate(value))))
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


# ---------------------------------------------------------------- reading the file
MAX_POLICY_BYTES = 1 << 20
"""Largest policy file accepted (1 MiB): policies are a few KiB; a larger file is refused unread."""

MAX_DEPTH = 64
"""Deepest nesting of mappings and sequences accepted (a policy needs about 6)."""

_NOT_REGULAR = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                (stat.S_ISBLK, "a block device"))


def _require_regular(st: os.stat_result, file: str) -> None:
    """Refuse anything but a regular file of at most :data:`MAX_POLICY_BYTES`."""
    if not stat.S_ISREG(st.st_mode):
        kind = next((name for test, name in _NOT_REGULAR if test(st.st_mode)), "not a regular file")
        raise PolicyError(f"policy path is {kind}, not a regular file", file=file)
    if st.st_size > MAX_POLICY_BYTES:
        raise PolicyError(f"policy file is too large ({st.st_size} bytes; at most {MAX_POLICY_BYTES} "
                          f"bytes = {MAX_POLICY_BYTES >> 20} MiB)", file=file)


def _read_policy_bytes(p: Path) -> bytes:
    """The bytes of a regular policy file, refusing FIFOs, devices, sockets, directories and large files.

    The path is checked with ``stat`` before it is opened (opening a device or a FIFO can block or have side
    effects), opened non-blocking, and checked again with ``fstat`` so a swap between the two cannot slip
    through; at most :data:`MAX_POLICY_BYTES` + 1 bytes are ever read. Symlinks to regular files are followed.
    """
    file = str(p)
    try:
        _require_regular(os.stat(p), file)
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(p, flags)
    except FileNotFoundError:
        raise PolicyError("policy file not found", file=file) from None
    except OSError as exc:
        raise PolicyError(f"cannot read policy file: {exc.strerror or exc}", file=file) from None
    try:
        _require_regular(os.fstat(fd), file)
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_POLICY_BYTES:
            chunk = os.read(fd, MAX_POLICY_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise PolicyError(f"cannot read policy file: {exc.strerror or exc}", file=file) from None
    finally:
        os.close(fd)
    if size > MAX_POLICY_BYTES:
        raise PolicyError(f"policy file is too large (more than {MAX_POLICY_BYTES} bytes = "
                          f"{MAX_POLICY_BYTES >> 20} MiB)", file=file)
    return b"".join(chunks)


# ---------------------------------------------------------------- YAML events -> data with key lines
_YAML = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_YAML + t for t in ("null", "bool", "int", "float", "str", "timestamp")}
"""Tags a scalar may resolve to (implicitly, or explicitly as ``!!int`` ...)."""
_EXPLICIT_OK = {_YAML + t for t in ("null", "bool", "int", "float", "str")}
_Path = tuple[Any, ...]
_NO_KEY = object()


def _show_tag(tag: str) -> str:
    return "!!" + tag[len(_YAML):] if tag.startswith(_YAML) else tag


def _dotted(path: _Path) -> str | None:
    return ".".join(str(p) for p in path) or None


class _Container:
    """A mapping or sequence under construction: its value, path, and (mappings) the pending key."""

    __slots__ = ("key", "path", "seen", "value")

    def __init__(self, value: dict[Any, Any] | list[Any], path: _Path) -> None:
        self.value, self.path = value, path
        self.key: Any = _NO_KEY
        self.seen: dict[Any, int] = {}


class _Builder:
    """Plain Python data from a YAML event stream, without a node graph and without recursion.

    Anchors and aliases are refused where they appear, before anything could be expanded (alias bombs);
    so are tags other than the plain scalar ones, merge keys, duplicate keys, non-scalar keys, non-finite
    numbers, nesting deeper than :data:`MAX_DEPTH` and more than one document. Every key's line is recorded
    by path for error messages.
    """

    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[_Path, int] = {}
        self.stack: list[_Container] = []
        self.root: Any = _NO_KEY
        self.documents = 0
        self.line = 1
        self._resolver = yaml.resolver.Resolver()
        self._constructor = yaml.constructor.SafeConstructor()

    def error(self, msg: str, path: _Path | None = None) -> PolicyError:
        return PolicyError(msg, file=self.file, line=self.line, key=_dotted(path) if path else None)

    def build(self, text: str) -> Any:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            self.line = event.start_mark.line + 1
            self.feed(event)
        return None if self.root is _NO_KEY else self.root

    def feed(self, event: yaml.Event) -> None:
        if isinstance(event, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise self.error("a policy file must hold a single YAML document")
            return
        if isinstance(event, yaml.AliasEvent):
            raise self.error(f"YAML aliases ('*{event.anchor}') are not allowed in policies", self.next_path())
        if getattr(event, "anchor", None) is not None:
            raise self.error(f"YAML anchors ('&{event.anchor}') and aliases are not allowed in policies",
                             self.next_path())
        if isinstance(event, yaml.ScalarEvent):
            self.add(self.scalar(event), scalar=True)
        elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            is_map = isinstance(event, yaml.MappingStartEvent)
            want = _YAML + ("map" if is_map else "seq")
            if event.tag not in (None, "!", want):
                raise self.error(f"YAML tag '{_show_tag(event.tag)}' is not allowed", self.next_path())
            if len(self.stack) >= MAX_DEPTH:
                raise self.error(f"nesting deeper than {MAX_DEPTH} levels", self.next_path()[:8])
            container = _Container({} if is_map else [], self.next_path())
            self.add(container.value, scalar=False)
            self.stack.append(container)
        elif isinstance(event, yaml.CollectionEndEvent):
            self.stack.pop()

    def next_path(self) -> _Path:
        """Path of the node the next event starts (a mapping's pending key counts as its value's path)."""
        if not self.stack:
            return ()
        top = self.stack[-1]
        if isinstance(top.value, list):
            return (*top.path, len(top.value))
        return top.path if top.key is _NO_KEY else (*top.path, top.key)

    def add(self, value: Any, *, scalar: bool) -> None:
        if not self.stack:
            self.root = value
            self.lines.setdefault((), self.line)
            return
        top = self.stack[-1]
        if isinstance(top.value, list):
            self.lines[(*top.path, len(top.value))] = self.line
            top.value.append(value)
        elif top.key is _NO_KEY:
            if not scalar:
                raise self.error("mapping keys must be plain scalars", top.path)
            if value in top.seen:
                raise self.error(f"duplicate key (first at line {top.seen[value]})", (*top.path, value))
            top.seen[value] = self.line
            self.lines[(*top.path, value)] = self.line
            top.key = value
        else:
            top.value[top.key] = value
            top.key = _NO_KEY

    def scalar(self, event: yaml.ScalarEvent) -> Any:
        path = self.next_path()
        tag = event.tag
        if tag is None or tag == "!":
            tag = self._resolver.resolve(yaml.ScalarNode, event.value, event.implicit)
        elif tag not in _EXPLICIT_OK:
            raise self.error(f"YAML tag '{_show_tag(tag)}' is not allowed", path)
        if tag == _YAML + "merge":
            raise self.error("YAML merge keys ('<<') are not allowed", (*path, "<<") if path else ("<<",))
        if tag == _YAML + "value":  # a lone '=': YAML 1.1's 'value' key, here just text
            tag = _YAML + "str"
        if tag not in _SCALAR_TAGS:
            raise self.error(f"YAML tag '{_show_tag(tag)}' is not allowed", path)
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
        try:
            value = self._constructor.yaml_constructors[tag](self._constructor, node)
        except (ValueError, KeyError, TypeError, yaml.YAMLError) as exc:
            raise self.error(f"invalid {_show_tag(tag)} value {event.value[:40]!r} ({type(exc).__name__})",
                             path) from None
        if isinstance(value, float) and not math.isfinite(value):
            raise self.error(f"non-finite number {event.value!r} is not allowed", path)
        return value


def _yaml_error(exc: yaml.YAMLError, text: str, file: str) -> PolicyError:
    """A PyYAML scanner/parser/reader error as a PolicyError with the line."""
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        char = f"U+{exc.character:04X}" if isinstance(exc.character, int) else repr(exc.character)
        return PolicyError(f"invalid character {char} in policy: {exc.reason}", file=file, line=line)
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    return PolicyError(f"invalid YAML: {problem}", file=file, line=mark.line + 1 if mark else None)


def _line_for(loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> int | None:
    for cut in range(len(loc), -1, -1):
        if loc[:cut] in lines:
            return lines[loc[:cut]]
    return None


MOVED_KEYS: dict[tuple[Any, ...], str] = {
    ("spec", "curation", "poison_fraction_max"):
        "removed: the poison limit is the threshold of the check data.poison_fraction in spec.checks, e.g. "
        "'- {id: data.poison_fraction, threshold: {op: \"<=\", value: 0.05}}' (registered default: <= 0.05, block)",
    ("spec", "curation", "chosen_longer_max"):
        "removed: the limit is the threshold of the check data.reward_hacking.chosen_longer_fraction in spec.checks "
        "(registered default: <= 0.75, warn)",
    ("spec", "curation", "length_spearman_max"):
        "removed: the limit is the threshold of the check data.reward_hacking.length_spearman in spec.checks "
        "(registered default: <= 0.3, warn)",
}
"""Keys that decisions moved out of, and where each now lives (an old policy using one fails with this message)."""


def _validation_error(exc: ValidationError, file: str, lines: dict[_Path, int]) -> PolicyError:
    """The first pydantic error as a PolicyError with the key and the line it sits on."""
    err = exc.errors()[0]
    loc = tuple(err["loc"])
    msg = err["msg"]
    msg = msg.removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = MOVED_KEYS.get(loc, "unknown key")
    # model-level validators report 'spec.checks.N.id: ...' in the message: use that location
    if not loc and ": " in msg and msg.split(": ", 1)[0].count(".") >= 1:
        dotted, msg = msg.split(": ", 1)
        loc = tuple(int(p) if p.isdigit() else p for p in dotted.split("."))
    more = f" (and {exc.error_count() - 1} more error(s))" if exc.error_count() > 1 else ""
    return PolicyError(msg + more, file=file, line=_line_for(loc, lines), key=_dotted(loc))


def parse_policy_text(text: str, file: str = "<policy>") -> Policy:
    """Parse and validate policy YAML text. Raises :class:`PolicyError` with file, line and key.

    Nothing else escapes: a ``MemoryError``, ``RecursionError`` or any unexpected failure while parsing or
    validating becomes a :class:`PolicyError` at the line being read (the gate fails closed, exit 2).
    """
    builder = _Builder(file)
    text = text.removeprefix("\ufeff")  # a UTF-8 byte-order mark is harmless
    try:
        data = builder.build(text)
        if data is None:
            raise PolicyError("empty policy file (no YAML content)", file=file, line=builder.lines.get((), 1))
        if not isinstance(data, dict):
            raise PolicyError(f"a policy must be a mapping with apiVersion, kind, metadata, spec "
                              f"(not {type(data).__name__})", file=file, line=builder.lines.get((), 1))
        return Policy.model_validate(data)
    except PolicyError:
        raise
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, text, file) from None
    except ValidationError as exc:
        raise _validation_error(exc, file, builder.lines) from None
    except Exception as exc:  # noqa: BLE001 - MemoryError, RecursionError, ...: fail closed with a location
        detail = f": {str(exc)[:200]}" if str(exc) else ""
        raise PolicyError(f"cannot parse policy ({type(exc).__name__}{detail})", file=file,
                          line=builder.line) from None


PACKAGED_POLICIES = ("default", "strict")
"""Policies shipped in the package (``policies/*.yaml``, installed as ``aligngate.policies``)."""


def packaged_policy(name: str = "default") -> Path:
    """The file of a packaged policy (``default``, ``strict``), found with ``importlib.resources`` so that an
    installed wheel reads its own copy."""
    from importlib.resources import files

    if name not in PACKAGED_POLICIES:
        raise PolicyError(f"no packaged policy named {name!r} (packaged: {', '.join(PACKAGED_POLICIES)})")
    return Path(str(files("aligngate.policies") / f"{name}.yaml"))


DEFAULT_POLICY = packaged_policy("default")
"""The default policy, used when no ``--policy`` is given (what the demo and the GitHub Actions gate use)."""


def resolve_policy_path(path: str | Path | None) -> Path:
    """``None`` -> :data:`DEFAULT_POLICY`; a packaged policy's bare name (``strict``) -> its file, unless a file of
    that name exists; anything else -> the path as given."""
    if not path:
        return DEFAULT_POLICY
    p = Path(path)
    if str(path) in PACKAGED_POLICIES and not p.exists():
        return packaged_policy(str(path))
    return p


def load_policy(path: str | Path | None = None) -> LoadedPolicy:
    """Read, validate and hash a policy file (``None``: :data:`DEFAULT_POLICY`; ``"strict"``: the packaged one)."""
    p = resolve_policy_path(path)
    raw = _read_policy_bytes(p)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise PolicyError(f"policy file is not valid UTF-8 (byte {raw[exc.start]:#04x} at offset {exc.start})",
                          file=str(p), line=line) from None
    return LoadedPolicy(policy=parse_policy_text(text, str(p)), path=str(p), sha256=sha256_bytes(raw))


def as_loaded_policy(policy: str | os.PathLike[str] | LoadedPolicy | None) -> LoadedPolicy:
    """``policy`` itself when already loaded; otherwise :func:`load_policy` of the path (``None``: the default)."""
    if isinstance(policy, LoadedPolicy):
        return policy
    return load_policy(os.fspath(policy) if policy is not None else None)


def policy_json_schema() -> str:
    """The published JSON Schema of policy files (``policies/schema/policy.v1.json``)."""
    schema = Policy.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://aligngate.dev/schema/policy.v1.json"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
