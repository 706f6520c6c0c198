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
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from operator import attrgetter
from typing import Any

import httpx
import msgspec

from error_autopilot.config.service_map import LokiConfig
from error_autopilot.domain.errors import SourceUnavailable
from error_autopilot.domain.events import LogEntry, identify
from error_autopilot.ports import PollStats
from error_autopilot.resilience import Breaker
from error_autopilot.sources.http import RetryPolicy, send_with_retry

log = logging.getLogger(__name__)

LOKI_MAX_LIMIT = 5000
_NONE: dict[str, str] = {}  # the metadata of entries that have none (never changed: entries are read-only)
_RE2_META = set("\\.+*?()|[]{}^$")
_TS = attrgetter("ts_ns")


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


class _Metadata(msgspec.Struct, rename="camel"):
    """An entry's third element in the categorize-labels encoding."""

    structured_metadata: dict[str, str] | None = None
    parsed: dict[str, str] | None = None


_NO_METADATA = msgspec.Raw()


class _Value(msgspec.Struct, array_like=True):
    """One entry: `[timestamp, line]`, or with its metadata `[timestamp, line, {...}]`."""

    ts_ns: int  # Loki sends a string of digits: the decoder is not strict, so it reads it as a number
    line: str
    # left as JSON text: a stream's lines mostly carry the same metadata, read once per run of equal texts
    metadata: msgspec.Raw = _NO_METADATA


class _Stream(msgspec.Struct):
    stream: dict[str, str] | None = None
    values: list[_Value] | None = None


class _Data(msgspec.Struct, rename="camel"):
    result_type: str
    result: list[_Stream] | None = None


class _Body(msgspec.Struct):
    data: _Data


# A page decoded straight into the few fields an entry has, each checked as it is read: no dict or list
# is made for a line and thrown away (about a third of what json.loads and a walk over its result cost)
_DECODER = msgspec.json.Decoder(_Body, strict=False)
_METADATA = msgspec.json.Decoder(_Metadata | None)


def _decode(content: bytes) -> _Body:
    """The page. Text the fast decoder refuses but json reads is read as json reads it, what is not Unicode
    replaced by U+FFFD (bytes that are not UTF-8, escapes of half a surrogate pair): one odd line must not
    stop every poll."""
    try:
        return _DECODER.decode(content)
    except msgspec.ValidationError:
        raise
    except msgspec.DecodeError as refused:
        try:
            plain = json.loads(content.decode("utf-8", errors="replace"))
        except ValueError:
            raise refused from None  # not JSON at all: the fast decoder says where
        text = json.dumps(plain, ensure_ascii=False)  # a lone surrogate is now a character: UTF-16 replaces it
        return _DECODER.decode(text.encode("utf-16", "surrogatepass").decode("utf-16", "replace"))


def _metadata(text: msgspec.Raw, shared: dict[bytes, dict[str, str]]) -> dict[str, str]:
    """An entry's metadata read from its JSON text; lines with the same text share one dict."""
    if not text:
        return _NONE
    key = bytes(text)
    found = shared.get(key)
    if found is None:
        read = _METADATA.decode(key)
        found = shared[key] = {**(read.structured_metadata or {}), **(read.parsed or {})} if read else {}
    return found


def _entries(body: _Body) -> list[LogEntry]:
    """The page's entries, oldest first. Entries share their stream's labels, and lines with the same
    metadata share one dict."""
    if body.data.result_type != "streams":
        raise ValueError("not a streams result")
    entries: list[LogEntry] = []
    append = entries.append
    shared: dict[bytes, dict[str, str]] = {}
    for stream in body.data.result or ():
        labels = stream.stream or {}
        last = _NO_METADATA  # a stream's lines mostly carry the metadata of the line before
        metadata = _NONE
        for value in stream.values or ():
            if value.metadata != last:
                last = value.metadata
                metadata = _metadata(last, shared)
            append(LogEntry(value.ts_ns, value.line, labels, metadata))
    identify(entries)  # while each stream's lines are still together
    entries.sort(key=_TS)
    return entries


def _without_boundary_repeats(page: list[LogEntry], boundary_ts: int | None, boundary_ids: set[str]) -> list[LogEntry]:
    """The page without the entries at `boundary_ts` already read (`boundary_ids`). The page is in timestamp
    order: only the few lines at that timestamp are looked at, not every line.

    Not the overlap's `_not_read_last_run`, on purpose: this undoes the source's own paging within one poll
    (a page starts at the nanosecond the one before ended at, so only lines at that nanosecond repeat, and
    they are matched by full identity), so that `pages` hands over each line once; re-reading the overlap
    across runs is the plan's choice, undone in `overlap.py` by the keys state keeps."""
    if boundary_ts is None:
        return page
    low, high = bisect_left(page, boundary_ts, key=_TS), bisect_right(page, boundary_ts, key=_TS)
    if low == high:
        return page
    return [*page[:low], *(e for e in page[low:high] if e.identity not in boundary_ids), *page[high:]]


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

    def _page(self, start_ns: int, end_ns: int, limit: int, query: str | None = None) -> list[LogEntry]:
        params = {"query": query or self._query, "start": str(start_ns), "end": str(end_ns), "limit": str(limit),
                  "direction": "forward"}  # fmt: skip
        # a read around split lines is a nicety: one retry, and its failure never stops the poll's own pages
        policy = self._policy if query is None else replace(self._policy, max_attempts=2)
        breaker = self._breaker if query is None else None
        request = self._client.build_request(
            "GET", "/loki/api/v1/query_range", params=params,
            headers={"X-Loki-Response-Encoding-Flags": "categorize-labels"},
        )  # fmt: skip
        response = send_with_retry(self._client, request, what="Loki", policy=policy, breaker=breaker)
        content = response.content
        # httpx leaves a read response in a reference cycle with its stream: only the garbage collector
        # would free the page's megabytes. Without the stream, reference counting frees it on return.
        response.stream = httpx.ByteStream(b"")
        try:
            return _entries(_decode(content))
        except (ValueError, msgspec.DecodeError) as e:
            raise SourceUnavailable(
                f"Loki answered HTTP {response.status_code} with a body that is not a streams result ({e}): "
                f"{response.text[:200]!r}",
                url=str(request.url.copy_with(query=None)),
            ) from e

    def around(self, labels: Mapping[str, str], start_ns: int, end_ns: int, limit: int) -> list[LogEntry]:
        """The first `limit` lines of the stream `labels` names in [start_ns, end_ns), oldest first and
        without the line filter: the neighbours of lines a shipper split off one stack trace. One request,
        retried as any other; a label set that is not a stream's (metadata merged in by an older Loki)
        finds nothing."""
        selector = ", ".join(f"{name}={logql_string(value)}" for name, value in sorted(labels.items()))
        if not selector or end_ns <= start_ns:
            return []
        return self._page(start_ns, end_ns, min(limit, LOKI_MAX_LIMIT), "{" + selector + "}")

    def poll(self, start_ns: int, end_ns: int, stats: PollStats) -> Iterator[LogEntry]:
        """Yield every entry in [start_ns, end_ns) oldest first, each exactly once (see `pages`)."""
        for page in self.pages(start_ns, end_ns, stats):
            yield from page

    def pages(self, start_ns: int, end_ns: int, stats: PollStats) -> Iterator[list[LogEntry]]:
        """Every entry in [start_ns, end_ns) oldest first, each exactly once, a page at a time; `stats`
        counts a page's lines as it is handed over.

        The next page is requested as soon as this one is decoded, and read while this one's entries
        are processed: on a real Loki the wait for a page is most of a poll's time."""
        if end_ns <= start_ns:
            return
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="loki-page")
        try:
            yield from self._pages(start_ns, end_ns, stats, pool)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _pages(
        self, start_ns: int, end_ns: int, stats: PollStats, pool: ThreadPoolExecutor
    ) -> Iterator[list[LogEntry]]:
        limit = self._config.page_limit
        started = self._clock()
        boundary_ts: int | None = None
        boundary_ids: set[str] = set()
        cursor = start_ns
        ahead: tuple[int, int, Future[list[LogEntry]]] | None = None  # (cursor, limit, page being read)
        while True:
            if stats.pages >= self._config.max_pages:
                stats.truncated, stats.truncated_reason = True, f"page cap of {self._config.max_pages} reached"
                return
            if self._clock() - started > self._config.deadline_s:
                stats.truncated, stats.truncated_reason = True, f"deadline of {self._config.deadline_s:.0f}s reached"
                return
            if ahead is not None and ahead[:2] == (cursor, limit):
                page = ahead[2].result()
            else:
                page = self._page(cursor, end_ns, limit)
            ahead = None
            stats.pages += 1
            fresh = _without_boundary_repeats(page, boundary_ts, boundary_ids)
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
            more = len(page) >= limit and bool(fresh)
            if more:
                last_ts = page[-1].ts_ns
                if last_ts != boundary_ts:
                    boundary_ids = set()
                boundary_ts = last_ts
                # the page is in timestamp order: the lines at its last timestamp are its last ones
                boundary_ids.update(e.identity for e in page[bisect_left(page, last_ts, key=_TS) :])
                cursor = last_ts
                if stats.pages < self._config.max_pages:
                    ahead = (cursor, limit, pool.submit(self._page, cursor, end_ns, limit))
            if fresh:
                stats.lines += len(fresh)
                stats.last_ts_ns = fresh[-1].ts_ns
                yield fresh
            if not more:
                return
