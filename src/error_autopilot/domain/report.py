"""The run report: one JSON per run, the source of the job summary and the notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from error_autopilot.domain.base import Frozen
from error_autopilot.domain.decisions import RuleOutcome
from error_autopilot.domain.incidents import IncidentStatus, PollWindow

REPORT_SCHEMA_VERSION = 1


class PublishedIncident(Frozen):
    """What publish did for one incident."""

    fingerprint: str
    service: str
    environment: str
    title: str
    status: IncidentStatus
    count: int
    issue_url: str | None = None
    issue_number: int | None = None
    issue_repo: str | None = None
    issue_action: Literal["created", "updated", "reopened", "unchanged", "commented", "skipped", "failed"] = "skipped"
    pr_url: str | None = None
    pr_number: int | None = None
    pr_branch: str | None = None
    pr_repo: str | None = None
    pr_action: Literal["created", "updated", "none", "failed"] = "none"
    culprit: str | None = None  # "user-service UserRepository.kt:42"
    policy_refusals: tuple[RuleOutcome, ...] = ()
    error: str | None = None
    tokens_used: int = 0
    note: str | None = None  # what the lifecycle said: "still seen on v1 in prod; the fix is not deployed there"


class LifecycleEvent(Frozen):
    """Something that happened to an incident's issue after it was filed (this run's sync)."""

    kind: Literal["fixed", "verified", "muted", "reopened", "closed"]
    fingerprint: str
    service: str
    title: str
    issue_url: str | None = None
    detail: str = ""  # "fix 1a2b3c4d5e6f (closing commit)", "verified fixed in v2 (prod)"
    environment: str = ""  # where it was verified (the other kinds concern the issue, not one environment)


class RunReport(Frozen):
    """Everything a person needs to trust (or debug) one run."""

    schema_version: Literal[1] = 1
    run_id: str
    trigger: str
    started_at: datetime
    finished_at: datetime
    dry_run: bool = False
    windows: tuple[PollWindow, ...] = ()
    incidents: tuple[PublishedIncident, ...] = ()
    durations_s: dict[str, float] = {}
    tokens_used: int = 0
    truncated: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    notifications: tuple[str, ...] = ()  # "telegram -100123: sent 1 message", or the failure
    lifecycle: tuple[LifecycleEvent, ...] = ()  # issues fixed, verified, muted or reopened since the last run
    digest: str = ""  # the periodic "are we getting better" section (markdown), when one is due

    def count(self, status: IncidentStatus) -> int:
        """Incidents of one status."""
        return sum(1 for i in self.incidents if i.status == status)
