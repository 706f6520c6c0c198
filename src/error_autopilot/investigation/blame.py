"""Suspect commits (`git blame` of the failing lines, the file's recent history) and the code around a
location, all read from git's objects at the commit (GitPython)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import git

from error_autopilot.domain.findings import CodeLocation, CodeSnippet, SuspectCommit

_PR = re.compile(r"\(#(\d+)\)|Merge pull request #(\d+)")
CONTEXT = 15
SYMLINK_MODE = 0o120000
MAX_SNIPPET_FILE = 5 * 1024 * 1024  # a generated or vendored giant is not worth reading for 31 lines


def _pr(summary: str) -> int | None:
    match = _PR.search(summary)
    return int(match.group(1) or match.group(2)) if match else None


def _suspect(commit: git.Commit, reason: str, web_url: str | None) -> SuspectCommit:
    summary = str(commit.summary)
    return SuspectCommit(
        sha=commit.hexsha, author=str(commit.author.name), summary=summary, pr_number=_pr(summary), reason=reason,
        date=datetime.fromtimestamp(commit.committed_date, UTC).isoformat(),
        url=f"{web_url}/commit/{commit.hexsha}" if web_url else None,
    )  # fmt: skip


def suspects(root: Path, commit: str, path: str, line: int | None, web_url: str | None) -> list[SuspectCommit]:
    """Commits that last touched lines line±3 (newest first), then the file's recent history."""
    repo = git.Repo(root)
    found: dict[str, SuspectCommit] = {}
    if line:
        start = max(1, line - 3)
        try:
            for entry in repo.blame(commit, path, L=f"{start},{line + 3}") or []:
                blamed = entry[0]
                if isinstance(blamed, git.Commit) and blamed.hexsha not in found:
                    found[blamed.hexsha] = _suspect(blamed, f"last changed lines {start}–{line + 3}", web_url)
        except git.GitCommandError:
            pass  # the line range is past the end of the file at this commit
    ordered = sorted(found.values(), key=lambda s: s.date, reverse=True)
    for recent in repo.iter_commits(commit, paths=path, max_count=5):
        if recent.hexsha not in found:
            found[recent.hexsha] = _suspect(recent, f"recent change to {Path(path).name}", web_url)
            ordered.append(found[recent.hexsha])
    return ordered[:6]


def snippet(root: Path, location: CodeLocation) -> CodeSnippet | None:
    """Lines around the location, read from git's objects at `location.commit` — never from the work
    tree, so a symlink in the repository (to /etc/passwd, or to .git/config) is never followed."""
    try:
        blob = git.Repo(root).commit(location.commit).tree / location.path
    except (KeyError, ValueError, git.GitCommandError, git.BadName):
        return None
    if blob.type != "blob" or blob.mode == SYMLINK_MODE or blob.size > MAX_SNIPPET_FILE:
        return None
    lines = blob.data_stream.read().decode("utf-8", errors="replace").splitlines()
    center = location.line or 1
    start = max(1, center - CONTEXT)
    return CodeSnippet(location=location, start_line=start, lines=tuple(lines[start - 1 : center + CONTEXT]))


def listing(root: Path, commit: str) -> list[str]:
    """Every file path at `commit` (from the tree, so symlinks out of the repo are just names)."""
    return str(git.Repo(root).git.ls_tree("-r", "--name-only", commit)).splitlines()
