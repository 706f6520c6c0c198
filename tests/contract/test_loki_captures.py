"""The Loki fake answers captured requests the way Loki 3.7.6 did (status, content type, body)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from error_autopilot.demo.httpserver import LoopbackServer
from error_autopilot.demo.loki_server import LokiServer
from tests.conftest import SHARED_FIXTURES

CAPTURES = SHARED_FIXTURES / "loki-server"

SUCCESS = [
    "loki_query_range_streams_error_regex",
    "loki_query_range_streams_error_regex_categorize_labels",
    "loki_query_range_streams_all_dev",
    "loki_query_range_line_filter_trace_id",
    "loki_query_range_no_match_empty_result",
    "loki_query_range_forward_limit_1",
    "loki_query_range_rfc3339_times",
    "loki_query_range_unix_seconds",
    "mt_loki_query_range_streams_error_regex",
    "mt_loki_mt_query_other_tenant_empty",
]
ERRORS = [
    "loki_error_start_after_end",
    "loki_error_empty_matcher",
    "loki_error_malformed_logql_bad_regex",
    "loki_error_malformed_logql_unclosed_brace",
    "mt_loki_mt_error_query_without_orgid",
]


def _capture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CAPTURES / f"{name}.json").read_text())
    return data


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[bool, LoopbackServer]]:
    """A single-tenant and a multi-tenant fake, each holding its captured push (tenant-a on the latter)."""
    with LoopbackServer(LokiServer()) as single, LoopbackServer(LokiServer(tenant_required=True)) as multi:
        for server, name in ((single, "loki_push_3_lines"), (multi, "mt_loki_push_3_lines")):
            push = _capture(name)["request"]
            response = httpx.post(f"{server.url}/loki/api/v1/push", json=push["body"], headers=push["headers"])
            assert response.status_code == _capture(name)["response"]["status"] == 204
        yield {False: single, True: multi}
        assert single.unexpected == [] and multi.unexpected == []


def _replay(name: str, servers: dict[bool, LoopbackServer]) -> tuple[dict[str, Any], httpx.Response]:
    capture = _capture(name)
    request = capture["request"]
    url = urlsplit(request["url"])
    server = servers[name.startswith("mt_")]
    response = httpx.request(
        request["method"], f"{server.url}{url.path}?{url.query}", headers=request["headers"] or {}
    )  # fmt: skip
    return capture["response"], response


def _family(content_type: str | None) -> str:
    return "json" if "json" in (content_type or "") else "text"


def _header(headers: dict[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)


def _streams(body: dict[str, Any]) -> list[tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str, str], ...]]]:
    """Each stream's labels and values (ts, line, metadata as JSON), order-independent."""
    out = []
    for stream in body["data"]["result"]:
        values = tuple(
            (v[0], v[1], json.dumps(v[2], sort_keys=True) if len(v) > 2 else "") for v in stream["values"]
        )  # fmt: skip
        out.append((tuple(sorted(stream["stream"].items())), values))
    return sorted(out)


@pytest.mark.parametrize("name", SUCCESS)
def test_query_range_success_matches_capture(name: str, servers: dict[bool, LoopbackServer]) -> None:
    real, ours = _replay(name, servers)
    assert ours.status_code == real["status"] == 200
    assert _family(ours.headers.get("content-type")) == _family(_header(real["headers"], "content-type")) == "json"
    body, expected = ours.json(), real["body_json"]
    assert body["status"] == expected["status"]
    assert body["data"]["resultType"] == expected["data"]["resultType"] == "streams"
    assert body["data"].get("encodingFlags") == expected["data"].get("encodingFlags")
    assert _streams(body) == _streams(expected)


@pytest.mark.parametrize("name", ERRORS)
def test_errors_match_capture(name: str, servers: dict[bool, LoopbackServer]) -> None:
    real, ours = _replay(name, servers)
    assert ours.status_code == real["status"]
    assert _family(ours.headers.get("content-type")) == _family(_header(real["headers"], "content-type")) == "text"
    expected = real["body_text"].strip()
    if "parse error" in expected:  # positions and wording of LogQL parse errors are Loki's parser's own
        assert ours.text.startswith("parse error")
        if "queries require" in expected:
            assert ours.text.strip().endswith(expected.split("parse error : ", 1)[1])
    else:
        assert ours.text.strip() == expected


def test_max_entries_limit_matches_documented_text(servers: dict[bool, LoopbackServer]) -> None:
    documented = (SHARED_FIXTURES / "loki" / "error-400-max-entries.txt").read_text().strip()
    response = httpx.get(
        f"{servers[False].url}/loki/api/v1/query_range",
        params={"query": '{deployment_environment="dev"}', "limit": "10000", "start": "1", "end": "2"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text.strip() == documented


def test_labels_hide_detected_level_like_loki(servers: dict[bool, LoopbackServer]) -> None:
    real = _capture("loki_labels")["response"]["body_json"]
    ours = httpx.get(f"{servers[False].url}/loki/api/v1/labels").json()
    assert ours == real


def test_captured_files_exist() -> None:
    missing = [n for n in [*SUCCESS, *ERRORS] if not Path(CAPTURES / f"{n}.json").is_file()]
    assert missing == []
