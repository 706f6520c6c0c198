"""Service repositories checked out at the deployed commit (ports.Workspace), and what their
history says about deployed versions (ports.History): repository names to URLs, versions to commits.

The clones themselves come from the clone cache kept across runs (`clonecache`), which also makes the
worktrees and fetches a file's history before blame. A host that is unreachable opens its breaker:
the rest of the run skips it instead of waiting on every clone.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

import git

from error_autopilot.domain.errors import WorkspaceError
from error_autopilot.investigation.clonecache import LOCK_WAIT_S, Clone, CloneCache, host_down, without_credentials
from error_autopilot.ports import CheckedOut
from error_autopilot.resilience import Breaker, Breakers, Deadline

_OWNER_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_SHA = re.compile(r"^[0-9a-f]{7,40}$")


class GitWorkspace:
    """ports.Workspace and ports.History over a CloneCache in `cache_dir`: one worktree per deployed commit.

    Thread-safe, and safe for several processes sharing `cache_dir`: work on one repository is
    serialised (a thread lock here, then the cache's file lock), different repositories run in parallel.
    `deadline` is the run's: no wait for another run's cache lock outlasts it (see CloneCache)."""

    def __init__(
        self, cache_dir: Path, *, github_url: str = "https://github.com", token: str | None = None,
        breakers: Breakers | None = None, deadline: Deadline | None = None, lock_wait_s: float = LOCK_WAIT_S,
    ) -> None:  # fmt: skip
        self._github_url = github_url.rstrip("/")
        self._cache = CloneCache(cache_dir, github_url=github_url, token=token, deadline=deadline,
                                 lock_wait_s=lock_wait_s)  # fmt: skip
        self._breakers = breakers
        self._done: dict[tuple[str, str | None], CheckedOut] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    @property
    def clone_seconds(self) -> float:
        """Seconds this run spent cloning and fetching."""
        return self._cache.clone_seconds

    @property
    def prefetch_seconds(self) -> float:
        """Seconds this run spent fetching the history of stack files before blame."""
        return self._cache.prefetch_seconds

    def _url(self, repo: str) -> tuple[str, str | None]:
        """(clone URL, web URL for permalinks)."""
        if _OWNER_NAME.match(repo) and not Path(repo).exists():
            return f"{self._github_url}/{repo}.git", f"{self._github_url}/{repo}"
        if repo.startswith(("http://", "https://", "git@", "ssh://", "file://")):
            clean = without_credentials(repo)[0]
            web = clean.removesuffix(".git") if clean.startswith("https://") else None
            return repo, web
        return str(Path(repo).resolve()), None

    def clone_dir(self, repo: str) -> Path:
        """Where the cached clone of `repo` lives (its worktrees sit beside it, `<name>@<commit>`)."""
        return self._cache.folder(self._url(repo)[0])

    def _breaker(self, url: str) -> Breaker | None:
        if "://" in url:
            host = urlsplit(url).hostname
        else:  # scp-like git@host:owner/repo, or a local path (no host to lose)
            host = url.split("@", 1)[1].split(":", 1)[0] if "@" in url and ":" in url else None
        if self._breakers is None or not host:
            return None
        return self._breakers.get(f"git host {host}")

    def _lock(self, repo: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(repo, threading.Lock())

    @staticmethod
    def _match_version(repo: git.Repo, version: str, tag_pattern: str | None) -> tuple[str, str] | None:
        """(commit, how) for a deployed version given as a sha, a `tag_pattern` tag or a tag name."""
        candidates: list[tuple[str, str]] = []
        if _SHA.match(version.lower()):
            candidates.append((version.lower(), f"commit {version[:12]} (deployed version)"))
        if tag_pattern:
            tag = tag_pattern.format(version=version)
            candidates.append((f"refs/tags/{tag}", f"tag {tag}"))
        candidates.append((f"refs/tags/{version}", f"tag {version}"))
        for ref, how in candidates:
            try:
                return str(repo.git.rev_parse("--verify", "--quiet", f"{ref}^{{commit}}")), how
            except git.GitCommandError:
                continue
        return None

    def _resolve(self, repo: git.Repo, version: str | None, branch: str, tag_pattern: str | None) -> tuple[str, str]:
        if version and (matched := self._match_version(repo, version, tag_pattern)) is not None:
            return matched
        try:
            sha = str(repo.git.rev_parse("--verify", f"refs/remotes/origin/{branch}^{{commit}}"))
        except git.GitCommandError as e:
            raise WorkspaceError(f"branch {branch!r} not found in the repository") from e
        why = f"version {version!r} not found in the repository" if version else "deployed version unknown"
        return sha, f"branch {branch} head ({why})"

    def _clone(self, repo: str) -> Clone:
        """The repository's clone, fetched once per run (under the host's breaker)."""
        url, _web = self._url(repo)
        breaker = self._breaker(url)
        if breaker is not None and (cause := breaker.skip()) is not None:
            raise WorkspaceError(f"{breaker.name} skipped: unavailable earlier in this run ({cause})")
        try:
            return self._cache.open(url)
        except WorkspaceError as e:
            if breaker is not None and host_down(e.message):
                breaker.trip(e.message)
            raise

    # --- ports.History: which deployed version contains which commit --------------------------------
    def commit_for(self, repo: str, version: str, tag_pattern: str | None) -> str | None:
        """The commit a deployed version names (sha, `tag_pattern` tag or a tag of that name), else None."""
        with self._lock(repo):
            matched = self._match_version(git.Repo(self._clone(repo).path), version, tag_pattern)
        return matched[0] if matched else None

    def contains(self, repo: str, commit: str, ancestor: str) -> bool:
        """`git merge-base --is-ancestor ancestor commit`."""
        with self._lock(repo):
            clone = git.Repo(self._clone(repo).path)
            try:
                clone.git.merge_base("--is-ancestor", ancestor, commit)
            except git.GitCommandError as e:
                if e.status == 1:
                    return False
                why = str(e.stderr).strip()
                raise WorkspaceError(f"cannot compare {ancestor[:12]} with {commit[:12]}: {why}") from e
            return True

    def commits_between(self, repo: str, older: str, newer: str, paths: Sequence[str]) -> list[str]:
        """`git log older..newer -- paths` as "sha subject" lines, newest first (at most 20)."""
        with self._lock(repo):
            clone = git.Repo(self._clone(repo).path)
            try:
                out = clone.git.log("--max-count=20", "--format=%H %s", f"{older}..{newer}", "--", *paths)
            except git.GitCommandError as e:
                raise WorkspaceError(f"cannot list {older[:12]}..{newer[:12]}: {str(e.stderr).strip()}") from e
        return [line for line in str(out).splitlines() if line.strip()]

    # --- ports.Workspace ------------------------------------------------------------------------------
    def checkout(self, repo: str, version: str | None, branch: str, tag_pattern: str | None) -> CheckedOut:
        """The repo checked out (detached) at the deployed commit, or the branch head with the reason."""
        with self._lock(repo):
            key = (repo, version)
            if key in self._done:
                return self._done[key]
            web = self._url(repo)[1]
            clone = self._clone(repo)
            sha, how = self._resolve(git.Repo(clone.path), version, branch, tag_pattern)
            path = self._cache.worktree(clone, sha)
            done = CheckedOut(repo=repo, path=path, commit=sha, ref_source=how, web_url=web)
            self._done[key] = done
            return done

    def prefetch_history(self, checkout: CheckedOut, paths: Sequence[str]) -> int:
        """Every past version of `paths` up to the checked-out commit that the partial clone lacks,
        fetched in one request; returns how many. Best effort (see CloneCache.prefetch)."""
        wanted = tuple(sorted({p for p in paths if p and not p.startswith("/")}))
        if not wanted:
            return 0
        with self._lock(checkout.repo):
            return self._cache.prefetch(self._cache.opened(self._url(checkout.repo)[0]), checkout.commit, wanted)
