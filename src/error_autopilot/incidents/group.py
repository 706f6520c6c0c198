"""Streaming grouping of error events into incidents, one per fingerprint.

Events are folded into a small accumulator as they arrive and never kept, so memory grows with
the number of distinct fingerprints (plus one id per counted line, which the overlap-window dedup
needs), not with the number of lines read.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from error_autopilot.domain.events import ErrorEvent
from error_autopilot.domain.incidents import Fingerprint, Incident, MessageVariable, SampleLine, TimelineCount
from error_autopilot.domain.stack import StackTrace
from error_autopilot.incidents.fingerprint import fingerprint_event
from error_autopilot.incidents.parameterize import MAX_INPUT, PATTERNS, parameterize

log = logging.getLogger(__name__)

MAX_TRACE_IDS = 5
MAX_SAMPLES = 5
MAX_VERSIONS = 5
MAX_TRUNCATION_NOTES = 3
MAX_SAMPLE_CHARS = 2048
MAX_TITLE = 120
MAX_DISTINCT = 1000  # distinct values remembered per variable part: "1000+ values" says enough
MAX_TIMELINE = 4000  # (minute, environment, version) cells per incident; later new cells are not kept
MAX_SLOTS = 8
_PLACEHOLDER = re.compile("(" + "|".join(sorted({re.escape(p.placeholder) for p in PATTERNS})) + ")")
_NAME = re.compile(r"([A-Za-z_][\w-]*)\W{0,3}$")
_NOT_A_NAME = frozenset(("a", "an", "the", "after", "before", "for", "in", "at", "of", "to", "from", "with", "by", "on",
                         "is", "was", "be", "than"))  # fmt: skip
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


def _type_and_message(event: ErrorEvent) -> tuple[str | None, str]:
    """The thrown type (short) and the first line of its message, whitespace collapsed."""
    exc_type = event.stack.primary.type if event.stack else event.exception_type
    message = event.exception_message or (event.stack.primary.message if event.stack else "") or event.message
    first = message.strip().split("\n", 1)[0] if message.strip() else ""
    return (_short_type(exc_type) if exc_type else None), " ".join(first[:MAX_INPUT].split())


def _headline(exc_type: str | None, message: str) -> str:
    return f"{exc_type}: {message}" if exc_type and message else (exc_type or message or "error")


def _names_a_value(word: str) -> bool:
    """`code` in `coupon code: X` names X; `after`, `for` or `GET` (in `GET /users/1`) do not."""
    return word.lower() not in _NOT_A_NAME and not word.isupper()


@functools.lru_cache(maxsize=1024)  # one template per incident, matched against every event of it
def _slots(template: str) -> tuple[re.Pattern[str] | None, tuple[tuple[str, str], ...]]:
    """A regex capturing each placeholder's value in a message of this template, and (name, kind) per slot.
    None when the template has no placeholder, too many, or two touching (ambiguous to split)."""
    pieces = _PLACEHOLDER.split(template)
    literals, kinds = pieces[0::2], [p[1:-1] for p in pieces[1::2]]
    if not kinds or len(kinds) > MAX_SLOTS or any(not lit for lit in literals[1:-1]):
        return None, ()
    names = tuple((m.group(1) if (m := _NAME.search(lit)) and _names_a_value(m.group(1)) else f"{kind} value", kind)
                  for lit, kind in zip(literals, kinds, strict=False))  # fmt: skip
    regex = "".join(re.escape(lit) + ("(.+?)" if n < len(kinds) else "") for n, lit in enumerate(literals))
    return re.compile(regex, re.DOTALL), names


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
    template: str = ""  # the parameterised message of the first event: the slots below are its placeholders
    values: list[set[int]] = field(default_factory=list)  # per slot, hashes of the distinct values seen
    latest_ns: int = -1
    latest: tuple[str | None, str, tuple[tuple[int, int], ...]] = (None, "", ())  # type, message, slot spans
    timeline: dict[tuple[int, str, str], int] = field(default_factory=dict)
    timeline_capped: bool = False
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
        self._variables(event)
        cell = (event.ts_ns // 60_000_000_000, event.environment, event.version or "")
        if cell in self.timeline or len(self.timeline) < MAX_TIMELINE:
            self.timeline[cell] = self.timeline.get(cell, 0) + 1
        else:
            self.timeline_capped = True
        if event.stack is not None and (self.stack is None or event.ts_ns >= self.latest_ns):
            self.stack = event.stack  # the most recent stack represents the incident

    def _variables(self, event: ErrorEvent) -> None:
        """Count the distinct values of each variable part; remember the newest message and where its parts are."""
        exc_type, message = _type_and_message(event)
        if not self.template:
            self.template = parameterize(message)
        regex, names = _slots(self.template)
        match = regex.fullmatch(message) if regex is not None else None
        # parameterising every line is the grouper's largest cost: only a message of another shape needs it
        template = self.template if match is not None or message == self.template else parameterize(message)
        if match is not None:
            self.values = self.values or [set() for _ in names]
            for seen, value in zip(self.values, match.groups(), strict=True):
                if len(seen) < MAX_DISTINCT:
                    seen.add(hash(value))
        if event.ts_ns >= self.latest_ns:
            if match is None and _PLACEHOLDER.search(template):  # its variable parts cannot be told apart:
                message = _PLACEHOLDER.sub("…", template)  # show none of them rather than one sample's
            spans = tuple(match.span(n + 1) for n in range(len(names))) if match is not None else ()
            self.latest_ns, self.latest = event.ts_ns, (exc_type, message, spans)

    def headline(self) -> str:
        """The newest occurrence's `Type: message`, with parts that took several values replaced by `…`."""
        exc_type, message, spans = self.latest
        for (start, end), seen in sorted(zip(spans, self.values, strict=False), reverse=True):
            if len(seen) > 1:
                message = message[:start] + "…" + message[end:]
        return _headline(exc_type, message)

    def _sample(self, event: ErrorEvent) -> None:
        """Keep the `MAX_SAMPLES` newest lines."""
        if len(self.samples) >= MAX_SAMPLES:
            oldest = min(range(len(self.samples)), key=lambda i: self.samples[i].ts_ns)
            if self.samples[oldest].ts_ns >= event.ts_ns:
                return
            del self.samples[oldest]
        exc_type, message = _type_and_message(event)
        sample = SampleLine(line_id=event.line_id, ts_ns=event.ts_ns, text=_cap(event.line), trace_id=event.trace_id,
                            message=_cap(_headline(exc_type, message)), environment=event.environment,
                            version=event.version or "")  # fmt: skip
        self.samples.append(sample)

    def incident(self) -> Incident:
        return Incident(
            fingerprint=self.fingerprint.value, fingerprint_parts=self.fingerprint.parts,
            algorithm=self.fingerprint.algorithm, service=self.service, environment=self.environment,
            environments=tuple(self.environments), exception_type=self.exception_type, title=self.title,
            count=self.count, first_seen=to_datetime(self.first_ns), last_seen=to_datetime(self.last_ns),
            trace_ids=tuple(sorted(self.trace_ids, key=lambda k: (self.trace_ids[k], k))),
            sample=tuple(sorted(self.samples, key=lambda s: (s.ts_ns, s.line_id))), stack=self.stack,
            versions=tuple(sorted(self.versions, key=lambda k: (self.versions[k], k))), headline=self.headline(),
            variables=self._variable_summary(), timeline_capped=self.timeline_capped,
            timeline=tuple(TimelineCount(minute=m, environment=e, version=v, count=c)
                           for (m, e, v), c in sorted(self.timeline.items())),
            truncated=tuple(self.truncated),
        )  # fmt: skip

    def _variable_summary(self) -> tuple[MessageVariable, ...]:
        _, names = _slots(self.template)
        return tuple(MessageVariable(name=name, kind=kind, distinct=len(seen), capped=len(seen) >= MAX_DISTINCT)
                     for (name, kind), seen in zip(names, self.values, strict=False))  # fmt: skip


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
