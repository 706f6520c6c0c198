"""Peak memory while paging through many lines: the run must stream, not hoard.

Each measurement runs in a fresh subprocess (ru_maxrss is a high-water mark); the baseline is the
same process with a tenth of the lines, so the ratio says whether memory grows with volume."""

from __future__ import annotations

import json
import resource
import subprocess
import sys

import httpx

from benchmarks.synthetic import lines as synthetic_lines
from benchmarks.throughput import SMAP, START_NS
from error_autopilot.config.service_map import LokiConfig
from error_autopilot.incidents.events import parse_entry
from error_autopilot.incidents.group import IncidentGrouper
from error_autopilot.ports import PollStats
from error_autopilot.sources.loki import LokiSource

PAGE = 5000


def _lazy_transport(total: int) -> httpx.MockTransport:
    """Generates each page on request, so the fake side holds one page at a time."""
    generator = synthetic_lines(total)
    offset = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal offset
        streams: dict[str, dict[str, object]] = {}
        for i, (labels, line) in zip(range(PAGE), generator, strict=False):
            stream = streams.setdefault(json.dumps(labels), {"stream": labels, "values": []})
            values = stream["values"]
            assert isinstance(values, list)
            values.append([str(START_NS + (offset + i) * 1_000_000), line])
        offset += PAGE
        body = {"status": "success", "data": {"resultType": "streams", "result": list(streams.values())}}
        return httpx.Response(200, json=body)

    return httpx.MockTransport(handler)


def measure(total: int) -> dict[str, int]:
    """Poll, parse and group `total` lines in this process; report lines and peak RSS."""
    config = LokiConfig(url="http://loki.bench", selector='{env="prod"}', page_limit=PAGE, max_pages=10**6,
                        deadline_s=7200)
    source = LokiSource(httpx.Client(base_url="http://loki.bench", transport=_lazy_transport(total)), config)
    grouper, stats = IncidentGrouper(), PollStats()
    for entry in source.poll(START_NS, START_NS + 10**18, stats):
        event = parse_entry(entry, "prod", SMAP)
        if event is not None:
            grouper.add(event)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"lines": stats.lines, "incidents": len(grouper.incidents()), "peak_rss_mib": peak_kib // 1024}


def run(total: int = 1_000_000) -> dict[str, float]:
    """Measure `total` lines and a tenth of it, each in its own process."""
    results = {}
    for n in (total // 10, total):
        out = subprocess.run(
            [sys.executable, "-c", f"import json,benchmarks.memory as m; print(json.dumps(m.measure({n})))"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        results[n] = json.loads(out.stdout.strip().splitlines()[-1])
    small, big = results[total // 10], results[total]
    assert big["lines"] == total, f"read {big['lines']} of {total} lines"
    return {
        "lines": total,
        "peak_rss_mib": big["peak_rss_mib"],
        "baseline_lines": total // 10,
        "baseline_peak_rss_mib": small["peak_rss_mib"],
        "ratio_vs_tenth": big["peak_rss_mib"] / small["peak_rss_mib"],
    }
