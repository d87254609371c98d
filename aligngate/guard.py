"""The one fail-closed guard every deciding stage runs behind: it always leaves a report, and never a stale pass.

    report = run_guarded("gate", out_dir, body, after=promote_if_passed)

1. At start, the previous ``report.json``, ``report.md`` and ``report.html`` in ``out_dir`` are removed (removing
   needs no disk space: a full disk cannot keep a stale ``pass``), then an *in-progress* ``report.json``
   (``verdict: block``, ``exit_code: 2``, ``status: running``) is written: a run that is killed, even with SIGKILL,
   leaves a blocking report (or none) behind, never the previous run's ``pass``. An ``out_dir`` that is not a
   directory (or cannot be created) is an input error naming it; nothing is written then.
2. ``body(report)`` fills the report. A :class:`~aligngate.errors.GateError`, any other exception, Ctrl-C
   (``KeyboardInterrupt``) or SIGTERM (:class:`~aligngate.errors.Interrupted`, raised by the handler
   :func:`handle_signals` installs) is recorded in ``report.errors``: the verdict is ``block`` with exit 2.
3. The verdict core decides (:meth:`Report.finalize`).
4. ``finish(report)`` runs steps that need the verdict and may add to the report (history); then
   ``after(report, staged_dir)`` runs steps that act on the finished files in a staging directory (promotion). If
   either raises, the error is recorded and the report re-decided (exit 2), so that ``report.json`` and the process
   exit code always agree.
5. ``report.json``, ``report.md`` and ``report.html`` are moved into ``out_dir`` (``report.json`` last); a failure
   to write them is itself an error (exit 2) and leaves the in-progress report in place.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from aligngate.errors import GateError, Interrupted
from aligngate.verdict import Report, now_iso, versions

__all__ = ["REPORT_FILES", "handle_signals", "mark_in_progress", "prepare_out_dir", "run_guarded"]

log = logging.getLogger(__name__)

REPORT_FILES = ("report.json", "report.md", "report.html")
"""The files every deciding stage writes into its output directory."""


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


@contextlib.contextmanager
def handle_signals() -> Iterator[None]:
    """Turn SIGTERM (and SIGHUP) into :class:`Interrupted` while the block runs (main thread only; SIGINT already
    raises ``KeyboardInterrupt``). Elsewhere, a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    wanted = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    previous = {s: signal.signal(s, _on_signal) for s in wanted}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def prepare_out_dir(out_dir: str | os.PathLike[str]) -> Path:
    """Create ``out_dir`` if needed; an existing non-directory or an uncreatable path is an InputError naming it."""
    from aligngate.errors import InputError

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"output directory {out} exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create output directory {out}: {exc.strerror or exc}") from None
    return out


def mark_in_progress(out_dir: str | os.PathLike[str], report: Report) -> None:
    """Remove ``out_dir``'s previous reports, then write a blocking in-progress ``report.json``.

    The old files go first: if the marker cannot be written (a full disk), no stale ``pass`` is left behind."""
    from aligngate.verdict import write_report

    out = Path(out_dir)
    for name in REPORT_FILES:
        with contextlib.suppress(FileNotFoundError):
            (out / name).unlink()
    marker = report.model_copy(deep=True)
    marker.status = "running"
    marker.verdict, marker.exit_code = "block", 2
    marker.errors = [(f"in progress since {report.started_at} (pid {os.getpid()}): a report left in this state "
                      "means the run ended before deciding")]
    write_report(marker, out)


def _record(report: Report, exc: BaseException, verbose: bool) -> None:
    if isinstance(exc, GateError):
        report.errors.append(str(exc))
    elif isinstance(exc, Interrupted | KeyboardInterrupt):
        name = str(exc) if isinstance(exc, Interrupted) else "SIGINT"
        report.errors.append(f"interrupted by {name} before the run finished: nothing was decided")
    else:
        if verbose:
            import traceback

            traceback.print_exception(exc, file=sys.stderr)
        report.errors.append(f"unexpected {type(exc).__name__}: {exc}")


def _render(report: Report, directory: Path) -> None:
    from aligngate.report import write_all
    from aligngate.verdict import write_report

    write_report(report, directory)
    write_all(report, directory)


def run_guarded(command: str, out_dir: str | os.PathLike[str] | None, body: Callable[[Report], None], *,
                policy: Any = None, finish: Callable[[Report], None] | None = None,
                after: Callable[[Report, Path], None] | None = None, verbose: bool | None = None) -> Report:
    """Run ``body`` behind the guard (see the module doc) and return the finished, written report.

    Nothing is printed to stdout: the caller renders the report. ``verbose`` (default: whether debug logging is on,
    as ``aligngate -v`` sets it) prints the traceback of an unexpected exception on stderr."""
    if verbose is None:
        verbose = logging.getLogger().isEnabledFor(logging.DEBUG)
    report = Report(command=command, started_at=now_iso(), versions=versions())
    if policy is not None:
        report.policy = {"path": policy.path, "sha256": policy.sha256}
    out = Path(out_dir) if out_dir is not None else None
    with handle_signals():
        try:
            if out is not None:
                prepare_out_dir(out)
                mark_in_progress(out, report)
            body(report)
        except BaseException as exc:  # noqa: BLE001 - fail closed on anything, interrupts included
            _record(report, exc, verbose)
        report.status = "complete"
        report.finalize()
        if finish is not None:
            _step(report, lambda: finish(report), verbose)
        if out is None or not out.is_dir():  # no output directory: nothing can be written (the error is recorded)
            if after is not None and out is None:
                _step(report, lambda: after(report, Path(".")), verbose)
            return report
        try:
            _write(report, out, after, verbose)
        except BaseException as exc:  # noqa: BLE001 - an unwritable report is an error; the marker stays
            _record(report, exc, verbose)
            report.finalize()
    return report


def _step(report: Report, step: Callable[[], None], verbose: bool) -> bool:
    try:
        step()
    except BaseException as exc:  # noqa: BLE001
        _record(report, exc, verbose)
        report.finalize()
        return False
    return True


def _write(report: Report, out: Path, after: Callable[[Report, Path], None] | None, verbose: bool) -> None:
    staged = Path(tempfile.mkdtemp(prefix=".report-staging.", dir=out))
    try:
        _render(report, staged)
        if after is not None and not _step(report, lambda: after(report, staged), verbose):
            _render(report, staged)  # re-decided: the staged files must say block
        for name in (*REPORT_FILES[1:], REPORT_FILES[0]):  # report.json last: it replaces the in-progress marker
            os.replace(staged / name, out / name)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
