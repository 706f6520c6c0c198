"""LokiSource against the Loki-compatible loopback server: paging, caps, retries, errors, auth, escaping."""

from __future__ import annotations

import base64
import gc
import json
import random
from collections.abc import Iterator

import httpx
import pytest

from error_autopilot.config.service_map import LokiConfig
from error_autopilot.demo.httpserver import LoopbackServer, Response
from error_autopilot.demo.loki_server import LokiServer
from error_autopilot.domain.errors import SourceRejected, SourceUnavailable
from error_autopilot.domain.events import LogEntry
from error_autopilot.ports import PollStats
from error_autopilot.sources.http import RetryPolicy, build_client
from error_autopilot.sources.loki import LokiSource, _without_boundary_repeats, build_query, logql_string

T0 = 1_795_576_000_000_000_000


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


@pytest.fixture(scope="module")
def loopback() -> Iterator[LoopbackServer]:
    """One port for the module; each test installs its own LokiServer (stopping a server costs 0.5 s)."""
    with LoopbackServer(LokiServer()) as server:
        yield server


def fresh(server: LoopbackServer, app: LokiServer) -> LoopbackServer:
    server.app = app
    server.requests.clear()
    server.unexpected.clear()
    return server


@pytest.fixture
def loki(loopback: LoopbackServer) -> Iterator[tuple[LokiServer, LoopbackServer]]:
    app = LokiServer()
    yield app, fresh(loopback, app)
    assert loopback.unexpected == []


def _config(url: str, **extra: object) -> LokiConfig:
    data: dict[str, object] = {"url": url, "selector": '{env="prod"}', "line_filter": "", **extra}
    return LokiConfig.model_validate(data)


def _poll(source: LokiSource, start: int = T0, end: int = T0 + 10**12) -> tuple[list[LogEntry], PollStats]:
    stats = PollStats()
    return list(source.poll(start, end, stats)), stats


def test_paging_across_same_nanosecond_duplicates(loki: tuple[LokiServer, LoopbackServer]) -> None:
    app, server = loki
    layout = [(0, 4), (1, 1), (2, 3), (3, 2), (4, 5)]  # (ts offset, lines sharing that nanosecond)
    expected = []
    for offset, count in layout:
        for k in range(count):
            line = f"ERROR line ts+{offset} #{k}"
            app.push({"env": "prod", "service_name": "a" if k % 2 else "b"}, T0 + offset, line)
            expected.append(line)
    app.push({"env": "staging"}, T0 + 1, "ERROR other environment")
    with build_client(server.url, org_id=None) as client:
        entries, stats = _poll(LokiSource(client, _config(server.url, page_limit=2)))
    lines = [e.line for e in entries]
    assert sorted(lines) == sorted(expected)
    assert len(lines) == len(set(lines)) == 15
    assert [e.ts_ns for e in entries] == sorted(e.ts_ns for e in entries)
    assert stats.lines == 15 and stats.pages > 1 and not stats.truncated
    assert stats.last_ts_ns == T0 + 4


def test_a_page_read_is_freed_at_once_not_left_for_the_garbage_collector(
    loki: tuple[LokiServer, LoopbackServer],
) -> None:  # fmt: skip
    """A storm's plan makes collections rare while it reads; a page's bytes must not wait for one."""
    app, server = loki
    for offset in range(6):
        app.push({"env": "prod"}, T0 + offset, f"ERROR {offset}")
    with build_client(server.url, org_id=None) as client:
        gc.collect()
        gc.disable()
        try:
            entries, stats = _poll(LokiSource(client, _config(server.url, page_limit=2)))
            gc.set_debug(gc.DEBUG_SAVEALL)
            gc.collect()
            responses = [o for o in gc.garbage if isinstance(o, httpx.Response)]
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
    assert len(entries) == 6 and stats.pages > 2
    assert responses == []


def test_end_is_exclusive_and_start_inclusive(loki: tuple[LokiServer, LoopbackServer]) -> None:
    app, server = loki
    for offset in range(5):
        app.push({"env": "prod"}, T0 + offset, f"ERROR {offset}")
    with build_client(server.url, org_id=None) as client:
        entries, _ = _poll(LokiSource(client, _config(server.url, page_limit=2)), T0 + 1, T0 + 4)
    assert [e.line for e in entries] == ["ERROR 1", "ERROR 2", "ERROR 3"]


def test_max_pages_truncates_with_reason(loki: tuple[LokiServer, LoopbackServer]) -> None:
    app, server = loki
    for offset in range(10):
        app.push({"env": "prod"}, T0 + offset, f"ERROR {offset}")
    with build_client(server.url, org_id=None) as client:
        entries, stats = _poll(LokiSource(client, _config(server.url, page_limit=2, max_pages=2)))
    assert stats.truncated is True
    assert "page cap of 2" in stats.truncated_reason
    assert stats.pages == 2
    assert [e.line for e in entries] == ["ERROR 0", "ERROR 1", "ERROR 2"]
    assert stats.last_ts_ns == T0 + 2  # the cursor stops at the last line actually yielded


def test_429_with_retry_after_then_success(loki: tuple[LokiServer, LoopbackServer]) -> None:
    app, server = loki
    app.push({"env": "prod"}, T0, "ERROR boom")
    app.forced.append(Response.text("Too Many Requests\n", 429, {"Retry-After": "7"}))
    fake = FakeTime()
    policy = RetryPolicy(deadline_s=60, sleep=fake.sleep, clock=fake.clock)
    with build_client(server.url, org_id=None) as client:
        entries, _ = _poll(LokiSource(client, _config(server.url), policy=policy, clock=fake.clock))
    assert fake.sleeps == [7.0]
    assert [e.line for e in entries] == ["ERROR boom"]
    assert len(server.requests) == 2


def test_503_html_until_deadline_is_unavailable(loki: tuple[LokiServer, LoopbackServer]) -> None:
    app, server = loki
    html = "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"
    app.forced.extend(
        Response(503, html.encode(), {"Content-Type": "text/html"}) for _ in range(20)
    )  # fmt: skip
    fake = FakeTime()
    policy = RetryPolicy(deadline_s=10, base_delay_s=2, sleep=fake.sleep, clock=fake.clock)
    with build_client(server.url, org_id=None) as client, pytest.raises(SourceUnavailable) as caught:
        _poll(LokiSource(client, _config(server.url), policy=policy, clock=fake.clock))
    assert "HTTP 503" in caught.value.message
    assert fake.now <= 10
    assert 2 <= len(server.requests) <= 6


def test_400_parse_error_is_rejected_with_lokis_text(loki: tuple[LokiServer, LoopbackServer]) -> None:
    _, server = loki
    with build_client(server.url, org_id=None) as client, pytest.raises(SourceRejected) as caught:
        # a line filter RE2 refuses never gets here (`check` refuses it): a malformed selector does
        _poll(LokiSource(client, _config(server.url, selector='{env="prod", level}')))
    assert "parse error" in caught.value.message
    assert "HTTP 400" in caught.value.message
    assert len(server.requests) == 1  # a 4xx is not retried


def test_tenant_and_bearer_headers_are_sent(loopback: LoopbackServer) -> None:
    app = LokiServer(tenant_required=True)
    app.push({"env": "prod"}, T0, "ERROR tenant a", tenant="tenant-a")
    app.push({"env": "prod"}, T0, "ERROR tenant b", tenant="tenant-b")
    server = fresh(loopback, app)
    with build_client(server.url, org_id="tenant-a", bearer="tok-123") as client:
        entries, _ = _poll(LokiSource(client, _config(server.url)))
        headers = server.requests[-1].headers
    assert [e.line for e in entries] == ["ERROR tenant a"]
    assert headers["x-scope-orgid"] == "tenant-a"
    assert headers["authorization"] == "Bearer tok-123"
    assert headers["x-loki-response-encoding-flags"] == "categorize-labels"


def test_basic_auth_header_is_sent_and_missing_tenant_is_rejected(loopback: LoopbackServer) -> None:
    server = fresh(loopback, LokiServer(tenant_required=True))
    with build_client(server.url, org_id="t", basic=("12345", "glc_secret")) as client:
        _poll(LokiSource(client, _config(server.url)))
    expected = "Basic " + base64.b64encode(b"12345:glc_secret").decode()
    assert server.requests[-1].headers["authorization"] == expected
    with build_client(server.url, org_id=None) as client, pytest.raises(SourceRejected) as caught:
        _poll(LokiSource(client, _config(server.url)))
    assert caught.value.message.endswith("no org id")
    assert "X-Scope-OrgID" in (caught.value.hint or "")


def test_structured_metadata_reaches_log_entry(loki: tuple[LokiServer, LoopbackServer]) -> None:
    app, server = loki
    app.push({"env": "prod", "service_name": "api"}, T0, "ERROR boom", {"trace_id": "ab" * 16, "pod": "api-7"})
    with build_client(server.url, org_id=None) as client:
        entries, _ = _poll(LokiSource(client, _config(server.url)))
    (entry,) = entries
    assert entry.labels == {"env": "prod", "service_name": "api"}
    assert entry.metadata == {"trace_id": "ab" * 16, "pod": "api-7", "detected_level": "error"}


def test_build_query_escapes_service_names_and_server_parses_it(loki: tuple[LokiServer, LoopbackServer]) -> None:
    app, server = loki
    weird = ['we"ird\\svc', "a.b+c", "x|y(z)"]
    for name in [*weird, "aXb+c", "x", 'we"ird\\\\svc']:
        app.push({"env": "prod", "service_name": name}, T0, f"ERROR from {name}")
    config = _config(server.url)
    query = build_query(config, weird)
    assert query.startswith('{env="prod", service_name=~"')
    with build_client(server.url, org_id=None) as client:
        entries, _ = _poll(LokiSource(client, config, services=weird))
    assert sorted(e.labels["service_name"] for e in entries) == sorted(weird)


def test_label_values_with_quotes_and_backslashes_round_trip(loki: tuple[LokiServer, LoopbackServer]) -> None:
    app, server = loki
    value = 'pr"o\\d\\"x'
    app.push({"env": value}, T0, "ERROR exact")
    app.push({"env": "prod"}, T0, "ERROR other")
    config = LokiConfig(url=server.url, selector="{env=" + logql_string(value) + "}", line_filter="(?i)error")
    assert build_query(config) == '{env="pr\\"o\\\\d\\\\\\"x"} |~ "(?i)error"'
    with build_client(server.url, org_id=None) as client:
        entries, _ = _poll(LokiSource(client, config))
    assert [(e.line, e.labels["env"]) for e in entries] == [("ERROR exact", value)]


def test_line_filter_is_applied_by_the_server(loki: tuple[LokiServer, LoopbackServer]) -> None:
    app, server = loki
    app.push({"env": "prod"}, T0, "INFO all good")
    app.push({"env": "prod"}, T0 + 1, "java.lang.IllegalStateException: bad")
    with build_client(server.url, org_id=None) as client:
        entries, _ = _poll(LokiSource(client, LokiConfig(url=server.url, selector='{env="prod"}')))
    assert [e.line for e in entries] == ["java.lang.IllegalStateException: bad"]


def test_a_body_that_is_not_streams_is_unavailable(loki: tuple[LokiServer, LoopbackServer]) -> None:
    app, server = loki
    app.forced.append(Response.json({"status": "success", "data": {"resultType": "matrix", "result": []}}))
    with build_client(server.url, org_id=None) as client, pytest.raises(SourceUnavailable) as caught:
        _poll(LokiSource(client, _config(server.url)))
    assert "not a streams result" in caught.value.message


def test_more_than_5000_entries_in_one_nanosecond_are_cut_and_reported_not_stalled(
    loki: tuple[LokiServer, LoopbackServer],
) -> None:
    app, server = loki
    for k in range(5_003):
        app.push({"env": "prod"}, T0, f"ERROR burst #{k}")
    app.push({"env": "prod"}, T0 + 1, "ERROR after the burst")
    with build_client(server.url, org_id=None) as client:
        entries, stats = _poll(LokiSource(client, _config(server.url, page_limit=1000)))
    lines = [e.line for e in entries]
    assert len(lines) == len(set(lines)) == 5_001 and lines[-1] == "ERROR after the burst"
    assert stats.truncated and "more than 5000 entries share the timestamp" in stats.truncated_reason
    assert stats.last_ts_ns == T0 + 1 and stats.pages < 10


# Text a page may carry: secrets, card numbers, markdown and HTML, control characters, astral characters
_HOSTILE = ["AKIAIOSFODNN7EXAMPLE", "4111 1111 1111 1111", "<script>alert(1)</script>", "**bold** `code` ![x](y)",
            "::set-output name=x::y", "tab\there", "nul\x00byte", "\x1b[31mred", "line\u2028sep", "😀", "é", '"q"',
            "back\\slash", "\ud800", "\udfff"]  # fmt: skip


def _random_page(rng: random.Random) -> dict[str, object]:
    """A streams page of random streams and entries, with and without metadata in both of its parts."""
    result = []
    for _ in range(rng.randint(1, 5)):
        labels = {"env": "prod", "service_name": rng.choice(["api", "web", "a\"b", "ü"])}
        values: list[list[object]] = []
        for _ in range(rng.randint(0, 40)):
            line = "".join(rng.choice(_HOSTILE) for _ in range(rng.randint(0, 6)))
            if rng.random() < 0.02:
                line += "x" * 70_000  # a huge line
            value: list[object] = [str(T0 + rng.randint(0, 50)), line]
            if rng.random() < 0.1:
                value.append(rng.choice([None, {}]))
            elif rng.random() < 0.7:
                extra = {part: {"detected_level": rng.choice(["error", "warn"]), "k": rng.choice(_HOSTILE)}
                         for part in ("structuredMetadata", "parsed") if rng.random() < 0.6}  # fmt: skip
                value.append(extra)
            values.append(value)
        result.append({"stream": labels, "values": values})
    return {"status": "success", "data": {"resultType": "streams", "encodingFlags": ["categorize-labels"],
                                          "result": result}}  # fmt: skip


def _read_plainly(body: bytes) -> list[tuple[int, str, dict[str, str], dict[str, str]]]:
    """The page's entries as a plain json reading sees them, oldest first (ties in the page's order)."""
    page = json.loads(body.decode("utf-8", errors="replace"))

    def text(value: str) -> str:  # a lone surrogate is not Unicode: it is read as U+FFFD
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")

    def strings(mapping: dict[str, str]) -> dict[str, str]:
        return {text(k): text(v) for k, v in mapping.items()}

    entries = []
    for stream in page["data"]["result"]:
        for value in stream["values"]:
            extra = (value[2] if len(value) > 2 else None) or {}
            metadata = {**strings(extra.get("structuredMetadata", {})), **strings(extra.get("parsed", {}))}
            entries.append((int(value[0]), text(value[1]), strings(stream["stream"]), metadata))
    return sorted(entries, key=lambda e: e[0])


@pytest.mark.parametrize("seed", range(12))
def test_a_page_is_read_exactly_as_plain_json_reads_it(loki: tuple[LokiServer, LoopbackServer], seed: int) -> None:
    """Whatever a page holds (lone surrogates the fast decoder refuses, bytes that are not UTF-8 among them),
    the entries are those a plain json reading finds, one for one, what is not Unicode read as U+FFFD."""
    rng = random.Random(seed)
    app, server = loki
    body = json.dumps(_random_page(rng)).encode()
    if seed % 3 == 0:  # a line with bytes that are not UTF-8, as a proxy might pass them on
        body = body.replace(b"tab", b"t\xff\xfeb", 1)
    app.forced.append(Response(200, body, {"Content-Type": "application/json"}))
    with build_client(server.url, org_id=None) as client:
        entries, stats = _poll(LokiSource(client, _config(server.url)))
    assert [(e.ts_ns, e.line, e.labels, e.metadata) for e in entries] == _read_plainly(body)
    assert stats.pages == 1


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"<html>502 Bad Gateway</html>", "JSON is malformed"),
        (b'{"status": "success", "data": {"resultType": "streams", "result": [{"values": [["1', "truncated"),
        (b'{"data": {"resultType": "streams", "result": [{"values": [["1", "a", {"parsed": {"k": 7}}]]}]}}',
         "Expected `str`, got `int` - at `$.parsed"),
        (b'{"status": "success", "data": {"resultType": "streams", "result": [{"values": [["12x", "a"]]}]}}',
         "$.data.result[0].values[0][0]"),
        (b'{"status": "success", "data": {"resultType": "streams", "result": [{"values": [["1", 7]]}]}}',
         "Expected `str`, got `int`"),
        (b'{"status": "success", "data": {"resultType": "streams", "result": [{"values": [["1"]]}]}}', "length"),
        (b'{"status": "success"}', "missing required field `data`"),
        (b'{"status": "success", "data": {"resultType": "streams", "result": {"a": 1}}}', "$.data.result"),
    ],
)  # fmt: skip
def test_a_malformed_page_is_unavailable_with_what_is_wrong_and_where(
    loki: tuple[LokiServer, LoopbackServer], body: bytes, said: str
) -> None:
    app, server = loki
    app.forced.append(Response(200, body, {"Content-Type": "application/json"}))
    with build_client(server.url, org_id=None) as client, pytest.raises(SourceUnavailable) as caught:
        _poll(LokiSource(client, _config(server.url)))
    assert "not a streams result" in caught.value.message and said in caught.value.message


def test_only_the_entries_at_the_boundary_already_read_are_dropped() -> None:
    """`_without_boundary_repeats` looks only at the lines of the boundary's timestamp, and drops exactly those
    already read."""
    rng = random.Random(7)
    for _ in range(300):
        page = sorted((LogEntry(T0 + rng.randint(0, 6), f"ERROR {rng.randint(0, 3)}", {"env": "prod"})
                       for _ in range(rng.randint(0, 12))), key=lambda e: e.ts_ns)  # fmt: skip
        boundary = rng.choice([None, T0, T0 + 3, T0 + 9])
        read = {e.identity for e in page if e.ts_ns == boundary and rng.random() < 0.5}
        read.add("not in the page")
        expected = [e for e in page if not (e.ts_ns == boundary and e.identity in read)]
        assert _without_boundary_repeats(page, boundary, read) == expected
