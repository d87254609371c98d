"""The local registry of promoted versions: append-only records, one writer at a time, every file atomic.

Layout::

    REGISTRY/
      .lock                                  flock(2)ed by every writer for the whole of one event
      records/000001-promote-<name>.json     one file per event, never rewritten
      reports/000001/report.json|md|html     a copy of the report that justified the event

Only a report with ``verdict: pass`` and ``exit_code: 0`` can be promoted; a blocked candidate never appears. A
re-check that fails appends a ``demote`` record (only for a name that is currently promoted); :func:`current` folds
the events into the live state.

Design (the simplest one that is correct across processes and crashes):

* **One lock for the whole registry.** A writer takes an exclusive ``fcntl.flock`` on ``REGISTRY/.lock`` and holds it
  while it allocates the sequence number, copies the report and writes the record. Sequence numbers are therefore
  unique across all names and dense (1, 2, 3, ...) in normal operation. The kernel drops the lock when its holder dies,
  even by SIGKILL, so a crashed writer never stalls the next one; a holder that hangs makes others wait at most
  :data:`LOCK_TIMEOUT_S`, then fail with :class:`~aligngate.errors.InputError` (exit 2: fail closed). The lock needs a
  filesystem with working ``flock`` (any local one; not every network filesystem).
* **Number = 1 + the highest number among ``records/NNNNNN-*.json`` files**, read under the lock. Readers need no lock.
* **Report copy first, record last, both atomic.** The report files are written (each fsynced) into a hidden staging
  directory in ``reports/``, which is renamed to ``reports/NNNNNN``; only then is the record written to a temp file,
  fsynced and renamed into ``records/``. The copy is made from the very bytes whose sha256 goes into the record, so
  ``report_sha256`` always describes the copy. A reader sees a whole record or none, and a record's report exists.
* **What a crash can leave, and what happens to it.**
  - A crash before the record's rename leaves no record: its number was never used and the next writer reuses it; a
    leftover ``reports/NNNNNN`` (no record points to it), staging directory or ``records/.*.tmp`` file is removed by
    the next writer, under the lock.
  - A record file that is empty, truncated or not a record (atomic writes never produce one, but older versions of
    this module, a full disk on a filesystem without atomic rename, or a hand edit can) is *skipped*: its number stays
    taken (it is never reused, nothing is overwritten), and :func:`events` / :func:`current` ignore it with a warning
    naming the file. It never raises and never blocks a promotion.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, NotRequired, TypedDict, cast

from aligngate.errors import InputError
from aligngate.fileio import atomic_write_json, sha256_bytes

__all__ = ["LOCK_TIMEOUT_S", "PromotionRecord", "RegistryEntry", "current", "demote", "events", "promote"]

log = logging.getLogger(__name__)

LOCK_TIMEOUT_S = 120.0
"""How long a writer waits for another writer's lock before giving up (InputError, exit 2)."""



class PromotionRecord(TypedDict):
    """One registry event (``records/NNNNNN-<event>-<name>.json``), as :func:`promote` and :func:`demote` return it
    and :func:`events` reads it back."""

    seq: int
    """Sequence number: unique across the registry, dense in normal operation."""
    event: Literal["promote", "demote", "register"]
    """``register``: a blocked version recorded in an MLflow registry without the alias."""
    name: str
    """The version's name (a file-safe form of it appears in the record's file name)."""
    at: NotRequired[str | None]
    """When: the report's ``finished_at`` for a promotion, the time of the demotion otherwise."""
    subjects: NotRequired[dict[str, Any]]
    """Promotion: the report's subjects (model, adapter, sha256 of their files)."""
    policy: NotRequired[dict[str, Any]]
    """Promotion: the policy that passed it (path and sha256)."""
    reason: NotRequired[str]
    """Demotion: why."""
    report_sha256: NotRequired[str]
    """sha256 of the report.json copied with the event."""
    report: NotRequired[str]
    """Path of that copy (``reports/NNNNNN/report.json``)."""


class RegistryEntry(PromotionRecord):
    """The live state of one name (:func:`current`): its latest promotion, marked ``demoted`` after a demotion."""

    status: Literal["promoted", "demoted"]
    demoted_at: NotRequired[str | None]
    demote_reason: NotRequired[str | None]


_REPORT_FILES = ("report.json", "report.md", "report.html")
_RECORD = re.compile(r"^(\d+)-.*\.json$")
_EVENTS = ("promote", "demote")


def _fsync_dir(d: Path) -> None:
    fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _safe(name: str) -> str:
    """``name`` as it may appear in a file name (the record itself keeps the real name)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:100]


def _check_root(root: Path) -> None:
    if root.exists() and not root.is_dir():
        raise InputError(f"registry {root} is not a directory")
    for sub in ("records", "reports"):
        if (root / sub).exists() and not (root / sub).is_dir():
            raise InputError(f"registry {root}: {root / sub} is not a directory")


@contextlib.contextmanager
def _locked(root: Path, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold the registry's exclusive lock (creating the registry's directories first)."""
    _check_root(root)
    lock = root / ".lock"
    try:
        for sub in ("records", "reports"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise InputError(f"registry {root} is not writable: {exc.strerror or exc} ({lock})") from None
    try:
        deadline = time.monotonic() + timeout
        delay = 0.002
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise InputError(f"registry {root}: cannot lock {lock}: {exc.strerror or exc}") from None
                if time.monotonic() >= deadline:
                    raise InputError(f"registry {root}: {lock} held by another writer for over {timeout:g} s") \
                        from None
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        yield
    finally:
        os.close(fd)  # closing the only descriptor releases the flock


def _numbered(records: Path) -> list[tuple[int, Path]]:
    """``(number, path)`` for every ``NNNNNN-*.json`` file in ``records`` (whatever it contains), by number."""
    out: list[tuple[int, Path]] = []
    for p in records.iterdir():
        m = _RECORD.match(p.name)
        if m and not p.name.startswith("."):
            out.append((int(m.group(1)), p))
    return sorted(out)


def _sweep(root: Path, next_seq: int) -> None:
    """Remove what crashed writers left (called under the lock, so no writer is active): temp files in records/,
    staging directories in reports/, and report directories numbered ``next_seq`` or above (no record points there)."""
    for p in (root / "records").iterdir():
        if p.name.startswith(".") and p.name.endswith(".tmp"):
            log.warning("registry %s: removing %s, left by an interrupted write", root, p)
            p.unlink(missing_ok=True)
    for p in (root / "reports").iterdir():
        stale = p.name.startswith(".") or (p.name.isdigit() and int(p.name) >= next_seq)
        if stale and p.is_dir() and not p.is_symlink():
            log.warning("registry %s: removing %s, left by an interrupted write", root, p)
            shutil.rmtree(p, ignore_errors=True)


def _copy_report(root: Path, seq: int, files: dict[str, bytes]) -> Path:
    """Write ``files`` to ``reports/NNNNNN`` atomically (staging directory, fsync, rename); return that directory."""
    reports = root / "reports"
    dest = reports / f"{seq:06d}"
    stage = Path(tempfile.mkdtemp(prefix=f".{seq:06d}.", suffix=".tmp", dir=reports))
    try:
        for fname, data in files.items():
            with open(stage / fname, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        _fsync_dir(stage)
        os.replace(stage, dest)  # dest is absent: _sweep removed any leftover with this number
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    _fsync_dir(reports)
    return dest


def _append(root: Path, kind: str, name: str, record: dict[str, Any], files: dict[str, bytes] | None,
            *, require_promoted: bool = False) -> PromotionRecord:
    """Under the registry lock: allocate the next number, copy the report files, then write the record."""
    with _locked(root):
        try:
            if require_promoted:
                live = current(root).get(name)
                if live is None or live["status"] != "promoted":
                    state = "not in the registry" if live is None else f"already {live['status']}"
                    raise InputError(f"registry {root}: cannot demote {name!r}: it is {state}")
            numbered = _numbered(root / "records")
            seq = (numbered[-1][0] if numbered else 0) + 1
            _sweep(root, seq)
            rec: dict[str, Any] = {"seq": seq, "event": kind, "name": name, **record}
            if files:
                dest = _copy_report(root, seq, files)
                if "report.json" in files:
                    rec["report"] = str(dest / "report.json")
            path = root / "records" / f"{seq:06d}-{kind}-{_safe(name)}.json"
            atomic_write_json(path, rec)
            _fsync_dir(root / "records")
        except OSError as exc:
            raise InputError(f"registry {root}: cannot write the {kind} record for {name!r}: "
                             f"{exc.strerror or exc} ({exc.filename or root})") from None
    return cast(PromotionRecord, rec)


def _read_reports(rdir: Path, *, required: bool) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for fname in _REPORT_FILES:
        try:
            files[fname] = (rdir / fname).read_bytes()
        except FileNotFoundError:
            if required and fname == "report.json":
                raise InputError(f"cannot read report {rdir / fname}: file not found") from None
        except OSError as exc:
            if required and fname == "report.json":
                raise InputError(f"cannot read report {rdir / fname}: {exc.strerror or exc}") from None
            log.warning("cannot read %s (not copied to the registry): %s", rdir / fname, exc)
    return files


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"registry: a version name must be a non-empty string, got {name!r}")


def promote(registry: str | Path, name: str, report_dir: str | Path) -> PromotionRecord:
    """Record ``name`` as promoted on the strength of ``report_dir/report.json`` (which must be a pass).

    ``registry`` ``mlflow:TRACKING_URI[#alias=NAME]``: a version of the registered model ``name`` in that MLflow
    registry instead (:mod:`aligngate.integrations.mlflow_registry`: a blocked report is registered without the
    alias; the alias moves only on a pass)."""
    from aligngate.report.read import parse_report

    if isinstance(registry, str) and registry.startswith("mlflow:"):
        from aligngate.integrations.mlflow_registry import register

        return cast(PromotionRecord, register(registry, name, report_dir))

    _check_name(name)
    rdir = Path(report_dir)
    files = _read_reports(rdir, required=True)
    report = parse_report(files["report.json"], rdir / "report.json")  # the very bytes that are hashed and copied
    if report.verdict != "pass" or report.exit_code != 0 or report.status != "complete":
        raise InputError(f"{rdir / 'report.json'}: verdict is {report.verdict!r} (exit_code {report.exit_code!r}, "
                         f"status {report.status!r}); only a passing candidate is promoted")
    return _append(Path(registry), "promote", name, {
        "at": report.finished_at or None, "subjects": report.subjects,
        "policy": report.policy, "report_sha256": sha256_bytes(files["report.json"])}, files)


def demote(registry: str | Path, name: str, reason: str, report_dir: str | Path | None = None) -> PromotionRecord:
    """Append a demotion of ``name`` (e.g. a scheduled re-check failed). ``name`` must be currently promoted,
    else :class:`~aligngate.errors.InputError`. The report files in ``report_dir`` are copied when present; a
    missing report does not prevent the demotion."""
    from aligngate.verdict import now_iso

    if isinstance(registry, str) and registry.startswith("mlflow:"):  # remove the alias, tag the version
        from aligngate.integrations.mlflow_registry import demote as demote_mlflow

        return cast(PromotionRecord, demote_mlflow(registry, name, reason))
    _check_name(name)
    files = _read_reports(Path(report_dir), required=False) if report_dir else None
    extra: dict[str, Any] = {"at": now_iso(), "reason": reason}
    if files and "report.json" in files:
        extra["report_sha256"] = sha256_bytes(files["report.json"])
    return _append(Path(registry), "demote", name, extra, files, require_promoted=True)


def _load(p: Path) -> PromotionRecord | None:
    """One record, or None (with a warning naming the file) when it is empty, truncated or not a record."""
    try:
        obj = json.loads(p.read_bytes().decode("utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("registry: ignoring unreadable record %s (%s)", p, exc if str(exc) else type(exc).__name__)
        return None
    if not (isinstance(obj, dict) and isinstance(obj.get("seq"), int) and obj.get("event") in _EVENTS
            and isinstance(obj.get("name"), str)):
        log.warning("registry: ignoring %s: not a registry record (needs seq, event, name)", p)
        return None
    return cast(PromotionRecord, obj)


def events(registry: str | Path) -> list[PromotionRecord]:
    """All readable records, oldest first. Broken record files and leftover temp files are skipped with a warning;
    a registry that does not exist has no events; a registry path that is not a directory is an InputError."""
    root = Path(registry)
    _check_root(root)
    recs = root / "records"
    if not recs.is_dir():
        return []
    try:
        entries = sorted(recs.iterdir())
    except OSError as exc:
        raise InputError(f"registry {root}: cannot list {recs}: {exc.strerror or exc}") from None
    out: list[PromotionRecord] = []
    for p in entries:
        if not _RECORD.match(p.name) or p.name.startswith("."):
            log.warning("registry: ignoring %s (not a record file; a leftover of an interrupted write?)", p)
            continue
        rec = _load(p)
        if rec is not None:
            out.append(rec)
    out.sort(key=lambda r: r["seq"])
    return out


def current(registry: str | Path) -> dict[str, RegistryEntry]:
    """Live state by name: the latest promotion, marked ``demoted`` if a later demotion exists."""
    state: dict[str, RegistryEntry] = {}
    for ev in events(registry):
        if ev["event"] == "promote":
            state[ev["name"]] = cast(RegistryEntry, {**ev, "status": "promoted"})
        elif ev["event"] == "demote" and ev["name"] in state:
            state[ev["name"]] = cast(RegistryEntry, {**state[ev["name"]], "status": "demoted",
                                                      "demoted_at": ev.get("at"), "demote_reason": ev.get("reason")})
    return state
