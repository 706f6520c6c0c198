"""Streaming grouping: counts, evidence caps, dedup of already-counted lines, bounded memory."""

from __future__ import annotations

import random
import tracemalloc
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import pytest

from error_autopilot.domain.events import ErrorEvent, LogEntry
from error_autopilot.incidents.counting import MAX_TIMELINE, Accumulator, Line, Pieces, Source, slot_values
from error_autopilot.incidents.events import parse_entry
from error_autopilot.incidents.group import MAX_QUEUED, MAX_SAMPLE_CHARS, MAX_TITLE, IncidentGrouper
from error_autopilot.incidents.stacktrace import parse_stacktrace
from tests.conftest import TEST_FIXTURES
from tests.support.grouping_corpus import SMAP

ORDER_TRACE = (TEST_FIXTURES / "stacktraces" / "jvm" / "real_loki_order_service.txt").read_text(encoding="utf-8")
ORDER_STACK = parse_stacktrace(ORDER_TRACE, packages=("com.example.order",))
T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
SECOND = 1_000_000_000


def order_event(
    i: int,
    *,
    env: str = "dev",
    trace: str | None = None,
    version: str | None = None,
    line: str = ORDER_TRACE,
    ts_ns: int | None = None,
) -> ErrorEvent:
    return ErrorEvent(
        line_id=f"order-{i}",
        ts_ns=T0 + i * SECOND if ts_ns is None else ts_ns,
        environment=env,
        service="order-service",
        message=f"Failed to place order {i}",
        line=line,
        stack=ORDER_STACK,
        exception_type="java.lang.IllegalStateException",
        exception_message=f"Payment authorization failed for order {4000 + i}",
        trace_id=trace,
        version=version,
    )


def plain_event(i: int, message: str, service: str = "user-service") -> ErrorEvent:
    return ErrorEvent(
        line_id=f"plain-{i}", ts_ns=T0 + i * SECOND, environment="dev", service=service, message=message, line=message
    )


def test_events_of_one_bug_become_one_incident() -> None:
    grouper = IncidentGrouper()
    for i in range(7):
        grouper.add(order_event(i, env="prod" if i == 3 else "dev", trace=f"{i:032x}", version=f"v{i % 2}"))
    grouper.add(plain_event(1, "user 42 not found"))
    grouper.add(plain_event(2, "user 7 not found"))
    grouper.add(plain_event(3, "cache warmup failed"))

    incidents = grouper.incidents()
    assert [(i.service, i.count) for i in incidents] == [("order-service", 7), ("user-service", 2), ("user-service", 1)]
    order = incidents[0]
    assert order.title == "IllegalStateException: Payment authorization failed for order <int> in order-service"
    assert incidents[1].title == "user <int> not found in user-service"
    assert order.exception_type == "java.lang.IllegalStateException"
    assert order.first_seen == datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC)
    assert order.last_seen == datetime(2026, 1, 1, 0, 0, 6, tzinfo=UTC)
    assert (order.environment, order.environments) == ("dev", ("dev", "prod"))
    assert order.trace_ids == tuple(f"{i:032x}" for i in range(2, 7))  # the 5 most recent, oldest first
    assert order.versions == ("v1", "v0")  # v0 was seen last (event 6)
    assert [s.line_id for s in order.sample] == [f"order-{i}" for i in range(2, 7)]
    assert order.stack == ORDER_STACK
    assert order.fingerprint_parts and order.algorithm == 1 and len(order.fingerprint) == 16
    assert grouper.events == 10


def test_out_of_order_events_keep_the_newest_evidence() -> None:
    grouper = IncidentGrouper()
    for i in (9, 1, 8, 2, 7, 3, 6, 4, 5, 0):
        grouper.add(order_event(i, trace=f"{i:032x}", version=f"v{i}", env=f"env{i}"))
    [incident] = grouper.incidents()
    assert incident.first_seen == datetime(2026, 1, 1, tzinfo=UTC)
    assert incident.environment == "env0"  # where it was seen first
    assert incident.trace_ids == tuple(f"{i:032x}" for i in range(5, 10))
    assert incident.versions == tuple(f"v{i}" for i in range(5, 10))
    assert [s.ts_ns for s in incident.sample] == [T0 + i * SECOND for i in range(5, 10)]


def test_samples_and_title_are_capped() -> None:
    grouper = IncidentGrouper()
    huge = "x" * 100_000
    grouper.add(plain_event(1, "kaboom " + "word " * 200))
    grouper.add(order_event(2, line=huge))
    incidents = {i.service: i for i in grouper.incidents()}
    assert len(incidents["user-service"].title) <= MAX_TITLE
    assert incidents["user-service"].title.endswith("… in user-service")
    [sample] = incidents["order-service"].sample
    assert len(sample.text) <= MAX_SAMPLE_CHARS and sample.text.endswith("[truncated]")


def test_incidents_sorted_by_count_then_first_seen() -> None:
    grouper = IncidentGrouper()
    grouper.add(plain_event(5, "b failed"))
    grouper.add(plain_event(1, "a failed"))
    grouper.add(plain_event(9, "c failed"))
    grouper.add(plain_event(10, "c failed"))
    assert [i.title for i in grouper.incidents()] == [
        "c failed in user-service",
        "a failed in user-service",
        "b failed in user-service",
    ]


def test_absurd_timestamps_do_not_crash() -> None:
    grouper = IncidentGrouper()
    grouper.add(order_event(1, ts_ns=-5))
    grouper.add(order_event(2, ts_ns=10**30))
    [incident] = grouper.incidents()
    assert incident.first_seen == datetime(1970, 1, 1, tzinfo=UTC)
    assert incident.last_seen.year == 9999


def _many(n: int) -> Iterator[ErrorEvent]:
    for i in range(n):
        yield order_event(i, line="y" * 8192 + str(i), trace=f"{i:032x}")


def test_memory_is_bounded_by_fingerprints_not_lines() -> None:
    """2,000 events of 8 KiB each (16 MB if kept) leave only line ids and capped evidence behind."""
    grouper = IncidentGrouper()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for e in _many(2_000):
            grouper.add(e)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    [incident] = grouper.incidents()
    assert incident.count == 2_000 and len(incident.sample) == 5 and len(incident.trace_ids) == 5
    assert grown < 2_000_000, f"grouper kept {grown} bytes for 2,000 events"


def test_the_headline_is_the_newest_message_with_varying_parts_summarised() -> None:
    grouper = IncidentGrouper()
    for i in reversed(range(30)):  # arrival order is not time order
        grouper.add(order_event(i, env="prod" if i % 3 else "staging", version="v1" if i < 20 else "v2",
                                ts_ns=T0 + i * 30 * SECOND))  # fmt: skip
    (incident,) = grouper.incidents()
    assert incident.headline == "IllegalStateException: Payment authorization failed for order …"
    assert [(v.name, v.kind, v.distinct) for v in incident.variables] == [("order", "int", 30)]
    assert incident.sample[-1].message == "IllegalStateException: Payment authorization failed for order 4029"
    cells = {(c.minute - T0 // (60 * SECOND), c.environment, c.version): c.count for c in incident.timeline}
    assert sum(cells.values()) == 30 and cells[(14, "prod", "v2")] == 2 and cells[(0, "staging", "v1")] == 1
    assert {v for _, _, v in cells} == {"v1", "v2"} and not incident.timeline_capped


def test_a_value_every_occurrence_shares_stays_in_the_headline() -> None:
    grouper = IncidentGrouper()
    for i in range(3):
        grouper.add(ErrorEvent(line_id=str(i), ts_ns=T0 + i, environment="prod", service="billing", line="x",
                               message="boom", exception_type="KeyError", exception_message="'currency'"))  # fmt: skip
    (incident,) = grouper.incidents()
    assert incident.headline == "KeyError: 'currency'" and incident.title == "KeyError: <quoted> in billing"


class _ShapeFacts:
    """A shape's facts as ingest gives them: a fixed or run-read trace id and version, template pieces."""

    def __init__(
        self, n: int, trace: int, version: int, pieces: Pieces | None, has_stack: bool, truncated: str | None
    ) -> None:
        self.n, self.trace, self.version_run, self.pieces = n, trace, version, pieces
        self.has_stack, self.truncated = has_stack, truncated
        self.fixed_trace, self.fixed_version = trace < 0, version < 0

    def trace_id(self, runs: Sequence[str]) -> str | None:
        return f"{self.n:032x}" if self.trace < 0 else runs[self.trace]  # each shape its own fixed one

    def version(self, runs: Sequence[str]) -> str | None:
        if self.version_run < 0:
            return f"v{self.n % 2}" if self.n else None
        return runs[self.version_run] or None


def _accumulator() -> Accumulator:
    grouper = IncidentGrouper()
    grouper.add(order_event(0))
    group = grouper.group(next(iter(grouper._groups)))
    assert group is not None
    return group


def _state(group: Accumulator) -> dict[str, object]:
    def entry(source: object) -> object:
        return source[0].line if isinstance(source, tuple) else source

    return {
        "count": group.count, "first": (group.first_ns, group.environment), "last": group.last_ns,
        "environments": list(group.environments), "traces": group.trace_ids.ordered(),
        "versions": group.versions.ordered(), "samples": [(ts, entry(s)) for ts, s in group.samples],
        "stack": entry(group.stack_source), "latest": (group.latest_ns, entry(group.latest_source)),
        "values": [len(v) for v in group.values], "timeline": group.timeline, "truncated": list(group.truncated),
    }  # fmt: skip


@pytest.mark.parametrize("seed", range(60))
def test_lines_counted_together_leave_what_counting_them_one_by_one_leaves(seed: int) -> None:
    rng = random.Random(seed)
    kinds = [
        _ShapeFacts(n, trace=rng.choice((-1, 0)), version=rng.choice((-1, -1, 1)),
                    pieces=rng.choice((None, ("a",), (2,), (("x", 2, "-", 0),))),  # one slot, as the template has
                    has_stack=rng.random() < 0.6, truncated=rng.choice((None, None, "cut", f"cut {seed}")))
        for n in range(rng.randint(1, 4))
    ]  # fmt: skip
    pool = rng.choice((3, 12, 2000))  # few trace ids and values, or more than are kept
    lines: list[Line] = []
    ts = T0 + rng.randint(-120, 120) * SECOND
    for n in range(rng.choice((1, 4, 6, 40, 3000))):
        ts += rng.choice((0, 0, 0, 1, SECOND, 70 * SECOND))  # ties, and minutes apart
        runs = (f"{rng.randrange(pool):032x}", rng.choice(("", "v2", "v3")), str(rng.randrange(pool)))
        lines.append((ts, rng.choice(kinds), runs, LogEntry(ts, f"line {n}", {})))
    if seed % 4 == 3:
        rng.shuffle(lines)  # out of order: counted one by one
    one_by_one, together = _accumulator(), _accumulator()
    cut = 0
    while cut < len(lines):  # in chunks of any size, compared after each
        chunk = lines[cut : cut + rng.choice((1, 2, 5, 7, 64, 5000))]
        for ts_ns, facts, runs, entry in chunk:
            values = slot_values(facts.pieces, runs) if facts.pieces is not None else None
            one_by_one.count_line(ts_ns, "prod", facts.trace_id(runs), facts.version(runs), facts.truncated,
                                  facts.has_stack, values, (entry, "prod"))  # fmt: skip
        together.count_lines(chunk, "prod")
        assert _state(together) == _state(one_by_one), cut
        cut += len(chunk)


def test_the_timeline_keeps_its_first_cells_up_to_the_cap_and_says_so() -> None:
    grouper = IncidentGrouper()
    minute = 60 * SECOND
    for i in range(MAX_TIMELINE + 3):  # a minute each, over two environments and versions
        grouper.add(order_event(i, env="prod" if i % 2 else "dev", version=f"v{i % 3}", ts_ns=T0 + i * minute))
    grouper.add(order_event(0, env="dev", version="v0", ts_ns=T0 + 10 * SECOND))  # a kept cell: still counted
    (incident,) = grouper.incidents()
    assert len(incident.timeline) == MAX_TIMELINE and incident.timeline_capped
    assert [c.minute for c in incident.timeline] == sorted(c.minute for c in incident.timeline)
    assert incident.timeline[0] == (T0 // minute, "dev", "v0", 2)
    assert sum(c.count for c in incident.timeline) == MAX_TIMELINE + 1 and incident.count == MAX_TIMELINE + 4


@pytest.mark.parametrize("seed", range(4))
def test_lines_queued_over_many_incidents_leave_what_counting_each_as_it_comes_leaves(seed: int) -> None:
    """A few hot incidents among hundreds that get a line now and then: the cold ones are counted as their lines
    come, the hot ones queued and folded, and a cold one that turns hot is queued again."""
    rng = random.Random(seed)
    queued, one_by_one = IncidentGrouper(), IncidentGrouper()
    for grouper in (queued, one_by_one):
        for n in range(300):  # an incident per service: the service is part of the fingerprint
            grouper.add(order_event(0).model_copy(update={"service": f"svc-{n}", "line_id": f"first-{n}"}))
    groups = {fp: (queued.group(fp), one_by_one.group(fp)) for fp in queued._groups}
    fingerprints = sorted(groups)
    hot = fingerprints[:3]
    facts = [_ShapeFacts(n, trace=rng.choice((-1, 0)), version=rng.choice((-1, 1)), pieces=rng.choice((None, (2,))),
                         has_stack=rng.random() < 0.6, truncated=None) for n in range(3)]  # fmt: skip
    ts = T0
    for n in range(4 * MAX_QUEUED):
        ts += rng.choice((0, 1, SECOND))
        turned = n > 2 * MAX_QUEUED and rng.random() < 0.3  # late on, one cold incident turns hot
        fp = fingerprints[7] if turned else rng.choice(hot) if rng.random() < 0.5 else rng.choice(fingerprints)
        runs = (f"{rng.randrange(50):032x}", rng.choice(("", "v2", "v3")), str(rng.randrange(20)))
        line: Line = (ts, rng.choice(facts), runs, LogEntry(ts, f"line {n}", {}))
        mine, theirs = groups[fp]
        assert mine is not None and theirs is not None
        queued.queue(mine, line, "prod")
        theirs.count_one(line, "prod")
    queued.count_queued()
    assert any(mine.direct for mine, _ in groups.values()) and not any(groups[fp][0].direct for fp in hot)
    for mine, theirs in groups.values():
        assert mine is not None and theirs is not None
        assert _state(mine) == _state(theirs)
    assert queued.events == one_by_one.events + 4 * MAX_QUEUED


class _FreshSources(list[tuple[int, Source]]):
    """Sample lines read as compiled code reads them: each source a tuple made afresh on every read, and freed
    once read, so its id passes to the next one made."""

    def __iter__(self) -> Iterator[tuple[int, Source]]:
        for ts_ns, source in super().__iter__():
            yield ts_ns, (source if isinstance(source, ErrorEvent) else (source[0], source[1]))


def test_each_sample_line_is_its_own_even_when_its_source_is_made_afresh_on_each_read() -> None:
    lines = [f'{{"level": "error", "message": "payment {4000 + n} failed", "service": "orders"}}' for n in range(6)]
    entries = [LogEntry(ts_ns=T0 + n, line=text, labels={}) for n, text in enumerate(lines)]
    grouper = IncidentGrouper(resolve=lambda entry, environment: parse_entry(entry, environment, SMAP))
    first = parse_entry(entries[0], "prod", SMAP)
    assert first is not None
    grouper.add(first)
    group = grouper.group(next(iter(grouper._groups)))
    assert group is not None
    for entry in entries[1:]:
        group.count_line(entry.ts_ns, "prod", None, None, None, False, None, (entry, "prod"))
    group.samples = _FreshSources(group.samples)
    (incident,) = grouper.incidents()
    assert [s.text for s in incident.sample] == lines[1:]
