"""One exception tree for aligngate. Every error maps to exit code 2 and a ``block`` verdict.

A verdict is a result, not an exception: a failed check never raises. These are for things that
stop a judgement from being made (bad input, unreadable files, crashes), so the gate fails closed.

    GateError                      any aligngate error (exit 2)
    ├── PolicyError                invalid policy file: carries file, line and key
    ├── InputError                 bad input file or argument (missing path, wrong format)
    │   └── DataValidationError    a dataset that cannot be validated at all
    ├── ModelLoadError             a model, tokenizer or adapter could not be loaded
    ├── AdapterError               an adapter directory is unsafe to open
    ├── JudgeError                 the refusal judge failed or is misconfigured
    ├── TrainingError              fine-tuning failed
    └── EvaluationError            generation / evaluation produced no usable result

    Interrupted (a BaseException, like KeyboardInterrupt) SIGTERM / SIGHUP during a run: never caught by a
                                   check's error handling; the guard records it and blocks (exit 2)
"""

from __future__ import annotations

__all__ = [
    "AdapterError",
    "DataValidationError",
    "EvaluationError",
    "GateError",
    "InputError",
    "Interrupted",
    "JudgeError",
    "ModelLoadError",
    "PolicyError",
    "TrainingError",
]


class GateError(Exception):
    """Base class: anything that prevents a judgement. Always exit code 2."""

    exit_code = 2


class PolicyError(GateError):
    """An invalid policy file. ``file``, ``line`` and ``key`` locate the problem."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 key: str | None = None) -> None:
        self.file, self.line, self.key = file, line, key
        where = ""
        if file:
            where = f"{file}:{line}" if line else file
            where += ": "
        keypart = f"key '{key}': " if key else ""
        super().__init__(f"{where}{keypart}{message}")


class InputError(GateError):
    """A bad input file or argument."""


class DataValidationError(InputError):
    """A dataset that cannot be validated at all (not: rows that fail validation)."""


class ModelLoadError(GateError):
    """A model, tokenizer or adapter could not be loaded."""


class AdapterError(GateError):
    """An adapter directory is unsafe to open (the audit reports it; loading refuses it)."""


class JudgeError(GateError):
    """The refusal judge failed or is misconfigured."""


class TrainingError(GateError):
    """Fine-tuning failed."""


class EvaluationError(GateError):
    """Generation or evaluation produced no usable result."""


class Interrupted(BaseException):  # noqa: N818 - named like KeyboardInterrupt, its sibling
    """The run received SIGTERM or SIGHUP (the message is the signal's name). A BaseException so that no
    ``except Exception`` inside a check swallows it; :mod:`aligngate.guard` records it and blocks with exit 2."""
