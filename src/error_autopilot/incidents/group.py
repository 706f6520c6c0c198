"""Streaming grouping of error events into incidents, one per fingerprint.

Events are folded into a small accumulator as they arrive and never kept, so memory grows with
the number of distinct fingerprints (plus one id per counted line, which the overlap-window dedup
needs), not with the number of lines read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from error_autopilot.domain.events import ErrorEvent
from error_autopilot.domain.incidents import Fingerprint, Incident, SampleLine
from error_autopilot.domain.stack import StackTrace
from error_autopilot.incidents.fingerprint import fingerprint_event
from error_autopilot.incidents.parameterize import parameterize

log = logging.getLogger(__name__)

MAX_TRACE_IDS = 5
MAX_SAMPLES = 5
MAX_VERSIONS = 5
MAX_TRUNCATION_NOTES = 3
MAX_SAMPLE_CHARS = 2048
MAX_TITLE = 120
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_NS = (datetime(9999, 12, 31, tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1) * 1000


def to_datetime(ts_ns: int) -> datetime:
    """An aware UTC datetime (microsecond precision) from Unix nanoseconds, clamped to what datetime holds."""
    return _EPOCH + timedelta(microseconds=min(max(ts_ns, 0), _MAX_NS) // 1000)


def _short_type(exception_type: str) -> str:
    return exception_type.rsplit(".", 1)[-1] if " " not in exception_type else exception_type


def incident_title(event: ErrorEvent) -> str:
    """`<ExceptionType>: <parameterised message> in <service>`, at most `MAX_TITLE` characters."""
    exc_type = event.stack.primary.type if event.stack else event.exception_type
    message = event.exception_message or (event.stack.primary.message if event.stack else "") or event.message
    message = " ".join(parameterize(message.strip().split("\n", 1)[0] if message.strip() else "").split())
    head = f"{_short_type(exc_type)}: {message}" if exc_type and message else (exc_type or message or "error")
    suffix = f" in {event.service}"[: MAX_TITLE // 2]
    if len(head) + len(suffix) > MAX_TITLE:
        head = head[: MAX_TITLE - len(suffix) - 1].rstrip() + "…"
    return head + suffix


def _cap(text: str) -> str:
    return text if len(text) <= MAX_SAMPLE_CHARS else text[: MAX_SAMPLE_CHARS - 13] + "…[truncated]"


def _keep_latest(items: dict[str, int], key: str, ts_ns: int, cap: int) -> None:
    """Remember `key` at its newest timestamp, keeping only the `cap` newest keys."""
    items[key] = max(ts_ns, items.get(key, ts_ns))
    if len(items) > cap:
        del items[min(items, key=lambda k: (items[k], k))]


@dataclass
class _Accumulator:
    fingerprint: Fingerprint
    service: str
    exception_type: str | None
    title: str
    first_ns: int
    last_ns: int
    environment: str
    environments: dict[str, None] = field(default_factory=dict)  # insertion-ordered set
    count: int = 0
    trace_ids: dict[str, int] = field(default_factory=dict)  # id → newest ts
    samples: list[SampleLine] = field(default_factory=list)
    stack: StackTrace | None = None
    versions: dict[str, int] = field(default_factory=dict)  # version → newest ts
    truncated: dict[str, None] = field(default_factory=dict)  # insertion-ordered set of notes

    def add(self, event: ErrorEvent) -> None:
        self.count += 1
        if event.truncated and len(self.truncated) < MAX_TRUNCATION_NOTES:
            self.truncated.setdefault(event.truncated, None)
        if event.ts_ns < self.first_ns:
            self.first_ns, self.environment = event.ts_ns, event.environment
        self.last_ns = max(self.last_ns, event.ts_ns)
        self.environments.setdefault(event.environment, None)
        if event.trace_id:
            _keep_latest(self.trace_ids, event.trace_id, event.ts_ns, MAX_TRACE_IDS)
        if event.version:
            _keep_latest(self.versions, event.version, event.ts_ns, MAX_VERSIONS)
        self._sample(event)
        if self.stack is None:
            self.stack = event.stack

    def _sample(self, event: ErrorEvent) -> None:
        """Keep the `MAX_SAMPLES` newest lines."""
        if len(self.samples) >= MAX_SAMPLES:
            oldest = min(range(len(self.samples)), key=lambda i: self.samples[i].ts_ns)
            if self.samples[oldest].ts_ns >= event.ts_ns:
                return
            del self.samples[oldest]
        self.samples.append(
            SampleLine(line_id=event.line_id, ts_ns=event.ts_ns, text=_cap(event.line), trace_id=event.trace_id)
        )

    def incident(self) -> Incident:
        return Incident(
            fingerprint=self.fingerprint.value, fingerprint_parts=self.fingerprint.parts,
            algorithm=self.fingerprint.algorithm, service=self.service, environment=self.environment,
            environments=tuple(self.environments), exception_type=self.exception_type, title=self.title,
            count=self.count, first_seen=to_datetime(self.first_ns), last_seen=to_datetime(self.last_ns),
            trace_ids=tuple(sorted(self.trace_ids, key=lambda k: (self.trace_ids[k], k))),
            sample=tuple(sorted(self.samples, key=lambda s: (s.ts_ns, s.line_id))), stack=self.stack,
            versions=tuple(sorted(self.versions, key=lambda k: (self.versions[k], k))),
            truncated=tuple(self.truncated),
        )  # fmt: skip


class IncidentGrouper:
    """Folds events into incidents by fingerprint. Memory follows the number of distinct bugs, not
    lines: each line is folded into aggregates and forgotten (deduplicating lines is the poller's job)."""

    def __init__(self) -> None:
        self._groups: dict[str, _Accumulator] = {}
        self._events = 0

    @property
    def events(self) -> int:
        """Events counted into an incident."""
        return self._events

    def add(self, event: ErrorEvent) -> None:
        """Count one event into its incident."""
        self._events += 1
        fingerprint = fingerprint_event(event)
        group = self._groups.get(fingerprint.value)
        if group is None:
            exc_type = event.stack.primary.type if event.stack else event.exception_type
            group = _Accumulator(
                fingerprint=fingerprint, service=event.service, exception_type=exc_type, title=incident_title(event),
                first_ns=event.ts_ns, last_ns=event.ts_ns, environment=event.environment,
            )  # fmt: skip
            self._groups[fingerprint.value] = group
            log.debug("new incident %s: %s", fingerprint.value, group.title)
        group.add(event)

    def incidents(self) -> list[Incident]:
        """Every incident, most frequent first (then oldest first, then by fingerprint)."""
        groups = sorted(self._groups.values(), key=lambda g: (-g.count, g.first_ns, g.fingerprint.value))
        return [g.incident() for g in groups]
