"""A pull-request comment that updates itself, found by a hidden marker (never "the last comment by this user").

    result = upsert_comment("acme/bot", 42, body, key="gate", token=os.environ["GITHUB_TOKEN"])
    result.action   # "created" or "updated"; result.comment_id, result.url

The body is prefixed with ``<!-- aligngate:KEY -->`` (KEY: letters, digits, ``._-``; one comment per key, so that a
matrix of candidates keeps one comment each). The PR's issue comments are listed page by page
(``GET /repos/{repo}/issues/{pr}/comments``); the first one whose body holds the marker is edited
(``PATCH /repos/{repo}/issues/comments/{id}``), otherwise one is created (``POST .../issues/{pr}/comments``). Bodies
over GitHub's 65,536-character limit are cut with a note. Uses only the standard library (``urllib``); the API root
is ``GITHUB_API_URL`` (GitHub Enterprise) or ``https://api.github.com``. Any HTTP or network failure is an
:class:`~aligngate.errors.InputError` naming the method, endpoint and status (exit 2); the token is never printed.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from aligngate.errors import InputError

__all__ = ["DEFAULT_API", "MAX_BODY", "CommentResult", "marker", "upsert_comment"]

DEFAULT_API = "https://api.github.com"
MAX_BODY = 65_536
_PER_PAGE = 100
_MAX_PAGES = 50
_KEY = re.compile(r"[A-Za-z0-9._-]{1,64}")
_REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class CommentResult:
    """What :func:`upsert_comment` did."""

    action: str
    """``created`` or ``updated``."""
    comment_id: int
    url: str


def marker(key: str = "gate") -> str:
    """The hidden marker of the comment for ``key``."""
    if not _KEY.fullmatch(key):
        raise InputError(f"comment key {key!r}: use 1-64 letters, digits, '.', '_' or '-'")
    return f"<!-- aligngate:{key} -->"


def _request(method: str, url: str, token: str, payload: dict[str, Any] | None = None,
             timeout: float = 30.0) -> Any:
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={
        "Accept": "application/vnd.github+json", "Authorization": f"Bearer {token}",
        "X-GitHub-Api-Version": "2022-11-28", "User-Agent": "aligngate",
        **({"Content-Type": "application/json"} if data is not None else {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode("utf-8", "replace")
        raise InputError(f"GitHub API {method} {url}: HTTP {exc.code} {exc.reason}: {detail}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise InputError(f"GitHub API {method} {url}: {getattr(exc, 'reason', exc)}") from None
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        raise InputError(f"GitHub API {method} {url}: the answer is not JSON") from None


def _fit(body: str) -> str:
    if len(body) <= MAX_BODY:
        return body
    note = "\n\n_(cut to GitHub's comment limit: the full report is in the job summary and the artifact)_\n"
    return body[:MAX_BODY - len(note)] + note


def upsert_comment(repo: str, pr: int, body: str, *, token: str, key: str = "gate",
                   api_url: str = DEFAULT_API) -> CommentResult:
    """Create or update the comment marked ``key`` on pull request ``pr`` of ``repo`` (see the module doc)."""
    if not _REPO.fullmatch(repo or ""):
        raise InputError(f"repository {repo!r}: expected OWNER/NAME")
    if not isinstance(pr, int) or pr <= 0:
        raise InputError(f"pull request number {pr!r}: expected a positive integer")
    if not token:
        raise InputError("no GitHub token: set GITHUB_TOKEN (or GH_TOKEN) with pull-requests: write")
    mark = marker(key)
    text = _fit(body if mark in body else f"{mark}\n{body}")
    api = api_url.rstrip("/")
    found: dict[str, Any] | None = None
    for page in range(1, _MAX_PAGES + 1):
        url = f"{api}/repos/{repo}/issues/{pr}/comments?per_page={_PER_PAGE}&page={page}"
        comments = _request("GET", url, token)
        if not isinstance(comments, list):
            raise InputError(f"GitHub API GET {url}: expected a list of comments")
        found = next((c for c in comments if isinstance(c, dict) and mark in str(c.get("body") or "")), None)
        if found is not None or len(comments) < _PER_PAGE:
            break
    if found is not None:
        out = _request("PATCH", f"{api}/repos/{repo}/issues/comments/{int(found['id'])}", token, {"body": text})
        action = "updated"
    else:
        out = _request("POST", f"{api}/repos/{repo}/issues/{pr}/comments", token, {"body": text})
        action = "created"
    if not isinstance(out, dict) or "id" not in out:
        raise InputError(f"GitHub API: the {action} comment's answer has no id")
    return CommentResult(action=action, comment_id=int(out["id"]), url=str(out.get("html_url", "")))
