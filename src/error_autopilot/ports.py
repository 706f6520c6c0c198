"""The small interfaces the pipeline talks to. Adapters implement them; only app.py wires them."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from error_autopilot.domain.decisions import Decision
from error_autopilot.domain.events import LogEntry
from error_autopilot.domain.findings import AgentAnalysis, Finding
from error_autopilot.domain.incidents import PlannedIncident
from error_autopilot.domain.report import RunReport
from error_autopilot.domain.traces import Trace
from error_autopilot.state.model import IssueRef, PrRef, State


@dataclass
class PollStats:
    """Filled in by an EventSource while it streams (mutable on purpose: it grows page by page)."""

    pages: int = 0
    lines: int = 0
    truncated: bool = False
    truncated_reason: str = ""
    last_ts_ns: int | None = None


class EventSource(Protocol):
    """One environment's logs (Loki)."""

    def poll(self, start_ns: int, end_ns: int, stats: PollStats) -> Iterator[LogEntry]:
        """Yield error entries in [start_ns, end_ns) oldest first, each exactly once."""
        ...

    def pages(self, start_ns: int, end_ns: int, stats: PollStats) -> Iterator[list[LogEntry]]:
        """The same entries a page at a time (a storm's lines are many: a page's loop is cheaper than a
        generator step per line)."""
        ...

    def around(self, labels: Mapping[str, str], start_ns: int, end_ns: int, limit: int) -> list[LogEntry]:
        """At most `limit` lines of one stream in [start_ns, end_ns), oldest first, none filtered out."""
        ...


class TraceSource(Protocol):
    """One environment's traces (Tempo)."""

    def get_trace(self, trace_id: str) -> Trace:
        """The trace, or a Trace with status not_found/unavailable; raises only on bad config."""
        ...


@dataclass(frozen=True)
class CheckedOut:
    """A repository checked out at a commit, read-only to the rest of the pipeline."""

    repo: str
    path: Path
    commit: str
    ref_source: str  # how the commit was chosen ("tag v1.2.3", "sha from service.version", "branch main")
    web_url: str | None = None  # https://github.com/o/r, for permalinks


class Workspace(Protocol):
    """Clones/checkouts of service repositories."""

    def checkout(self, repo: str, version: str | None, branch: str, tag_pattern: str | None) -> CheckedOut:
        """Check `repo` out at the deployed `version` (sha or tag), else the head of `branch`."""
        ...

    def prefetch_history(self, checkout: CheckedOut, paths: Sequence[str]) -> int:
        """Make the past versions of `paths` local before blame reads them (one request, best effort);
        returns how many were fetched."""
        ...


@dataclass
class Budget:
    """Token/turn/time allowance for one incident's analysis (mutable: spent as it goes)."""

    tokens: int
    turns: int
    seconds: float
    spent_tokens: int = 0
    notes: list[str] = field(default_factory=list)


class Analyst(Protocol):
    """The optional LLM investigator."""

    def analyse(
        self, planned: PlannedIncident, finding: Finding, checkouts: Sequence[CheckedOut], budget: Budget
    ) -> AgentAnalysis | None:
        """Refine the deterministic finding; None when it had nothing valid to add."""
        ...


@dataclass(frozen=True)
class RenderedIssue:
    """A rendered issue ready for any tracker."""

    title: str
    body: str
    labels: tuple[str, ...]
    fingerprint: str


@dataclass(frozen=True)
class IssueOutcome:
    """What the tracker did."""

    ref: IssueRef
    action: str  # created | updated | reopened | unchanged | commented (a closed issue left closed)


class IssueTracker(Protocol):
    """Where issues live (GitHub, or a local folder)."""

    def find(self, repo: str, fingerprint: str) -> IssueRef | None:
        """The issue carrying this fingerprint's marker, open or closed."""
        ...

    def upsert(
        self, repo: str, issue: RenderedIssue, known: IssueRef | None, regressed: bool, comment: str | None
    ) -> IssueOutcome:
        """Create, update in place, or reopen; never a second issue for one fingerprint."""
        ...

    def list_markers(self, repo: str) -> dict[str, IssueRef]:
        """Every fingerprint marker in the repo's error-autopilot issues (state rebuild)."""
        ...


@dataclass(frozen=True)
class IssueChange:
    """An issue a person closed or reopened since the last listing."""

    number: int
    state: str  # open | closed
    state_reason: str | None  # completed | not_planned | reopened | None
    closed_at: datetime | None


class IssueLifecycle(Protocol):
    """What people did to the issues (GitHub only): one listing per repository and run."""

    def changes_since(self, repo: str, since: datetime | None) -> list[IssueChange]:
        """Our issues updated since `since` (all of them when None), in one paginated listing."""
        ...

    def fix_commit(self, repo: str, number: int) -> str | None:
        """The commit that closed the issue ("Fixes #n" in a commit or a merged PR), if any."""
        ...

    def merge_commit(self, repo: str, pr_number: int) -> str | None:
        """The merge commit of a merged pull request, else None."""
        ...

    def note(self, repo: str, number: int, comment: str, label: str) -> None:
        """Comment on the issue and add a label (without changing its state)."""
        ...

    def known_labels(self) -> dict[str, tuple[str, ...]]:
        """Labels known to exist, per repository (created or found this run or remembered)."""
        ...

    def remember_labels(self, labels: dict[str, tuple[str, ...]]) -> None:
        """Labels state says already exist: they are not created again."""
        ...


class History(Protocol):
    """Which deployed version contains which commit (git ancestry on the service's clone)."""

    def commit_for(self, repo: str, version: str, tag_pattern: str | None) -> str | None:
        """The commit a deployed version names (a sha, or a tag via `tag_pattern`); None when unknown."""
        ...

    def contains(self, repo: str, commit: str, ancestor: str) -> bool:
        """Whether `commit` has `ancestor` in its history."""
        ...

    def commits_between(self, repo: str, older: str, newer: str, paths: Sequence[str]) -> list[str]:
        """`git log older..newer -- paths`, one "sha subject" per commit, newest first."""
        ...


@dataclass(frozen=True)
class ProposedChange:
    """An approved patch to turn into a draft PR."""

    repo: str
    base_branch: str
    base_commit: str
    fingerprint: str
    patch: str
    title: str
    body: str
    issue_number: int


class ChangeProposer(Protocol):
    """Draft pull requests."""

    def propose(self, change: ProposedChange) -> tuple[PrRef, str]:
        """Open or update the draft PR; returns it and `created`/`updated`."""
        ...


class Notifier(Protocol):
    """Telegram (or nothing)."""

    def notify(self, report: RunReport) -> list[str]:
        """Send the run's news; returns one line per chat saying what happened. Never raises."""
        ...


class StateStore(Protocol):
    """The state file on its branch."""

    def load(self) -> State:
        """The current state (an empty State when the branch does not exist yet)."""
        ...

    def update(self, mutate: Callable[[State], State], message: str) -> State:
        """Re-read, apply `mutate`, commit and push; retried on a rejected push."""
        ...


class Clock(Protocol):
    """Time, injectable for tests."""

    def now(self) -> datetime:
        """Aware UTC now."""
        ...


__all__ = [
    "Analyst", "Budget", "ChangeProposer", "CheckedOut", "Clock", "Decision", "EventSource", "History",
    "IssueChange", "IssueLifecycle", "IssueOutcome", "IssueTracker", "Notifier",
    "PollStats", "ProposedChange", "RenderedIssue",
    "StateStore", "TraceSource", "Workspace",
]  # fmt: skip
