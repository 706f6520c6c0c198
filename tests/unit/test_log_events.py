"""parse_entry: formats, trace ids, levels, hostile lines and service aliases."""

from __future__ import annotations

import hashlib
import json
import time

import pytest

from error_autopilot.config.service_map import ServiceMap
from error_autopilot.domain.events import ErrorEvent, LogEntry, identify
from error_autopilot.incidents.events import MAX_LINE, normalise_trace_id, parse_entry
from error_autopilot.incidents.fingerprint import fingerprint_event

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
JAVA = (
    "java.lang.NullPointerException: nickname is null\n"
    "\tat com.acme.user.UserService.displayName(UserService.kt:12)\n"
    "\tat com.acme.user.UserController.get(UserController.kt:20)\n"
    "\tat org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:885)"
)
SMAP = ServiceMap.model_validate(
    {
        "environments": {"prod": {"loki": {"url": "http://loki", "selector": '{env="prod"}'}}},
        "services": {"user-service": {"repo": "acme/user", "aliases": ["users"], "packages": ["com.acme.user"]}},
    }
)


def parse(line: str, labels: dict[str, str] | None = None, metadata: dict[str, str] | None = None) -> ErrorEvent | None:
    entry = LogEntry(ts_ns=1, line=line, labels=labels or {"service_name": "user-service"}, metadata=metadata or {})
    return parse_entry(entry, "prod", SMAP)


def event(line: str, labels: dict[str, str] | None = None, metadata: dict[str, str] | None = None) -> ErrorEvent:
    parsed = parse(line, labels, metadata)
    assert parsed is not None, line
    return parsed


@pytest.mark.parametrize(
    "record",
    [
        {"level": "ERROR", "message": "boom", "stack_trace": JAVA, "trace_id": TRACE.upper(), "span_id": SPAN},
        {"severity": "error", "msg": "boom", "traceId": TRACE, "spanId": SPAN, "error": {"stack": JAVA}},
        {"log.level": "error", "@message": "boom", "trace.id": TRACE, "span.id": SPAN, "exception": JAVA},
        {"levelname": "ERROR", "message": "boom", "otelTraceID": TRACE, "otelSpanID": SPAN, "exc_info": JAVA},
    ],
    ids=["logback", "error-object", "ecs", "python-otel"],
)
def test_json_field_spellings(record: dict[str, object]) -> None:
    parsed = event(json.dumps(record))
    assert parsed.format == "json"
    assert parsed.level == "error"
    assert parsed.message == "boom"
    assert parsed.trace_id == TRACE and parsed.span_id == SPAN
    assert parsed.exception_type == "java.lang.NullPointerException"
    assert parsed.stack is not None and parsed.stack.language == "jvm"
    assert [f.function for f in parsed.stack.in_app_frames()] == ["displayName", "get"]


def test_pino_numeric_level() -> None:
    assert event(json.dumps({"level": 50, "msg": "pino boom"})).level == "error"
    assert parse(json.dumps({"level": 30, "msg": "pino error words"})) is None


def test_logfmt() -> None:
    parsed = event(f'level=error msg="Payment \\"gw\\" timeout" trace_id={TRACE} span_id={SPAN} caller=Pay.java:9')
    assert parsed.format == "logfmt"
    assert parsed.message == 'Payment "gw" timeout'
    assert (parsed.trace_id, parsed.span_id) == (TRACE, SPAN)


def test_plain_text_with_java_stack_and_sleuth_prefix() -> None:
    line = f"2026-01-01T00:00:00.000Z ERROR [order-service,{TRACE},{SPAN}] c.a.o.OrderService - Failed\n{JAVA}"
    parsed = event(line)
    assert parsed.format == "plain"
    assert parsed.message.endswith("c.a.o.OrderService - Failed")
    assert (parsed.trace_id, parsed.span_id) == (TRACE, SPAN)
    assert parsed.exception_type == "java.lang.NullPointerException"
    assert parsed.exception_message == "nickname is null"


def test_traceparent() -> None:
    parsed = event(f"ERROR upstream failed traceparent=00-{TRACE.upper()}-{SPAN}-01")
    assert (parsed.trace_id, parsed.span_id) == (TRACE, SPAN)


@pytest.mark.parametrize(
    "line",
    [
        "ERROR request 4bf92f35-77b3-4da6-a3ce-929d0e0e4736 failed",
        f"ERROR request_id={TRACE} failed",
        f"ERROR checksum {TRACE} mismatch",
    ],
    ids=["uuid", "request-id", "bare-hex"],
)
def test_hex_that_is_not_a_trace_id_is_ignored(line: str) -> None:
    assert event(line).trace_id is None


def test_all_zero_trace_id_is_none() -> None:
    assert event(json.dumps({"level": "error", "message": "x", "trace_id": "0" * 32})).trace_id is None
    assert event(f"ERROR traceparent=00-{'0' * 32}-{SPAN}-01").trace_id is None


@pytest.mark.parametrize(
    ("value", "length", "expected"),
    [(TRACE.upper(), 32, TRACE), ("abc", 32, "0" * 29 + "abc"), ("0" * 32, 32, None), ("xyz", 32, None),
     ("a" * 33, 32, None), (None, 32, None), (SPAN, 16, SPAN), (TRACE, 16, None)],
)  # fmt: skip
def test_normalise_trace_id(value: str | None, length: int, expected: str | None) -> None:
    assert normalise_trace_id(value, length) == expected


@pytest.mark.parametrize(
    "line",
    [
        "INFO c.e.order.OrderController - Order 4712 created",
        "WARN c.e.user.UserRepository - Retrying lookup of user 42, last Error: connection reset",
        json.dumps({"level": "info", "message": "exception handler registered"}),
        'level=warn msg="error budget at 80%"',
    ],
)
def test_non_error_lines_are_none(line: str) -> None:
    assert parse(line) is None


def test_warn_last_error_is_none_even_when_loki_detected_error() -> None:
    line = "WARN c.e.user.UserRepository - Retrying lookup of user 42, last Error: connection reset"
    assert parse(line, {"service_name": "users"}, {"detected_level": "error"}) is None


def test_invalid_utf8_surrogates_do_not_crash() -> None:
    raw = b"ERROR bad bytes \xff\xfe\xc3 in the line".decode("utf-8", errors="surrogateescape")
    parsed = event(raw)
    assert parsed.level == "error"
    assert len(parsed.line_id) == 24


def test_one_megabyte_line_is_capped_and_fast() -> None:
    started = time.perf_counter()
    parsed = event("ERROR " + "x" * 1_000_000)
    elapsed = time.perf_counter() - started
    assert len(parsed.line) == MAX_LINE
    assert len(parsed.message) <= 1024
    assert elapsed < 5.0, f"{elapsed:.2f}s"  # was 31 s before the ReDoS fix: a blow-up guard


def test_one_megabyte_logfmt_and_json_lines_are_fast() -> None:
    started = time.perf_counter()
    logfmt = event('level=error msg="' + "a=" * 500_000)
    broken_json = event('{"level":"error","message":"' + "y" * 1_000_000)
    assert time.perf_counter() - started < 10.0  # a blow-up guard, not a benchmark
    assert logfmt.level == "error"
    assert broken_json.level == "error" and not broken_json.message.startswith("{")
    assert broken_json.truncated and "fields were read one by one" in broken_json.truncated


def test_ansi_escapes_are_stripped_from_the_message() -> None:
    parsed = event("\x1b[31mERROR\x1b[0m payment \x1b[1;33mfailed\x1b[0m")
    assert parsed.message == "ERROR payment failed"
    assert "\x1b" not in parsed.message


def test_truncated_json_keeps_the_fields_it_still_has() -> None:
    parsed = event('{"level":"error","message":"Payment failed for order 4711","trace_id":"4bf9')
    assert parsed.format == "json" and parsed.level == "error"
    assert parsed.message == "Payment failed for order 4711"
    assert parsed.truncated == "a JSON log line did not parse as a whole; its fields were read one by one"


@pytest.mark.parametrize(
    "line",
    ['{"payload": "' + "x" * 5000, '{"a": [1, 2, {"b": [3, ', "[1, 2, 3]", '{"detail": {"error": "timeout"'],
    ids=["cut-string", "cut-array", "not-an-object", "only-nested"],
)
def test_json_noise_never_becomes_an_incident_titled_with_a_fragment(line: str) -> None:
    parsed = parse(line)
    assert parsed is None or not parsed.message.lstrip().startswith(("{", "[")), parsed


def _huge(head: str, size: int = 5 * 1024 * 1024) -> str:
    return head + "\n" + "junk " * ((size - len(head)) // 5)


def test_five_megabyte_text_line_is_grouped_by_the_stack_trace_at_its_start() -> None:
    small, huge = event(JAVA), event(_huge(JAVA))
    assert huge.exception_type == "java.lang.NullPointerException"
    assert huge.stack is not None and [f.function for f in huge.stack.in_app_frames()] == ["displayName", "get"]
    assert fingerprint_event(huge).value == fingerprint_event(small).value
    assert huge.truncated == "a 5.0 MB log line was cut to 64 KB (the exception and its frames were kept)"
    assert len(huge.line) == MAX_LINE


def test_five_megabyte_json_line_is_read_from_its_fields() -> None:
    record = {"level": "error", "message": "boom", "stack_trace": JAVA, "trace_id": TRACE}
    small = event(json.dumps(record))
    huge = event(json.dumps({**record, "payload": "z" * 5 * 1024 * 1024}))
    assert (huge.message, huge.trace_id, huge.format) == ("boom", TRACE, "json")
    assert fingerprint_event(huge).value == fingerprint_event(small).value
    assert huge.truncated is not None and huge.truncated.startswith("a 5.0 MB log line was cut to 64 KB")


def test_a_stack_trace_deep_inside_a_huge_line_is_found() -> None:
    line = "ERROR request dump follows " + "q" * 200_000 + "\n" + JAVA
    parsed = event(line)
    assert parsed.exception_type == "java.lang.NullPointerException"
    assert parsed.stack is not None and len(parsed.stack.in_app_frames()) == 2


def test_json_without_a_message_is_named_by_its_exception_not_none() -> None:
    parsed = event(json.dumps({"level": "error", "stack_trace": JAVA}))
    assert parsed.message == "java.lang.NullPointerException nickname is null"
    assert event(json.dumps({"level": "error", "code": 7})).message == "(no message)"


@pytest.mark.parametrize("level", ["unknown", "", "verbose"])
def test_a_level_that_says_nothing_is_not_counted_as_an_error(level: str) -> None:
    assert parse(json.dumps({"level": level, "message": "request served"})) is None
    assert parse("request served", metadata={"detected_level": level}) is None
    assert event(json.dumps({"level": level, "message": "failed", "stack_trace": JAVA})).level is None


def test_deeply_nested_json_does_not_raise() -> None:
    line = '{"level": "error", "message": "nested", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    parsed = event(line)
    assert (parsed.level, parsed.message) == ("error", "nested")


def test_lone_surrogates_survive_the_json_dump() -> None:
    parsed = event(json.dumps({"level": "error", "message": "bad \ud800 half"}, ensure_ascii=False),
                   {"service_name": "users", "pod": "p\udc80"})  # fmt: skip
    dumped = json.loads(parsed.model_dump_json())
    assert dumped["message"] == "bad \ufffd half" and dumped["labels"]["pod"] == "p\ufffd"


def test_ten_thousand_frame_stack_parses_quickly() -> None:
    stack = "java.lang.StackOverflowError\n" + "".join(
        f"\tat com.acme.user.Recursion.step{i}(Recursion.kt:{i + 1})\n" for i in range(10_000)
    )
    started = time.perf_counter()
    parsed = event(stack)
    elapsed = time.perf_counter() - started
    assert parsed.exception_type == "java.lang.StackOverflowError"
    assert parsed.stack is not None and parsed.stack.truncated
    assert elapsed < 10.0, f"{elapsed:.2f}s"  # a blow-up guard, not a benchmark


@pytest.mark.parametrize(
    ("labels", "service"),
    [
        ({"service_name": "users"}, "user-service"),
        ({"app": "users"}, "user-service"),
        ({"container": "user-service"}, "user-service"),
        ({"service_name": "ghost"}, "ghost"),
        ({}, "unknown"),
    ],
)
def test_service_alias_resolution(labels: dict[str, str], service: str) -> None:
    entry = LogEntry(ts_ns=1, line="ERROR boom", labels=labels)
    parsed = parse_entry(entry, "prod", SMAP)
    assert parsed is not None and parsed.service == service


def test_version_and_metadata_labels() -> None:
    parsed = event("ERROR boom", {"service_name": "users"}, {"service_version": "abc123", "trace_id": TRACE})
    assert parsed.version == "abc123"
    assert parsed.trace_id == TRACE
    assert parsed.labels == {"service_name": "users"}


def _formula(entry: LogEntry) -> str:
    """A line's id as state has always stored it: blake2b-96 over sorted labels, sorted metadata, ts, line."""
    h = hashlib.blake2b(digest_size=12)
    for part in (entry.labels, entry.metadata):
        for key, value in sorted(part.items()):
            h.update(f"{key}\x1f{value}\x1e".encode())
        h.update(b"\x1d")
    h.update(f"{entry.ts_ns}\x1d{entry.line}".encode())
    return h.hexdigest()


def test_ids_worked_out_a_page_at_a_time_are_the_ids_state_holds() -> None:
    t0 = 1_795_000_000_000_000_000
    streams = [{"service_name": "a", "env": "prod"}, {"env": "prod", "service_name": "b"}]
    shared: list[dict[str, str]] = [{}, {"detected_level": "error"}, {"detected_level": "error", "trace_id": "0f"}]
    entries = [
        LogEntry(t0 + n // 3, f"ERROR line {n % 7} é", streams[n % 2], shared[n % 3 * (n % 5 > 0)])
        for n in range(40)
    ]  # fmt: skip
    lazy = [LogEntry(e.ts_ns, e.line, e.labels, e.metadata) for e in entries]
    identify(entries)
    assert [e.identity for e in entries] == [e.identity for e in lazy] == [_formula(e) for e in entries]


@pytest.mark.parametrize(
    "line",
    [
        f"ERROR payment failed traceId={TRACE} spanId={SPAN}",
        f"trace_id: {TRACE} span.id={SPAN} ERROR payment failed",
        f'ERROR payment failed (trace.id="{TRACE}", span_id="{SPAN}")',
        f"ERROR a=b payment failed\ntraceID irrelevant; trace_id={TRACE}\nspanId={SPAN}",
    ],
)
def test_a_plain_lines_trace_and_span_fields_are_read_wherever_they_stand(line: str) -> None:
    parsed = event(line)
    assert (parsed.trace_id, parsed.span_id, parsed.format) == (TRACE, SPAN, "plain")


def test_a_plain_line_without_trace_words_has_no_trace_id() -> None:
    parsed = event(f"ERROR payment failed for order {TRACE} span {SPAN}")
    assert (parsed.trace_id, parsed.span_id) == (None, None)
