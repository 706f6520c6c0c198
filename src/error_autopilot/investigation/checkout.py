"""Service repositories checked out at the deployed commit, cached across runs (GitPython).

A partial clone (`--filter=blob:none`) fetches history without file contents, so blame and log
stay cheap; contents arrive on checkout. A token is passed per command as an HTTP header, never
written to .git/config, never in a URL, never logged."""

from __future__ import annotations

import base64
import logging
import re
import time
from pathlib import Path

import git

from error_autopilot.domain.errors import WorkspaceError
from error_autopilot.ports import CheckedOut

log = logging.getLogger(__name__)

_OWNER_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_SHA = re.compile(r"^[0-9a-f]{7,40}$")
_NO_PROMPT = {"GIT_TERMINAL_PROMPT": "0"}  # a refused clone must fail, never wait for a password


class GitWorkspace:
    """ports.Workspace: one checkout per repo per run, in `cache_dir`."""

    def __init__(self, cache_dir: Path, *, github_url: str = "https://github.com", token: str | None = None) -> None:
        self._cache = cache_dir.resolve()  # later steps (patch checks) run git from other directories
        self._github_url = github_url.rstrip("/")
        self._token = token
        self._done: dict[tuple[str, str | None], CheckedOut] = {}
        self.clone_seconds = 0.0

    def _url(self, repo: str) -> tuple[str, str | None]:
        """(clone URL, web URL for permalinks)."""
        if _OWNER_NAME.match(repo) and not Path(repo).exists():
            return f"{self._github_url}/{repo}.git", f"{self._github_url}/{repo}"
        if repo.startswith(("http://", "https://", "git@", "ssh://", "file://")):
            web = repo.removesuffix(".git") if repo.startswith("https://") else None
            return repo, web
        return str(Path(repo).resolve()), None

    def _config(self) -> list[str]:
        if not self._token:
            return []
        basic = base64.b64encode(f"x-access-token:{self._token}".encode()).decode()
        return ["-c", f"http.extraHeader=Authorization: Basic {basic}"]

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    def _clone_or_fetch(self, url: str, dest: Path) -> git.Repo:
        started = time.monotonic()
        try:
            if (dest / ".git").exists():
                repo = git.Repo(dest)
                repo.git.execute(
                    ["git", *self._config(), "fetch", "--quiet", "--tags", "--force", "origin"], env=_NO_PROMPT
                )
            else:
                dest.parent.mkdir(parents=True, exist_ok=True)
                base = ["git", *self._config(), "clone", "--quiet", "--no-checkout"]
                try:
                    git.Git().execute([*base, "--filter=blob:none", url, str(dest)], env=_NO_PROMPT)
                except git.GitCommandError:  # a server without partial-clone support
                    git.Git().execute([*base, url, str(dest)], env=_NO_PROMPT)
                repo = git.Repo(dest)
        except git.GitCommandError as e:
            raise WorkspaceError(f"cannot clone {self._redact(url)}: {self._redact(str(e.stderr).strip())}") from e
        finally:
            self.clone_seconds += time.monotonic() - started
        return repo

    def _resolve(self, repo: git.Repo, version: str | None, branch: str, tag_pattern: str | None) -> tuple[str, str]:
        if version:
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
        try:
            sha = str(repo.git.rev_parse("--verify", f"refs/remotes/origin/{branch}^{{commit}}"))
        except git.GitCommandError as e:
            raise WorkspaceError(f"branch {branch!r} not found in the repository") from e
        why = f"version {version!r} not found in the repository" if version else "deployed version unknown"
        return sha, f"branch {branch} head ({why})"

    def checkout(self, repo: str, version: str | None, branch: str, tag_pattern: str | None) -> CheckedOut:
        """The repo checked out (detached) at the deployed commit, or the branch head with the reason."""
        key = (repo, version)
        if key in self._done:
            return self._done[key]
        url, web = self._url(repo)
        dest = self._cache / re.sub(r"[^\w.-]+", "_", repo.strip("/"))[-80:]
        clone = self._clone_or_fetch(url, dest)
        sha, how = self._resolve(clone, version, branch, tag_pattern)
        try:
            clone.git.execute(["git", *self._config(), "checkout", "--quiet", "--force", "--detach", sha])
        except git.GitCommandError as e:
            raise WorkspaceError(f"cannot check out {sha[:12]} of {repo}: {self._redact(str(e.stderr).strip())}") from e
        done = CheckedOut(repo=repo, path=dest, commit=sha, ref_source=how, web_url=web)
        self._done[key] = done
        return done
