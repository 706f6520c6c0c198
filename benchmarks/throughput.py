"""Lines per second through LokiSource + parse + fingerprint + group, against plain json.loads of the
same Loki response bodies (the baseline, measured in the same run)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from benchmarks.synthetic import loki_pages
from error_autopilot.config.service_map import LokiConfig, parse_service_map
from error_autopilot.incidents.events import parse_entry
from error_autopilot.incidents.group import IncidentGrouper
from error_autopilot.ports import PollStats
from error_autopilot.sources.loki import LokiSource

START_NS = 1_795_000_000_000_000_000
SMAP = parse_service_map({
    "environments": {"prod": {"loki": {"url": "http://loki.bench", "selector": '{env="prod"}'}}},
    "services": {
        "order-service": {"repo": "acme/order", "packages": ["com.acme.order"]},
        "billing-service": {"repo": "acme/billing", "packages": ["billing"]},
        "inventory": {"repo": "acme/inventory", "packages": ["github.com/acme/inventory"]},
    },
})  # fmt: skip


def serve(pages: list[bytes]) -> httpx.MockTransport:
    """A transport answering the source's successive page requests with the prepared bodies."""
    served = iter(pages)

    def handler(request: httpx.Request) -> httpx.Response:
        body = next(served, b'{"status":"success","data":{"resultType":"streams","result":[]}}')
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})

    return httpx.MockTransport(handler)


def pipeline_pass(pages: list[bytes], page_size: int) -> tuple[int, int]:
    """Poll, parse and group every line; returns (lines, incidents)."""
    config = LokiConfig(url="http://loki.bench", selector='{env="prod"}', page_limit=page_size, max_pages=10**6,
                        deadline_s=7200)
    client = httpx.Client(base_url="http://loki.bench", transport=serve(pages))
    source = LokiSource(client, config)
    grouper = IncidentGrouper()
    stats = PollStats()
    for entry in source.poll(START_NS, START_NS + 10**18, stats):
        event = parse_entry(entry, "prod", SMAP)
        if event is not None:
            grouper.add(event)
    return stats.lines, len(grouper.incidents())


def decode_pass(pages: list[bytes]) -> int:
    """The baseline: only json.loads of the same bodies."""
    total = 0
    for body in pages:
        data: Any = json.loads(body)
        total += sum(len(s["values"]) for s in data["data"]["result"])
    return total


def run(lines: int = 100_000, page_size: int = 5000) -> dict[str, float]:
    """Both passes over the same pages; the best of three each."""
    pages = loki_pages(lines, page_size, START_NS)
    decode_s = min(_timed(lambda: decode_pass(pages)) for _ in range(3))
    pipeline_s = min(_timed(lambda: pipeline_pass(pages, page_size)) for _ in range(3))
    seen, incidents = pipeline_pass(pages, page_size)
    assert seen == lines, f"the source read {seen} of {lines} lines"
    return {
        "lines": lines,
        "incidents": incidents,
        "decode_lines_per_s": lines / decode_s,
        "pipeline_lines_per_s": lines / pipeline_s,
        "ratio_pipeline_vs_decode": pipeline_s / decode_s,
    }


def _timed(fn: Any) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started
