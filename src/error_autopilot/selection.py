"""Which incidents a run keeps: those it publishes (`max_incidents`, carried in full, with their sample
lines), those that wait pending in state (lean), and those dropped beyond `policy.max_pending`.

One order decides all three (`publish_order`: oldest first sighting first), and it is known from cheap
facts, the first sighting and the count of each incident, before any incident is built: so a run builds
only what it keeps, and a dropped incident is counted (`Plan.dropped`) but never built. `LeanFinder`
makes the same decision while polling: the sample lines of incidents that will not be published are let
go, and the incidents that will be dropped are only counted from then on.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from error_autopilot.domain.incidents import Plan, PlannedIncident
from error_autopilot.incidents.group import to_micros
from error_autopilot.incidents.ingest import Ingest
from error_autopilot.state.model import State

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def publish_order(first_seen: datetime, fingerprint: str) -> tuple[datetime, str]:
    """The order runs take incidents in, oldest first: what waited longest is published first, and an
    incident left pending by `max_incidents` moves up with every run until its turn comes. The one
    ordering of `plan` (which picks the incidents a run handles) and `publish` (which handles them)."""
    return first_seen, fingerprint


def in_publish_order(planned: Iterable[PlannedIncident]) -> list[PlannedIncident]:
    """`planned` sorted by `publish_order`."""
    return sorted(planned, key=lambda p: publish_order(p.incident.first_seen, p.incident.fingerprint))


def pending_first_seen(state: State, services: Collection[str] = ()) -> dict[str, datetime]:
    """When each incident state holds pending (narrowed to `services`) was first seen: what `choose`
    orders them by, beside this poll's own incidents."""
    first: dict[str, datetime] = {}
    for fp, record in state.incidents.items():
        payload = record.pending_incident if record.pending else None
        if payload is not None and (not services or payload.service in services):
            first[fp] = payload.first_seen
    return first


@dataclass(frozen=True)
class Selection:
    """What a plan keeps of the incidents a poll found and state held pending."""

    full: frozenset[str] | None  # built with their sample lines: this run publishes them (None: all)
    dropped: tuple[str, ...] = ()  # beyond max_pending, in publish order: never built
    dropped_pending: tuple[str, ...] = ()  # those of them state holds pending: recording the plan drops them


def choose(
    state: State, fresh: Mapping[str, datetime], cap: int | None, max_pending: int | None,
    services: Collection[str] = (),
) -> Selection:  # fmt: skip
    """The selection, by `publish_order` once `fresh` (each incident's first sighting in this poll) is merged
    into what state holds pending (narrowed to `services`): the first `cap` in full, the next `max_pending`
    lean, the rest dropped. The same plan as building every incident and applying `cap_pending` after."""
    if cap is None:  # every incident is published: none waits, so none is dropped
        return Selection(full=None)
    pending = pending_first_seen(state, services)
    first = dict(fresh)
    for fp, seen in pending.items():
        first[fp] = min(seen, first[fp]) if fp in first else seen
    ordered = sorted(first, key=lambda fp: publish_order(first[fp], fp))
    dropped = () if max_pending is None else tuple(ordered[cap + max_pending :])
    return Selection(
        full=frozenset(ordered[:cap]), dropped=dropped, dropped_pending=tuple(fp for fp in dropped if fp in pending)
    )


def cap_pending(plan: Plan, max_pending: int | None) -> Plan:
    """The plan with at most `max_pending` incidents to wait in state after it is recorded: those beyond,
    last in publish order (the newest), left out and counted (`Plan.dropped`). The ones state already held
    pending are named, so recording the plan drops them there too. A bug left out is planned again, as new
    occurrences, when it recurs; its issue, if it has one, keeps what it had. `plan` applies it before
    building (`choose`); this is for a plan changed after (a dispatched trace's incident added)."""
    kept = len(plan.selected) + (max_pending or 0)
    if max_pending is None or len(plan.incidents) <= kept:
        return plan.model_copy(update={"max_pending": max_pending})
    selected = {id(p) for p in plan.selected}
    keep = [p for p in plan.incidents if id(p) in selected]
    rest = [p for p in plan.incidents if id(p) not in selected]
    keep += rest[:max_pending]
    dropped = rest[max_pending:]
    order = {id(p): n for n, p in enumerate(plan.incidents)}
    return plan.model_copy(
        update={
            "incidents": tuple(sorted(keep, key=lambda p: order[id(p)])),
            "max_pending": max_pending,
            "dropped": plan.dropped + len(dropped),
            "dropped_occurrences": plan.dropped_occurrences + sum(p.incident.count for p in dropped),
            "dropped_pending": (*plan.dropped_pending, *(p.incident.fingerprint for p in dropped if p.carried)),
        }
    )


class LeanFinder:
    """Finds, while polling, the incidents the plan will build lean (past `max_incidents` in publish order),
    so the grouper lets their sample lines go as soon as that is certain rather than at the end: with ten
    thousand bugs, their five lines each were some 30 MB of the plan's peak. Likewise those it will drop
    (past `max_incidents` + `max_pending`): from then on they are only counted (`IncidentGrouper.leave_out`).

    The order is by first sighting (`publish_order`), which only moves earlier as lines are read, and never
    to before the oldest line still to come: pages come oldest first, and environments not polled yet start
    at their windows. So an incident first seen after the `cap`-th earliest sighting so far, and after the
    oldest line still to come, stays out. Incidents state holds pending keep their lines (their own sighting
    there may be earlier)."""

    EVERY = 8  # pages between looks: each one counts the queued lines and walks every incident
    # ...unless this many incidents are new since the last look: a storm of distinct bugs shows most of them on
    # its first pages, and each is counted in full until a look lets it go (the plan's peak was there)
    NEW = 256

    def __init__(
        self, ingest: Ingest, state: State, cap: int | None, services: Sequence[str], max_pending: int | None = None
    ) -> None:
        self._grouper = ingest.grouper
        self._cap = cap
        self._kept = None if cap is None or max_pending is None else cap + max_pending
        pending = pending_first_seen(state, services)
        self._pending = frozenset(pending)
        self._pending_us = [(seen - _EPOCH) // _MICROSECOND for seen in pending.values()]
        self._pages = 0
        self._looked_at = 0  # incidents at the last look

    def page_read(self, newest_ns: int, *, later_ns: int) -> None:
        """A page whose newest line is at `newest_ns` was counted: the next pages start there, and the
        environments still to poll at `later_ns` (oldest first, see above)."""
        still_to_come_ns = min(newest_ns, later_ns)
        self._pages += 1
        if self._cap is None or (self._pages % self.EVERY and len(self._grouper) < self._looked_at + self.NEW):
            return
        self._looked_at = len(self._grouper)
        firsts = self._grouper.first_micros(leaving_out=self._pending)
        if len(firsts) + len(self._pending_us) <= self._cap:
            return
        still_to_come_us = to_micros(still_to_come_ns)
        for bound, leave in ((self._cap, self._grouper.leave_lean), (self._kept, self._grouper.leave_out)):
            if bound is not None and len(firsts) + len(self._pending_us) > bound:
                last_in = heapq.nsmallest(bound, itertools.chain(self._pending_us, firsts))[-1]
                if still_to_come_us > last_in:
                    leave(last_in, keep=self._pending)
