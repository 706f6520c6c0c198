"""Streaming grouping of error events into incidents, one per fingerprint.

Events are folded into a small accumulator and never kept, so memory grows with the number of
distinct fingerprints (plus one id per counted line, which the overlap-window dedup needs), not with
the number of lines read. Lines counted from their shape wait in a short queue (`MAX_QUEUED` over all
incidents) and are folded together: in timestamp order most of what a line could change, a newer one
changes again.
"""

from __future__ import annotations

import bisect
import functools
import heapq
import logging
import re
from array import array
from collections.abc import Callable, Container, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Protocol

from error_autopilot.domain.events import ErrorEvent, LogEntry
from error_autopilot.domain.incidents import (
    Fingerprint,
    FingerprintPart,
    Incident,
    MessageVariable,
    SampleLine,
    TimelineCount,
)
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
MINUTE_NS = 60_000_000_000
_PLACEHOLDER = re.compile("(" + "|".join(sorted({re.escape(p.placeholder) for p in PATTERNS})) + ")")
_NAME = re.compile(r"([A-Za-z_][\w-]*)\W{0,3}$")
_NOT_A_NAME = frozenset(("a", "an", "the", "after", "before", "for", "in", "at", "of", "to", "from", "with", "by", "on",
                         "is", "was", "be", "than"))  # fmt: skip
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_NS = (datetime(9999, 12, 31, tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1) * 1000


def per_minute(stamps: Sequence[int]) -> Iterator[tuple[int, int]]:
    """(epoch minute, how many) of ascending nanosecond `stamps`, a minute at a time by bisection: a
    storm's page spans a few minutes, so this is a handful of steps where counting was one per line."""
    start = 0
    for minute in range(stamps[0] // MINUTE_NS, stamps[-1] // MINUTE_NS + 1) if stamps else ():
        end = bisect.bisect_left(stamps, (minute + 1) * MINUTE_NS, start)
        if end > start:
            yield minute, end - start
        start = end


def to_micros(ts_ns: int) -> int:
    """Unix microseconds from nanoseconds, clamped to what datetime holds: the precision of `to_datetime`."""
    return min(max(ts_ns, 0), _MAX_NS) // 1000


def to_datetime(ts_ns: int) -> datetime:
    """An aware UTC datetime (microsecond precision) from Unix nanoseconds, clamped to what datetime holds."""
    return _EPOCH + timedelta(microseconds=to_micros(ts_ns))


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


def type_and_message(event: ErrorEvent) -> tuple[str | None, str]:
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
def template_slots(template: str) -> tuple[re.Pattern[str] | None, tuple[tuple[str, str], ...]]:
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


class _Distinct:
    """Distinct hashes, up to `MAX_DISTINCT`, in a sorted array: 8 bytes a value where a set of ints takes
    some 70 (with ten thousand bugs of a few hundred values each, that was most of a run's memory)."""

    __slots__ = ("hashes",)

    def __init__(self) -> None:
        self.hashes = array("q")

    def add(self, value: int) -> None:
        """Remember `value` (a hash) unless it is known or `MAX_DISTINCT` are."""
        hashes = self.hashes
        if len(hashes) >= MAX_DISTINCT:
            return
        at = bisect.bisect_left(hashes, value)
        if at == len(hashes) or hashes[at] != value:
            hashes.insert(at, value)

    def __len__(self) -> int:
        return len(self.hashes)


class _Newest:
    """The `cap` keys seen at the newest timestamps (ties: the greater key), each at its newest timestamp.

    A heap of (ts, key) finds the one to drop without scanning; entries a newer timestamp replaced are
    skipped when they surface."""

    __slots__ = ("cap", "heap", "items")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.items: dict[str, int] = {}
        self.heap: list[tuple[int, str]] = []

    def add(self, key: str, ts_ns: int) -> None:
        """Remember `key` at `ts_ns` unless it was already seen later."""
        items, heap = self.items, self.heap
        known = items.get(key)
        if known is not None:
            if known >= ts_ns:
                return
            items[key] = ts_ns
            heapq.heappush(heap, (ts_ns, key))  # its older entry is now stale
        elif len(items) < self.cap:
            items[key] = ts_ns
            heapq.heappush(heap, (ts_ns, key))
        else:
            if (ts_ns, key) < heap[0]:
                return  # older than every key kept: it would be the one dropped
            _, oldest = heapq.heapreplace(heap, (ts_ns, key))
            del items[oldest]
            items[key] = ts_ns
        while items.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)  # the top is always a kept key at its timestamp: the one to drop next
        if len(heap) > 4 * self.cap:
            self.heap = sorted((t, k) for k, t in items.items())

    def ordered(self) -> tuple[str, ...]:
        """Oldest first."""
        return tuple(sorted(self.items, key=lambda k: (self.items[k], k)))


_NONE_KEPT = _Newest(0)  # what a dropped incident keeps (it is never added to)

# Where an occurrence's text comes from when the incident is built: its parsed event, or its entry and
# environment to parse then (the ingest path parses only the few lines an incident shows, see ingest.py).
Source = ErrorEvent | tuple[LogEntry, str]
Resolve = Callable[[LogEntry, str], ErrorEvent | None]
MAX_QUEUED = 8192  # lines queued over all incidents before they are counted: bounds the entries held
_FOLD_FROM = 6  # fewer queued lines of an incident are counted one by one: folding costs as much as five


# per template slot: its constant text, the index of the one run it is, or both in order (joined per line)
Pieces = tuple[str | int | tuple[str | int, ...], ...]


class Facts(Protocol):
    """What the lines of one shape share, and how the rest is read from a line's runs (see ingest.py)."""

    has_stack: bool
    truncated: str | None
    fixed_trace: bool  # every line has the same trace id
    fixed_version: bool  # every line has the same version
    pieces: Pieces | None  # how the runs fill the template's slots; None: its message does not fit it

    def trace_id(self, runs: Sequence[str]) -> str | None:
        """The line's trace id."""

    def version(self, runs: Sequence[str]) -> str | None:
        """The line's version."""


# a line counted by its facts: (ts_ns, facts, runs, entry)
Line = tuple[int, Facts, Sequence[str], LogEntry]
_TS = itemgetter(0)
_FACTS = itemgetter(1)


def slot_values(pieces: Pieces, runs: Sequence[str]) -> list[str]:
    """What each template slot holds in a line with these runs."""
    return [
        slot if isinstance(slot, str) else runs[slot] if isinstance(slot, int)
        else "".join([p if isinstance(p, str) else runs[p] for p in slot])
        for slot in pieces
    ]  # fmt: skip


@dataclass
class Accumulator:
    fingerprint: str
    algorithm: int
    # the fingerprint's parts as (name, value, contributes, hint) until the incident is built: as models, ten
    # thousand bugs' parts were some 15 MB of a plan's peak
    parts: tuple[tuple[str, str, bool, str], ...]
    service: str
    exception_type: str | None
    title: str
    first_ns: int
    last_ns: int
    environment: str
    template: str  # the parameterised message of the first event: the slots below are its placeholders
    environments: dict[str, None] = field(default_factory=dict)  # insertion-ordered set
    count: int = 0
    trace_ids: _Newest = field(default_factory=lambda: _Newest(MAX_TRACE_IDS))
    samples: list[tuple[int, Source]] = field(default_factory=list)  # the newest occurrences, by ts
    stack_source: Source | None = None  # the newest occurrence with a stack
    versions: _Newest = field(default_factory=lambda: _Newest(MAX_VERSIONS))
    values: list[_Distinct] = field(default_factory=list)  # per slot, hashes of the distinct values seen
    latest_ns: int = -1
    latest_source: Source | None = None
    # per (environment, version), occurrences per epoch minute: a cell costs an int key, where a key of
    # all three was a tuple more (with ten thousand bugs, some 17 MB)
    timeline: dict[tuple[str, str], dict[int, int]] = field(default_factory=dict)
    cells: int = 0
    timeline_capped: bool = False
    truncated: dict[str, None] = field(default_factory=dict)  # insertion-ordered set of notes
    queued: list[Line] = field(default_factory=list)  # lines to count, all of `queued_environment`
    queued_environment: str = ""
    lean: bool = False  # built without sample lines (the plan leaves it for a later run): none are kept
    dropped: bool = False  # never built (the plan drops it, `policy.max_pending`): only counted (see `drop`)

    def drop(self) -> None:
        """Keep only what a dropped incident is reported by, its count and first sighting, and count only
        those from now on: with ten thousand bugs most are dropped, and their counts were most of a run's
        memory and much of its time."""
        self.dropped = self.lean = True
        self.parts, self.title = (), ""  # its template stays: the shapes counted into it compare theirs
        self.environments, self.truncated, self.timeline = {}, {}, {}
        self.trace_ids = self.versions = _NONE_KEPT
        self.samples, self.values, self.queued = [], [], []
        self.stack_source = self.latest_source = None

    def add(self, event: ErrorEvent) -> None:
        """Count a parsed event."""
        if self.dropped:
            self.count += 1
            self.first_ns = min(self.first_ns, event.ts_ns)
            return
        message = type_and_message(event)[1]
        if not self.template:
            self.template = parameterize(message)
        regex, _ = template_slots(self.template)
        match = regex.fullmatch(message) if regex is not None else None
        self.count_line(event.ts_ns, event.environment, event.trace_id, event.version, event.truncated,
                        event.stack is not None, match.groups() if match is not None else None, event)  # fmt: skip

    def count_line(
        self, ts_ns: int, environment: str, trace_id: str | None, version: str | None, truncated: str | None,
        has_stack: bool, values: Sequence[str] | None, source: Source,
    ) -> None:  # fmt: skip
        """Count one occurrence from its facts; `values`: what each slot of the template held, None when
        its message does not fit the template. Its text is read from `source` only if it is shown."""
        self.count += 1
        if truncated and len(self.truncated) < MAX_TRUNCATION_NOTES:
            self.truncated.setdefault(truncated, None)
        if ts_ns < self.first_ns:
            self.first_ns, self.environment = ts_ns, environment
        self.last_ns = max(self.last_ns, ts_ns)
        self.environments.setdefault(environment, None)
        if trace_id:
            self.trace_ids.add(trace_id, ts_ns)
        if version:
            self.versions.add(version, ts_ns)
        if not self.lean:
            self._sample(ts_ns, source)
        if values is not None:
            if not self.values:
                self.values = [_Distinct() for _ in values]
            for seen, value in zip(self.values, values, strict=True):
                seen.add(hash(value))
        if ts_ns >= self.latest_ns:
            self.latest_ns, self.latest_source = ts_ns, source
        where = (environment, version or "")
        minutes = self.timeline.get(where)
        if minutes is None:
            minutes = self.timeline[where] = {}
        minute = ts_ns // MINUTE_NS
        n = minutes.get(minute)
        if n is not None:
            minutes[minute] = n + 1
        elif self.cells < MAX_TIMELINE:
            minutes[minute] = 1
            self.cells += 1
        else:
            self.timeline_capped = True
        if has_stack and (self.stack_source is None or ts_ns >= self.latest_ns):
            self.stack_source = source  # the most recent stack represents the incident

    def _sample(self, ts_ns: int, source: Source) -> None:
        """Keep the `MAX_SAMPLES` newest lines (ties: the first seen). Kept in timestamp order, first seen
        first among equal ones, so the one to drop is always the first."""
        samples = self.samples
        if len(samples) >= MAX_SAMPLES:
            if samples[0][0] >= ts_ns:
                return
            del samples[0]
        if not samples or samples[-1][0] <= ts_ns:
            samples.append((ts_ns, source))
        else:
            samples.insert(bisect.bisect_right([ts for ts, _ in samples], ts_ns), (ts_ns, source))

    def count_lines(self, lines: Sequence[Line], environment: str) -> None:
        """Count lines of one environment exactly as `count_line` would one by one, in order.

        In timestamp order (a poll's lines are) most of that is decided by a few of them: the newest five
        are the samples, the newest line the latest one; a trace id or version older than five others seen
        after it is not kept. Out of order, or only a few (ten thousand bugs queue a line or two each),
        every line is counted on its own."""
        if not lines:
            return
        stamps = list(map(_TS, lines)) if len(lines) >= _FOLD_FROM else []
        if not stamps or stamps != sorted(stamps):
            count_line = self.count_line
            for ts_ns, facts, runs, entry in lines:
                pieces = facts.pieces
                count_line(ts_ns, environment, facts.trace_id(runs), facts.version(runs), facts.truncated,
                           facts.has_stack, None if pieces is None else slot_values(pieces, runs),
                           (entry, environment))  # fmt: skip
            return
        kinds = dict.fromkeys(map(_FACTS, lines))  # the lines' shapes, in order of first appearance
        self.count += len(lines)
        for facts in kinds:
            if facts.truncated and len(self.truncated) < MAX_TRUNCATION_NOTES:
                self.truncated.setdefault(facts.truncated, None)
        if stamps[0] < self.first_ns:
            self.first_ns, self.environment = stamps[0], environment
        self.last_ns = max(self.last_ns, stamps[-1])
        self.environments.setdefault(environment, None)
        for ts_ns, key in _newest_keys(lines, _trace_of, MAX_TRACE_IDS, all(f.fixed_trace for f in kinds)):
            self.trace_ids.add(key, ts_ns)
        for ts_ns, key in _newest_keys(lines, _version_of, MAX_VERSIONS, all(f.fixed_version for f in kinds)):
            self.versions.add(key, ts_ns)
        # the lines at or after the fifth newest timestamp: an older one has five newer lines after it
        newest = 0 if len(lines) <= MAX_SAMPLES else bisect.bisect_left(stamps, stamps[-MAX_SAMPLES])
        for ts_ns, _, _, entry in () if self.lean else lines[newest:]:
            self._sample(ts_ns, (entry, environment))
        self._count_values(lines, kinds)
        before = self.latest_ns
        if stamps[-1] >= before:
            self.latest_ns, self.latest_source = stamps[-1], (lines[-1][3], environment)
        if any(facts.has_stack for facts in kinds):
            self._stack_of(lines, before, environment)
        self._count_minutes(lines, stamps, kinds, environment)

    def _count_values(self, lines: Sequence[Line], kinds: dict[Facts, None]) -> None:
        """Each slot's distinct values: only how many is kept, so the lines are read a slot at a time, and
        not at all for a slot that is full or a constant of every shape."""
        fitting = [f for f in kinds if f.pieces is not None]
        if not fitting:
            return
        pieces = [f.pieces for f in fitting if f.pieces is not None]
        self.values = self.values or [_Distinct() for _ in pieces[0]]
        open_slots = [n for n, seen in enumerate(self.values) if len(seen) < MAX_DISTINCT]
        runs_of: dict[Facts, list[Sequence[str]]] = {f: [] for f in fitting}
        if any(not isinstance(p[n], str) for p in pieces for n in open_slots):
            for _, facts, runs, _ in lines:
                found = runs_of.get(facts)
                if found is not None:
                    found.append(runs)
        for n in open_slots:
            hashes: set[int] = set()
            for facts, slots in zip(fitting, pieces, strict=True):
                slot = slots[n]
                if isinstance(slot, str):
                    hashes.add(hash(slot))
                elif isinstance(slot, int):
                    hashes.update(map(hash, map(itemgetter(slot), runs_of[facts])))
                else:
                    hashes.update(hash("".join([p if isinstance(p, str) else runs[p] for p in slot]))
                                  for runs in runs_of[facts])  # fmt: skip
            seen = self.values[n]
            for value in hashes:
                if len(seen) >= MAX_DISTINCT:
                    break
                seen.add(value)

    def _stack_of(self, lines: Sequence[Line], before: int, environment: str) -> None:
        """The stack source `count_line` would leave: the last line with a stack not older than the newest
        line before these (`before`), else the first line with one if there was none."""
        for ts_ns, facts, _, entry in reversed(lines):
            if facts.has_stack:
                if ts_ns >= before:
                    self.stack_source = (entry, environment)
                    return
                break  # every earlier line is older still
        if self.stack_source is None:
            self.stack_source = next((e, environment) for _, f, _, e in lines if f.has_stack)

    def _count_minutes(
        self, lines: Sequence[Line], stamps: list[int], kinds: dict[Facts, None], environment: str
    ) -> None:
        """The timeline's cells, counted in order of first appearance (a full timeline drops new cells)."""
        counts: dict[tuple[int, str, str], int] = {}
        versions = {f.version(lines[0][2]) for f in kinds} if all(f.fixed_version for f in kinds) else set()
        if len(versions) == 1:  # one version: the cells are the minutes, found by bisection
            version = versions.pop() or ""
            for minute, n in per_minute(stamps):
                counts[(minute, environment, version)] = n
        else:
            for ts_ns, facts, runs, _ in lines:
                cell = (ts_ns // MINUTE_NS, environment, facts.version(runs) or "")
                counts[cell] = counts.get(cell, 0) + 1
        timeline = self.timeline
        for (minute, env, version), n in counts.items():
            minutes = timeline.get((env, version))
            if minutes is None:
                minutes = timeline[(env, version)] = {}
            known = minutes.get(minute)
            if known is not None:
                minutes[minute] = known + n
            elif self.cells < MAX_TIMELINE:
                minutes[minute] = n
                self.cells += 1
            else:
                self.timeline_capped = True

    def _latest(self, event: ErrorEvent) -> tuple[str | None, str, tuple[tuple[int, int], ...]]:
        """The newest occurrence's type and message, and where the template's variable parts are in it."""
        exc_type, message = type_and_message(event)
        regex, names = template_slots(self.template)
        match = regex.fullmatch(message) if regex is not None else None
        template = self.template if match is not None or message == self.template else parameterize(message)
        if match is None and _PLACEHOLDER.search(template):  # its variable parts cannot be told apart:
            message = _PLACEHOLDER.sub("…", template)  # show none of them rather than one sample's
        spans = tuple(match.span(n + 1) for n in range(len(names))) if match is not None else ()
        return exc_type, message, spans

    def _headline(self, latest: ErrorEvent | None) -> str:
        """The newest occurrence's `Type: message`, with parts that took several values replaced by `…`."""
        exc_type, message, spans = self._latest(latest) if latest is not None else (None, "", ())
        for (start, end), seen in sorted(zip(spans, self.values, strict=False), reverse=True):
            if len(seen) > 1:
                message = message[:start] + "…" + message[end:]
        return _headline(exc_type, message)

    def incident(self, resolve: Resolve | None, *, samples: bool = True) -> Incident:
        """The incident counted so far; without its sample lines unless `samples` (each shown line is parsed
        and redacted again, the bulk of building an incident)."""
        parsed: dict[int, ErrorEvent | None] = {}  # the newest line is usually a sample and the stack too

        def event_of(source: Source | None) -> ErrorEvent | None:
            if source is None or isinstance(source, ErrorEvent):
                return source
            if resolve is None:
                raise ValueError("an occurrence counted from its entry needs a parser to be shown")
            if id(source) not in parsed:
                parsed[id(source)] = resolve(*source)
            return parsed[id(source)]

        shown = [event for _, source in self.samples if (event := event_of(source)) is not None] if samples else []
        stack_event = event_of(self.stack_source)
        return Incident(
            fingerprint=self.fingerprint, algorithm=self.algorithm, service=self.service, environment=self.environment,
            fingerprint_parts=tuple(FingerprintPart(name=name, value=value, contributes=contributes, hint=hint)
                                    for name, value, contributes, hint in self.parts),
            environments=tuple(self.environments), exception_type=self.exception_type, title=self.title,
            count=self.count, first_seen=to_datetime(self.first_ns), last_seen=to_datetime(self.last_ns),
            trace_ids=self.trace_ids.ordered(),
            sample=tuple(sorted((_sample_line(e) for e in shown), key=lambda s: (s.ts_ns, s.line_id))),
            stack=stack_event.stack if stack_event is not None else None,
            versions=self.versions.ordered(),
            headline=self._headline(event_of(self.latest_source)),
            variables=self._variable_summary(), timeline_capped=self.timeline_capped,
            timeline=tuple(sorted(TimelineCount(m, e, v, c) for (e, v), minutes in self.timeline.items()
                                  for m, c in minutes.items())),
            truncated=tuple(self.truncated),
        )  # fmt: skip

    def _variable_summary(self) -> tuple[MessageVariable, ...]:
        _, names = template_slots(self.template)
        return tuple(MessageVariable(name=name, kind=kind, distinct=len(seen), capped=len(seen) >= MAX_DISTINCT)
                     for (name, kind), seen in zip(names, self.values, strict=False))  # fmt: skip


def _sample_line(event: ErrorEvent) -> SampleLine:
    exc_type, message = type_and_message(event)
    return SampleLine(line_id=event.line_id, ts_ns=event.ts_ns, text=_cap(event.line), trace_id=event.trace_id,
                      message=_cap(_headline(exc_type, message)), environment=event.environment,
                      version=event.version or "")  # fmt: skip


def _trace_of(facts: Facts, runs: Sequence[str]) -> str | None:
    return facts.trace_id(runs)


def _version_of(facts: Facts, runs: Sequence[str]) -> str | None:
    return facts.version(runs)


def _newest_keys(
    lines: Sequence[Line], key_of: Callable[[Facts, Sequence[str]], str | None], cap: int, fixed: bool
) -> list[tuple[int, str]]:
    """The (ts, key) of lines in timestamp order that can change a `_Newest` of `cap` keys, oldest first.

    A key seen only before `cap` others were all seen later is never kept, so the walk back from the
    newest line stops there (ties at that timestamp are still read: the greater key wins them). When each
    shape's lines share one key (`fixed`), only each key's newest line counts."""
    picked: list[tuple[int, str]] = []
    distinct: set[str] = set()
    wanted: set[str] | None = None  # the keys whose newest line is still to be found
    if fixed:
        wanted = {key for facts in set(map(_FACTS, lines)) if (key := key_of(facts, ()))}
        if not wanted:
            return picked
    bound: int | None = None
    for ts_ns, facts, runs, _ in reversed(lines):
        if bound is not None and ts_ns < bound:
            break
        key = key_of(facts, runs)
        if not key or (wanted is not None and key not in wanted):
            continue
        if wanted is not None:
            wanted.discard(key)
        picked.append((ts_ns, key))
        if key not in distinct:
            distinct.add(key)
            if len(distinct) == cap:
                bound = ts_ns
        if wanted is not None and not wanted:
            break
    picked.reverse()
    return picked


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
        (`Accumulator.count_lines`): most of what a line could change, a newer one changes again."""
        self._events += 1
        if group.dropped:
            group.count += 1
            group.first_ns = min(group.first_ns, line[0])
            return
        if group.queued and group.queued_environment != environment:
            self._count_queued(group)
        queued = group.queued
        if not queued:
            group.queued_environment = environment
            self._queued.append(group)
        queued.append(line)
        self._queued_lines += 1
        if self._queued_lines >= MAX_QUEUED:
            self.count_queued()

    def _count_queued(self, group: Accumulator) -> None:
        lines, group.queued = group.queued, []
        self._queued_lines -= len(lines)
        group.count_lines(lines, group.queued_environment)

    def count_queued(self) -> None:
        """Count every queued line."""
        for group in self._queued:
            if group.queued:
                self._count_queued(group)
        self._queued = []

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
            return group.incident(self._resolve, samples=full)

        if not release:
            return [build(g) for g in groups]
        self._groups = {}
        groups.reverse()
        built: list[Incident] = []
        while groups:
            built.append(build(groups.pop()))
        return built
