"""The floor `plan` is measured against: page through the same query with httpx and json.loads, and do
nothing else. `python -m benchmarks.floor URL` prints the number of lines read."""

from __future__ import annotations

import json
import sys
import time

import httpx

from benchmarks.ingest import PAGE, QUERY


def main(url: str) -> int:
    """Page forward from an hour ago to now; print the lines read."""
    start, end = time.time_ns() - 3600 * 10**9, time.time_ns()
    lines = 0
    with httpx.Client(base_url=url) as client:
        while True:
            response = client.get(
                "/loki/api/v1/query_range",
                params={"query": QUERY, "start": str(start), "end": str(end), "limit": str(PAGE),
                        "direction": "forward"},
                headers={"X-Loki-Response-Encoding-Flags": "categorize-labels"},
            )  # fmt: skip
            body = json.loads(response.content)
            values = [v for s in body["data"]["result"] for v in s["values"]]
            lines += len(values)
            if len(values) < PAGE:
                break
            start = max(int(v[0]) for v in values) + 1
    sys.stdout.write(f"{lines}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
