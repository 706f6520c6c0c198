"""The sample lines of incidents a plan leaves lean are let go while polling (selection.LeanFinder), as soon
as no line still to come can move them into the `max_incidents` a run publishes. The plan is exactly the
one built with every incident's lines kept to the end and selected after: whatever the order bugs show up
in, across environments polled one after another, with incidents state holds pending. Likewise the
incidents past `max_pending` are dropped before any is built (selection.choose), and the plan is the one
that built them all and dropped them after (selection.cap_pending)."""

from __future__ import annotations

import dataclasses
import os
import random
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from benchmarks.storm import line as storm_line

from error_autopilot import selection
from error_autopilot.config.service_map import ServiceMap
from error_autopilot.demo.httpserver import LoopbackServer
from error_autopilot.demo.loki_server import LokiServer
from error_autopilot.domain.events import LogEntry
from error_autopilot.domain.incidents import Plan
from error_autopilot.incidents.group import IncidentGrouper
from error_autopilot.incidents.ingest import Admission, Ingest
from error_autopilot.pipeline import PlanRequest, plan
from error_autopilot.selection import LeanFinder
from error_autopilot.sources.http import build_client
from error_autopilot.sources.loki import LokiSource
from error_autopilot.state import bounded, ledger
from error_autopilot.state.model import Cursor, IncidentRecord, State
from error_autopilot.state.store import GitStateStore, SeededStateStore
from tests.support.grouping_corpus import SMAP

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
NOW_NS = int(NOW.timestamp()) * 10**9
MINUTE = 60 * 10**9
CAP = 12
ENVIRONMENTS = ("prod", "staging")


class _Clock:
    def now(self) -> datetime:
        return NOW


def _line(bug: int, n: int) -> str:
    return (f"java.lang.IllegalStateException: cart {40_000 + 7 * n + bug} has no owner\n"
            f"\tat com.acme.cart.CartService.checkout{bug}(CartService.java:{30 + n % 7})\n"
            "\tat com.acme.cart.CartController.post(CartController.java:18)")  # fmt: skip


def _smap(url: str) -> ServiceMap:
    return ServiceMap.model_validate({
        "environments": {env: {"loki": {"url": url, "selector": f'{{deployment_environment="{env}"}}',
                                        "line_filter": "", "page_limit": 20}} for env in ENVIRONMENTS},
        "services": {"cart": {"repo": "acme/cart", "packages": ["com.acme"]}},
    })  # fmt: skip


def _seeded(tmp: Path, seed: int, rng: random.Random) -> SeededStateStore:
    """State with a cursor for one environment (its window starts late, the other's an hour back) and
    earlier plans' incidents pending, some first seen before every line read now and some after."""
    donor = Ingest(_smap("http://x"))
    for bug in range(0, 40, 3):
        donor.take(LogEntry(NOW_NS - 30 * MINUTE, _line(bug, 0), {"service_name": "cart"}), "prod", Admission())
    records = {}
    for incident in donor.incidents():
        first = datetime.fromtimestamp((NOW_NS - rng.choice((90, 20, 5)) * MINUTE) / 1e9, UTC)
        payload = bounded.storable(incident.model_copy(update={"first_seen": first, "last_seen": first}))
        records[incident.fingerprint] = IncidentRecord(
            fingerprint=incident.fingerprint, service=incident.service, title=incident.title, first_seen=first,
            last_seen=first, pending=True, pending_incident=payload,
        )  # fmt: skip
    resumed = ENVIRONMENTS[seed % 2]

    def seed_state(state: State) -> State:
        return state.model_copy(update={"cursors": {resumed: Cursor(ts_ns=NOW_NS - 25 * MINUTE)},
                                        "incidents": records})  # fmt: skip

    ops = tmp / "ops.git"
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "init", "-q", "--bare", str(ops)], check=True, env=env)
    return SeededStateStore(GitStateStore(str(ops), branch="state", work_dir=tmp / "state"), seed_state)


def _plans(tmp: Path, seed: int, *requests: PlanRequest) -> list[Plan]:
    """A plan per request (its environments replaced by a seeded order), all of the same seeded storm."""
    rng = random.Random(seed)
    loki = LokiServer()
    for env in ENVIRONMENTS:
        lines = rng.randint(250, 500)
        start = NOW_NS - rng.choice((55, 40)) * MINUTE
        bugs = rng.choice((30, 120, 400))
        for n in range(lines):
            bug = rng.randrange(bugs) if rng.random() < 0.8 else rng.randrange(bugs, bugs + 50)
            ts = start + n * (50 * MINUTE // lines) + rng.choice((0, 0, 1))
            loki.push({"service_name": "cart", "deployment_environment": env}, ts, _line(bug, n))
    order = list(ENVIRONMENTS) if seed % 3 else list(reversed(ENVIRONMENTS))
    store = _seeded(tmp, seed, rng)
    with LoopbackServer(loki) as server, build_client(server.url, org_id=None) as client:
        smap = _smap(server.url)
        sources = {env: LokiSource(client, smap.environments[env].loki) for env in ENVIRONMENTS}
        return [plan(dataclasses.replace(request, environments=order), smap=smap, sources=sources, store=store,
                     clock=_Clock()) for request in requests]  # fmt: skip


@pytest.mark.parametrize("seed", range(3))
def test_a_plan_that_lets_lines_go_while_polling_is_the_plan_that_kept_them(tmp_path: Path, seed: int) -> None:
    capped, whole = _plans(tmp_path, seed, PlanRequest((), max_incidents=CAP), PlanRequest(()))
    assert sum(w.pages for w in capped.windows) > 2 * LeanFinder.EVERY  # the finder looked several times
    expected = ledger.select(whole.incidents, CAP)
    assert [p.model_dump() for p in capped.incidents] == [p.model_dump() for p in expected]
    assert len(capped.selected) == CAP < len(capped.incidents) // 4


@pytest.mark.parametrize(("seed", "max_pending"), [(0, 1), (1, 40), (2, 150), (3, 10**6)])
def test_a_plan_that_drops_before_building_is_the_plan_that_built_all_and_capped_after(
    tmp_path: Path, seed: int, max_pending: int
) -> None:
    early, whole = _plans(tmp_path, seed, PlanRequest((), max_incidents=CAP, max_pending=max_pending),
                          PlanRequest((), max_incidents=CAP))  # fmt: skip
    late = selection.cap_pending(whole, max_pending)
    assert early.model_dump(exclude={"run_id"}) == late.model_dump(exclude={"run_id"})
    assert ledger.record_plan(State(), early).incidents == ledger.record_plan(State(), late).incidents
    if max_pending < 10**6:  # the storm has more bugs than the cap, some of them pending in state
        assert early.dropped > 0 and early.dropped_occurrences > early.dropped and early.dropped_pending
    else:
        assert early.dropped == 0 and early.left_pending > 0


def _entry(bug: int, ts_ns: int) -> LogEntry:
    return LogEntry(ts_ns, _line(bug, bug), {"service_name": "cart"})


def test_an_incident_keeps_its_lines_while_an_older_line_may_still_come(tmp_path: Path) -> None:
    ingest = Ingest(_smap("http://x"))
    state = State()
    finder = LeanFinder(ingest, state, cap=2, services=())
    for bug in range(5):  # bug k first seen at minute k
        ingest.take(_entry(bug, NOW_NS + bug * MINUTE), "prod", Admission())
    grouper: IncidentGrouper = ingest.grouper
    for _ in range(LeanFinder.EVERY):  # lines as old as minute 1 may still come: bugs 2-4 could be first yet
        finder.page_read(NOW_NS + MINUTE, later_ns=NOW_NS + 9 * MINUTE)
    assert not any(g.lean for g in grouper._groups.values())
    for _ in range(LeanFinder.EVERY):  # past minute 1: the second-earliest sighting stays before bugs 2-4
        finder.page_read(NOW_NS + MINUTE + 1000, later_ns=NOW_NS + 9 * MINUTE)
    assert [g.lean for g in sorted(grouper._groups.values(), key=lambda g: g.first_ns)] == [False] * 2 + [True] * 3
    assert all(not g.samples for g in grouper._groups.values() if g.lean)
    ingest.take(_entry(4, NOW_NS + 9 * MINUTE), "prod", Admission())
    [late] = [g for g in grouper._groups.values() if g.first_ns == NOW_NS + 4 * MINUTE]
    grouper.count_queued()
    assert late.count == 2 and not late.samples, "a lean incident keeps counting, with no lines"


def test_an_incident_past_max_pending_is_only_counted_once_that_is_certain() -> None:
    ingest = Ingest(_smap("http://x"))
    finder = LeanFinder(ingest, State(), cap=1, services=(), max_pending=1)
    for bug in range(4):  # bug k first seen at minute k
        ingest.take(_entry(bug, NOW_NS + bug * MINUTE), "prod", Admission())
    grouper: IncidentGrouper = ingest.grouper
    for _ in range(LeanFinder.EVERY):  # lines as old as minute 1 may still come: bug 2 could be second yet
        finder.page_read(NOW_NS + MINUTE, later_ns=NOW_NS + 9 * MINUTE)
    assert not any(g.dropped for g in grouper._groups.values())
    for _ in range(LeanFinder.EVERY):  # past minute 1: bugs 0 and 1 stay first, 2 and 3 are dropped
        finder.page_read(NOW_NS + MINUTE + 1000, later_ns=NOW_NS + 9 * MINUTE)
    by_first = sorted(grouper._groups.values(), key=lambda g: g.first_ns)
    assert [g.dropped for g in by_first] == [False, False, True, True]
    assert all(not (g.samples or g.timeline or g.parts or g.trace_ids.ordered()) for g in by_first[2:])
    for n in range(3):  # counted from its runs, and parsed in full: each line still counts
        ingest.take(_entry(3, NOW_NS + (9 + n) * MINUTE), "prod", Admission())
    assert by_first[3].count == 4 and by_first[3].first_ns == NOW_NS + 3 * MINUTE
    published = frozenset([by_first[0].fingerprint])
    with pytest.raises(ValueError, match="left out while counting"):  # a plan that would build one: a bug
        grouper.incidents(samples=published)
    assert grouper.drop([g.fingerprint for g in by_first[2:]]) == 5
    assert [i.count for i in grouper.incidents(samples=published)] == [1, 1]


def test_an_incident_only_counted_counts_every_line_read_by_a_skeletons_template() -> None:
    """A storm of many bugs sharing skeletons: past the incidents kept, each is only counted, its lines read by
    their skeleton's template without their runs, and it counts what it counts when every incident is kept."""
    base_ns = NOW_NS - 10**12
    entries = [
        LogEntry(ts, text, labels, {"detected_level": "error"})
        for labels, ts, text in (storm_line(i, 400, base_ns) for i in range(40_000))
    ]
    dropping, keeping = Ingest(SMAP), Ingest(SMAP)
    finder = LeanFinder(dropping, State(), cap=5, services=(), max_pending=20)
    for start in range(0, len(entries), 1000):
        page = entries[start : start + 1000]
        for entry in page:
            dropping.take(entry, "prod", Admission())
            keeping.take(entry, "prod", Admission())
        finder.page_read(page[-1].ts_ns, later_ns=2**62)
    dropped = [g for g in dropping.grouper._groups.values() if g.dropped]
    assert len(dropped) > 300
    kept = keeping.grouper.first_seen()
    assert dropping.grouper.first_seen() == kept
    counts = {fp: g.count for fp, g in keeping.grouper._groups.items()}
    assert {fp: g.count for fp, g in dropping.grouper._groups.items()} == counts
    assert dropping.grouper.events == keeping.grouper.events == len(entries)
