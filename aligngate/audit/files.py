"""File safety: walk the adapter directory without following links and classify every entry.

Uses ``os.walk(followlinks=False)`` and ``os.lstat`` only; nothing is opened through a symlink. Findings:
symlinks (escaping: unsafe; internal: warn), hard links shared with files outside the directory (unsafe),
special files (unsafe), names with backslashes / control characters / undecodable bytes (path traversal,
unsafe), oversize files (block, not read), code files (block), ``auto_map`` / ``trust_remote_code`` in any
JSON config (block), pickle-format files by extension or magic bytes (scanned statically elsewhere),
and anything not normally part of an adapter (warn).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aligngate.audit.findings import Finding, make
from aligngate.audit.pickle_scan import PICKLE_EXTENSIONS, is_pickle_bytes

__all__ = ["FileEntry", "MappedFiles", "custom_code_keys", "open_nofollow", "read_bytes", "sha256_file",
           "sha256_mapped", "walk_adapter"]

CODE_EXTENSIONS = frozenset({".py", ".pyc", ".pyo", ".pyd", ".pyx", ".so", ".dll", ".dylib", ".sh", ".bash", ".zsh",
                             ".ipynb", ".exe", ".bat", ".cmd", ".ps1", ".js", ".jar"})
KNOWN_NAMES = frozenset({"adapter_config.json", "adapter_model.safetensors", "README.md", "tokenizer.json",
                         "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
                         "chat_template.json", "vocab.json", "merges.txt", "tokenizer.model", "added_tokens.json",
                         "generation_config.json", "aligngate_manifest.json", "aligngate_manifest.sig",
                         ".gitattributes", "config.json", "LICENSE", "training_args.json", "trainer_state.json",
                         "all_results.json", "train_results.json", "eval_results.json", "training_manifest.json"})
_LENIENT_EXT = frozenset({".md", ".txt", ".json", ".jinja", ".yaml", ".yml"})
_MAX_JSON = 64 * 1024 * 1024
_MAX_ENTRIES = 10_000
_CHUNK = 8 << 20


@dataclass
class FileEntry:
    """A regular file inside the adapter directory that is safe to open."""

    rel: str
    path: Path
    size: int
    kind: str
    """safetensors | pickle | code | json | other"""


class MappedFiles:
    """Read-only, pre-faulted memory maps shared by the hashing thread and the statistics, so each file's
    pages are read from disk and mapped once. Thread-safe."""

    def __init__(self) -> None:
        self._maps: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, path: str | os.PathLike[str]) -> Any:
        """The file's ``mmap`` (None for an empty file)."""
        key = os.fspath(path)
        with self._lock:
            if key not in self._maps:
                self._maps[key] = _map(key)
            return self._maps[key]


def open_nofollow(path: str | os.PathLike[str]) -> Any:
    """Open a regular file for binary reading without following a symlink in its last component (the walk
    saw a regular file; a symlink or FIFO swapped in since is refused, not followed or blocked on)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{os.fspath(path)} is not a regular file")
        return os.fdopen(fd, "rb", buffering=0)
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """Whole file, via :func:`open_nofollow`."""
    with open_nofollow(path) as fh:
        return fh.read()


def _map(path: str) -> Any:
    import mmap

    with open_nofollow(path) as fh:
        size = os.fstat(fh.fileno()).st_size
        if size == 0:
            return None
        try:
            return mmap.mmap(fh.fileno(), size, flags=mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0),
                             prot=mmap.PROT_READ)
        except (AttributeError, TypeError, ValueError, OSError):  # non-POSIX
            return mmap.mmap(fh.fileno(), size, access=mmap.ACCESS_READ)


def sha256_mapped(mm: Any) -> str:
    """sha256 of a memory map, in 8 MiB views (no copies; hashlib releases the GIL)."""
    h = hashlib.sha256()
    if mm is not None:
        view = memoryview(mm)
        try:
            for off in range(0, len(view), _CHUNK):
                h.update(view[off:off + _CHUNK])
        finally:
            view.release()
    return h.hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """sha256 with a reused 8 MiB buffer (hashlib releases the GIL, so this overlaps with numpy work)."""
    h = hashlib.sha256()
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    with open_nofollow(path) as fh:
        while n := fh.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()


def _bad_name(name: str) -> bool:
    return ("\\" in name or any(ord(c) < 32 or ord(c) == 127 for c in name) or name in ("..", ".")
            or any(0xDC80 <= ord(c) <= 0xDCFF for c in name))


def custom_code_keys(obj: Any, path: str = "", depth: int = 0) -> list[str]:
    """Where a JSON document asks for custom code: ``auto_map`` keys, ``trust_remote_code: true``."""
    out: list[str] = []
    if depth > 32:
        return out
    if isinstance(obj, dict):
        for k, v in obj.items():
            here = f"{path}.{k}" if path else str(k)
            if k == "auto_map" and v or k == "trust_remote_code" and v is True:
                out.append(here)
            else:
                out += custom_code_keys(v, here, depth + 1)
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:10_000]):
            out += custom_code_keys(v, f"{path}[{i}]", depth + 1)
    return out


def _classify(p: Path, name: str, size: int) -> str:
    ext = Path(name).suffix.lower()
    if ext == ".safetensors":
        return "safetensors"
    if ext in PICKLE_EXTENSIONS:
        return "pickle"
    if ext in CODE_EXTENSIONS:
        return "code"
    if size >= 4:
        with open_nofollow(p) as fh:
            head = fh.read(4)
        if head.startswith(b"#!") or head[:4] == b"\x7fELF":
            return "code"
        if is_pickle_bytes(head):
            return "pickle"
    if ext == ".json":
        return "json"
    return "other"


def walk_adapter(root: Path, *, max_file_bytes: int) -> tuple[list[FileEntry], list[Finding]]:
    """Every regular file safe to open (relative paths, sorted) and the file-safety findings."""
    real_root = os.path.realpath(root)
    entries: list[FileEntry] = []
    findings: list[Finding] = []
    inodes: dict[tuple[int, int], list[tuple[str, int]]] = {}
    count = 0
    walk_errors: list[OSError] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False, onerror=walk_errors.append):
        if ".git" in dirnames:  # VCS metadata is never loaded; one warning instead of thousands
            dirnames.remove(".git")
            rel_git = (Path(dirpath) / ".git").relative_to(root).as_posix()
            findings.append(make("adapter.unexpected_file", rel_git, "a .git directory (not audited, never loaded)"))
        dirnames.sort()
        for name in sorted(dirnames) + sorted(filenames):
            count += 1
            if count > _MAX_ENTRIES:
                findings.append(make("adapter.unexpected_file", ".", f"more than {_MAX_ENTRIES} entries: the rest "
                                     "were not audited", severity="block"))
                return entries, findings
            p = Path(dirpath) / name
            rel = p.relative_to(root).as_posix()
            if _bad_name(name):
                findings.append(make("adapter.path_traversal", ascii(rel), "file name with a backslash, control "
                                     "character or undecodable bytes (can escape the directory when extracted "
                                     "or copied elsewhere)"))
                continue
            try:
                st = os.lstat(p)
            except OSError as exc:
                findings.append(make("adapter.unreadable", rel, f"cannot stat: {exc}"))
                continue
            if stat.S_ISLNK(st.st_mode):
                target = os.path.realpath(p)
                if os.path.commonpath([real_root, target]) != real_root:
                    findings.append(make("adapter.symlink_escape", rel, f"symlink to {os.readlink(p)!r} resolves "
                                         "outside the adapter directory: a loader would read a file the audit "
                                         "cannot vouch for", target=target))
                else:
                    findings.append(make("adapter.symlink", rel, "symlink inside the adapter directory; not followed "
                                         "(its target is audited on its own)"))
                continue
            if stat.S_ISDIR(st.st_mode):
                continue
            if not stat.S_ISREG(st.st_mode):
                findings.append(make("adapter.special_file", rel, "not a regular file (FIFO, socket or device): "
                                     "opening it can block or read an unbounded stream"))
                continue
            if st.st_nlink > 1:
                inodes.setdefault((st.st_dev, st.st_ino), []).append((rel, st.st_nlink))
            if st.st_size > max_file_bytes:
                findings.append(make("adapter.oversize", rel, f"{st.st_size / 2**20:.1f} MiB exceeds policy "
                                     f"max_file_mb ({max_file_bytes / 2**20:.0f} MiB); not read", size=st.st_size))
                continue
            try:
                kind = _classify(p, name, st.st_size)
            except OSError as exc:
                findings.append(make("adapter.unreadable", rel, f"cannot read: {exc}"))
                continue
            entries.append(FileEntry(rel=rel, path=p, size=st.st_size, kind=kind))
    for err in walk_errors:
        where = Path(err.filename).relative_to(root).as_posix() if err.filename and str(err.filename).startswith(
            str(root)) else str(err.filename)
        findings.append(make("adapter.unreadable", where, f"cannot list directory: {err.strerror or err}"))
    escaped: set[str] = set()
    for links in inodes.values():
        if len(links) < links[0][1]:
            for rel, nlink in links:
                escaped.add(rel)
                findings.append(make("adapter.hardlink", rel, f"hard link count {nlink} but only {len(links)} "
                                     "link(s) inside the adapter directory: the content is shared with a file "
                                     "outside it and can change after the audit"))
    entries = [e for e in entries if e.rel not in escaped]
    for e in entries:
        findings += _content_findings(e)
    return entries, findings


def _content_findings(e: FileEntry) -> list[Finding]:
    out: list[Finding] = []
    name = e.path.name
    if e.kind == "code":
        out.append(make("adapter.code_file", e.rel, "executable code (Python, native library, script or notebook) "
                        "in an adapter: loaders with trust_remote_code would run it"))
    elif e.kind == "json" and e.size <= _MAX_JSON:
        try:
            obj = json.loads(read_bytes(e.path))
        except (ValueError, OSError, RecursionError):
            obj = None
            if name != "adapter_config.json":
                out.append(make("adapter.unexpected_file", e.rel, "a .json file that is not valid JSON"))
        keys = custom_code_keys(obj) if obj is not None else []
        if keys:
            out.append(make("adapter.auto_map", e.rel, f"config asks for custom code ({', '.join(keys[:5])}): "
                            "loading it with trust_remote_code would import Python from the adapter or the hub",
                            keys=keys[:20]))
    elif e.kind == "other" and name not in KNOWN_NAMES and Path(name).suffix.lower() not in _LENIENT_EXT:
        out.append(make("adapter.unexpected_file", e.rel, "not a file an adapter normally contains"))
    return out
