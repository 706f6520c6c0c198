"""The Tempo fake answers captured requests the way Tempo 3.0.3 did (status, content type, body)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from error_autopilot.demo.httpserver import LoopbackServer
from error_autopilot.demo.tempo_server import TempoServer
from tests.conftest import SHARED_FIXTURES

CAPTURES = SHARED_FIXTURES / "tempo-server"


def _capture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CAPTURES / f"{name}.json").read_text())
    return data


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[bool, LoopbackServer]]:
    """Single- and multi-tenant fakes holding the captured OTLP push, sent the way it was captured."""
    with LoopbackServer(TempoServer()) as single, LoopbackServer(TempoServer(tenant_required=True)) as multi:
        for server, name in ((single, "tempo_otlp_http_push_json"), (multi, "mt_tempo_otlp_http_push_json")):
            capture = _capture(name)
            push = capture["request"]
            response = httpx.post(f"{server.url}/v1/traces", json=push["body"], headers=push["headers"])
            assert response.status_code == capture["response"]["status"] == 200
            assert response.json() == capture["response"]["body_json"]
        yield {False: single, True: multi}
        assert single.unexpected == [] and multi.unexpected == []


def _replay(name: str, servers: dict[bool, LoopbackServer]) -> tuple[dict[str, Any], httpx.Response]:
    capture = _capture(name)
    request = capture["request"]
    url = urlsplit(request["url"])
    server = servers[name.startswith("mt_")]
    body = request["body"]
    response = httpx.request(
        request["method"], f"{server.url}{url.path}" + (f"?{url.query}" if url.query else ""),
        headers=request["headers"] or {}, content=body if isinstance(body, str) else None,
    )  # fmt: skip
    return capture["response"], response


def _family(headers: dict[str, str] | httpx.Headers) -> str:
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    return "json" if "json" in content_type else "text" if content_type else "none"


def _spans(body: dict[str, Any]) -> list[tuple[str, str, str, str, str, str]]:
    """(service, traceId, spanId, parentSpanId, kind, status code) of every span, in the wire's own encoding."""
    holder = body.get("trace", body)
    out = []
    for rs in holder.get("resourceSpans") or holder.get("batches") or []:
        service = next(a["value"]["stringValue"] for a in rs["resource"]["attributes"] if a["key"] == "service.name")
        for scope in rs["scopeSpans"]:
            for s in scope["spans"]:
                out.append((service, s["traceId"], s["spanId"], s.get("parentSpanId", ""), s.get("kind", ""),
                            s.get("status", {}).get("code", "")))  # fmt: skip
    return sorted(out)


@pytest.mark.parametrize(
    "name",
    ["tempo_trace_by_id_v2_json", "tempo_trace_by_id_v1_json", "tempo_trace_by_id_v1_uppercase_id",
     "mt_tempo_trace_by_id_v2_json", "mt_tempo_trace_by_id_v1_json"],
)  # fmt: skip
def test_trace_by_id_matches_capture(name: str, servers: dict[bool, LoopbackServer]) -> None:
    real, ours = _replay(name, servers)
    assert ours.status_code == real["status"] == 200
    assert _family(ours.headers) == _family(real["headers"]) == "json"
    body, expected = ours.json(), real["body_json"]
    assert set(body) == set(expected)
    assert _spans(body) == _spans(expected)
    assert len(_spans(body)) == 3


@pytest.mark.parametrize(
    "name",
    ["tempo_error_unknown_trace_id_v1", "tempo_error_unknown_trace_id_v2", "tempo_error_invalid_trace_id_v1",
     "mt_tempo_mt_error_trace_by_id_without_orgid", "tempo_echo"],
)  # fmt: skip
def test_other_answers_match_capture(name: str, servers: dict[bool, LoopbackServer]) -> None:
    real, ours = _replay(name, servers)
    assert ours.status_code == real["status"]
    assert _family(ours.headers) == _family(real["headers"])
    if "body_json" in real:
        assert ours.json() == real["body_json"]
    else:
        assert ours.text.strip() == (real.get("body_text") or "").strip()


def test_malformed_otlp_push_is_a_json_400(servers: dict[bool, LoopbackServer]) -> None:
    real, ours = _replay("tempo_error_otlp_push_malformed_json", servers)
    assert ours.status_code == real["status"] == 400
    assert _family(ours.headers) == _family(real["headers"]) == "json"
    assert set(ours.json()) == set(real["body_json"]) == {"code", "message"}
    assert ours.json()["code"] == real["body_json"]["code"]
