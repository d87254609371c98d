"""Push a passing adapter to the Hugging Face Hub, with its gate report as the model card's section.

    plan = hub_plan(report, "runs/adapter", "runs/gate")          # what would be uploaded
    push_to_hub(plan, "my-org/support-bot-lora", dry_run=True)     # prints nothing, uploads nothing

Only a report with ``verdict: pass`` and ``exit_code: 0`` is pushed (:class:`~aligngate.errors.InputError`
otherwise). The upload is the adapter directory's regular files (never a symlink or a hidden file), ``README.md``
replaced by a model card (YAML front matter naming the base model, then the adapter's own README if it had one, then
the gate report as Markdown) and ``aligngate_report.json``. The plan lists every file with its size and sha256 and
is written to ``OUT/hub/plan.json`` with the card as ``OUT/hub/README.md``. A real push (no ``dry_run``) uses
``huggingface_hub`` with the token from ``HF_TOKEN``; the network is needed then, never in the tests.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from aligngate.errors import InputError
from aligngate.fileio import atomic_write_json, atomic_write_text, sha256_bytes, sha256_file

__all__ = ["hub_plan", "model_card", "push_to_hub"]

CARD_MARKER = "<!-- aligngate:model-card -->"


def model_card(report: Any, report_md: str, base: str | None, own_readme: str | None) -> str:
    """The model card: front matter (``base_model``, ``library_name: peft``, ``tags``), the adapter's own README
    (front matter dropped), then the gate report."""
    front = ["---", "library_name: peft", "tags:", "- aligngate", "- lora"]
    if base and not Path(base).exists():  # a hub id; a local path means nothing on the Hub
        front.insert(1, f"base_model: {json.dumps(base)}")
    front.append("---")
    body = own_readme or ""
    if body.startswith("---"):
        end = body.find("\n---", 3)
        body = body[end + 4:] if end >= 0 else body
    sha, path = (report.policy or {}).get("sha256", ""), (report.policy or {}).get("path", "")
    section = ["", CARD_MARKER, "## Alignment gate (aligngate)", "",
               f"Verdict **{report.verdict}** (exit {report.exit_code}) under policy `{path}` (sha256 `{sha}`), "
               f"decided {report.finished_at}.", "", report_md.strip(), ""]
    return "\n".join(front) + "\n" + body.strip() + "\n" + "\n".join(section)


def hub_plan(report: Any, adapter: str | os.PathLike[str], out: str | os.PathLike[str],
             base: str | None = None) -> dict[str, Any]:
    """What would be uploaded for ``adapter`` on the strength of ``report`` (written to ``out/hub/``)."""
    if report.verdict != "pass" or report.exit_code != 0:
        raise InputError(f"push to the Hub refused: verdict {report.verdict} (exit {report.exit_code}); only a "
                         "passing adapter is pushed")
    root = Path(adapter)
    if not root.is_dir():
        raise InputError(f"push to the Hub: adapter directory {root} not found (the Hub push uploads an adapter)")
    out_hub = Path(out) / "hub"
    own = root / "README.md"
    from aligngate.report.markdown import render_markdown

    report_md = render_markdown(report)
    card = model_card(report, report_md, base, own.read_text(encoding="utf-8", errors="replace")
                      if own.is_file() and not own.is_symlink() else None)
    atomic_write_text(out_hub / "README.md", card)
    report_json = json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
    atomic_write_text(out_hub / "aligngate_report.json", report_json)
    files: list[dict[str, Any]] = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_symlink() or not p.is_file() or any(part.startswith(".") for part in p.relative_to(root).parts):
            continue
        if rel == "README.md":
            continue
        files.append({"path_in_repo": rel, "local": str(p), "size": p.stat().st_size, "sha256": sha256_file(p)})
    for name in ("README.md", "aligngate_report.json"):
        data = (out_hub / name).read_bytes()
        files.append({"path_in_repo": name, "local": str(out_hub / name), "size": len(data),
                      "sha256": sha256_bytes(data)})
    plan = {"adapter": str(root), "report": str(Path(out) / "report.json"),
            "total_bytes": sum(f["size"] for f in files), "files": files}
    atomic_write_json(out_hub / "plan.json", plan)
    return plan


def push_to_hub(plan: dict[str, Any], repo: str, *, dry_run: bool = True, private: bool = True) -> dict[str, Any]:
    """Upload ``plan``'s files to the Hub model repo ``repo`` (created private if absent), or only describe it
    (``dry_run``). Returns ``{"repo", "dry_run", "files", "commit"}``."""
    if not repo or repo.count("/") != 1 or any(not part for part in repo.split("/")):
        raise InputError(f"--push-to-hub {repo!r}: expected a Hub repo id OWNER/NAME")
    result: dict[str, Any] = {"repo": repo, "dry_run": dry_run, "files": plan["files"], "commit": None}
    if dry_run:
        return result
    token = os.environ.get("HF_TOKEN")
    if not token:
        raise InputError(f"--push-to-hub {repo}: HF_TOKEN is not set (a write token is needed)")
    try:
        from huggingface_hub import CommitOperationAdd, HfApi

        api = HfApi(token=token)
        api.create_repo(repo, repo_type="model", private=private, exist_ok=True)
        ops = [CommitOperationAdd(path_in_repo=f["path_in_repo"], path_or_fileobj=f["local"]) for f in plan["files"]]
        info = api.create_commit(repo, ops, commit_message="aligngate: adapter passed the alignment gate",
                                 repo_type="model")
    except Exception as exc:  # noqa: BLE001 - any Hub/network error: exit 2 naming the repo
        raise InputError(f"push to the Hub repo {repo} failed: {type(exc).__name__}: {exc}") from None
    result["commit"] = getattr(info, "oid", None)
    return result
