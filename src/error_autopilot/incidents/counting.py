"""Occurrences counted into an incident's aggregates and never kept: counts, first and last sighting, the
newest trace ids, versions and sample lines, distinct values per template slot, a per-minute timeline.

Lines counted from their shape (see ingest.py) are counted a batch at a time (`Accumulator.count_lines`):
in timestamp order most of what a line could change, a newer one changes again. An incident the plan
drops (`policy.max_pending`) is only counted from the moment that is certain (`Accumulator.drop`).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Protocol

from error_autopilot.domain.events import ErrorEvent, LogEntry
from error_autopilot.domain.incidents import MAX_SAMPLES, MAX_TRACE_IDS, MAX_VERSIONS
from error_autopilot.incidents.messages import template_slots, type_and_message
from error_autopilot.incidents.parameterize import parameterize
from error_autopilot.incidents.seen_values import MAX_DISTINCT, NONE_KEPT, Distinct, Newest

MAX_TRUNCATION_NOTES = 3
MAX_TIMELINE = 4000  # (minute, environment, version) cells per incident; later new cells are not kept
MINUTE_NS = 60_000_000_000


def per_minute(stamps: Sequence[int]) -> Iterator[tuple[int, int]]:
    """(epoch minute, how many) of ascending nanosecond `stamps`, a minute at a time by bisection: a
    storm's page spans a few minutes, so this is a handful of steps where counting was one per line."""
    start = 0
    for minute in range(stamps[0] // MINUTE_NS, stamps[-1] // MINUTE_NS + 1) if stamps else ():
        end = bisect.bisect_left(stamps, (minute + 1) * MINUTE_NS, start)
        if end > start:
            yield minute, end - start
        start = end


# Where an occurrence's text comes from when the incident is built: its parsed event, or its entry and
# environment to parse then (the ingest path parses only the few lines an incident shows, see ingest.py).
Source = ErrorEvent | tuple[LogEntry, str]
FOLD_FROM = 6  # fewer queued lines of an incident are counted one by one: folding costs as much as five


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
    trace_ids: Newest = field(default_factory=lambda: Newest(MAX_TRACE_IDS))
    samples: list[tuple[int, Source]] = field(default_factory=list)  # the newest occurrences, by ts
    stack_source: Source | None = None  # the newest occurrence with a stack
    versions: Newest = field(default_factory=lambda: Newest(MAX_VERSIONS))
    values: list[Distinct] = field(default_factory=list)  # per slot, hashes of the distinct values seen
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
    # counted line by line as it comes, not queued: its lines came too far apart to fold (`IncidentGrouper.queue`)
    direct: bool = False
    direct_lines: int = 0  # lines counted so since the grouper last counted its queues
    dropped: bool = False  # never built (the plan drops it, `policy.max_pending`): only counted (see `drop`)

    def drop(self) -> None:
        """Keep only what a dropped incident is reported by, its count and first sighting, and count only
        those from now on: with ten thousand bugs most are dropped, and their counts were most of a run's
        memory and much of its time."""
        self.dropped = self.lean = True
        self.parts, self.title = (), ""  # its template stays: the shapes counted into it compare theirs
        self.environments, self.truncated, self.timeline = {}, {}, {}
        self.trace_ids = self.versions = NONE_KEPT
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
        # ten thousand bugs have most of their lines counted here one at a time: each test is made once, and
        # what changes nothing (the same environment, an older line) is not written again
        self.count += 1
        if truncated and len(self.truncated) < MAX_TRUNCATION_NOTES:
            self.truncated.setdefault(truncated, None)
        if ts_ns < self.first_ns:
            self.first_ns, self.environment = ts_ns, environment
        self.last_ns = max(self.last_ns, ts_ns)
        if environment not in self.environments:
            self.environments[environment] = None
        if trace_id:
            self.trace_ids.add(trace_id, ts_ns)
        if version:
            self.versions.add(version, ts_ns)
        if not self.lean:
            self._sample(ts_ns, source)
        if values is not None:
            if not self.values:
                self.values = [Distinct() for _ in values]
            for seen, value in zip(self.values, values, strict=True):
                seen.add(hash(value))
        newest = ts_ns >= self.latest_ns
        if newest:
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
        if has_stack and (newest or self.stack_source is None):
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

    def count_one(self, line: Line, environment: str) -> None:
        """`count_line` of a line counted by its facts."""
        ts_ns, facts, runs, entry = line
        pieces = facts.pieces
        self.count_line(ts_ns, environment, facts.trace_id(runs), facts.version(runs), facts.truncated,
                        facts.has_stack, None if pieces is None else slot_values(pieces, runs),
                        (entry, environment))  # fmt: skip

    def count_lines(self, lines: Sequence[Line], environment: str) -> None:
        """Count lines of one environment exactly as `count_line` would one by one, in order.

        In timestamp order (a poll's lines are) most of that is decided by a few of them: the newest five
        are the samples, the newest line the latest one; a trace id or version older than five others seen
        after it is not kept. Out of order, or only a few (ten thousand bugs queue a line or two each),
        every line is counted on its own."""
        if not lines:
            return
        stamps = list(map(_TS, lines)) if len(lines) >= FOLD_FROM else []
        if not stamps or stamps != sorted(stamps):
            for line in lines:
                self.count_one(line, environment)
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
        self.values = self.values or [Distinct() for _ in pieces[0]]
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


def _trace_of(facts: Facts, runs: Sequence[str]) -> str | None:
    return facts.trace_id(runs)


def _version_of(facts: Facts, runs: Sequence[str]) -> str | None:
    return facts.version(runs)


def _newest_keys(
    lines: Sequence[Line], key_of: Callable[[Facts, Sequence[str]], str | None], cap: int, fixed: bool
) -> list[tuple[int, str]]:
    """The (ts, key) of lines in timestamp order that can change a `Newest` of `cap` keys, oldest first.

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
