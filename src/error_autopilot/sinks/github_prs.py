"""Draft pull requests for approved patches (GitPython for the branch, PyGithub for the PR).

One branch and one PR per fingerprint: a second proposal force-pushes the branch and edits the PR,
never opens another. The token travels as a per-command HTTP header, never in a URL or
.git/config. Nothing is ever merged."""

from __future__ import annotations

import base64
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import git
import github

from error_autopilot.domain.errors import SinkError
from error_autopilot.ports import ProposedChange
from error_autopilot.state.model import PrRef

log = logging.getLogger(__name__)


class GitHubChangeProposer:
    """ports.ChangeProposer over a git remote and the GitHub pulls API."""

    def __init__(
        self, gh: github.Github, *, clone_url_for: Callable[[str], str], work_dir: Path, token: str | None,
        bot_name: str, bot_email: str,
    ) -> None:  # fmt: skip
        self._gh = gh
        self._clone_url_for = clone_url_for
        self._work = work_dir.resolve()  # git runs inside the clone, so paths handed to it must be absolute
        self._token = token
        self._author = git.Actor(bot_name, bot_email)

    def _git(self, repo: git.Repo | None, *args: str) -> str:
        header = []
        if self._token:
            basic = base64.b64encode(f"x-access-token:{self._token}".encode()).decode()
            header = ["-c", f"http.extraHeader=Authorization: Basic {basic}"]
        try:
            runner = repo.git if repo is not None else git.Git()
            return str(runner.execute(["git", *header, *args]))
        except git.GitCommandError as e:
            stderr = str(e.stderr).replace(self._token, "***") if self._token else str(e.stderr)
            raise SinkError(f"git {args[0]} failed: {stderr.strip()}") from e

    def propose(self, change: ProposedChange) -> tuple[PrRef, str]:
        """Open or update the draft PR for this fingerprint."""
        branch = f"error-autopilot/{change.fingerprint[:10]}"
        work = self._work / change.fingerprint
        if work.exists():
            shutil.rmtree(work)
        self._git(None, "clone", "--quiet", "--branch", change.base_branch, self._clone_url_for(change.repo), str(work))
        repo = git.Repo(work)
        repo.git.checkout("-B", branch)
        patch = work.parent / f"{change.fingerprint}.patch"
        patch.write_text(change.patch if change.patch.endswith("\n") else change.patch + "\n", encoding="utf-8")
        try:
            repo.git.apply("--check", str(patch))
            repo.git.apply(str(patch))
        except git.GitCommandError as e:
            raise SinkError(
                f"the patch does not apply to {change.repo}@{change.base_branch}: {e.stderr.strip()}"
            ) from e
        repo.git.add("-A")
        repo.index.commit(
            f"{change.title}\n\nFixes #{change.issue_number}", author=self._author, committer=self._author
        )
        self._git(repo, "push", "--quiet", "--force", "origin", f"HEAD:refs/heads/{branch}")
        try:
            gh_repo = self._gh.get_repo(change.repo)
            owner = change.repo.split("/", 1)[0]
            existing = [p for p in gh_repo.get_pulls(state="open", head=f"{owner}:{branch}") if p.head.ref == branch]
            if existing:
                pull = existing[0]
                pull.edit(title=change.title, body=change.body)
                action = "updated"
            else:
                pull = gh_repo.create_pull(base=change.base_branch, head=branch, title=change.title, body=change.body,
                                           draft=True)  # fmt: skip
                action = "created"
        except github.GithubException as e:
            message = e.data.get("message") if isinstance(e.data, dict) else e
            raise SinkError(f"GitHub refused the pull request on {change.repo}: HTTP {e.status}: {message}") from e
        return PrRef(repo=change.repo, number=pull.number, url=pull.html_url, branch=branch), action
