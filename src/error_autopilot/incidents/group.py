"""Streaming grouping of error events into incidents, one per fingerprint, and the incidents built from
what was counted (incidents/counting.py).

Events are folded into a small accumulator and never kept, so memory grows with the number of
distinct fingerprints (plus one id per counted line, which the overlap-window dedup needs), not with
the number of lines read. Lines counted from their shape wait in a short queue (`MAX_QUEUED` over all
incidents) and are folded together: in timestamp order most of what a line could change, a newer one
changes again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Container, Sequence
from datetime import UTC, datetime, timedelta

from error_autopilot.domain.events import ErrorEvent, LogEntry
from error_autopilot.domain.incidents import (
    Fingerprint,
    FingerprintPart,
    Incident,
    MessageVariable,
    SampleLine,
    TimelineCount,
)
from error_autopilot.incidents.counting import FOLD_FROM, Accumulator, Line, Source
from error_autopilot.incidents.fingerprint import fingerprint_event
from error_autopilot.incidents.messages import PLACEHOLDER, short_type, template_slots, type_and_message
from error_autopilot.incidents.parameterize import parameterize
from error_autopilot.incidents.seen_values import MAX_DISTINCT

log = logging.getLogger(__name__)

MAX_SAMPLE_CHARS = 2048
MAX_TITLE = 120
MAX_QUEUED = 8192  # lines queued over all incidents before they are counted: bounds the entries held
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_NS = (datetime(9999, 12, 31, tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1) * 1000


def to_micros(ts_ns: int) -> int:
    """Unix microseconds from nanoseconds, clamped to what datetime holds: the precision of `to_datetime`."""
    return min(max(ts_ns, 0), _MAX_NS) // 1000


def to_datetime(ts_ns: int) -> datetime:
    """An aware UTC datetime (microsecond precision) from Unix nanoseconds, clamped to what datetime holds."""
    return _EPOCH + timedelta(microseconds=to_micros(ts_ns))


def incident_title(event: ErrorEvent) -> str:
    """`<ExceptionType>: <parameterised message> in <service>`, at most `MAX_TITLE` characters."""
    exc_type = event.stack.primary.type if event.stack else event.exception_type
    message = event.exception_message or (event.stack.primary.message if event.stack else "") or event.message
    message = " ".join(parameterize(message.strip().split("\n", 1)[0] if message.strip() else "").split())
    head = f"{short_type(exc_type)}: {message}" if exc_type and message else (exc_type or message or "error")
    suffix = f" in {event.service}"[: MAX_TITLE // 2]
    if len(head) + len(suffix) > MAX_TITLE:
        head = head[: MAX_TITLE - len(suffix) - 1].rstrip() + "…"
    return head + suffix


def _headline(exc_type: str | None, message: str) -> str:
    return f"{exc_type}: {message}" if exc_type and message else (exc_type or message or "error")


def _cap(text: str) -> str:
    return text if len(text) <= MAX_SAMPLE_CHARS else text[: MAX_SAMPLE_CHARS - 13] + "…[truncated]"


Resolve = Callable[[LogEntry, str], ErrorEvent | None]


def _latest(group: Accumulator, event: ErrorEvent) -> tuple[str | None, str, tuple[tuple[int, int], ...]]:
    """The newest occurrence's type and message, and where the template's variable parts are in it."""
    exc_type, message = type_and_message(event)
    regex, names = template_slots(group.template)
    match = regex.fullmatch(message) if regex is not None else None
    template = group.template if match is not None or message == group.template else parameterize(message)
    if match is None and PLACEHOLDER.search(template):  # its variable parts cannot be told apart:
        message = PLACEHOLDER.sub("…", template)  # show none of them rather than one sample's
    spans = tuple(match.span(n + 1) for n in range(len(names))) if match is not None else ()
    return exc_type, message, spans


def _headline_of(group: Accumulator, latest: ErrorEvent | None) -> str:
    """The newest occurrence's `Type: message`, with parts that took several values replaced by `…`."""
    exc_type, message, spans = _latest(group, latest) if latest is not None else (None, "", ())
    for (start, end), seen in sorted(zip(spans, group.values, strict=False), reverse=True):
        if len(seen) > 1:
            message = message[:start] + "…" + message[end:]
    return _headline(exc_type, message)


def build_incident(group: Accumulator, resolve: Resolve | None, *, samples: bool = True) -> Incident:
    """The incident `group` counted so far; without its sample lines unless `samples` (each shown line is parsed
    and redacted again, the bulk of building an incident)."""
    # the newest line is usually a sample and the stack too: each entry is parsed once, keyed by its id while the
    # entry itself is held here, so that id cannot pass to another object (a source tuple's could: compiled
    # code makes one afresh on each read, and a freed one's id is soon reused)
    parsed: dict[tuple[int, str], tuple[LogEntry, ErrorEvent | None]] = {}

    def event_of(source: Source | None) -> ErrorEvent | None:
        if source is None or isinstance(source, ErrorEvent):
            return source
        if resolve is None:
            raise ValueError("an occurrence counted from its entry needs a parser to be shown")
        entry, environment = source
        known = parsed.get((id(entry), environment))
        if known is None:
            known = parsed[(id(entry), environment)] = (entry, resolve(entry, environment))
        return known[1]

    shown = [event for _, source in group.samples if (event := event_of(source)) is not None] if samples else []
    stack_event = event_of(group.stack_source)
    return Incident(
        fingerprint=group.fingerprint, algorithm=group.algorithm, service=group.service, environment=group.environment,
        fingerprint_parts=tuple(FingerprintPart(name=name, value=value, contributes=contributes, hint=hint)
                                for name, value, contributes, hint in group.parts),
        environments=tuple(group.environments), exception_type=group.exception_type, title=group.title,
        count=group.count, first_seen=to_datetime(group.first_ns), last_seen=to_datetime(group.last_ns),
        trace_ids=group.trace_ids.ordered(),
        sample=tuple(sorted((_sample_line(e) for e in shown), key=lambda s: (s.ts_ns, s.line_id))),
        stack=stack_event.stack if stack_event is not None else None,
        versions=group.versions.ordered(),
        headline=_headline_of(group, event_of(group.latest_source)),
        variables=_variable_summary(group), timeline_capped=group.timeline_capped,
        timeline=tuple(sorted(TimelineCount(m, e, v, c) for (e, v), minutes in group.timeline.items()
                              for m, c in minutes.items())),
        truncated=tuple(group.truncated),
    )  # fmt: skip


def _variable_summary(group: Accumulator) -> tuple[MessageVariable, ...]:
    _, names = template_slots(group.template)
    return tuple(MessageVariable(name=name, kind=kind, distinct=len(seen), capped=len(seen) >= MAX_DISTINCT)
                 for (name, kind), seen in zip(names, group.values, strict=False))  # fmt: skip


def _sample_line(event: ErrorEvent) -> SampleLine:
    exc_type, message = type_and_message(event)
    return SampleLine(line_id=event.line_id, ts_ns=event.ts_ns, text=_cap(event.line), trace_id=event.trace_id,
                      message=_cap(_headline(exc_type, message)), environment=event.environment,
                      version=event.version or "")  # fmt: skip


class IncidentGrouper:
    """Folds events into incidents by fingerprint. Memory follows the number of distinct bugs, not
    lines: each line is folded into aggregates and forgotten (deduplicating lines is the poller's job).

    `resolve` parses an entry counted by its facts alone (`count_line`) when the incident shows it."""

    def __init__(self, resolve: Resolve | None = None) -> None:
        self._groups: dict[str, Accumulator] = {}
        self._events = 0
        self._resolve = resolve
        self._queued: list[Accumulator] = []  # groups with lines queued
        self._queued_lines = 0
        self._direct: list[Accumulator] = []  # groups that counted a line directly since the queues were counted
        self._window = 0  # lines counted or queued since then

    def __len__(self) -> int:
        """Incidents counted so far."""
        return len(self._groups)

    @property
    def events(self) -> int:
        """Events counted into an incident."""
        return self._events

    def add(self, event: ErrorEvent, fingerprint: Fingerprint | None = None) -> None:
        """Count one event into its incident (`fingerprint`: the event's, when already computed)."""
        self._events += 1
        fingerprint = fingerprint or fingerprint_event(event)
        group = self._groups.get(fingerprint.value)
        if group is not None and group.queued:
            self._count_queued(group)  # its lines stay in order
        if group is None:
            exc_type = event.stack.primary.type if event.stack else event.exception_type
            group = Accumulator(
                fingerprint=fingerprint.value, algorithm=fingerprint.algorithm,
                parts=tuple((p.name, p.value, p.contributes, p.hint) for p in fingerprint.parts),
                service=event.service, exception_type=exc_type, title=incident_title(event),
                first_ns=event.ts_ns, last_ns=event.ts_ns, environment=event.environment,
                template="",
            )  # fmt: skip
            self._groups[fingerprint.value] = group
            log.debug("new incident %s: %s", fingerprint.value, group.title)
        group.add(event)

    def group(self, fingerprint: str) -> Accumulator | None:
        """The incident counted so far under `fingerprint`, to count more occurrences into by their facts."""
        return self._groups.get(fingerprint)

    def queue(self, group: Accumulator, line: Line, environment: str) -> None:
        """Count a line into `group` by its facts. Lines are counted a few thousand at a time, in order
        (`Accumulator.count_lines`): most of what a line could change, a newer one changes again. An incident
        whose lines come too far apart to fold (ten thousand bugs queue one or two each) has each counted as
        it comes, until that many come between two countings of the queues again."""
        if group.dropped:
            self.count_dropped(group, line[0])
            return
        self._events += 1
        self._window += 1
        if group.direct:
            if not group.direct_lines:
                self._direct.append(group)
            group.direct_lines += 1
            group.count_one(line, environment)
        else:
            if group.queued and group.queued_environment != environment:
                self._count_queued(group)
            queued = group.queued
            if not queued:
                group.queued_environment = environment
                self._queued.append(group)
            queued.append(line)
            self._queued_lines += 1
        if self._window >= MAX_QUEUED:
            self.count_queued()

    def count_dropped(self, group: Accumulator, ts_ns: int) -> None:
        """Count a line into a dropped incident (`Accumulator.drop`): its count and first sighting."""
        self._events += 1
        group.count += 1
        group.first_ns = min(group.first_ns, ts_ns)

    def _count_queued(self, group: Accumulator) -> None:
        lines, group.queued = group.queued, []
        self._queued_lines -= len(lines)
        group.count_lines(lines, group.queued_environment)

    def count_queued(self) -> None:
        """Count every queued line; and from now on count directly the lines of incidents that queued too few
        to fold since the last time, and queue again those of incidents counted directly that had enough."""
        full = self._window >= MAX_QUEUED  # a whole window's lines: what came per incident says how to count
        for group in self._queued:
            if group.queued:
                group.direct = full and len(group.queued) < FOLD_FROM
                self._count_queued(group)
        for group in self._direct:
            group.direct = not full or group.direct_lines < FOLD_FROM
            group.direct_lines = 0
        self._queued, self._direct, self._window = [], [], 0

    def first_seen(self) -> dict[str, datetime]:
        """When each incident was first seen: what the order runs take incidents in starts from."""
        self.count_queued()  # a queued line may be an incident's oldest
        return {fp: to_datetime(g.first_ns) for fp, g in self._groups.items()}

    def first_micros(self, leaving_out: Container[str] = ()) -> list[int]:
        """`first_seen` of each incident not in `leaving_out`, as Unix microseconds (the same precision)."""
        self.count_queued()
        return [to_micros(g.first_ns) for fp, g in self._groups.items() if fp not in leaving_out]

    def leave_lean(self, after_us: int, keep: Container[str] = ()) -> int:
        """Keep no sample lines, from now on, of the incidents first seen after `after_us` (Unix microseconds)
        that are not in `keep`: the caller knows they will be built without them. How many were let go."""
        self.count_queued()  # a queued line may be an incident's oldest
        shed = 0
        for fp, group in self._groups.items():
            if not group.lean and to_micros(group.first_ns) > after_us and fp not in keep:
                group.lean, group.samples = True, []
                shed += 1
        return shed

    def leave_out(self, after_us: int, keep: Container[str] = ()) -> int:
        """Count only, from now on, the incidents first seen after `after_us` (Unix microseconds) that are not
        in `keep`: the caller knows the plan drops them (`Accumulator.drop`). How many were let go."""
        self.count_queued()  # a queued line may be an incident's oldest
        shed = 0
        for fp, group in self._groups.items():
            if not group.dropped and to_micros(group.first_ns) > after_us and fp not in keep:
                group.drop()
                shed += 1
        return shed

    def drop(self, fingerprints: Sequence[str]) -> int:
        """Forget the incidents of `fingerprints` unbuilt (a plan drops them: `policy.max_pending`). Their
        occurrences, for the plan to report."""
        self.count_queued()
        dropped = [self._groups.pop(fp, None) for fp in fingerprints]
        return sum(group.count for group in dropped if group is not None)

    def incidents(self, *, release: bool = False, samples: Container[str] | None = None) -> list[Incident]:
        """Every incident, most frequent first (then oldest first, then by fingerprint).

        `release`: let each incident's counts and kept lines go as soon as it is built, leaving the grouper
        empty. With ten thousand bugs those lines are tens of megabytes, which would otherwise sit beside
        the models built from them at the plan's peak. `samples`: the fingerprints built with their sample
        lines (None: all), the incidents this run publishes; the others are left for later runs."""
        self.count_queued()
        groups = sorted(self._groups.values(), key=lambda g: (-g.count, g.first_ns, g.fingerprint))

        def build(group: Accumulator) -> Incident:
            full = samples is None or group.fingerprint in samples
            if group.dropped:
                raise ValueError(f"incident {group.fingerprint} was left out while counting, wanted built")
            if full and group.lean:
                raise ValueError(f"incident {group.fingerprint} was left lean while counting, wanted in full")
            return build_incident(group, self._resolve, samples=full)

        if not release:
            return [build(g) for g in groups]
        self._groups = {}
        groups.reverse()
        built: list[Incident] = []
        while groups:
            built.append(build(groups.pop()))
        return built
