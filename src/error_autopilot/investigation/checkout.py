"""Service repositories checked out at the deployed commit, cached across runs (GitPython).

A partial clone (`--filter=blob:none`) fetches history without file contents, so blame and log
stay cheap; contents arrive on checkout. Each deployed commit gets its own worktree beside the
clone, so two versions of one service investigated at the same time never move each other's files.
The token goes only to the GitHub host: it is passed per command through `GIT_CONFIG_*` variables
scoped to that host's URL — never in argv, a remote URL or .git/config, never logged. A host that
is unreachable opens its breaker: the rest of the run skips it instead of waiting on every clone."""

from __future__ import annotations

import base64
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

import git

from error_autopilot.domain.errors import WorkspaceError
from error_autopilot.ports import CheckedOut
from error_autopilot.resilience import Breaker, Breakers

log = logging.getLogger(__name__)

_OWNER_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_SHA = re.compile(r"^[0-9a-f]{7,40}$")
_NO_PROMPT = {"GIT_TERMINAL_PROMPT": "0"}  # a refused clone must fail, never wait for a password
# git's words for "the host is not there" (as opposed to "no such repository" or "not allowed")
_HOST_DOWN = re.compile(
    r"(?i)could not resolve host|connection refused|failed to connect|couldn't connect|timed out|"
    r"connection reset|returned error: 5\d\d|ssl_connect|gnutls_handshake|could not read from remote"
)


class GitWorkspace:
    """ports.Workspace: one worktree per deployed commit, beside one clone per repo, in `cache_dir`.

    Thread-safe: checkouts of one repository are serialised, different repositories run in parallel."""

    def __init__(
        self, cache_dir: Path, *, github_url: str = "https://github.com", token: str | None = None,
        breakers: Breakers | None = None,
    ) -> None:  # fmt: skip
        self._cache = cache_dir.resolve()  # later steps (patch checks) run git from other directories
        self._github_url = github_url.rstrip("/")
        self._token = token
        self._breakers = breakers
        self._done: dict[tuple[str, str | None], CheckedOut] = {}
        self._fetched: set[Path] = set()  # clones already brought up to date in this run
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._seconds_guard = threading.Lock()
        self.clone_seconds = 0.0

    def _url(self, repo: str) -> tuple[str, str | None]:
        """(clone URL, web URL for permalinks)."""
        if _OWNER_NAME.match(repo) and not Path(repo).exists():
            return f"{self._github_url}/{repo}.git", f"{self._github_url}/{repo}"
        if repo.startswith(("http://", "https://", "git@", "ssh://", "file://")):
            web = repo.removesuffix(".git") if repo.startswith("https://") else None
            return repo, web
        return str(Path(repo).resolve()), None

    def _env(self) -> dict[str, str]:
        """The token as an extra header for URLs under the GitHub host only (git's `http.<url>.*`)."""
        if not self._token:
            return dict(_NO_PROMPT)
        basic = base64.b64encode(f"x-access-token:{self._token}".encode()).decode()
        count = int(os.environ.get("GIT_CONFIG_COUNT") or 0)  # keep any configuration already passed this way
        return {
            **_NO_PROMPT, "GIT_CONFIG_COUNT": str(count + 1),
            f"GIT_CONFIG_KEY_{count}": f"http.{self._github_url}/.extraHeader",
            f"GIT_CONFIG_VALUE_{count}": f"Authorization: Basic {basic}",
        }  # fmt: skip

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

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

    def _git(self, args: list[str], cwd: Path | None = None) -> None:
        (git.Git(cwd) if cwd else git.Git()).execute(["git", *args], env=self._env())

    def _clone_or_fetch(self, url: str, dest: Path) -> git.Repo:
        started = time.monotonic()
        try:
            if (dest / ".git").exists():
                repo = git.Repo(dest)
                if dest not in self._fetched:
                    self._git(["fetch", "--quiet", "--tags", "--force", "origin"], dest)
            else:
                dest.parent.mkdir(parents=True, exist_ok=True)
                base = ["clone", "--quiet", "--no-checkout"]
                try:
                    self._git([*base, "--filter=blob:none", url, str(dest)])
                except git.GitCommandError as e:  # a server without partial-clone support
                    if _HOST_DOWN.search(str(e.stderr)):
                        raise
                    self._git([*base, url, str(dest)])
                repo = git.Repo(dest)
        except git.GitCommandError as e:
            raise WorkspaceError(f"cannot clone {self._redact(url)}: {self._redact(str(e.stderr).strip())}") from e
        finally:
            with self._seconds_guard:
                self.clone_seconds += time.monotonic() - started
        self._fetched.add(dest)
        return repo

    def _worktree(self, clone_dir: Path, sha: str) -> Path:
        """A worktree of the clone at `sha`, created once and reused across runs."""
        path = clone_dir.with_name(f"{clone_dir.name}@{sha[:12]}")
        try:
            if (path / ".git").exists():
                self._git(["checkout", "--quiet", "--force", "--detach", sha], path)
            else:
                shutil.rmtree(path, ignore_errors=True)  # what a killed run left half-made
                self._git(["worktree", "prune"], clone_dir)  # a worktree deleted by hand is forgotten first
                self._git(["worktree", "add", "--quiet", "--force", "--detach", str(path), sha], clone_dir)
        except git.GitCommandError as e:
            raise WorkspaceError(f"cannot check out {sha[:12]}: {self._redact(str(e.stderr).strip())}") from e
        return path

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

    def _clone(self, repo: str) -> git.Repo:
        """The repository's cached clone, fetched once per run (under the host's breaker)."""
        url, _web = self._url(repo)
        breaker = self._breaker(url)
        if breaker is not None and (cause := breaker.skip()) is not None:
            raise WorkspaceError(f"{breaker.name} skipped: unavailable earlier in this run ({cause})")
        try:
            return self._clone_or_fetch(url, self._cache / re.sub(r"[^\w.-]+", "_", repo.strip("/"))[-80:])
        except WorkspaceError as e:
            if breaker is not None and _HOST_DOWN.search(e.message):
                breaker.trip(e.message)
            raise

    # --- ports.History: which deployed version contains which commit --------------------------------
    def commit_for(self, repo: str, version: str, tag_pattern: str | None) -> str | None:
        """The commit a deployed version names (sha, `tag_pattern` tag or a tag of that name), else None."""
        with self._lock(repo):
            matched = self._match_version(self._clone(repo), version, tag_pattern)
        return matched[0] if matched else None

    def contains(self, repo: str, commit: str, ancestor: str) -> bool:
        """`git merge-base --is-ancestor ancestor commit`."""
        with self._lock(repo):
            clone = self._clone(repo)
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
            clone = self._clone(repo)
            try:
                out = clone.git.log("--max-count=20", "--format=%H %s", f"{older}..{newer}", "--", *paths)
            except git.GitCommandError as e:
                raise WorkspaceError(f"cannot list {older[:12]}..{newer[:12]}: {str(e.stderr).strip()}") from e
        return [line for line in str(out).splitlines() if line.strip()]

    def checkout(self, repo: str, version: str | None, branch: str, tag_pattern: str | None) -> CheckedOut:
        """The repo checked out (detached) at the deployed commit, or the branch head with the reason."""
        with self._lock(repo):
            key = (repo, version)
            if key in self._done:
                return self._done[key]
            url, web = self._url(repo)
            breaker = self._breaker(url)
            if breaker is not None and (cause := breaker.skip()) is not None:
                raise WorkspaceError(f"{breaker.name} skipped: unavailable earlier in this run ({cause})")
            clone_dir = self._cache / re.sub(r"[^\w.-]+", "_", repo.strip("/"))[-80:]
            try:
                clone = self._clone_or_fetch(url, clone_dir)
            except WorkspaceError as e:
                if breaker is not None and _HOST_DOWN.search(e.message):
                    breaker.trip(e.message)
                raise
            sha, how = self._resolve(clone, version, branch, tag_pattern)
            path = self._worktree(clone_dir, sha)
            done = CheckedOut(repo=repo, path=path, commit=sha, ref_source=how, web_url=web)
            self._done[key] = done
            return done
