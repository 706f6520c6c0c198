"""The persisted state: cursors, the incident registry and run bookkeeping (pure, no I/O)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from error_autopilot.domain.incidents import Incident, LineKeys
from error_autopilot.domain.layout import COMPACT

STATE_SCHEMA_VERSION = 4


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Cursor(_Model):
    """Where the next poll of one environment starts."""

    ts_ns: int  # newest line timestamp fully processed
    # keys of the lines inside the overlap window behind ts_ns already counted (`layout.line_key`)
    seen_line_ids: LineKeys = ()
    # lines read per minute (epoch minute → count) for the last hours, to notice lines that reach Loki
    # later than the overlap window: Loki then holds more lines for a minute than we ever read
    minute_counts: dict[int, int] = {}


class IssueRef(_Model):
    """A GitHub (or local) issue for one fingerprint."""

    repo: str
    number: int
    url: str
    state: Literal["open", "closed"] = "open"
    # why a person closed it: "completed" is watched for a regression, "not_planned" mutes it
    state_reason: str | None = None


class PrRef(_Model):
    """A draft PR proposed for one fingerprint."""

    repo: str
    number: int
    url: str
    branch: str
    state: Literal["open", "closed", "merged"] = "open"
    evidence: str = ""  # digest of the patch last pushed: the same patch is never pushed again


class Fix(_Model):
    """The commit that fixed an incident, and which deployed versions carry it."""

    repo: str
    commit: str
    source: str  # how it was found: "closing commit", "PR #12 merged"
    recorded_at: datetime
    in_versions: dict[str, bool] = {}  # deployed version → contains the fix commit (git ancestry)


class Verification(_Model):
    """A fixed version served the quiet period without the error."""

    version: str
    environment: str
    at: datetime


class Deployment(_Model):
    """One version of one service seen running in one environment (from its log lines)."""

    environment: str
    service: str
    version: str
    first_seen: datetime
    last_seen: datetime


class IncidentRecord(_Model):
    """What we remember of one fingerprint across runs."""

    fingerprint: str
    service: str
    environments: tuple[str, ...] = ()
    title: str
    first_seen: datetime
    last_seen: datetime
    total_count: int = 0
    issue: IssueRef | None = None
    pr: PrRef | None = None
    last_analysed: datetime | None = None
    pending: bool = False  # planned but not yet published: retried first next run
    muted: bool = False
    resolved_at: datetime | None = None  # when its issue was seen closed
    trace_ids: tuple[str, ...] = ()  # capped sample
    last_window_count: int = 0  # occurrences in the last published window (to notice a 10× jump)
    pending_incident: Incident | None = None  # occurrences not yet published (retried first), without log lines
    fix: Fix | None = None
    verified: Verification | None = None
    regressed_at: datetime | None = None  # the error came back from a version containing the fix
    first_version: str | None = None  # the earliest deployed version it was seen in
    introduced_after: str | None = None  # the version deployed before it in that environment
    suspects: tuple[str, ...] = ()  # "sha subject" of the commits between the two touching its stack's files
    old_versions_noted: tuple[str, ...] = ()  # versions without the fix already said on the closed issue


class RunBookkeeping(_Model):
    """Spend and history that budgets need."""

    tokens_by_day: dict[str, int] = {}  # "2026-11-25" → tokens
    last_run_id: str | None = None
    last_run_at: datetime | None = None


class State(_Model):
    """The whole state.json."""

    schema_version: int = STATE_SCHEMA_VERSION
    fingerprint_algorithm: int = 1
    cursors: dict[str, Cursor] = {}  # environment → cursor
    incidents: dict[str, IncidentRecord] = {}  # fingerprint → record
    runs: RunBookkeeping = RunBookkeeping()
    labels: dict[str, tuple[str, ...]] = {}  # repository → labels known to exist there (created once)
    synced: dict[str, datetime] = {}  # repository → when its issue changes were last listed
    deployments: dict[str, Deployment] = {}  # "environment/service/version" → where a version runs
    last_digest_at: datetime | None = None  # when the job summary last carried the digest


def state_json(state: State) -> str:
    """state.json as schema 4 writes it: the compact layout (`domain.layout`), keys sorted, one incident
    record a line so the branch's diffs show which incidents a run changed. Schema 3 indented every value:
    8,751 pending incidents took 62.7 MB. Fields at their default are still written (some 15 % of the
    file): the file is read by people and scripts too, and a default changed later cannot change its
    meaning."""
    data = state.model_dump(mode="json", context={COMPACT: True})
    incidents = data.pop("incidents", {})

    def line(value: object) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    records = ",\n".join(f" {line(fp)}:{line(incidents[fp])}" for fp in sorted(incidents))
    head = [f"{line(key)}:{line(data[key])}" for key in sorted(data)]
    return "{\n" + ",\n".join([*head, '"incidents":{\n' + records + "\n}"]) + "\n}\n"
