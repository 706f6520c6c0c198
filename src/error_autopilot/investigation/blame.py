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


def _ranges(lines: list[int]) -> str:
    """`[9, 10, 11, 14]` → `9–11, 14`."""
    out: list[str] = []
    start = prev = lines[0]
    for n in [*lines[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        out.append(f"{start}–{prev}" if prev > start else str(start))
        if n is not None:
            start = prev = n
    return ", ".join(out)


def _blame(repo: git.Repo, commit: str, path: str, line: int) -> dict[str, tuple[git.Commit, list[int]]]:
    """Each commit that last touched lines line±3 (clamped to the file), with exactly which lines."""
    try:
        length = len(bytes((repo.commit(commit).tree / path).data_stream.read()).splitlines())
    except (KeyError, ValueError, git.GitCommandError):
        return {}
    start, end = max(1, line - 3), min(length, line + 3)
    if start > end:
        return {}  # the line is past the end of the file at this commit
    owners: dict[str, tuple[git.Commit, list[int]]] = {}
    number = start
    for entry in repo.blame(commit, path, L=f"{start},{end}") or []:
        blamed, text = entry[0], entry[1]
        count = len(text) if isinstance(text, list) else 1
        if isinstance(blamed, git.Commit):
            owners.setdefault(blamed.hexsha, (blamed, []))[1].extend(range(number, number + count))
        number += count
    return owners


def suspects(root: Path, commit: str, path: str, line: int | None, web_url: str | None) -> list[SuspectCommit]:
    """The commit that last changed the failing line, then those that changed the lines around it (each
    with exactly the lines blame gives it), then the file's recent history."""
    repo = git.Repo(root)
    found: dict[str, SuspectCommit] = {}
    ordered: list[SuspectCommit] = []
    if line:
        owners = _blame(repo, commit, path, line)
        ranked = sorted(owners.values(), key=lambda o: (line not in o[1], -o[0].committed_date))
        for blamed, lines in ranked:
            what = f"line {line}" if lines == [line] else f"lines {_ranges(sorted(lines))}"
            reason = f"last changed {what}" + ("" if line in lines else f", near line {line}")
            found[blamed.hexsha] = _suspect(blamed, reason, web_url)
            ordered.append(found[blamed.hexsha])
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


MAX_LINKS = 500  # symbolic links read per tree: a tree holding more is a vendored farm, not the service's layout


def symlinks(root: Path, commit: str) -> dict[str, str]:
    """The symbolic links of the tree at `commit`: link path → its target as git stores it (a mode 120000
    blob holds the target path), unresolved; at most MAX_LINKS. One `ls-tree`, the blobs read through
    the repository's persistent `cat-file` process."""
    repo = git.Repo(root)
    found: dict[str, str] = {}
    for entry in str(repo.git.ls_tree("-r", "-z", commit)).split("\0"):
        meta, _, path = entry.partition("\t")
        if not meta.startswith("120000 ") or not path:
            continue
        target = repo.odb.stream(bytes.fromhex(meta.split()[2])).read()
        found[path] = target.decode("utf-8", errors="replace").strip()
        if len(found) >= MAX_LINKS:
            break
    return found


MAX_GREP_LINES = 200
GREP_TIMEOUT_S = 20
_GREP_LINE = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<text>.*)$")


def grep(root: Path, commit: str, pattern: str) -> list[tuple[str, int, str]]:
    """Lines of the tree at `commit` that match the extended regular expression `pattern`, as (path,
    line, text): text files of the repository only, at most MAX_GREP_LINES, never the disk around it."""
    status, out, _ = git.Repo(root).git.grep(
        "-n", "-I", "-E", "-e", pattern, commit, "--",
        with_extended_output=True, with_exceptions=False, kill_after_timeout=GREP_TIMEOUT_S,
    )  # fmt: skip
    if status != 0:  # 1: nothing matched; anything else: no answer is the safe answer
        return []
    hits = []
    for raw in str(out).splitlines()[:MAX_GREP_LINES]:
        if (m := _GREP_LINE.match(raw.removeprefix(f"{commit}:"))) is not None:
            hits.append((m["path"], int(m["line"]), m["text"][:400]))
    return hits
