"""TempoSource against the Tempo-compatible loopback server and real Tempo/OTLP payloads."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from error_autopilot.demo.httpserver import LoopbackServer, Response
from error_autopilot.demo.tempo_server import TempoServer
from error_autopilot.domain.errors import SourceRejected
from error_autopilot.investigation.traces import summarise
from error_autopilot.sources.http import RetryPolicy, build_client
from error_autopilot.sources.tempo import TempoSource, normalise_id
from tests.conftest import SHARED_FIXTURES

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
ROOT, CLIENT, USER = "00f067aa0ba902b7", "53995c3f42cd8ad8", "a1b2c3d4e5f60718"


class FakeTime:
    """A clock that only moves when something sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def span(span_id: str, parent: str | None, name: str, kind: int, code: int, trace: str = TRACE) -> dict[str, Any]:
    out: dict[str, Any] = {"traceId": trace, "spanId": span_id, "name": name, "kind": kind, "startTimeUnixNano": "1000",
                           "endTimeUnixNano": "2000", "status": {"code": code}}  # fmt: skip
    if parent:
        out["parentSpanId"] = parent
    return out


def resource(service: str, spans: list[dict[str, Any]]) -> dict[str, Any]:
    attrs = [{"key": "service.name", "value": {"stringValue": service}},
             {"key": "service.version", "value": {"stringValue": "1.4.2"}}]  # fmt: skip
    return {"resource": {"attributes": attrs}, "scopeSpans": [{"scope": {"name": "t"}, "spans": spans}]}


ORDER_USER = [
    resource("order-service", [span(ROOT, None, "POST /orders", 2, 2), span(CLIENT, ROOT, "GET /users/{id}", 3, 2)]),
    resource("user-service", [span(USER, CLIENT, "GET /users/{id}", 2, 2)]),
]


@pytest.fixture(scope="module")
def loopback() -> Iterator[LoopbackServer]:
    """One port for the module; each test installs its own TempoServer (stopping a server costs 0.5 s)."""
    with LoopbackServer(TempoServer()) as server:
        yield server


def fresh(server: LoopbackServer, app: TempoServer) -> LoopbackServer:
    server.app = app
    server.requests.clear()
    server.unexpected.clear()
    return server


@pytest.fixture
def tempo(loopback: LoopbackServer) -> tuple[TempoServer, LoopbackServer]:
    app = TempoServer()
    app.ingest(ORDER_USER)
    return app, fresh(loopback, app)


def _source(server: LoopbackServer, org_id: str | None = None, **kwargs: Any) -> TempoSource:
    return TempoSource(build_client(server.url, org_id=org_id), **kwargs)


def test_v2_found_with_base64_ids_normalised_to_hex(tempo: tuple[TempoServer, LoopbackServer]) -> None:
    _, server = tempo
    trace = _source(server).get_trace(TRACE.upper())
    assert trace.status == "found"
    assert trace.trace_id == TRACE
    assert {(s.span_id, s.parent_id, s.service, s.kind, s.status_code) for s in trace.spans} == {
        (ROOT, None, "order-service", "SPAN_KIND_SERVER", "ERROR"),
        (CLIENT, ROOT, "order-service", "SPAN_KIND_CLIENT", "ERROR"),
        (USER, CLIENT, "user-service", "SPAN_KIND_SERVER", "ERROR"),
    }
    assert [r.path for r in server.requests] == [f"/api/v2/traces/{TRACE}"]
    assert server.unexpected == []


def test_v2_unknown_id_is_not_found(tempo: tuple[TempoServer, LoopbackServer]) -> None:
    _, server = tempo
    trace = _source(server).get_trace("0123456789abcdef0123456789abcdef")
    assert trace.status == "not_found" and trace.spans == ()
    assert len(server.requests) == 1 and server.unexpected == []


def test_v2_disabled_falls_back_to_v1(loopback: LoopbackServer) -> None:
    app = TempoServer(v2_enabled=False)
    app.ingest(ORDER_USER)
    server = fresh(loopback, app)
    found = _source(server).get_trace(TRACE)
    unknown = _source(server).get_trace("0123456789abcdef0123456789abcdef")
    assert found.status == "found" and len(found.spans) == 3
    assert unknown.status == "not_found"
    assert [r.path for r in server.requests[:2]] == [f"/api/v2/traces/{TRACE}", f"/api/traces/{TRACE}"]
    assert server.requests[3].path == "/api/traces/0123456789abcdef0123456789abcdef"
    assert server.unexpected == [f"GET /api/v2/traces/{TRACE}", "GET /api/v2/traces/0123456789abcdef0123456789abcdef"]


@pytest.mark.parametrize("bad", ["not-a-hex-trace-id", "", "g" * 32, "a" * 33, "../../etc/passwd"])
def test_non_hex_id_is_not_found_without_a_request(bad: str, tempo: tuple[TempoServer, LoopbackServer]) -> None:
    _, server = tempo
    trace = _source(server).get_trace(bad)
    assert trace.status == "not_found"
    assert server.requests == []


def test_503_until_deadline_is_unavailable_not_raised(tempo: tuple[TempoServer, LoopbackServer]) -> None:
    app, server = tempo
    app.forced.extend(Response.text("upstream connect error\n", 503) for _ in range(20))
    fake = FakeTime()
    policy = RetryPolicy(deadline_s=5, base_delay_s=1, sleep=fake.sleep, clock=fake.clock)
    trace = _source(server, policy=policy).get_trace(TRACE)
    assert trace.status == "unavailable"
    assert "HTTP 503" in trace.message
    assert fake.now <= 5 and fake.sleeps


def test_missing_tenant_401_raises_rejected(loopback: LoopbackServer) -> None:
    app = TempoServer(tenant_required=True)
    app.ingest(ORDER_USER)
    server = fresh(loopback, app)
    with pytest.raises(SourceRejected) as caught:
        _source(server).get_trace(TRACE)
    ok = _source(server, org_id="tenant-a").get_trace(TRACE)
    assert server.requests[-1].headers["x-scope-orgid"] == "tenant-a"
    assert caught.value.status == 401
    assert "no org id" in caught.value.message
    assert ok.status == "found"


def test_max_spans_caps_and_counts(loopback: LoopbackServer) -> None:
    app = TempoServer()
    app.ingest([resource("big", [span(f"{i + 1:016x}", None, f"op{i}", 1, 0) for i in range(50)])])
    trace = _source(fresh(loopback, app), max_spans=10).get_trace(TRACE)
    assert trace.status == "found"
    assert trace.capped is True
    assert len(trace.spans) == 10 and trace.total_spans == 50


def test_partial_response_is_partial(tempo: tuple[TempoServer, LoopbackServer]) -> None:
    app, server = tempo
    body = {"trace": {"resourceSpans": [resource("a", [span(ROOT, None, "x", 2, 2)])]}, "status": "PARTIAL",
            "message": "Response exceeds the max bytes"}  # fmt: skip
    app.forced.append(Response.json(body))
    trace = _source(server).get_trace(TRACE)
    assert trace.status == "partial"
    assert trace.message == "Response exceeds the max bytes"


def test_body_that_is_not_json_is_unavailable(tempo: tuple[TempoServer, LoopbackServer]) -> None:
    app, server = tempo
    app.forced.append(Response(200, b"<html>proxy</html>", {"Content-Type": "text/html"}))
    assert _source(server).get_trace(TRACE).status == "unavailable"


@pytest.mark.parametrize(
    ("value", "length", "expected"),
    [
        ("S/kvNXezTaajzpKdDg5HNg==", 32, TRACE),
        ("APBnqgupArc=", 16, ROOT),
        (ROOT.upper(), 16, ROOT),
        ("abc", 16, "0000000000000abc"),
        ("not base64!", 16, None),
        (base64.b64encode(b"\xff" * 9).decode(), 16, None),
        (None, 16, None),
    ],
)
def test_normalise_id(value: str | None, length: int, expected: str | None) -> None:
    assert normalise_id(value, length) == expected


REAL = sorted((SHARED_FIXTURES / "tempo").glob("*.json"))
WITH_SPANS = {
    "api-v2-traces-docs.json": (1, {"SPAN_KIND_SERVER"}, {"UNSET"}),
    "holmesgpt-api-traces-batches.json": (10, {"SPAN_KIND_INTERNAL"}, {"OK", "UNSET"}),
    "otlp-http-v1-traces-request-docs.json": (1, {"SPAN_KIND_SERVER"}, {"UNSET"}),
    "otlp-proto-examples-trace.json": (1, {"SPAN_KIND_SERVER"}, {"UNSET"}),
    "trace-with-failed-requests.json": (
        15,
        {"SPAN_KIND_CLIENT", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER"},
        {"ERROR", "OK", "UNSET"},
    ),
}


@pytest.mark.parametrize("path", REAL, ids=[p.name for p in REAL])
def test_real_payloads_parse(path: Path, loopback: LoopbackServer) -> None:
    app = TempoServer()
    app.forced.append(Response.json(json.loads(path.read_text())))
    trace = _source(fresh(loopback, app)).get_trace(TRACE)
    if path.name not in WITH_SPANS:  # search responses: no spans, so nothing to show
        assert trace.status == "not_found"
        return
    count, kinds, statuses = WITH_SPANS[path.name]
    assert trace.status == "found"
    assert len(trace.spans) == trace.total_spans == count
    assert {s.kind for s in trace.spans} == kinds
    assert {s.status_code for s in trace.spans} == statuses
    for s in trace.spans:
        assert len(s.span_id) == 16 and int(s.span_id, 16) >= 0
        assert s.parent_id is None or (len(s.parent_id) == 16 and int(s.parent_id, 16) >= 0)
        assert s.service != "unknown"


def test_a_capped_trace_keeps_its_failed_spans_and_their_path_first(loopback: LoopbackServer) -> None:
    app = TempoServer()
    fine = [span(f"{i + 1:016x}", None, f"op{i}", 1, 1) for i in range(50)]
    path = [span("a" * 16, None, "POST /orders", 2, 2), span("b" * 16, "a" * 16, "GET /users/{id}", 3, 1),
            span("c" * 16, "b" * 16, "SELECT users", 3, 2)]  # fmt: skip
    app.ingest([resource("big", [*fine, *path])])
    trace = _source(fresh(loopback, app), max_spans=10).get_trace(TRACE)
    kept = {s.span_id for s in trace.spans}
    assert trace.capped and trace.total_spans == 53 and len(trace.spans) == 10
    assert {"a" * 16, "b" * 16, "c" * 16} <= kept, "the failure and the path to it survive the cap"
    assert summarise(trace).culprit_span_id == "c" * 16
