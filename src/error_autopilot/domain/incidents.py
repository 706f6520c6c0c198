"""Fingerprints and incidents: what `plan` produces."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import (
    BeforeValidator,
    PlainSerializer,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    field_serializer,
    field_validator,
    model_validator,
)

from error_autopilot.domain import layout
from error_autopilot.domain.base import Frozen
from error_autopilot.domain.stack import StackTrace

PLAN_SCHEMA_VERSION = 1
# how many of each an incident keeps, the newest: counting keeps no more, and merging two polls' incidents
# in state caps them again
MAX_TRACE_IDS = 5
MAX_SAMPLES = 5
MAX_VERSIONS = 5

# keys of lines already counted, in JSON packed into one string (see `layout.line_key`)
LineKeys = Annotated[
    tuple[str, ...],
    BeforeValidator(layout.read_line_keys),
    PlainSerializer(layout.write_line_keys, when_used="json"),
]


class FingerprintPart(Frozen):
    """One component of a fingerprint and whether it counted, Sentry-style."""

    name: str  # service | exception_type | frame | message
    value: str
    contributes: bool
    hint: str = ""  # why it does (not) count: "in-app frame", "line number ignored", ...


class Fingerprint(Frozen):
    """A stable, explainable identity of one bug."""

    value: str  # 16 lowercase hex
    algorithm: int
    parts: tuple[FingerprintPart, ...]


class SampleLine(Frozen):
    """A log line kept as evidence."""

    line_id: str
    ts_ns: int
    text: str  # capped
    trace_id: str | None = None
    message: str = ""  # `Type: message` as parsed (first line, capped): what the reader needs of the line
    environment: str = ""
    version: str = ""


class MessageVariable(Frozen):
    """A part of the message that differs between occurrences (a placeholder of the grouping template)."""

    name: str  # the word before it in the message ("code"), else the kind of value ("quoted value")
    kind: str  # the placeholder: int, quoted, path, ...
    distinct: int  # distinct values seen this window (a lower bound when `capped`)
    capped: bool = False


class TimelineCount(NamedTuple):
    """Occurrences in one minute, one environment and one deployed version.

    A named tuple, not a model: an incident holds one per minute, ten thousand incidents hundreds of
    thousands, and as models those took a third of a storm's plan's memory. Written as an object, as
    when it was a model (see `Incident.timeline`)."""

    minute: int  # Unix epoch minute
    environment: str
    version: str  # "" when the events carried no version
    count: int  # type: ignore[assignment]  # hides tuple.count: the key older files have


class Incident(Frozen):
    """All events sharing a fingerprint within one poll."""

    fingerprint: str
    fingerprint_parts: tuple[FingerprintPart, ...] = ()
    algorithm: int = 1
    service: str
    environment: str  # where it was seen first in this poll
    environments: tuple[str, ...] = ()
    exception_type: str | None = None
    title: str
    count: int
    first_seen: datetime
    last_seen: datetime
    trace_ids: tuple[str, ...] = ()  # at most MAX_TRACE_IDS, most recent last
    sample: tuple[SampleLine, ...] = ()  # at most MAX_SAMPLES
    stack: StackTrace | None = None  # one representative stack
    versions: tuple[str, ...] = ()  # deployed versions seen in the events, at most MAX_VERSIONS
    headline: str = ""  # `Type: message` of the most recent occurrence, varying parts replaced by `…`
    variables: tuple[MessageVariable, ...] = ()  # the template's placeholders, with how many values each took
    timeline: tuple[TimelineCount, ...] = ()  # per minute, environment and version (capped, see `timeline_capped`)
    timeline_capped: bool = False
    truncated: tuple[str, ...] = ()  # what was cut from its log lines (a few distinct notes)

    def digest(self) -> str:
        """Names this exact payload, every field included: 128 bits of SHA-256 over its compact JSON."""
        text = self.model_dump_json(context={layout.COMPACT: True})
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]

    @model_validator(mode="before")
    @classmethod
    def _compact_parts(cls, data: Any) -> Any:
        return layout.read_parts(data) if isinstance(data, dict) else data

    @field_validator("timeline", mode="before")
    @classmethod
    def _timeline_series(cls, value: object) -> object:
        return layout.read_timeline(value)

    @field_serializer("timeline", when_used="json")
    def _timeline_cells(self, timeline: tuple[TimelineCount, ...], info: SerializationInfo) -> list[object]:
        """Each cell as `{"minute": …, "environment": …, "version": …, "count": …}`, the layout state had up
        to schema 3; as series under `layout.COMPACT` (all read back)."""
        if layout.compact(info.context) and (series := layout.write_timeline(timeline)) is not None:
            return list(series)
        return [cell._asdict() for cell in timeline]

    @field_serializer("fingerprint_parts", mode="wrap", when_used="json")
    def _parts_rows(
        self, parts: tuple[FingerprintPart, ...], handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> Any:
        """Under `layout.COMPACT`, arrays referring to the stack, service and exception type they repeat."""
        if not layout.compact(info.context):
            return handler(parts)
        exceptions = self.stack.exceptions if self.stack else ()
        frames = [layout.symbol(f.module, f.function) for e in exceptions for f in e.frames]
        return layout.write_parts([p.__dict__ for p in parts], self.__dict__, frames)


IncidentStatus = Literal["new", "recurring", "regressed", "muted", "pending"]
# "full": selected for this run, with every piece of evidence the run read (its sample lines).
# "lean": left pending for a later run (past max_incidents): what state keeps of it, no sample lines
Evidence = Literal["full", "lean"]


class PlannedIncident(Frozen):
    """An incident together with what state says about it."""

    incident: Incident
    status: IncidentStatus
    evidence: Evidence = "full"
    issue_url: str | None = None  # known issue, from state
    issue_number: int | None = None
    issue_repo: str | None = None
    known_environments: tuple[str, ...] = ()  # where state had seen it before this run
    previous_count: int = 0  # occurrences in the previous published window
    issue_closed: bool = False  # its issue is closed (state, synced from GitHub at the start of publish)
    fix_commit: str | None = None  # the commit that closed its issue
    fixed_versions: tuple[str, ...] = ()  # versions it occurred in that contain the fix (a regression)
    old_versions: tuple[str, ...] = ()  # versions it occurred in that predate the fix (not deployed there)
    old_versions_noted: bool = False  # the closed issue already says these versions still log it
    analysis_current: bool = False  # an open draft PR already carries a fix for this same evidence
    first_version: str | None = None  # the version it first appeared in, when known
    introduced_after: str | None = None  # the version deployed before that one
    suspects: tuple[str, ...] = ()  # "sha subject" of commits between the two touching its stack's files
    # the digest (`Incident.digest`) of the pending payload state held for it when the plan was made, merged
    # into `incident`: an earlier recorded plan counted those occurrences. If state no longer holds exactly
    # this payload when the plan is recorded (that run published it meanwhile), recording the plan would
    # count them twice. A digest, not the payload: with thousands pending, that copy was half the plan
    carried: str | None = None

    @field_validator("carried", mode="before")
    @classmethod
    def _carried_digest(cls, value: object) -> object:
        """The payload's digest from the payload itself (what plans before schema 4 held, or a caller's)."""
        if isinstance(value, dict):
            value = Incident.model_validate(value)
        return value.digest() if isinstance(value, Incident) else value


class PollWindow(Frozen):
    """What one environment's poll read."""

    environment: str
    start_ns: int
    end_ns: int
    lines: int = 0
    events: int = 0
    skipped: int = 0  # lines that could not be parsed at all (counted, never silent)
    duplicates: int = 0  # lines inside the overlap already counted by an earlier run
    late: int = 0  # lines older than the overlap window behind the cursor
    pages: int = 0
    truncated: bool = False  # the page cap or deadline stopped the poll early
    truncated_reason: str = ""
    last_ts_ns: int | None = None  # newest line read: the next cursor
    error: str | None = None  # the source failed; the cursor does not move
    tail_line_ids: LineKeys = ()  # keys of the lines read inside the overlap behind last_ts_ns: not to count twice
    minute_counts: dict[int, int] = {}  # new lines read per epoch minute, for late-line detection
    rejoined: int = 0  # stack traces put back together from lines the shipper split (no multiline stage)
    rejoined_lines: int = 0  # the polled lines they took the place of
    rejoin_note: str = ""  # what was left as single lines, and why


class Plan(Frozen):
    """The output of `plan`: the input of `investigate` and `publish`."""

    schema_version: Literal[1] = 1
    run_id: str
    created_at: datetime
    windows: tuple[PollWindow, ...]
    incidents: tuple[PlannedIncident, ...]
    trigger: str = "manual"  # schedule | repository_dispatch | workflow_dispatch | manual | demo
    max_incidents: int | None = None  # publish at most this many; the rest stay pending
    # the last run recorded in the state this plan was computed from: publishing a plan whose base is
    # no longer the state's last run would count its lines a second time, so it is refused
    based_on_run: str | None = None
    # at most this many incidents wait in state (`policy.max_pending`): the plan leaves out those beyond
    # it, last in publish order, and says how many (never silently: the run report names the figures)
    max_pending: int | None = None
    dropped: int = 0  # incidents left out by max_pending
    dropped_occurrences: int = 0  # their occurrences, counted nowhere else
    dropped_pending: tuple[str, ...] = ()  # those of them state holds pending: recording the plan drops them

    @property
    def selected(self) -> tuple[PlannedIncident, ...]:
        """What this run investigates and publishes, in that order: the incidents the plan carries in full
        (the rest are left pending, lean, for later runs), at most `max_incidents` of them."""
        full = tuple(p for p in self.incidents if p.evidence == "full")
        return full if self.max_incidents is None else full[: self.max_incidents]

    @property
    def left_pending(self) -> int:
        """Incidents this run leaves pending for later runs (`max_incidents`)."""
        return len(self.incidents) - len(self.selected)
