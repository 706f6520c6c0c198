"""One living GitHub issue per fingerprint (PyGithub; `base_url` makes GHES work the same).

Issues are found again by the hidden marker in their body: search first, then listing the
`error-autopilot` label (search is rate limited and eventually consistent, so a fresh issue may not
be found by it yet). Look before create makes a retried run update instead of duplicating.
A GitHub that cannot be reached (transport errors, 5xx after the retries) opens the run's breaker:
every later call fails at once with the first cause, and the incidents stay pending for the next run.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import github
import requests
from github.Issue import Issue

from error_autopilot.domain.errors import SinkError, SinkRateLimited
from error_autopilot.ports import IssueChange, IssueOutcome, RenderedIssue
from error_autopilot.resilience import Breaker
from error_autopilot.sinks.markers import merge_body, parse_marker
from error_autopilot.state.model import IssueRef

log = logging.getLogger(__name__)
T = TypeVar("T")
LABEL = "error-autopilot"
LIFECYCLE_LABELS = ("regressed", "verified")


def _message(e: github.GithubException) -> str:
    data = e.data if isinstance(e.data, dict) else {}
    details = "; ".join(str(x.get("message") or x.get("code")) for x in data.get("errors", []) if isinstance(x, dict))
    return f"HTTP {e.status}: {data.get('message', e)}" + (f" ({details})" if details else "")


def guarded(breaker: Breaker | None, what: str, fn: Callable[[], T]) -> T:
    """Run a unit of GitHub work under the run's breaker: skipped at once when GitHub is already known
    to be down; a transport error or a 5xx that outlived the retries opens the breaker."""
    if breaker is not None and (cause := breaker.skip()) is not None:
        raise SinkError(f"GitHub API skipped: unavailable earlier in this run ({cause})")
    try:
        return fn()
    except requests.RequestException as e:
        error = SinkError(f"GitHub API unreachable while trying to {what}: {type(e).__name__}: {e}")
        if breaker is not None:
            breaker.trip(error.message)
        raise error from e
    except SinkError as e:
        cause_e = e.__cause__
        if breaker is not None and isinstance(cause_e, github.GithubException) and cause_e.status >= 500:
            breaker.trip(e.message)
        raise


class GitHubIssueTracker:
    """ports.IssueTracker over GitHub issues."""

    def __init__(
        self, gh: github.Github, *, retry_sleep: Callable[[float], None] = time.sleep, max_retries: int = 3,
        breaker: Breaker | None = None,
    ):  # fmt: skip
        self._gh = gh
        self._breaker = breaker
        self._sleep = retry_sleep
        self._retries = max_retries
        # label creation is a write: once per repository, remembered in state across runs
        self._labels_ready: set[tuple[str, str]] = set()

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """Run a GitHub call, waiting out secondary rate limits (403/429 with Retry-After) and retrying 5xx."""
        for attempt in range(self._retries + 1):
            try:
                return fn()
            except github.GithubException as e:
                limited = e.status == 429 or (e.status == 403 and "rate limit" in str(e.data).lower())
                if e.status >= 500 and attempt < self._retries:
                    log.warning("GitHub answered %s to %s; retry %d", e.status, what, attempt + 1)
                    self._sleep(2.0**attempt)
                    continue
                if not limited:
                    raise SinkError(f"GitHub refused to {what}: {_message(e)}") from e
                if attempt == self._retries:
                    raise SinkRateLimited(f"GitHub kept rate limiting '{what}': {_message(e)}") from e
                wait = float((e.headers or {}).get("retry-after") or (e.headers or {}).get("Retry-After") or 60)
                log.warning("GitHub rate limit on %s; retrying in %.0fs", what, wait)
                self._sleep(wait)
        raise AssertionError("unreachable")

    @staticmethod
    def _ref(repo: str, issue: Issue) -> IssueRef:
        return IssueRef(
            repo=repo, number=issue.number, url=issue.html_url, state="closed" if issue.state == "closed" else "open"
        )

    def _search(self, repo: str, fingerprint: str) -> Issue | None:
        query = f'"error-autopilot:fingerprint={fingerprint}" in:body repo:{repo} label:{LABEL} is:issue'
        try:
            for issue in self._gh.search_issues(query):
                if parse_marker(issue.body) == fingerprint:
                    return issue
        except github.GithubException as e:  # rate limited or refused: the label listing still works
            log.info("issue search unavailable (%s); listing by label instead", _message(e))
        return None

    def _listing(self, repo: str) -> dict[str, Issue]:
        found: dict[str, Issue] = {}
        issues = self._call(
            "list issues", lambda: list(self._gh.get_repo(repo).get_issues(state="all", labels=[LABEL]))
        )
        for issue in issues:
            fp = parse_marker(issue.body)
            if fp and fp not in found:
                found[fp] = issue
        return found

    def _locate(self, repo: str, fingerprint: str, known: IssueRef | None) -> Issue | None:
        if known is not None and known.repo == repo:
            try:
                issue = self._gh.get_repo(repo).get_issue(known.number)
                if parse_marker(issue.body) == fingerprint:
                    return issue
            except github.GithubException as e:
                log.info("known issue %s#%d not readable (%s); searching", repo, known.number, _message(e))
        return self._search(repo, fingerprint) or self._listing(repo).get(fingerprint)

    def find(self, repo: str, fingerprint: str) -> IssueRef | None:
        """The issue carrying this fingerprint's marker, open or closed."""
        issue = guarded(self._breaker, "find an issue", lambda: self._locate(repo, fingerprint, None))
        return self._ref(repo, issue) if issue else None

    def _ensure_labels(self, repo: str, labels: tuple[str, ...]) -> None:
        missing = [n for n in (*labels, *LIFECYCLE_LABELS) if (repo, n) not in self._labels_ready]
        if not missing:
            return
        gh_repo = self._call("read the repository", lambda: self._gh.get_repo(repo))
        for name in missing:
            color = {LABEL: "d73a4a", "regressed": "d73a4a", "verified": "0e8a16"}.get(name, "ededed")
            try:
                self._call(f"create label {name!r} in {repo}", functools.partial(gh_repo.create_label, name, color))
            except SinkError as e:
                cause = e.__cause__
                if not (isinstance(cause, github.GithubException) and cause.status == 422):
                    raise  # 422 already_exists is the normal case
            self._labels_ready.add((repo, name))

    def upsert(
        self, repo: str, issue: RenderedIssue, known: IssueRef | None, regressed: bool, comment: str | None
    ) -> IssueOutcome:
        """Create, update in place, or reopen a closed issue as a regression; never a second issue."""
        return guarded(
            self._breaker, "publish an issue", lambda: self._upsert(repo, issue, known, regressed, comment)
        )

    def _upsert(
        self, repo: str, issue: RenderedIssue, known: IssueRef | None, regressed: bool, comment: str | None
    ) -> IssueOutcome:
        self._ensure_labels(repo, issue.labels)
        existing = self._locate(repo, issue.fingerprint, known)
        if existing is None:
            gh_repo = self._call("read the repository", lambda: self._gh.get_repo(repo))
            created = self._call(
                "create an issue",
                lambda: gh_repo.create_issue(title=issue.title, body=issue.body, labels=list(issue.labels)),
            )
            return IssueOutcome(self._ref(repo, created), "created")
        current = sorted(label.name for label in existing.labels)
        labels = sorted({*current, *issue.labels})
        body = merge_body(existing.body, issue.body)  # a run without a finding keeps the evidence already there
        if existing.state == "closed" and known is not None and known.state == "closed" and not regressed:
            # state knows it was closed and judged this no regression (an old version still running)
            if not comment:
                return IssueOutcome(self._ref(repo, existing), "unchanged")
            self._call("comment", lambda: existing.create_comment(comment))
            return IssueOutcome(self._ref(repo, existing), "commented")
        if existing.state == "closed":
            labels = sorted({*labels, "regressed"})
            self._call(
                "reopen an issue",
                lambda: existing.edit(state="open", title=issue.title, body=body, labels=labels),
            )
            note = comment or (
                "🔁 **Regression**: this error is back after the issue was closed (reopened by error-autopilot)."
            )
            self._call("comment", lambda: existing.create_comment(note))
            return IssueOutcome(self._ref(repo, existing).model_copy(update={"state": "open"}), "reopened")
        unchanged = existing.body == body and existing.title == issue.title and current == labels
        if not unchanged:
            self._call("update an issue", lambda: existing.edit(title=issue.title, body=body, labels=labels))
        if comment:
            self._call("comment", lambda: existing.create_comment(comment))
        return IssueOutcome(self._ref(repo, existing), "unchanged" if unchanged else "updated")

    def list_markers(self, repo: str) -> dict[str, IssueRef]:
        """Every fingerprint marker in the repo's error-autopilot issues (to rebuild lost state)."""
        listing = guarded(self._breaker, "list issues", lambda: self._listing(repo))
        return {fp: self._ref(repo, issue) for fp, issue in listing.items()}

    # --- the lifecycle people drive (ports.IssueLifecycle) -----------------------------------------
    def changes_since(self, repo: str, since: datetime | None) -> list[IssueChange]:
        """Our issues updated since `since`, open and closed, in one paginated listing."""

        def listing() -> list[IssueChange]:
            gh_repo = self._gh.get_repo(repo)
            issues = gh_repo.get_issues(state="all", labels=[LABEL], since=since) if since else (
                gh_repo.get_issues(state="all", labels=[LABEL]))  # fmt: skip
            # only fields the listing carries: reading another (`pull_request`) would fetch each issue again
            return [
                IssueChange(number=i.number, state=i.state, state_reason=i.state_reason, closed_at=i.closed_at)
                for i in issues
            ]

        return guarded(self._breaker, "list changed issues", lambda: self._call("list changed issues", listing))

    def fix_commit(self, repo: str, number: int) -> str | None:
        """The `commit_id` of the latest `closed` event: set when "Fixes #n" in a commit or merged PR closed it."""

        def events() -> str | None:
            closing = [e for e in self._gh.get_repo(repo).get_issue(number).get_events() if e.event == "closed"]
            return closing[-1].commit_id if closing else None

        return guarded(self._breaker, "read issue events", lambda: self._call("read issue events", events))

    def merge_commit(self, repo: str, pr_number: int) -> str | None:
        """The merge commit of a merged pull request."""

        def pull() -> str | None:
            pr = self._gh.get_repo(repo).get_pull(pr_number)
            return pr.merge_commit_sha if pr.merged else None

        return guarded(self._breaker, "read a pull request", lambda: self._call("read a pull request", pull))

    def note(self, repo: str, number: int, comment: str, label: str) -> None:
        """Comment and label without reopening or editing the body."""

        def write() -> None:
            self._ensure_labels(repo, (label,))
            issue = self._gh.get_repo(repo).get_issue(number)
            issue.create_comment(comment)
            issue.add_to_labels(label)

        guarded(self._breaker, "comment on an issue", lambda: self._call("comment on an issue", write))

    def known_labels(self) -> dict[str, tuple[str, ...]]:
        """Labels known to exist, per repository."""
        out: dict[str, list[str]] = {}
        for repo, name in sorted(self._labels_ready):
            out.setdefault(repo, []).append(name)
        return {repo: tuple(names) for repo, names in out.items()}

    def remember_labels(self, labels: dict[str, tuple[str, ...]]) -> None:
        """Labels state says exist already are never created again."""
        self._labels_ready |= {(repo, name) for repo, names in labels.items() for name in names}
