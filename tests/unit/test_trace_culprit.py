"""summarise / deployed_version / incident_from_trace: which service really threw, on any trace shape."""

from __future__ import annotations

import time

import pytest

from error_autopilot.config.service_map import ServiceMap
from error_autopilot.domain.traces import Span, SpanEvent, Trace
from error_autopilot.investigation.traces import deployed_version, incident_from_trace, summarise

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
JAVA = (
    "java.lang.NullPointerException\n"
    "\tat com.acme.user.UserService.displayName(UserService.kt:12)\n"
    "\tat com.acme.user.UserController.get(UserController.kt:20)"
)
SMAP = ServiceMap.model_validate(
    {
        "environments": {"prod": {"loki": {"url": "http://loki", "selector": '{env="prod"}'}}},
        "services": {"user-service": {"repo": "acme/user", "aliases": ["users"], "packages": ["com.acme.user"]}},
    }
)


def sid(n: int) -> str:
    return f"{n + 1:016x}"


def mk(
    n: int,
    parent: int | None,
    service: str,
    name: str = "op",
    *,
    failed: bool = False,
    exception: tuple[str, str, str] | None = None,
    start: int = 0,
    resource: dict[str, str] | None = None,
) -> Span:
    events: tuple[SpanEvent, ...] = ()
    if exception:
        attrs = {
            "exception.type": exception[0],
            "exception.message": exception[1],
            "exception.stacktrace": exception[2],
        }
        events = (SpanEvent(name="exception", attributes=dict(attrs)),)
    return Span(
        span_id=sid(n), parent_id=sid(parent) if parent is not None else None, service=service, name=name,
        start_ns=start or n, status_code="ERROR" if failed else "OK", events=events,
        resource=dict(resource or {"service.name": service}),
    )  # fmt: skip


def trace(*spans: Span, **extra: object) -> Trace:
    data: dict[str, object] = {"trace_id": TRACE, "status": "found", "spans": spans, "total_spans": len(spans)}
    return Trace.model_validate({**data, **extra})


def order_user_trace() -> Trace:
    return trace(
        mk(0, None, "order-service", "POST /orders", failed=True, resource={"service.version": "o-1"}),
        mk(1, 0, "order-service", "GET /users/{id}", failed=True),
        mk(
            2,
            1,
            "users",
            "GET /users/{id}",
            failed=True,
            exception=("java.lang.NullPointerException", "", JAVA),
            resource={"vcs.revision": "abc123", "service.version": "2.0"},
        ),
        mk(3, 0, "inventory", "reserve"),
    )


def test_order_logs_user_threw() -> None:
    summary = summarise(order_user_trace())
    assert summary.culprit_service == "users"
    assert summary.culprit_span_id == sid(2)
    assert summary.exception_type == "java.lang.NullPointerException"
    assert summary.error_path == (sid(0), sid(1), sid(2))
    assert summary.services_on_error_path == ("order-service", "users")
    assert summary.path_edges[-1] == ("order-service:GET /users/{id}", "users:GET /users/{id}", "ERROR")


@pytest.mark.parametrize("services", [2, 3, 4, 5])
def test_chains_of_services(services: int) -> None:
    spans = [mk(i, i - 1 if i else None, f"svc-{i}", failed=True) for i in range(services)]
    spans.append(mk(services, 0, "healthy", "cache get"))
    summary = summarise(trace(*spans))
    assert summary.culprit_service == f"svc-{services - 1}"
    assert summary.services_on_error_path == tuple(f"svc-{i}" for i in range(services))
    assert len(summary.path_edges) == services - 1


def test_failed_parent_with_healthy_children_is_the_culprit() -> None:
    summary = summarise(trace(mk(0, None, "gw", failed=True), mk(1, 0, "api", failed=True), mk(2, 1, "db")))
    assert summary.culprit_service == "api"


def test_missing_parent_becomes_a_root() -> None:
    orphan = Span(span_id=sid(5), parent_id="ffffffffffffffff", service="user-service", name="x",
                  status_code="ERROR")  # fmt: skip
    summary = summarise(trace(mk(0, None, "gw"), orphan))
    assert summary.culprit_service == "user-service"
    assert summary.error_path == (sid(5),)


def test_cycle_is_cut() -> None:
    a = Span(span_id=sid(0), parent_id=sid(1), service="a", name="a", status_code="ERROR")
    b = Span(span_id=sid(1), parent_id=sid(0), service="b", name="b", status_code="ERROR")
    self_parent = Span(span_id=sid(2), parent_id=sid(2), service="c", name="c", status_code="OK")
    started = time.perf_counter()
    summary = summarise(trace(a, b, self_parent))
    assert time.perf_counter() - started < 10  # a blow-up guard, not a benchmark (make bench measures)
    assert summary.culprit_service in ("a", "b")
    assert len(summary.error_path) == 2 and len(set(summary.error_path)) == 2


def test_no_failed_span_and_not_found() -> None:
    assert summarise(trace(mk(0, None, "a"))).culprit_service is None
    assert summarise(trace(mk(0, None, "a"))).note == "no span in the trace failed"
    missing = summarise(Trace(trace_id=TRACE, status="not_found", message="Tempo does not know this trace (yet)"))
    assert (missing.status, missing.culprit_service, missing.note) == (
        "not_found",
        None,
        "Tempo does not know this trace (yet)",
    )


def test_capped_trace_says_so() -> None:
    summary = summarise(trace(mk(0, None, "a", failed=True), capped=True, total_spans=9000))
    assert summary.capped is True
    assert summary.note == "9000 spans, kept 1"


def test_deep_50000_span_trace_is_fast() -> None:
    spans = [mk(i, i - 1 if i else None, f"svc-{i % 7}", failed=True) for i in range(50_000)]
    big = trace(*spans)
    started = time.perf_counter()
    summary = summarise(big)
    elapsed = time.perf_counter() - started
    assert summary.culprit_span_id == sid(49_999)
    assert len(summary.error_path) == 50_000
    assert elapsed < 20.0, f"{elapsed:.2f}s"  # a blow-up guard, not a benchmark


def test_wide_50000_span_trace_with_many_failures_is_fast() -> None:
    spans = [mk(0, None, "gw", failed=True)]
    spans += [mk(i, (i - 1) // 10, f"svc-{i % 50}", failed=i % 10 == 0, start=i) for i in range(1, 50_000)]
    big = trace(*spans)
    started = time.perf_counter()
    summary = summarise(big)
    elapsed = time.perf_counter() - started
    assert summary.culprit_service is not None
    assert elapsed < 20.0, f"{elapsed:.2f}s"  # a blow-up guard, not a benchmark


def test_long_chain_with_a_failed_leaf_on_every_span_is_fast() -> None:
    chain = [mk(i, i - 1 if i else None, "app") for i in range(25_000)]
    leaves = [mk(25_000 + i, i, "leaf", failed=True, start=1) for i in range(25_000)]
    big = trace(*chain, *leaves)
    started = time.perf_counter()
    summary = summarise(big)
    elapsed = time.perf_counter() - started
    assert summary.culprit_span_id == sid(49_999)  # the deepest failed leaf
    assert elapsed < 20.0, f"{elapsed:.2f}s"  # a blow-up guard, not a benchmark


def test_deployed_version_prefers_vcs_revision() -> None:
    t = order_user_trace()
    assert deployed_version(t, "users") == "abc123"
    assert deployed_version(t, "order-service") == "o-1"
    assert deployed_version(t, "nobody") is None


def test_incident_from_trace_resolves_alias_and_parses_stack() -> None:
    incident = incident_from_trace(order_user_trace(), "prod", SMAP)
    assert incident is not None
    assert incident.service == "user-service"
    assert incident.trace_ids == (TRACE,)
    assert incident.exception_type == "java.lang.NullPointerException"
    assert incident.stack is not None
    assert [f.function for f in incident.stack.in_app_frames()] == ["displayName", "get"]
    assert incident.versions == ("abc123",)


def test_incident_from_trace_without_failure_is_none() -> None:
    assert incident_from_trace(trace(mk(0, None, "a")), "prod", SMAP) is None
