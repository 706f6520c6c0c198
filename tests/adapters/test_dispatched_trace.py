"""A dispatched trace id (`--trace-id`, the Telegram bridge) in a plan made from a loopback Loki, with the
trace served by a loopback Tempo: its incident goes first and is investigated; Tempo is asked only when no
planned incident holds the trace; a trace nobody knows leaves the plan as it was."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from error_autopilot.config.service_map import ServiceMap
from error_autopilot.demo.httpserver import LoopbackServer
from error_autopilot.demo.loki_server import LokiServer
from error_autopilot.demo.tempo_server import TempoServer
from error_autopilot.dispatched_trace import with_trace
from error_autopilot.domain.incidents import Plan
from error_autopilot.pipeline import PlanRequest, plan
from error_autopilot.ports import TraceSource
from error_autopilot.sources.http import build_client
from error_autopilot.sources.loki import LokiSource
from error_autopilot.sources.tempo import TempoSource
from tests.support.stores import WallClock, empty_state_store

OLD_TRACE, NEW_TRACE, TEMPO_TRACE = "a1" * 16, "b2" * 16, "c3" * 16
SMAP = ServiceMap.model_validate({
    "environments": {"prod": {"loki": {"url": "http://x", "selector": '{deployment_environment="prod"}',
                                       "line_filter": ""}}},
    "services": {"cart": {"repo": "acme/cart", "packages": ["com.acme"]},
                 "users": {"repo": "acme/users", "packages": ["com.acme"]}},
})  # fmt: skip


def _line(method: str) -> str:
    return (f"java.lang.IllegalStateException: cart has no owner\n"
            f"\tat com.acme.cart.CartService.{method}(CartService.java:31)\n"
            "\tat com.acme.cart.CartController.post(CartController.java:18)")  # fmt: skip


def _span(span_id: str, parent: str | None, name: str, kind: int) -> dict[str, Any]:
    out: dict[str, Any] = {"traceId": TEMPO_TRACE, "spanId": span_id, "name": name, "kind": kind,
                           "startTimeUnixNano": "1000", "endTimeUnixNano": "2000", "status": {"code": 2}}  # fmt: skip
    return out | ({"parentSpanId": parent} if parent else {})


def _resource(service: str, spans: list[dict[str, Any]]) -> dict[str, Any]:
    attrs = [{"key": "service.name", "value": {"stringValue": service}}]
    return {"resource": {"attributes": attrs}, "scopeSpans": [{"scope": {"name": "t"}, "spans": spans}]}


@pytest.fixture
def two_bug_plan(tmp_path: Path) -> Plan:
    """Two bugs, the older (`checkout`, trace OLD_TRACE) selected, the newer (`refund`, NEW_TRACE) left lean."""
    loki = LokiServer()
    start = int(datetime.now(UTC).timestamp() * 1e9 - 600e9)
    labels = {"service_name": "cart", "deployment_environment": "prod"}
    loki.push(labels, start, _line("checkout"), {"trace_id": OLD_TRACE})
    loki.push(labels, start + 10**9, _line("refund"), {"trace_id": NEW_TRACE})
    with LoopbackServer(loki) as server, build_client(server.url, org_id=None) as client:
        source = LokiSource(client, SMAP.environments["prod"].loki.model_copy(update={"url": server.url}))
        made = plan(PlanRequest(environments=["prod"], max_incidents=1), smap=SMAP, sources={"prod": source},
                    store=empty_state_store(tmp_path), clock=WallClock())  # fmt: skip
    assert [_method(p.incident) for p in made.selected] == ["checkout"], "the older bug is selected"
    assert [p.evidence for p in made.incidents] == ["full", "lean"]
    return made


@pytest.fixture
def tempo() -> Iterator[tuple[LoopbackServer, dict[str, TraceSource]]]:
    """Tempo holding TEMPO_TRACE: cart calls users, and users fails."""
    app = TempoServer()
    app.ingest([_resource("cart", [_span("00f067aa0ba902b7", None, "POST /cart", 2),
                                   _span("53995c3f42cd8ad8", "00f067aa0ba902b7", "GET /users/{id}", 3)]),
                _resource("users", [_span("a1b2c3d4e5f60718", "53995c3f42cd8ad8", "GET /users/{id}", 2)])])  # fmt: skip
    with LoopbackServer(app) as server, build_client(server.url, org_id=None) as client:
        yield server, {"prod": TempoSource(client)}


def _method(incident: Any) -> str:
    return str(incident.stack.primary.frames[0].function) if incident.stack else ""


def test_a_planned_incident_holding_the_trace_goes_first_without_asking_tempo(
    two_bug_plan: Plan, tempo: tuple[LoopbackServer, dict[str, TraceSource]]
) -> None:  # fmt: skip
    server, sources = tempo
    moved = with_trace(two_bug_plan, NEW_TRACE.upper(), ["prod"], smap=SMAP, trace_sources=lambda: sources)
    assert [_method(p.incident) for p in moved.selected] == ["refund"]
    assert moved.incidents[0].incident.trace_ids[-1] == NEW_TRACE, "the dispatched trace is the one looked at"
    assert [p.evidence for p in moved.incidents] == ["full", "lean"], "the one it displaced waits"
    assert server.requests == [], "the trace was in the plan: Tempo not asked"


def test_a_trace_only_tempo_knows_becomes_a_new_incident_first(
    two_bug_plan: Plan, tempo: tuple[LoopbackServer, dict[str, TraceSource]]
) -> None:  # fmt: skip
    server, sources = tempo
    added = with_trace(two_bug_plan, TEMPO_TRACE, ["prod"], smap=SMAP, trace_sources=lambda: sources)
    assert len(added.incidents) == 3
    first = added.incidents[0]
    assert (first.status, first.incident.service, first.incident.trace_ids) == ("new", "users", (TEMPO_TRACE,))
    assert added.selected == (first,)
    assert [_method(p.incident) for p in added.incidents[1:]] == ["checkout", "refund"]
    assert server.requests, "Tempo was asked for the trace"


def test_a_trace_nobody_knows_leaves_the_plan_as_it_was(
    two_bug_plan: Plan, tempo: tuple[LoopbackServer, dict[str, TraceSource]], caplog: pytest.LogCaptureFixture
) -> None:  # fmt: skip
    _, sources = tempo
    with caplog.at_level(logging.WARNING):
        same = with_trace(two_bug_plan, "d4" * 16, ["prod"], smap=SMAP, trace_sources=lambda: sources)
    assert same == two_bug_plan
    assert "was not found in any environment's Tempo" in caplog.text
