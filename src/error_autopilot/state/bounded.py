"""What a pending incident keeps: merged across polls and bounded in size (pure).

State and plan.json carry every waiting incident until it is published; these bounds are why each of
them costs a bounded number of bytes however long it waits and however often it recurs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from error_autopilot.domain.incidents import MAX_SAMPLES, MAX_TRACE_IDS, MAX_VERSIONS, Incident, TimelineCount
from error_autopilot.domain.stack import ExceptionInfo, Frame, StackTrace

# What a waiting (pending) incident keeps at most, so every one of them has a bounded size in plan.json and
# state.json. The issue shows 5 exceptions and 40 own frames, the agent's prompt 30 frames an exception.
MAX_STORED_EXCEPTIONS = 5  # the thrown one, the next three causes and the root cause
MAX_STORED_FRAMES = 30  # frames kept from the top of each exception, besides its own code's further down
MAX_STORED_OWN = 40  # own (in-app) frames kept over the whole stack
MAX_STORED_CELLS = 1440  # timeline cells; beyond, minutes are merged into the coarsest bucket needed
_COARSER = (2, 5, 10, 30, 60, 120, 360, 720, 1440)  # minutes per cell, each dividing the bar sizes


def capped(items: Iterable[str], cap: int) -> tuple[str, ...]:
    """The last `cap` distinct items, in order of their first appearance."""
    unique = list(dict.fromkeys(items))
    return tuple(unique[-cap:])


def merge(older: Incident, newer: Incident) -> Incident:
    """One incident from two polls of the same fingerprint (older pending + fresh occurrences)."""
    return newer.model_copy(
        update={
            "count": older.count + newer.count,
            "first_seen": min(older.first_seen, newer.first_seen),
            "last_seen": max(older.last_seen, newer.last_seen),
            "environments": tuple(dict.fromkeys((*older.environments, *newer.environments))),
            "trace_ids": capped((*older.trace_ids, *newer.trace_ids), MAX_TRACE_IDS),
            "sample": (*older.sample, *newer.sample)[-MAX_SAMPLES:],
            "versions": capped((*older.versions, *newer.versions), MAX_VERSIONS),
            "stack": newer.stack or older.stack,
            "truncated": tuple(dict.fromkeys((*older.truncated, *newer.truncated)))[:3],
            "timeline": _summed(older.timeline, newer.timeline),
            "timeline_capped": older.timeline_capped or newer.timeline_capped,
        }
    )


def _summed(*timelines: Sequence[TimelineCount]) -> tuple[TimelineCount, ...]:
    counts: dict[tuple[int, str, str], int] = {}
    for cell in (c for timeline in timelines for c in timeline):
        key = (cell.minute, cell.environment, cell.version)
        counts[key] = counts.get(key, 0) + cell.count
    return tuple(TimelineCount(m, e, v, n) for (m, e, v), n in sorted(counts.items()))


def storable(incident: Incident) -> Incident:
    """What state keeps of a pending incident, and a plan of one it leaves pending: no log lines, and a
    bounded stack and timeline (`MAX_STORED_*`). State is pushed to the repository and stays in its
    history; title and stack were redacted when the lines were parsed, and the sample lines are read
    again with the incident's next occurrences. The incident itself when nothing is to be cut."""
    stack = _bounded_stack(incident.stack) if incident.stack else None
    timeline = _bounded_timeline(incident.timeline)
    if not incident.sample and stack is incident.stack and timeline is incident.timeline:
        return incident
    return incident.model_copy(update={"sample": (), "stack": stack, "timeline": timeline})


def _bounded_stack(stack: StackTrace) -> StackTrace:
    """At most `MAX_STORED_EXCEPTIONS` exceptions (the root cause kept), each with its top `MAX_STORED_FRAMES`
    frames and its own frames below them while `MAX_STORED_OWN` allows; what is cut is counted in
    `omitted_frames` and the stack marked truncated, as the parser's own caps do."""
    exceptions = stack.exceptions
    if len(exceptions) > MAX_STORED_EXCEPTIONS:
        exceptions = (*exceptions[: MAX_STORED_EXCEPTIONS - 1], exceptions[-1])
    own = MAX_STORED_OWN
    kept: list[ExceptionInfo] = []
    for exc in exceptions:
        frames: list[Frame] = []
        for n, frame in enumerate(exc.frames):
            if n < MAX_STORED_FRAMES:
                frames.append(frame)
            elif frame.in_app and own > 0:
                frames.append(frame)
                own -= 1
        cut = len(exc.frames) - len(frames)
        kept.append(exc if not cut else exc.model_copy(
            update={"frames": tuple(frames), "omitted_frames": exc.omitted_frames + cut}))  # fmt: skip
    if len(kept) == len(stack.exceptions) and all(a is b for a, b in zip(kept, stack.exceptions, strict=True)):
        return stack
    return stack.model_copy(update={"exceptions": tuple(kept), "truncated": True})


def _bounded_timeline(timeline: tuple[TimelineCount, ...]) -> tuple[TimelineCount, ...]:
    """At most `MAX_STORED_CELLS` cells: minutes merged into the first bucket size in `_COARSER` that fits
    (the counts stay whole; the issue's chart draws 24 bars at most, so it rarely shows the difference)."""
    if len(timeline) <= MAX_STORED_CELLS:
        return timeline
    for size in _COARSER:
        coarse = _summed([TimelineCount(c.minute // size * size, c.environment, c.version, c.count) for c in timeline])
        if len(coarse) <= MAX_STORED_CELLS:
            return coarse
    return coarse[-MAX_STORED_CELLS:]
