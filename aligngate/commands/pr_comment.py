"""``aligngate pr-comment``: post the gate's Markdown report as a pull-request comment, or update the one posted
before (found by its hidden ``<!-- aligngate:KEY -->`` marker). The work is done by
:func:`aligngate.integrations.github.upsert_comment`.

    aligngate pr-comment --body-file gate-out/report.md [--repo OWNER/NAME] [--pr N] [--key gate]

In a GitHub Actions job the defaults come from the environment: ``GITHUB_REPOSITORY``, the pull request number from
the event payload (``GITHUB_EVENT_PATH``), the token from ``GITHUB_TOKEN`` or ``GH_TOKEN``, the API root from
``GITHUB_API_URL``. Exit 0 when the comment was created or updated, 2 on any error (no token, HTTP error, no PR).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from aligngate.commands._common import add_output_flag, emit

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``pr-comment``."""
    p = sub.add_parser("pr-comment", help="post or update the report comment on a pull request (hidden marker)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--body-file", required=True, type=Path, help="Markdown to post (e.g. OUT/report.md)")
    p.add_argument("--repo", default=None, help="OWNER/NAME (default: $GITHUB_REPOSITORY)")
    p.add_argument("--pr", type=int, default=None, help="pull request number (default: from $GITHUB_EVENT_PATH)")
    p.add_argument("--key", default="gate", help="marker key: one comment per key (default: gate)")
    add_output_flag(p)
    p.set_defaults(func=run)


def _pr_from_event() -> int | None:
    path = os.environ.get("GITHUB_EVENT_PATH")
    if not path:
        return None
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    number = (event.get("pull_request") or {}).get("number") if isinstance(event, dict) else None
    return number if isinstance(number, int) else None


def run(args: argparse.Namespace) -> int:
    """Create or update the comment; exit 0, or 2 (InputError) on any failure."""
    from aligngate.errors import InputError
    from aligngate.integrations.github import DEFAULT_API, upsert_comment

    try:
        body = args.body_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"--body-file {args.body_file}: cannot read: {exc}") from None
    repo = args.repo or os.environ.get("GITHUB_REPOSITORY", "")
    pr = args.pr if args.pr is not None else _pr_from_event()
    if pr is None:
        raise InputError("no pull request number: pass --pr N (or run on a pull_request event)")
    token = os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN") or ""
    res = upsert_comment(repo, pr, body, token=token, key=args.key,
                         api_url=os.environ.get("GITHUB_API_URL") or DEFAULT_API)
    emit(args, {"action": res.action, "comment_id": res.comment_id, "url": res.url, "repo": repo, "pr": pr},
         lambda: f"{res.action} comment {res.comment_id} on {repo}#{pr} {res.url}".rstrip())
    return 0
