"""The two ways ingest can count lines, and the real `plan` over a loopback Loki, for tests that hold the
fast path (`Ingest`: one full parse per shape) to the per-line path (`parse_entry` on every line)."""

from __future__ import annotations

import time
from typing import Any

from error_autopilot.config.service_map import ServiceMap
from error_autopilot.demo.httpserver import LoopbackServer
from error_autopilot.demo.loki_server import LokiServer
from error_autopilot.domain.events import LogEntry
from error_autopilot.domain.incidents import Plan
from error_autopilot.incidents.events import parse_entry
from error_autopilot.incidents.group import IncidentGrouper
from error_autopilot.incidents.ingest import Ingest
from error_autopilot.pipeline import PlanRequest, plan
from error_autopilot.sources.http import build_client
from error_autopilot.sources.loki import LokiSource
from error_autopilot.state.store import ReadOnlyStateStore
from tests.support.grouping_corpus import summarise
from tests.support.stores import WallClock

LABELS = {"service_name": "orders", "deployment_environment": "prod"}
# One environment read with no line filter, so every pushed line reaches ingest.
ORDERS = ServiceMap.model_validate({
    "environments": {"prod": {"loki": {"url": "http://x", "selector": '{deployment_environment="prod"}',
                                       "line_filter": ""}}},
    "services": {"orders": {"repo": "acme/orders"}},
})  # fmt: skip


def per_line(entries: list[LogEntry], smap: ServiceMap) -> tuple[IncidentGrouper, int]:
    """Every line parsed in full and grouped, and how many lines were not errors (skipped)."""
    grouper, skipped = IncidentGrouper(), 0
    for entry in entries:
        event = parse_entry(entry, "prod", smap)
        if event is None:
            skipped += 1
        else:
            grouper.add(event)
    return grouper, skipped


def ingested(entries: list[LogEntry], ingest: Ingest) -> dict[str, Any]:
    """The lines counted through the fast path, summarised as the grouping corpus is."""
    skipped = 0
    for entry in entries:
        parsed = ingest.parse(entry, "prod")
        if parsed is None:
            skipped += 1
        else:
            ingest.count(parsed)
    return summarise(ingest.grouper.incidents(), skipped)


def luhn_digit(body: str) -> str:
    """The check digit that makes `body` + it pass the Luhn check (a card number to plant in a line)."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def plan_over_loki(lines: list[str], store: ReadOnlyStateStore) -> Plan:
    """`lines` pushed to a loopback Loki one second apart (oldest first), read by the real `plan` of
    the `orders` service map; the plan as a reader of plan.json gets it."""
    loki = LokiServer()
    now = time.time_ns()
    for i, line in enumerate(lines):
        loki.push(LABELS, now - (len(lines) - i) * 10**9, line)
    with LoopbackServer(loki) as server, build_client(server.url, org_id=None) as client:
        source = LokiSource(client, ORDERS.environments["prod"].loki.model_copy(update={"url": server.url}))
        the_plan = plan(PlanRequest(environments=["prod"]), smap=ORDERS, sources={"prod": source}, store=store,
                        clock=WallClock())  # fmt: skip
    return Plan.model_validate_json(the_plan.model_dump_json())
