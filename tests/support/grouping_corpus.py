"""The corpora whose grouping must not change when the ingest path does: storms of the benchmark's
bugs (with repeated lines and lines of one shape that differ in ids), every stack-trace fixture and
real-world trace as a plain and a JSON log line, and the secret corpora's lines.

`summarise` reduces incidents to what is compared: fingerprint, count, title and a digest of the
whole incident as JSON (samples, headline, variables, timeline, stack…). The recorded figures in
tests/fixtures/grouping/before.json were made by `python -m tests.support.grouping_corpus` with the
per-line path (parse_entry + IncidentGrouper.add) before the ingest path existed.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.storm import SERVICES, line

from error_autopilot.config.service_map import ServiceMap
from error_autopilot.domain.events import LogEntry
from error_autopilot.domain.incidents import Incident

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RECORDED = FIXTURES / "grouping" / "before.json"
BASE_NS = 1_795_000_000_000_000_000
SMAP = ServiceMap.model_validate({
    "environments": {"prod": {"loki": {"url": "http://loki", "selector": '{env="prod"}'}}},
    "services": {s: {"repo": f"acme/{s}", "packages": ["com.acme", "billing", "github.com/acme", "Acme"]}
                 for s in (*SERVICES, "orders")},
})  # fmt: skip


def _storm(count: int, bugs: int, repeat_every: int = 0) -> Iterator[LogEntry]:
    for i in range(count):
        labels, ts, text = line(i, bugs, BASE_NS)
        yield LogEntry(ts_ns=ts, line=text, labels=labels, metadata={"detected_level": "error"})
        if repeat_every and i % repeat_every == 0:  # the same text again, a nanosecond later
            yield LogEntry(ts_ns=ts + 1, line=text, labels=labels, metadata={"detected_level": "error"})


def _traces() -> Iterator[LogEntry]:
    files = sorted(FIXTURES.glob("stacktraces/*/*.txt")) + sorted(FIXTURES.glob("realworld*/*/*/trace.txt"))
    ts = BASE_NS
    for n, path in enumerate(files):
        trace = path.read_text(encoding="utf-8", errors="replace")
        for i in range(3):
            ts += 1_000_000
            labels = {"service_name": SERVICES[n % len(SERVICES)]}
            yield LogEntry(ts_ns=ts, line=f"ERROR request {n * 10 + i} failed\n{trace}", labels=labels)
            body = {"level": "error", "message": f"job {i} failed", "stack_trace": trace,
                    "trace_id": f"{n:08x}{i:024x}"}  # fmt: skip
            yield LogEntry(ts_ns=ts + 1, line=json.dumps(body), labels=labels)


def _secrets() -> Iterator[LogEntry]:
    ts = BASE_NS
    for name in ("generated.json", "corpus.json"):
        corpus = json.loads((FIXTURES / "secrets" / name).read_text(encoding="utf-8"))
        for item in (*corpus["positives"], *corpus["negatives"]):
            for _ in range(2):
                ts += 1_000
                yield LogEntry(ts_ns=ts, line=item["line"], labels={"service_name": "orders"})


def _shuffled() -> list[LogEntry]:
    """Two environments' polls in one grouper: timestamps out of order, some shared."""
    entries = [LogEntry(ts_ns=e.ts_ns // 10**9 * 10**9, line=e.line, labels=e.labels, metadata=e.metadata)
               for e in _storm(2000, 20)]  # fmt: skip
    random.Random(5).shuffle(entries)
    return entries


def corpora() -> dict[str, list[LogEntry]]:
    """Every corpus by name, as the entries a poll would yield (oldest first, but for `shuffled`)."""
    return {
        "storm-8": list(_storm(3000, 8, repeat_every=7)),
        "storm-300": list(_storm(3000, 300)),
        "shuffled": _shuffled(),
        "traces": list(_traces()),
        "secrets": list(_secrets()),
    }


def summarise(incidents: list[Incident], skipped: int) -> dict[str, Any]:
    """What the grouping of one corpus is compared by."""
    return {
        "skipped": skipped,
        "incidents": [
            {"fingerprint": i.fingerprint, "count": i.count, "title": i.title,
             "digest": hashlib.sha256(i.model_dump_json().encode()).hexdigest()[:16]}
            for i in incidents
        ],
    }  # fmt: skip


def _record() -> int:
    from tests.support.ingest_paths import per_line  # noqa: PLC0415 - it imports this module

    out: dict[str, Any] = {}
    for name, entries in corpora().items():
        grouper, skipped = per_line(entries, SMAP)
        out[name] = summarise(grouper.incidents(), skipped)
    RECORDED.parent.mkdir(parents=True, exist_ok=True)
    RECORDED.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(_record())
