"""A plan over more incidents than a run publishes: only the selected ones (the oldest, `max_incidents`
of them) carry their sample lines; the rest are lean, so plan.json grows by a bounded size per incident."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from error_autopilot import workfiles
from error_autopilot.config.service_map import ServiceMap
from error_autopilot.demo.httpserver import LoopbackServer
from error_autopilot.demo.loki_server import LokiServer
from error_autopilot.domain.incidents import Plan
from error_autopilot.pipeline import PlanRequest, plan
from error_autopilot.sources.http import build_client
from error_autopilot.sources.loki import LokiSource
from error_autopilot.state.store import ReadOnlyStateStore
from tests.support.stores import WallClock, empty_state_store

BUGS, CAP, LINES_PER_BUG = 2000, 50, 3
LEAN_BYTES = 2000  # what a lean incident of these lines may take in plan.json (some 1,850 bytes when written)


@pytest.fixture
def state_store(tmp_path: Path) -> ReadOnlyStateStore:
    return empty_state_store(tmp_path)


def _line(bug: int, n: int) -> str:
    return (f"java.lang.IllegalStateException: cart {40_000 + 7 * n + bug} has no owner\n"
            f"\tat com.acme.cart.CartService.checkout{bug}(CartService.java:{30 + n})\n"
            "\tat com.acme.cart.CartController.post(CartController.java:18)\n"
            "\tat org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:885)")  # fmt: skip


def _storm_plan(store: ReadOnlyStateStore) -> Plan:
    loki = LokiServer()
    start = datetime.now(UTC).timestamp() * 1e9 - 1800e9
    for n in range(LINES_PER_BUG):  # bug k is first seen k ms after bug k - 1: the oldest are the first ones
        for bug in range(BUGS):
            ts = int(start + n * 60e9 + bug * 1e6)
            loki.push({"service_name": "cart", "deployment_environment": "prod"}, ts, _line(bug, n))
    smap = ServiceMap.model_validate({
        "environments": {"prod": {"loki": {"url": "http://x", "selector": '{deployment_environment="prod"}',
                                           "line_filter": ""}}},
        "services": {"cart": {"repo": "acme/cart", "packages": ["com.acme"]}},
    })  # fmt: skip
    with LoopbackServer(loki) as server, build_client(server.url, org_id=None) as client:
        source = LokiSource(client, smap.environments["prod"].loki.model_copy(update={"url": server.url}))
        return plan(PlanRequest(environments=["prod"], max_incidents=CAP), smap=smap, sources={"prod": source},
                    store=store, clock=WallClock())  # fmt: skip


def test_only_the_selected_incidents_carry_lines_and_a_lean_one_costs_little(
    state_store: ReadOnlyStateStore, tmp_path: Path
) -> None:  # fmt: skip
    the_plan = _storm_plan(state_store)
    assert the_plan.windows[0].lines == BUGS * LINES_PER_BUG
    assert len(the_plan.incidents) == BUGS and the_plan.left_pending == BUGS - CAP
    selected = the_plan.selected
    assert [p.incident.stack.primary.frames[0].function for p in selected if p.incident.stack] == [
        f"checkout{bug}" for bug in range(CAP)
    ], "the oldest first"
    assert all(p.evidence == "full" and len(p.incident.sample) == LINES_PER_BUG for p in selected)
    lean = the_plan.incidents[CAP:]
    assert all(p.evidence == "lean" and not p.incident.sample for p in lean)
    assert all(p.incident.stack and p.incident.timeline and p.incident.headline for p in lean), "kept for later"

    path = tmp_path / "plan.json"
    workfiles.write_plan(path, the_plan)
    per_lean = sum(len(workfiles.plan_json(p)) for p in lean) / len(lean)
    per_full = sum(len(workfiles.plan_json(p)) for p in selected) / len(selected)
    assert per_lean < LEAN_BYTES < per_full, (per_lean, per_full)
    assert path.stat().st_size < len(workfiles.plan_json(the_plan.windows[0])) + CAP * per_full + BUGS * LEAN_BYTES
