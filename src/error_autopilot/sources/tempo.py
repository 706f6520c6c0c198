"""Tempo trace-by-id: v2 first (`{"trace": …}`), v1 as fallback; OTLP JSON normalised.

Ids arrive base64 (Tempo's jsonpb) or hex (OTLP/HTTP): the form decides — 32/16 hex characters are
hex, never decoded as base64 (which would give garbage without an error). Unknown ids are a
normal outcome (v2: 200 with an empty trace; v1: 404) and a Tempo outage never fails the run.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import httpx

from error_autopilot.domain.errors import SourceUnavailable
from error_autopilot.domain.traces import AttrValue, Span, SpanEvent, Trace
from error_autopilot.resilience import Breaker
from error_autopilot.sources.http import RetryPolicy, send_with_retry

log = logging.getLogger(__name__)

_HEX = re.compile(r"^[0-9a-fA-F]+$")
_STATUS = {"STATUS_CODE_UNSET": "UNSET", "STATUS_CODE_OK": "OK", "STATUS_CODE_ERROR": "ERROR",
           0: "UNSET", 1: "OK", 2: "ERROR"}  # fmt: skip
_KINDS = ("SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER", "SPAN_KIND_CLIENT",
          "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER")  # fmt: skip


def normalise_id(value: Any, hex_len: int) -> str | None:
    """Lowercase hex of a trace (32) or span (16) id given as hex or base64; None if neither."""
    if not isinstance(value, str) or not value:
        return None
    if len(value) <= hex_len and _HEX.match(value):
        return value.lower().rjust(hex_len, "0")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex().rjust(hex_len, "0") if len(raw) * 2 <= hex_len else None


def attr_value(value: dict[str, Any]) -> AttrValue:
    """An OTLP AnyValue as a plain value (intValue arrives as a string)."""
    if "stringValue" in value:
        return str(value["stringValue"])
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "arrayValue" in value:
        return [attr_value(v) for v in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return attributes(value["kvlistValue"].get("values", []))
    if "bytesValue" in value:
        return str(value["bytesValue"])
    return None


def attributes(items: list[dict[str, Any]]) -> dict[str, AttrValue]:
    """OTLP key/value list → dict."""
    return {str(i.get("key")): attr_value(i.get("value") or {}) for i in items if isinstance(i, dict)}


def _kind(value: Any) -> str:
    if isinstance(value, int) and 0 <= value < len(_KINDS):
        return _KINDS[value]
    return str(value) if value else "SPAN_KIND_UNSPECIFIED"


def iter_spans(resource_spans: list[dict[str, Any]]) -> Iterator[Span]:
    """Every span of an OTLP resourceSpans/batches list, with its resource's service folded in."""
    for rs in resource_spans:
        resource = attributes((rs.get("resource") or {}).get("attributes") or [])
        service = str(resource.get("service.name") or "unknown")
        for scope in rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or []:
            for raw in scope.get("spans") or []:
                span_id = normalise_id(raw.get("spanId"), 16)
                if span_id is None:
                    continue
                status = raw.get("status") or {}
                yield Span(
                    span_id=span_id, parent_id=normalise_id(raw.get("parentSpanId"), 16), service=service,
                    name=str(raw.get("name") or ""), kind=_kind(raw.get("kind")),
                    start_ns=int(raw.get("startTimeUnixNano") or 0), end_ns=int(raw.get("endTimeUnixNano") or 0),
                    status_code=_STATUS.get(status.get("code", 0), "UNSET"),
                    status_message=str(status.get("message") or ""),
                    attributes=attributes(raw.get("attributes") or []), resource=resource,
                    events=tuple(
                        SpanEvent(name=str(e.get("name") or ""), time_ns=int(e.get("timeUnixNano") or 0),
                                  attributes=attributes(e.get("attributes") or []))
                        for e in raw.get("events") or []
                    ),
                )  # fmt: skip


def _failed_first(resource_spans: list[dict[str, Any]], cap: int) -> tuple[int, set[str]]:
    """(span count, ids of the `cap` spans to keep): every failed span and its ancestors first — the
    culprit and its path are what the investigation needs — then the others in the order given.
    Only ids are held, so a 100,000-span trace costs little before it is cut."""
    parents: dict[str, str | None] = {}
    order: list[str] = []
    failed: list[str] = []
    for span in iter_spans(resource_spans):
        parents.setdefault(span.span_id, span.parent_id)
        order.append(span.span_id)
        if span.failed:
            failed.append(span.span_id)
    keep: dict[str, None] = {}
    for span_id in failed:
        node: str | None = span_id
        while node is not None and node not in keep and node in parents and len(keep) < cap:
            keep[node] = None
            node = parents[node]
    for span_id in order:
        if len(keep) >= cap:
            break
        keep.setdefault(span_id, None)
    return len(order), set(keep)


class TempoSource:
    """ports.TraceSource over one environment's Tempo."""

    def __init__(
        self, client: httpx.Client, *, max_spans: int = 2000, policy: RetryPolicy | None = None,
        breaker: Breaker | None = None,
    ) -> None:  # fmt: skip
        self._client = client
        self._max_spans = max_spans
        self._policy = policy or RetryPolicy(deadline_s=60)
        self._breaker = breaker

    def _get(self, path: str) -> httpx.Response:
        request = self._client.build_request("GET", path, headers={"Accept": "application/json"})
        return send_with_retry(
            self._client, request, what="Tempo", policy=self._policy, accept_status=(404, 422), breaker=self._breaker
        )

    def get_trace(self, trace_id: str) -> Trace:
        """The trace; not_found / partial / unavailable are outcomes, not errors."""
        tid = normalise_id(trace_id, 32)
        if tid is None:
            return Trace(trace_id=str(trace_id)[:64], status="not_found", message="not a trace id")
        if self._breaker is not None and (cause := self._breaker.skip()) is not None:
            return Trace(trace_id=tid, status="unavailable", message=f"skipped after an earlier failure: {cause}")
        try:
            response = self._get(f"/api/v2/traces/{tid}")
            v2 = response.status_code != 404
            if not v2:
                response = self._get(f"/api/traces/{tid}")
        except SourceUnavailable as e:
            log.warning("Tempo unavailable for trace %s: %s", tid, e)
            return Trace(trace_id=tid, status="unavailable", message=e.message)
        if response.status_code == 404:
            return Trace(trace_id=tid, status="not_found", message="Tempo does not know this trace (yet)")
        if response.status_code == 422:
            return Trace(trace_id=tid, status="unavailable", message=response.text.strip()[:300])
        try:
            body = json.loads(response.content.decode("utf-8", errors="replace"))
        except ValueError:
            return Trace(trace_id=tid, status="unavailable", message="Tempo answered with a body that is not JSON")
        return self._trace(tid, body)

    def _trace(self, tid: str, body: Any) -> Trace:
        holder = body.get("trace", body) if isinstance(body, dict) else {}
        resource_spans = (holder or {}).get("resourceSpans") or (holder or {}).get("batches") or []
        spans = list(itertools.islice(iter_spans(resource_spans), self._max_spans + 1))
        total = len(spans)
        if total > self._max_spans:
            total, keep = _failed_first(resource_spans, self._max_spans)
            spans = [span for span in iter_spans(resource_spans) if span.span_id in keep]
        if not spans:
            return Trace(trace_id=tid, status="not_found", message="Tempo returned an empty trace")
        partial = isinstance(body, dict) and body.get("status") == "PARTIAL"
        return Trace(
            trace_id=tid, status="partial" if partial else "found", spans=tuple(spans),
            message=str(body.get("message") or "") if partial else "", capped=total > len(spans), total_spans=total,
        )  # fmt: skip
