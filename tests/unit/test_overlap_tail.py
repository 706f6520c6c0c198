"""The overlap across runs, over many small pages: a run's tail is exactly its lines within `overlap_s` of
the newest one read, and the next run, reading the overlap again with late lines in it, counts every new
line once and none of the old ones again, whatever the pages' bounds and shared timestamps."""

from __future__ import annotations

import os
import random
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from error_autopilot.config.service_map import ServiceMap
from error_autopilot.demo.httpserver import LoopbackServer
from error_autopilot.demo.loki_server import LokiServer
from error_autopilot.domain.events import LogEntry
from error_autopilot.domain.incidents import Plan
from error_autopilot.domain.layout import line_key
from error_autopilot.overlap import Overlap
from error_autopilot.pipeline import PlanRequest, plan
from error_autopilot.sources.http import build_client
from error_autopilot.sources.loki import LokiSource
from error_autopilot.state import ledger
from error_autopilot.state.ledger import PollStart
from error_autopilot.state.model import State
from error_autopilot.state.store import GitStateStore, SeededStateStore

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
NOW_NS = int(NOW.timestamp()) * 10**9
SECOND = 10**9
OVERLAP_S = 300
LABELS = {"service_name": "cart", "deployment_environment": "prod"}


class _Clock:
    def now(self) -> datetime:
        return NOW


def _line(n: int) -> str:
    return (f"java.lang.IllegalStateException: cart {40_000 + n} has no owner\n"
            f"\tat com.acme.cart.CartService.checkout{n % 3}(CartService.java:30)")  # fmt: skip


def _plan(loki: LokiServer, tmp: Path, state: State, page_limit: int) -> Plan:
    ops = tmp / f"ops-{len(list(tmp.iterdir()))}.git"
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "init", "-q", "--bare", str(ops)], check=True, env=env)
    stored = GitStateStore(str(ops), branch="state", work_dir=ops.with_suffix(".work"))
    store = SeededStateStore(stored, lambda _: state)
    with LoopbackServer(loki) as server, build_client(server.url, org_id=None) as client:
        smap = ServiceMap.model_validate({
            "environments": {"prod": {"loki": {"url": server.url, "selector": '{deployment_environment="prod"}',
                                               "line_filter": "", "page_limit": page_limit},
                                      "overlap_s": OVERLAP_S, "initial_lookback_s": 3 * 3600}},
            "services": {"cart": {"repo": "acme/cart", "packages": ["com.acme"]}},
        })  # fmt: skip
        source = LokiSource(client, smap.environments["prod"].loki)
        return plan(PlanRequest(("prod",)), smap=smap, sources={"prod": source}, store=store, clock=_Clock())


@pytest.mark.parametrize("seed", range(4))
def test_the_next_run_counts_new_lines_once_and_old_ones_never(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    loki = LokiServer()
    stamps: list[int] = []
    ts = NOW_NS - 120 * 60 * SECOND  # the newest line at least 20 minutes before now
    for n in range(rng.randint(150, 300)):
        ts += rng.choice((0, 0, 1, SECOND, 7 * SECOND, 20 * SECOND))  # some lines share a nanosecond
        stamps.append(ts)
        loki.push(LABELS, ts, _line(n))
    page_limit = rng.choice((5, 7, 20))
    first = _plan(loki, tmp_path, State(), page_limit)
    window = first.windows[0]
    newest = max(stamps)
    assert window.lines == window.events == len(stamps) and window.last_ts_ns == newest
    in_overlap = sum(1 for t in stamps if t >= newest - OVERLAP_S * SECOND)
    assert len(window.tail_line_ids) == len(set(window.tail_line_ids)) == in_overlap

    # late lines inside the overlap (some at the newest line's nanosecond), and newer ones
    late = [newest - rng.randrange(OVERLAP_S) * SECOND for _ in range(rng.randint(1, 15))] + [newest] * 2
    newer = [newest + rng.randint(1, 600) * SECOND for _ in range(rng.randint(0, 15))]
    for n, t in enumerate(late + newer, start=len(stamps)):
        loki.push(LABELS, t, _line(n))
    second = _plan(loki, tmp_path, ledger.record_plan(State(), first), page_limit).windows[0]
    assert second.events == len(late) + len(newer)
    assert second.duplicates == sum(1 for t in stamps if t >= newest - OVERLAP_S * SECOND)
    assert sum(i.incident.count for i in first.incidents) == len(stamps)


def test_a_page_loses_exactly_the_lines_the_last_run_read_and_the_tail_is_the_overlap_behind_the_newest() -> None:
    """`Overlap` over pages cut anywhere: a line is dropped only if it is no newer than the last run's cursor
    and its key is one the last run kept; the tail is every line (dropped or not) within `overlap_s` of the
    newest one read; minute counts count the fresh lines."""
    rng = random.Random(11)
    for _ in range(200):
        lines: list[LogEntry] = []
        ts = NOW_NS - 20 * 60 * SECOND
        for n in range(rng.randint(1, 60)):
            ts += rng.choice((0, 0, 1, 20 * SECOND, 60 * SECOND))  # often a line exactly `overlap_s` before another
            lines.append(LogEntry(ts, _line(n % 7), LABELS))
        cursor = rng.choice([None, lines[0].ts_ns, lines[len(lines) // 2].ts_ns, lines[-1].ts_ns])
        read = [e for e in lines if cursor is None or e.ts_ns <= cursor]  # what the last run may have read
        seen = {line_key(e.identity) for e in read if rng.random() < 0.6}
        seen.add("0" * 16)  # a key of a line not read again
        overlap = Overlap(PollStart(lines[0].ts_ns, frozenset(seen), None, cursor), OVERLAP_S)
        fresh: list[LogEntry] = []
        start = 0
        while start < len(lines):
            end = start + rng.randint(1, 9)
            fresh += overlap.fresh(lines[start:end])
            start = end
        assert fresh == [e for e in lines if e not in read or line_key(e.identity) not in seen]
        oldest = lines[-1].ts_ns - OVERLAP_S * SECOND
        assert overlap.tail_keys() == tuple(line_key(e.identity) for e in lines if e.ts_ns >= oldest)
        minutes: dict[int, int] = {}
        for e in fresh:
            minutes[e.ts_ns // (60 * SECOND)] = minutes.get(e.ts_ns // (60 * SECOND), 0) + 1
        assert overlap.minute_counts == minutes
