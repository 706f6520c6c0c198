"""A Tempo-compatible server for the demo and the tests, following Tempo 3.0's wire behaviour
(recorded in shared/fixtures/real/tempo-server): OTLP/HTTP JSON ingest with hex ids; trace by id
answered with base64 ids and enum names; v2 unknown id → 200 `{"trace": {}}`, v1 → 404 empty."""

from __future__ import annotations

import base64
import re
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from error_autopilot.demo.httpserver import Request, Response

_HEX = re.compile(r"^[0-9a-fA-F]{1,32}$")
_KINDS = ("SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER", "SPAN_KIND_CLIENT",
          "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER")  # fmt: skip
_STATUS = {1: "STATUS_CODE_OK", 2: "STATUS_CODE_ERROR"}


def _b64(hex_id: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_id)).decode()


def _as_tempo(span: dict[str, Any]) -> dict[str, Any]:
    """OTLP/HTTP span (hex ids, int enums) → Tempo's jsonpb rendering (base64, names, omitted zeros)."""
    out = {k: v for k, v in span.items() if k not in ("traceId", "spanId", "parentSpanId", "kind", "status")}
    out["traceId"], out["spanId"] = _b64(span["traceId"]), _b64(span["spanId"])
    if span.get("parentSpanId"):
        out["parentSpanId"] = _b64(span["parentSpanId"])
    kind = span.get("kind", 0)
    if isinstance(kind, int) and kind:
        out["kind"] = _KINDS[kind]
    status = span.get("status") or {}
    code = status.get("code", 0)
    rendered = {"code": _STATUS[code]} if code in _STATUS else {}
    if status.get("message"):
        rendered["message"] = status["message"]
    out["status"] = rendered
    return out


class TempoServer:
    """The app. `v2_enabled=False` behaves like Tempo < 2.6; `forced` answers first (faults)."""

    def __init__(self, *, v2_enabled: bool = True, tenant_required: bool = False) -> None:
        self.v2_enabled = v2_enabled
        self.tenant_required = tenant_required
        self.forced: deque[Response] = deque()
        self.on_request: Callable[[Request], None] | None = None
        self._traces: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def ingest(self, resource_spans: list[dict[str, Any]]) -> None:
        """Store OTLP resourceSpans (what POST /v1/traces does)."""
        with self._lock:
            for rs in resource_spans:
                for scope in rs.get("scopeSpans", []):
                    for span in scope.get("spans", []):
                        batch = {"resource": rs.get("resource", {}), "scopeSpans": [
                            {"scope": scope.get("scope", {}), "spans": [_as_tempo(span)]}]}  # fmt: skip
                        self._traces.setdefault(span["traceId"].lower(), []).append(batch)

    def __call__(self, req: Request) -> Response | None:
        if self.on_request is not None:
            self.on_request(req)
        if self.forced:
            return self.forced.popleft()
        if self.tenant_required and not req.headers.get("x-scope-orgid") and req.path.startswith("/api/"):
            return Response.text("no org id", 401)
        if req.method == "POST" and req.path == "/v1/traces":
            try:
                body = req.json()
                self.ingest(body.get("resourceSpans", []))
            except (ValueError, AttributeError, KeyError, TypeError) as e:  # Tempo: gRPC InvalidArgument as JSON
                return Response.json({"code": 3, "message": f"ReadObject: {e}"}, 400)
            return Response.json({"partialSuccess": {}})
        if req.method == "GET" and req.path == "/api/echo":
            return Response.text("echo")
        if req.method == "GET" and req.path == "/api/status/buildinfo":
            return Response.json({"version": "3.0.3-fake"})
        for prefix, v2 in (("/api/v2/traces/", True), ("/api/traces/", False)):
            if req.method == "GET" and req.path.startswith(prefix):
                if v2 and not self.v2_enabled:
                    return None
                return self._trace(req.path[len(prefix) :], v2)
        return None

    def _trace(self, trace_id: str, v2: bool) -> Response:
        if not _HEX.match(trace_id):
            bad = next(((i, c) for i, c in enumerate(trace_id) if c not in "0123456789abcdefABCDEF"), None)
            where = f"invalid character {bad[1]!r} at position {bad[0] + 1}" if bad else "invalid length"
            return Response.text(f"trace IDs can only contain hex characters: {where}", 400)
        with self._lock:
            batches = list(self._traces.get(trace_id.lower().rjust(32, "0"), []))
        if v2:
            return Response.json({"trace": {"resourceSpans": batches} if batches else {}, "metrics": {}})
        return Response.json({"batches": batches}) if batches else Response(404)
