"""The overlap between runs: keeps a poll from counting a line twice across runs, and says when it was too short.

Each run starts reading `overlap_s` before the cursor, so lines that reach Loki late are still read. This
module is that overlap's bookkeeping for one environment's poll, a page at a time: which lines the previous
run already counted (dropped), which lines of this run the next one must skip (their keys, kept in state
with the cursor), how many lines were read per minute, and, after the poll, how many lines arrived too late
even for the overlap (`late_lines`).
"""

from __future__ import annotations

import bisect
import logging
from collections import deque
from operator import attrgetter

from error_autopilot.domain.errors import SourceError
from error_autopilot.domain.events import LogEntry
from error_autopilot.domain.layout import line_key
from error_autopilot.incidents.counting import MINUTE_NS, per_minute
from error_autopilot.ports import EventSource, PollStats
from error_autopilot.state import ledger
from error_autopilot.state.model import State

log = logging.getLogger(__name__)
_TS = attrgetter("ts_ns")
_IDENTITY = attrgetter("identity")

LATE_PROBE_NS = 3600 * 1_000_000_000
LATE_PROBE_LINES = 5000


class Overlap:
    """One environment's poll, seen from the overlap: fed every page the source hands over, in order."""

    def __init__(self, window: ledger.PollStart, overlap_s: int) -> None:
        self._window = window
        self._overlap_ns = overlap_s * 1_000_000_000
        # every line read inside the overlap behind the newest one, so the next run skips it too: a page's
        # timestamps and identities while any of its lines may still be in it (at a million lines per half
        # hour some 170,000 lines), each page dropped whole once its newest line has fallen out, and the lines
        # kept cut to keys only at the end (a line at a time, that bookkeeping cost as much as a tenth of a plan)
        self._tail: deque[tuple[list[int], list[str]]] = deque()
        self._newest = -1
        self.minute_counts: dict[int, int] = {}  # lines counted per epoch minute, for `late_lines` next run

    def fresh(self, page: list[LogEntry]) -> list[LogEntry]:
        """The lines of `page` (not empty, in timestamp order) the previous run did not read. The page is
        remembered for the next run's overlap, and its fresh lines are counted per minute."""
        stamps = list(map(_TS, page))
        self._tail.append((stamps, list(map(_IDENTITY, page))))
        self._newest = max(self._newest, stamps[-1])  # a page is in timestamp order: its last line is its newest
        while self._tail[0][0][-1] < self._newest - self._overlap_ns:
            self._tail.popleft()
        fresh = _not_read_last_run(page, self._window)
        for minute, n in per_minute(stamps if fresh is page else list(map(_TS, fresh))):
            self.minute_counts[minute] = self.minute_counts.get(minute, 0) + n
        return fresh

    def tail_keys(self) -> tuple[str, ...]:
        """The keys of the lines read within `overlap_s` of the newest one: what the next run must not count
        again. Each page is let go as its keys are made (the identities and the keys of all of them at once
        were some 10 MB of a peak), so this is called once, when the poll is over."""
        oldest_ns = self._newest - self._overlap_ns
        keys: list[str] = []
        while self._tail:
            stamps, ids = self._tail.popleft()
            keys.extend(map(line_key, ids[bisect.bisect_left(stamps, oldest_ns) :]))
        return tuple(keys)


def _not_read_last_run(page: list[LogEntry], window: ledger.PollStart) -> list[LogEntry]:
    """The page without the lines the previous run read in its overlap. Those are no newer than its cursor:
    only a page reaching back that far is looked at, and in it only the lines that old.

    Not the Loki source's `_without_boundary_repeats`, on purpose: that one undoes its own paging within one
    poll (only the lines at the one nanosecond a page starts at, by full identity); this one undoes the
    overlap across runs (every line up to the cursor, by the 64-bit keys state keeps of them)."""
    seen, until = window.seen_line_ids, window.seen_until_ns
    if until is None:
        until = page[-1].ts_ns
    if not seen or page[0].ts_ns > until:
        return page
    old = bisect.bisect_right(page, until, key=_TS)  # the page is in timestamp order
    return [*(entry for entry in page[:old] if line_key(entry.identity) not in seen), *page[old:]]


def late_lines(env: str, source: EventSource, state: State, start_ns: int) -> int:
    """Re-count the hour before the window: lines Loki holds there beyond what we read arrived late."""
    counts: dict[int, int] = {}
    complete_before = start_ns
    try:
        for n, entry in enumerate(source.poll(start_ns - LATE_PROBE_NS, start_ns, PollStats()), start=1):
            minute = entry.ts_ns // MINUTE_NS
            counts[minute] = counts.get(minute, 0) + 1
            if n >= LATE_PROBE_LINES:  # bounded: compare only the minutes read in full
                complete_before = minute * MINUTE_NS
                break
    except SourceError as e:
        log.warning("%s: could not check for late lines: %s", env, e)
        return 0
    late = ledger.late_lines(state, env, counts, complete_before)
    if late:
        log.warning("%s: %d line(s) reached Loki after the overlap window had passed them; raise overlap_s", env, late)
    return late
