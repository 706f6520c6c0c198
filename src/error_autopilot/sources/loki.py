"""Loki `query_range` poller: forward paging with no line twice and none skipped.

Paging follows logcli: the next page starts at the last timestamp returned (not +1 ns: several
lines can share a nanosecond), and entries at exactly that timestamp already seen are dropped by
identity (labels + metadata + ts + line). Structured metadata is requested apart from stream labels
(`categorize-labels`), and both encodings are read.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any

import httpx

from error_autopilot.config.service_map import LokiConfig
from error_autopilot.domain.errors import SourceUnavailable
from error_autopilot.domain.events import LogEntry
from error_autopilot.ports import PollStats
from error_autopilot.resilience import Breaker
from error_autopilot.sources.http import RetryPolicy, send_with_retry

log = logging.getLogger(__name__)

LOKI_MAX_LIMIT = 5000
_RE2_META = set("\\.+*?()|[]{}^$")


def logql_string(value: str) -> str:
    """A LogQL double-quoted string literal: quotes and backslashes escaped, newlines too."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def regex_escape(value: str) -> str:
    """Escape a literal for use inside an RE2 regex."""
    return "".join(f"\\{ch}" if ch in _RE2_META else ch for ch in value)


def build_query(config: LokiConfig, services: Sequence[str] = ()) -> str:
    """The LogQL query: the configured selector, optionally narrowed to services, and the line filter.

    User and service values are escaped, never pasted."""
    selector = config.selector
    if services:
        alternatives = "|".join(regex_escape(s) for s in services)
        selector = selector[:-1].rstrip()
        selector += (", " if selector.strip() != "{" else "") + f"service_name=~{logql_string(alternatives)}}}"
    query = selector
    if config.line_filter:
        query += f" |~ {logql_string(config.line_filter)}"
    return query


def _entries(body: Any) -> list[LogEntry]:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or data.get("resultType") != "streams":
        raise ValueError("not a streams result")
    entries: list[LogEntry] = []
    for stream in data.get("result") or []:
        labels = {str(k): str(v) for k, v in (stream.get("stream") or {}).items()}
        for value in stream.get("values") or []:
            metadata: dict[str, str] = {}
            if len(value) > 2 and isinstance(value[2], dict):
                for group in ("structuredMetadata", "parsed"):
                    metadata.update({str(k): str(v) for k, v in (value[2].get(group) or {}).items()})
            entries.append(LogEntry(ts_ns=int(value[0]), line=str(value[1]), labels=labels, metadata=metadata))
    entries.sort(key=lambda e: e.ts_ns)
    return entries


class LokiSource:
    """ports.EventSource over one environment's Loki."""

    def __init__(
        self, client: httpx.Client, config: LokiConfig, policy: RetryPolicy | None = None,
        services: Sequence[str] = (), clock: Any = time.monotonic, breaker: Breaker | None = None,
    ) -> None:  # fmt: skip
        self._client = client
        self._breaker = breaker
        self._config = config
        self._policy = policy or RetryPolicy(deadline_s=config.deadline_s)
        self._query = build_query(config, services)
        self._clock = clock

    def _page(self, start_ns: int, end_ns: int, limit: int) -> list[LogEntry]:
        params = {"query": self._query, "start": str(start_ns), "end": str(end_ns), "limit": str(limit),
                  "direction": "forward"}  # fmt: skip
        request = self._client.build_request(
            "GET", "/loki/api/v1/query_range", params=params,
            headers={"X-Loki-Response-Encoding-Flags": "categorize-labels"},
        )  # fmt: skip
        response = send_with_retry(self._client, request, what="Loki", policy=self._policy, breaker=self._breaker)
        try:
            body = json.loads(response.content.decode("utf-8", errors="replace"))
            return _entries(body)
        except (ValueError, TypeError, KeyError, IndexError) as e:
            raise SourceUnavailable(
                f"Loki answered HTTP {response.status_code} with a body that is not a streams result: "
                f"{response.text[:200]!r}",
                url=str(request.url.copy_with(query=None)),
            ) from e

    def poll(self, start_ns: int, end_ns: int, stats: PollStats) -> Iterator[LogEntry]:
        """Yield every entry in [start_ns, end_ns) oldest first, each exactly once."""
        if end_ns <= start_ns:
            return
        limit = self._config.page_limit
        started = self._clock()
        boundary_ts: int | None = None
        boundary_ids: set[str] = set()
        cursor = start_ns
        while True:
            if stats.pages >= self._config.max_pages:
                stats.truncated, stats.truncated_reason = True, f"page cap of {self._config.max_pages} reached"
                return
            if self._clock() - started > self._config.deadline_s:
                stats.truncated, stats.truncated_reason = True, f"deadline of {self._config.deadline_s:.0f}s reached"
                return
            page = self._page(cursor, end_ns, limit)
            stats.pages += 1
            fresh = [e for e in page if not (e.ts_ns == boundary_ts and e.identity in boundary_ids)]
            if page and not fresh and len(page) >= limit:
                if limit < LOKI_MAX_LIMIT:
                    limit = min(LOKI_MAX_LIMIT, limit * 2)  # one nanosecond holds a whole page: widen it
                    continue
                # Loki cannot page inside one nanosecond: re-reading it would stall this and every later
                # run on the same lines, so the rest of that nanosecond is skipped and the report says so.
                stats.truncated = True
                stats.truncated_reason = (
                    f"more than {LOKI_MAX_LIMIT} entries share the timestamp {boundary_ts}: the first "
                    f"{len(boundary_ids)} were read, the rest of that nanosecond was skipped; narrow the selector"
                )
                log.warning("Loki: %s", stats.truncated_reason)
                cursor, boundary_ts, boundary_ids = page[-1].ts_ns + 1, None, set()
                stats.last_ts_ns = cursor  # read through here: the next run's cursor moves past it too
                if cursor >= end_ns:
                    return
                continue
            for entry in fresh:
                stats.lines += 1
                stats.last_ts_ns = entry.ts_ns
                yield entry
            if len(page) < limit or not fresh:
                return
            last_ts = page[-1].ts_ns
            if last_ts != boundary_ts:
                boundary_ids = set()
            boundary_ts = last_ts
            boundary_ids.update(e.identity for e in page if e.ts_ns == last_ts)
            cursor = last_ts
