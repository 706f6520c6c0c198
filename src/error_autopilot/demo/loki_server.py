"""A Loki-compatible server for the demo and the tests, following Loki 3.7's wire behaviour
(recorded in shared/fixtures/real/loki-server): plain-text error bodies, its timestamp parsing,
the `limit` cap, forward/backward order, `detected_level`, both response encodings, tenancy.

It understands the LogQL our poller sends: a stream selector with `=`, `!=`, `=~`, `!~` matchers
and line filters `|=`, `!=`, `|~`, `!~`. Anything else is a 400 `parse error`, as Loki would say.
"""

from __future__ import annotations

import bisect
import json
import re
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from error_autopilot.demo.httpserver import Request, Response

MAX_ENTRIES = 5000
_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')
_FILTER = re.compile(r'\s*(\|=|!=|\|~|!~)\s*"((?:[^"\\]|\\.)*)"')
_LEVELS = ("error", "warn", "info", "debug", "fatal", "critical", "trace")


def _unquote(text: str) -> str:
    return bytes(text, "utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8")


def parse_timestamp(value: str) -> int:
    """Loki's rules: ≤10 digits are seconds, more are nanoseconds, a dotted float is seconds (ms
    precision), otherwise RFC3339."""
    if re.fullmatch(r"-?\d+", value):
        return int(value) * 1_000_000_000 if len(value.lstrip("-")) <= 10 else int(value)
    if re.fullmatch(r"-?\d+\.\d+", value):
        return round(float(value) * 1000) * 1_000_000
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1_000_000_000)


@dataclass
class _Query:
    matchers: list[tuple[str, str, str]]
    filters: list[tuple[str, str]]


def _closing_brace(text: str) -> int:
    """Where the stream selector ends: the first `}` outside a quoted label value (a value may hold one)."""
    quoted = escaped = False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == "}" and not quoted:
            return i
    raise ValueError("parse error at line 1, col 1: syntax error: unexpected end of input, expecting }")


def parse_logql(query: str) -> _Query:
    """Parse the supported subset; ValueError carries Loki's style of message."""
    text = query.strip()
    if not text.startswith("{") or "}" not in text:
        raise ValueError("parse error at line 1, col 1: syntax error: unexpected IDENTIFIER")
    end = _closing_brace(text)
    body, rest = text[1:end], text[end + 1 :]
    matchers: list[tuple[str, str, str]] = []
    pos = 0
    while pos < len(body):
        m = _MATCHER.match(body, pos)
        if not m:
            raise ValueError(f"parse error at line 1, col {pos + 2}: syntax error: unexpected {body[pos : pos + 10]!r}")
        matchers.append((m.group(1), m.group(2), _unquote(m.group(3))))
        pos = m.end()
    if not any(op in ("=", "=~") and not re.fullmatch(v if op == "=~" else re.escape(v), "") for _, op, v in matchers):
        raise ValueError(
            "parse error : queries require at least one regexp or equality matcher that does not have an "
            'empty-compatible value. For instance, app=~".*" does not meet this requirement, but app=~".+" will'
        )
    filters: list[tuple[str, str]] = []
    pos = 0
    while pos < len(rest.strip()):
        stripped = rest.strip()
        m = _FILTER.match(stripped, pos)
        if not m:
            raise ValueError(f"parse error at line 1, col {end + pos + 2}: syntax error: unexpected {stripped[pos:]!r}")
        filters.append((m.group(1), _unquote(m.group(2))))
        pos = m.end()
    for op, value in filters:
        if op in ("|~", "!~"):
            try:
                re.compile(value)
            except re.error as e:
                raise ValueError(f"parse error : invalid regex {value!r}: {e}") from e
    return _Query(matchers, filters)


def _matches(q: _Query, labels: dict[str, str], line: str) -> bool:
    for name, op, value in q.matchers:
        actual = labels.get(name, "")
        if op in ("=", "!="):  # a literal, never compiled: a value may hold what a regex would refuse
            ok = (actual == value) == (op == "=")
        else:
            ok = (re.fullmatch(value, actual) is not None) == (op == "=~")
        if not ok:
            return False
    for op, value in q.filters:
        hit = (value in line) if op in ("|=", "!=") else re.search(value, line) is not None
        if hit != (op in ("|=", "|~")):
            return False
    return True


@dataclass
class _Stream:
    labels: dict[str, str]
    ts: list[int] = field(default_factory=list)
    rows: list[tuple[str, dict[str, str]]] = field(default_factory=list)


class LokiServer:
    """The app (callable Request → Response). `forced` answers first, for fault injection."""

    def __init__(self, *, tenant_required: bool = False) -> None:
        self.tenant_required = tenant_required
        self.forced: deque[Response] = deque()
        self.on_request: Callable[[Request], None] | None = None
        self._streams: dict[tuple[str, tuple[tuple[str, str], ...]], _Stream] = {}
        self._lock = threading.Lock()

    def push(self, labels: dict[str, str], ts_ns: int, line: str, metadata: dict[str, str] | None = None,
             tenant: str = "fake") -> None:  # fmt: skip
        """Store one entry (what POST /loki/api/v1/push does)."""
        labels, metadata = dict(labels), dict(metadata or {})
        if "detected_level" not in labels and "detected_level" not in metadata:
            head = line[:200].lower()
            found = sorted((head.find(lv), lv) for lv in _LEVELS if lv in head)  # Loki takes the first one seen
            level = labels.get("level", "").lower() or (found[0][1] if found else "")
            if level:  # structured metadata, as in Loki: merged into labels only in the default encoding
                metadata["detected_level"] = level
        key = (tenant, tuple(sorted(labels.items())))
        with self._lock:
            stream = self._streams.setdefault(key, _Stream(labels))
            i = bisect.bisect_right(stream.ts, ts_ns)
            stream.ts.insert(i, ts_ns)
            stream.rows.insert(i, (line, metadata))

    def __call__(self, req: Request) -> Response | None:
        if self.on_request is not None:
            self.on_request(req)
        if self.forced:
            return self.forced.popleft()
        tenant = req.headers.get("x-scope-orgid")
        if self.tenant_required and not tenant and req.path.startswith("/loki/api/"):
            return Response.text("no org id\n", 401)
        tenant = tenant or "fake"
        routes: dict[tuple[str, str], Callable[[Request, str], Response]] = {
            ("POST", "/loki/api/v1/push"): self._push,
            ("GET", "/loki/api/v1/query_range"): self._query_range,
            ("GET", "/loki/api/v1/labels"): self._labels,
            ("GET", "/loki/api/v1/status/buildinfo"): lambda r, t: Response.json({"version": "3.7.6-fake"}),
            ("GET", "/ready"): lambda r, t: Response.text("ready\n"),
        }
        handler = routes.get((req.method, req.path))
        return handler(req, tenant) if handler else None

    def _push(self, req: Request, tenant: str) -> Response:
        try:
            body = json.loads(req.body)
            for stream in body["streams"]:
                for value in stream["values"]:
                    if not isinstance(value[0], str):
                        return Response.text("loghttp.PushRequest.Streams: timestamp must be a string\n", 400)
                    meta = value[2] if len(value) > 2 else None
                    self.push(stream["stream"], int(value[0]), value[1], meta, tenant)
        except (ValueError, KeyError, TypeError, IndexError) as e:
            return Response.text(f"loghttp.PushRequest: {e}\n", 400)
        return Response(204)

    def _labels(self, req: Request, tenant: str) -> Response:
        with self._lock:
            names = sorted({k for (t, _), s in self._streams.items() if t == tenant for k in s.labels})
        return Response.json({"status": "success", "data": names})

    def _query_range(self, req: Request, tenant: str) -> Response:
        try:
            query = parse_logql(req.param("query") or "")
            end_raw, start_raw = req.param("end"), req.param("start")
            end = parse_timestamp(end_raw) if end_raw else None
            start = parse_timestamp(start_raw) if start_raw else None
            limit = int(req.param("limit") or 100)
        except ValueError as e:
            return Response.text(f"{e}\n", 400)
        if end is not None and start is not None and end < start:
            return Response.text("end timestamp must not be before or equal to start time\n", 400)
        if limit > MAX_ENTRIES:
            return Response.text(
                "max entries limit per query exceeded, limit > max_entries_limit_per_query "
                f"({limit} > {MAX_ENTRIES})\n",
                400,
            )
        direction = (req.param("direction") or "backward").lower()
        if direction not in ("forward", "backward"):
            return Response.text("invalid direction\n", 400)
        start, end = start or 0, end or 2**63 - 1
        categorize = "categorize-labels" in req.headers.get("x-loki-response-encoding-flags", "")
        hits = self._select(query, tenant, start, end)
        hits.sort(key=lambda h: h[0], reverse=direction == "backward")
        return Response.json(_body(hits[:limit], categorize))

    def _select(
        self, q: _Query, tenant: str, start: int, end: int
    ) -> list[tuple[int, dict[str, str], str, dict[str, str]]]:
        out = []
        with self._lock:
            streams = [s for (t, _), s in self._streams.items() if t == tenant]
            for s in streams:
                lo, hi = bisect.bisect_left(s.ts, start), bisect.bisect_left(s.ts, end)
                for i in range(lo, hi):
                    line, meta = s.rows[i]
                    if _matches(q, {**s.labels, **meta}, line):
                        out.append((s.ts[i], s.labels, line, meta))
        return out


def _body(hits: list[tuple[int, dict[str, str], str, dict[str, str]]], categorize: bool) -> dict[str, Any]:
    streams: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
    for ts, labels, line, meta in hits:
        merged = labels if categorize else {**labels, **meta}
        stream = streams.setdefault(tuple(sorted(merged.items())), {"stream": merged, "values": []})
        stream["values"].append(
            [str(ts), line, {"structuredMetadata": meta} if meta else {}] if categorize else [str(ts), line]
        )
    data: dict[str, Any] = {"resultType": "streams", "result": list(streams.values()),
                            "stats": {"summary": {"totalEntriesReturned": len(hits)}}}  # fmt: skip
    if categorize:
        data["encodingFlags"] = ["categorize-labels"]
    return {"status": "success", "data": data}
