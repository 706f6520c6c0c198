"""Draft pull requests for approved patches (GitPython for the branch, PyGithub for the PR).

One branch and one PR per fingerprint: a second proposal force-pushes the branch and edits the PR,
never opens another; a PR a person closed is left alone. The token travels to git as an HTTP header
through `GIT_CONFIG_*` environment variables: never in a URL, .git/config, the command line or a
log. Nothing is ever merged."""

from __future__ import annotations

import base64
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import git
import github
from github.PullRequest import PullRequest
from github.Repository import Repository

from error_autopilot.domain.errors import SinkError
from error_autopilot.ports import ProposedChange
from error_autopilot.resilience import Breaker
from error_autopilot.sinks.github_issues import guarded
from error_autopilot.state.model import PrRef

log = logging.getLogger(__name__)


def branch_for(fingerprint: str) -> str:
    """The one branch a fingerprint's fix lives on."""
    return f"error-autopilot/{fingerprint[:10]}"


def _github_error(e: github.GithubException, repo: str) -> SinkError:
    data = e.data if isinstance(e.data, dict) else {}
    details = "; ".join(str(x.get("message") or x.get("code")) for x in data.get("errors", []) if isinstance(x, dict))
    message = f"GitHub refused the pull request on {repo}: HTTP {e.status}: {data.get('message', e)}"
    hint = None
    if e.status == 403 and "not permitted to create" in str(data.get("message", "")):
        hint = "enable 'Allow GitHub Actions to create and approve pull requests', or use a GitHub App token"
    return SinkError(message + (f" ({details})" if details else ""), hint=hint)


class GitHubChangeProposer:
    """ports.ChangeProposer over a git remote and the GitHub pulls API."""

    def __init__(
        self, gh: github.Github, *, clone_url_for: Callable[[str], str], work_dir: Path, token: str | None,
        bot_name: str, bot_email: str, breaker: Breaker | None = None,
    ) -> None:  # fmt: skip
        self._gh = gh
        self._breaker = breaker
        self._clone_url_for = clone_url_for
        self._work = work_dir.resolve()  # git runs inside the clone, so paths handed to it must be absolute
        self._token = token
        self._author = git.Actor(bot_name, bot_email)

    def _env(self) -> dict[str, str]:
        env = {"GIT_TERMINAL_PROMPT": "0"}
        if self._token:
            basic = base64.b64encode(f"x-access-token:{self._token}".encode()).decode()
            count = int(os.environ.get("GIT_CONFIG_COUNT") or 0)  # keep any configuration already passed this way
            env |= {"GIT_CONFIG_COUNT": str(count + 1), f"GIT_CONFIG_KEY_{count}": "http.extraHeader",
                    f"GIT_CONFIG_VALUE_{count}": f"Authorization: Basic {basic}"}  # fmt: skip
        return env

    def _git(self, repo: git.Repo | None, *args: str) -> str:
        runner = repo.git if repo is not None else git.Git()
        try:
            return str(runner.execute(["git", *args], env={**os.environ, **self._env()}))
        except git.GitCommandError as e:
            stderr = str(e.stderr).replace(self._token, "***") if self._token else str(e.stderr)
            raise SinkError(f"git {args[0]} failed: {stderr.strip()}") from e

    def _existing(self, gh_repo: Repository, repo: str, branch: str) -> PullRequest | None:
        owner = repo.split("/", 1)[0]
        pulls = gh_repo.get_pulls(state="all", head=f"{owner}:{branch}")
        return next((p for p in pulls if p.head.ref == branch), None)

    def _push_branch(self, change: ProposedChange, branch: str) -> None:
        work = self._work / change.fingerprint
        shutil.rmtree(work, ignore_errors=True)
        self._git(None, "clone", "--quiet", "--branch", change.base_branch, self._clone_url_for(change.repo), str(work))
        try:
            repo = git.Repo(work)
            repo.git.checkout("-B", branch)
            patch = work / ".git" / "error-autopilot.patch"
            patch.write_text(change.patch if change.patch.endswith("\n") else change.patch + "\n", encoding="utf-8")
            try:
                repo.git.apply("--check", str(patch))
                repo.git.apply(str(patch))
            except git.GitCommandError as e:
                raise SinkError(
                    f"the patch does not apply to {change.repo}@{change.base_branch}: {str(e.stderr).strip()}"
                ) from e
            repo.git.add("-A")
            message = f"{change.title}\n\nFixes #{change.issue_number}"
            repo.index.commit(message, author=self._author, committer=self._author)
            # the lease is the branch as cloned: a commit pushed there since is never overwritten
            self._git(repo, "push", "--quiet", "--force-with-lease", "origin", f"HEAD:refs/heads/{branch}")
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def propose(self, change: ProposedChange) -> tuple[PrRef, str]:
        """Open or update the draft PR for this fingerprint (`created` / `updated` / `none` when a person
        closed it)."""
        return guarded(self._breaker, "propose a pull request", lambda: self._propose(change))

    def _propose(self, change: ProposedChange) -> tuple[PrRef, str]:
        branch = branch_for(change.fingerprint)
        body = change.body if f"Fixes #{change.issue_number}" in change.body else (
            f"Fixes #{change.issue_number}\n\n{change.body}")  # fmt: skip
        try:
            gh_repo = self._gh.get_repo(change.repo)
            pull = self._existing(gh_repo, change.repo, branch)
            if pull is not None and pull.state != "open":
                log.info("%s#%d was closed by a person: not proposing %s again", change.repo, pull.number, branch)
                state = "merged" if pull.merged_at else "closed"
                return PrRef(
                    repo=change.repo, number=pull.number, url=pull.html_url, branch=branch, state=state
                ), "none"
            self._push_branch(change, branch)
            if pull is not None:
                pull.edit(title=change.title, body=body)
                action = "updated"
            else:
                pull = gh_repo.create_pull(base=change.base_branch, head=branch, title=change.title, body=body,
                                           draft=True)  # fmt: skip
                action = "created"
        except github.GithubException as e:
            raise _github_error(e, change.repo) from e
        return PrRef(repo=change.repo, number=pull.number, url=pull.html_url, branch=branch), action
