"""``aligngate pr-comment`` / :func:`aligngate.integrations.github.upsert_comment` against a small real HTTP server
on loopback that speaks the three GitHub REST endpoints used (list, create, edit issue comments), with pagination
and token checks."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

TOKEN = "ghs_test_token_123"


class FakeGitHub:
    """In-memory issue comments of one repository, served over HTTP."""

    def __init__(self) -> None:
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.log: list[tuple[str, str]] = []
        self.next_id = 1000
        self.fail_with: int | None = None

    def add(self, pr: int, body: str, user: str = "github-actions[bot]") -> dict[str, Any]:
        self.next_id += 1
        c = {"id": self.next_id, "body": body, "user": {"login": user},
             "html_url": f"https://github.example/acme/bot/pull/{pr}#issuecomment-{self.next_id}"}
        self.comments.setdefault(pr, []).append(c)
        return c

    def handler(self) -> type[BaseHTTPRequestHandler]:
        gh = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, obj: Any) -> None:
                data = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _route(self, method: str) -> None:
                url = urlparse(self.path)
                gh.log.append((method, self.path))
                if gh.fail_with is not None:
                    return self._send(gh.fail_with, {"message": "Server Error"})
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._send(401, {"message": "Bad credentials"})
                parts = url.path.strip("/").split("/")
                body = None
                if method in ("POST", "PATCH"):
                    body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if parts[:3] != ["repos", "acme", "bot"] or parts[3] != "issues":
                    return self._send(404, {"message": "Not Found"})
                if method == "GET" and len(parts) == 6 and parts[5] == "comments":
                    q = parse_qs(url.query)
                    per, page = int(q["per_page"][0]), int(q["page"][0])
                    items = gh.comments.get(int(parts[4]), [])
                    return self._send(200, items[(page - 1) * per:page * per])
                if method == "POST" and len(parts) == 6 and parts[5] == "comments":
                    return self._send(201, gh.add(int(parts[4]), body["body"]))
                if method == "PATCH" and len(parts) == 6 and parts[4] == "comments":
                    for items in gh.comments.values():
                        for c in items:
                            if c["id"] == int(parts[5]):
                                c["body"] = body["body"]
                                return self._send(200, c)
                return self._send(404, {"message": "Not Found"})

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self._route("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._route("POST")

            def do_PATCH(self) -> None:  # noqa: N802
                self._route("PATCH")

        return H


@pytest.fixture
def github() -> Iterator[tuple[FakeGitHub, str]]:
    gh = FakeGitHub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), gh.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield gh, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_created_once_then_updated_in_place(github: tuple[FakeGitHub, str]) -> None:
    from aligngate.integrations.github import marker, upsert_comment

    gh, api = github
    gh.add(7, "LGTM", user="alice")
    first = upsert_comment("acme/bot", 7, "## aligngate: BLOCK", token=TOKEN, api_url=api)
    assert first.action == "created"
    gh.add(7, "a later comment by the same bot, without the marker")
    gh.add(7, "<!-- aligngate:nightly -->\nanother key's comment")
    second = upsert_comment("acme/bot", 7, "## aligngate: PASS", token=TOKEN, api_url=api)
    assert second.action == "updated" and second.comment_id == first.comment_id
    bodies = [c["body"] for c in gh.comments[7]]
    assert bodies.count(f"{marker('gate')}\n## aligngate: PASS") == 1 and len(bodies) == 4
    assert "LGTM" in bodies and "<!-- aligngate:nightly -->\nanother key's comment" in bodies
    assert [m for m, _ in gh.log] == ["GET", "POST", "GET", "PATCH"]


def test_marker_found_on_a_later_page(github: tuple[FakeGitHub, str]) -> None:
    from aligngate.integrations.github import upsert_comment

    gh, api = github
    for i in range(130):
        gh.add(3, f"chatter {i}")
    mine = gh.add(3, "<!-- aligngate:cand-b -->\nold")
    for i in range(5):
        gh.add(3, f"more {i}")
    res = upsert_comment("acme/bot", 3, "new", token=TOKEN, key="cand-b", api_url=api)
    assert res.action == "updated" and res.comment_id == mine["id"] and mine["body"].endswith("\nnew")
    assert [p for _, p in gh.log][:2] == ["/repos/acme/bot/issues/3/comments?per_page=100&page=1",
                                          "/repos/acme/bot/issues/3/comments?per_page=100&page=2"]
    assert len(gh.comments[3]) == 136
    other = upsert_comment("acme/bot", 3, "a", token=TOKEN, key="cand-a", api_url=api)
    assert other.action == "created" and len(gh.comments[3]) == 137


def test_long_body_is_cut_to_the_limit(github: tuple[FakeGitHub, str]) -> None:
    from aligngate.integrations.github import MAX_BODY, upsert_comment

    gh, api = github
    upsert_comment("acme/bot", 1, "x" * (MAX_BODY + 500), token=TOKEN, api_url=api)
    body = gh.comments[1][0]["body"]
    assert len(body) == MAX_BODY and body.startswith("<!-- aligngate:gate -->") and "cut to GitHub" in body


def test_cli_in_an_actions_job(github: tuple[FakeGitHub, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               run_cli: Callable[..., tuple[int, str, str]]) -> None:
    gh, api = github
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 42}}))
    report = tmp_path / "report.md"
    report.write_text("<!-- aligngate-report -->\n## aligngate gate: PASS\n")
    for k, v in {"GITHUB_API_URL": api, "GITHUB_REPOSITORY": "acme/bot", "GITHUB_EVENT_PATH": str(event),
                 "GITHUB_TOKEN": TOKEN}.items():
        monkeypatch.setenv(k, v)
    code, out, _ = run_cli("pr-comment", "--body-file", report, "--output", "json")
    assert code == 0 and json.loads(out)["action"] == "created" and json.loads(out)["pr"] == 42
    report.write_text("<!-- aligngate-report -->\n## aligngate gate: BLOCK\n")
    code, out, _ = run_cli("pr-comment", "--body-file", report, "--output", "json")
    assert code == 0 and json.loads(out)["action"] == "updated"
    assert len(gh.comments[42]) == 1 and "BLOCK" in gh.comments[42][0]["body"]


@pytest.mark.parametrize("fault", ["bad token", "server error", "no token", "no PR", "unreachable"])
def test_failures_are_exit_2_naming_the_endpoint(fault: str, github: tuple[FakeGitHub, str], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 run_cli: Callable[..., tuple[int, str, str]]) -> None:
    gh, api = github
    report = tmp_path / "report.md"
    report.write_text("body")
    monkeypatch.delenv("GH_TOKEN", raising=False)
    monkeypatch.delenv("GITHUB_EVENT_PATH", raising=False)
    monkeypatch.setenv("GITHUB_TOKEN", "wrong-token" if fault == "bad token" else TOKEN)
    monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:9" if fault == "unreachable" else api)
    if fault == "no token":
        monkeypatch.delenv("GITHUB_TOKEN")
    if fault == "server error":
        gh.fail_with = 500
    argv = ["pr-comment", "--body-file", report, "--repo", "acme/bot"] + ([] if fault == "no PR" else ["--pr", "5"])
    code, out, err = run_cli(*argv)
    assert code == 2 and out == ""
    want = {"bad token": "HTTP 401", "server error": "HTTP 500", "no token": "GITHUB_TOKEN",
            "no PR": "--pr", "unreachable": "127.0.0.1:9"}[fault]
    assert want in err and "wrong-token" not in err and TOKEN not in err
    if fault in ("bad token", "server error"):
        assert "/repos/acme/bot/issues/5/comments" in err
    assert gh.comments.get(5) is None
