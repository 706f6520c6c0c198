"""Issue shapes for the renderer's tests, built the way production builds them: log text parsed by the
real stack parser, events folded by the real grouper, findings as investigation writes them."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import NamedTuple

from error_autopilot.config.service_map import GrafanaLinks
from error_autopilot.domain.decisions import Decision, RuleOutcome
from error_autopilot.domain.events import ErrorEvent
from error_autopilot.domain.findings import (
    AgentAnalysis,
    CodeLocation,
    CodeSnippet,
    Finding,
    PatchVerdict,
    SuspectCommit,
    TraceSummary,
)
from error_autopilot.domain.incidents import Incident, PlannedIncident
from error_autopilot.incidents.group import IncidentGrouper
from error_autopilot.incidents.stacktrace import parse_stacktrace
from error_autopilot.investigation.sanitize import Redactor
from error_autopilot.ports import RenderedIssue
from error_autopilot.sinks.render import RelatedIssue, render_issue

START_NS = int(datetime(2026, 11, 25, 3, 0, tzinfo=UTC).timestamp()) * 10**9
MINUTE = 60 * 10**9
USER_SHA = "4ea313e889bdbbe7db8fc88d321c91f8e7042b3b"
ORDER_V1, ORDER_V2 = "9c1f2e7a4b5d6c8e9f0a1b2c3d4e5f6a7b8c9d0e", "b2f5025eb09d3c4e5f6a7b8c9d0e1f2a3b4c5d6e"
BILLING_SHA = "70af41feaf05787e059f4f8a06b59a494866bef4"
GRAFANA = GrafanaLinks(url="https://grafana.example.com", loki_datasource_uid="loki-uid", tempo_datasource_uid="tempo")
NO_TEMPO = GrafanaLinks(url="https://grafana.example.com", loki_datasource_uid="loki-uid")

ORDER_LOG = """2026-11-25T03:36:00.000Z ERROR [order-service,{trace},6b2496803349775f] c.a.o.OrderService - \
Failed to place order {order}
com.acme.order.UserServiceException: user-service answered 500 INTERNAL_SERVER_ERROR for user {user}
\tat com.acme.order.UserClient.getUser(UserClient.java:17)
\tat com.acme.order.OrderService.placeOrder(OrderService.java:20)
\tat org.springframework.aop.framework.ReflectiveMethodInvocation.proceed(ReflectiveMethodInvocation.java:186)
\tat org.springframework.aop.interceptor.ExposeInvocationInterceptor.invoke(ExposeInvocationInterceptor.java:97)
\tat org.springframework.cglib.proxy.MethodProxy.invoke(MethodProxy.java:218)
\tat com.acme.order.OrderController.create(OrderController.java:17)
\tat org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:883)
Caused by: org.springframework.web.client.HttpServerErrorException$InternalServerError: 500 Internal Server Error
\tat org.springframework.web.client.DefaultResponseErrorHandler.handleError(DefaultResponseErrorHandler.java:102)
\t... 7 more"""

BILLING_LOG = """Traceback (most recent call last):
  File "/app/billing/api.py", line 12, in handle_create_invoice
    total = invoice_total(payload)
  File "/app/billing/invoice.py", line 14, in invoice_total
    rate = RATES[invoice["currency"]]
KeyError: 'currency'"""


def _trace(n: int) -> str:
    return f"{n:08x}" + "a4f5f8db2bb94e9bc51d2ba6"


def _incident(events: list[ErrorEvent]) -> Incident:
    grouper = IncidentGrouper()
    for event in events:
        grouper.add(event)
    (incident,) = grouper.incidents()
    return incident


def order_incident(count: int = 37, minutes: int = 50) -> Incident:
    """order-service logs UserServiceException (user-service answered 500) for many users, in prod and staging,
    across a deploy from ORDER_V1 to ORDER_V2."""
    events = []
    for n in range(count):
        text = ORDER_LOG.format(trace=_trace(n), order=4000 + n, user=1400 + n * 7)
        stack = parse_stacktrace(text, packages=("com.acme.order",))
        assert stack is not None
        ts = START_NS + (n * minutes * MINUTE) // max(count, 1)
        events.append(ErrorEvent(
            line_id=f"{n:04d}486b38cd46ea", ts_ns=ts, environment="staging" if n % 5 == 4 else "prod",
            service="order-service", level="ERROR", message=f"Failed to place order {4000 + n}",
            exception_type=stack.primary.type, exception_message=stack.primary.message, stack=stack,
            trace_id=_trace(n), version=ORDER_V1 if n < count // 2 else ORDER_V2, line=text, format="plain",
        ))  # fmt: skip
    return _incident(events)


def billing_incident() -> Incident:
    """billing-service's own KeyError, in JSON log lines whose stacks are escaped strings."""
    events = []
    for n in range(12):
        stack = parse_stacktrace(BILLING_LOG, packages=("billing",))
        assert stack is not None
        line = json.dumps(
            {
                "levelname": "ERROR",
                "name": "billing.api",
                "message": f"invoice inv-{300 + n} failed",
                "exc_info": BILLING_LOG,
                "otelTraceID": _trace(100 + n),
                "service.version": BILLING_SHA,
            }
        )
        events.append(ErrorEvent(
            line_id=f"{n:04d}cce676c98d94", ts_ns=START_NS + n * 3 * MINUTE, environment="staging",
            service="billing-service", level="ERROR", message=f"invoice inv-{300 + n} failed",
            exception_type="KeyError", exception_message="'currency'", stack=stack, trace_id=_trace(100 + n),
            version=BILLING_SHA, line=line, format="json",
        ))  # fmt: skip
    return _incident(events)


def timeout_incident() -> Incident:
    """A plain message without a stack, whose numbers vary: the title must not show one sample's values."""
    messages = [f"Payment gateway timeout after {900 + n * 37}ms for order {5000 + n}" for n in range(5)]
    return _incident([
        ErrorEvent(line_id=f"{n:04d}77aa", ts_ns=START_NS + n * 7 * MINUTE, environment="prod", service="order-service",
                   level="ERROR", message=m, line=f'level=error msg="{m}"', format="logfmt")
        for n, m in enumerate(messages)
    ])  # fmt: skip


def _loc(repo: str, sha: str, path: str, line: int, function: str, reason: str = "") -> CodeLocation:
    return CodeLocation(repo=repo, commit=sha, path=path, line=line, function=function,
                        permalink=f"https://github.com/{repo}/blob/{sha}/{path}#L{line}", reason=reason)  # fmt: skip


def user_finding(fingerprint: str, **changes: object) -> Finding:
    """The trace shows user-service threw a NullPointerException at UserService.kt:12."""
    loc = _loc("acme/user-service", USER_SHA, "src/main/kotlin/com/acme/user/UserService.kt", 12, "displayName",
               "in configured package com.acme.user; 4 path segments match; innermost own frame")
    caller = _loc("acme/user-service", USER_SHA, "src/main/kotlin/com/acme/user/UserController.kt", 13, "get",
                  "in configured package com.acme.user; 4 path segments match; own frame #2 from the throw")
    web = "https://github.com/acme/user-service/commit/"
    base = Finding(
        fingerprint=fingerprint, symptom_service="order-service", culprit_service="user-service",
        culprit_repo="acme/user-service", deployed_commit=USER_SHA,
        commit_source="service.version resource attribute", primary_location=loc, evidence_chain=(loc, caller),
        frame_notes=(
            "UserService.kt:12 displayName: → src/main/kotlin/com/acme/user/UserService.kt (in configured package "
            "com.acme.user; 4 path segments match; innermost own frame)",
            "UserController.kt:13 get: → src/main/kotlin/com/acme/user/UserController.kt (in configured package "
            "com.acme.user; 4 path segments match; own frame #2 from the throw)",
            "FrameworkServlet.java:885 service: library package org.springframework, not mapped (no file of that "
            "name in the repository)",
        ),
        snippet=CodeSnippet(location=loc, start_line=11, lines=(
            "    fun displayName(user: User): String {", "        val nick = user.nickname!!.trim()",
            "        val base = \"${user.firstName} \\\"$nick\\\" ${user.lastName}\"", "        return base.trim()")),
        suspects=(
            SuspectCommit(sha="578dd535953f" + "0" * 28, author="Sam Rivera", date="2026-11-21T10:00:00+00:00",
                          summary="Show nickname in display name (#42)", pr_number=42, reason="last changed line 12",
                          url=web + "578dd535953f" + "0" * 28),
            SuspectCommit(sha="c3134a83aa" + "1" * 30, author="Dana Lee", date="2026-10-31T09:00:00+00:00",
                          summary="Initial user-service", reason="last changed lines 9–11, 13–15, near line 12",
                          url=web + "c3134a83aa" + "1" * 30),
        ),
        error_class="null-dereference", classification_rule="null/None dereference: 'NullPointerException'",
        confidence=0.9, unknowns=("the logs point at order-service, the trace at user-service: showing the trace's "
                                  "culprit",),
        trace=TraceSummary(trace_id=_trace(36), status="found", culprit_service="user-service",
                           culprit_span_id="65fd6d28e03b3c87", culprit_operation="GET /users/{id}",
                           culprit_status_message="NullPointerException",
                           path_edges=(("api-gateway:POST /checkout", "order-service:POST /orders", "ERROR"),
                                       ("order-service:POST /orders", "user-service:GET /users/{id}", "ERROR"))),
    )  # fmt: skip
    return base.model_copy(update=changes)


def billing_finding(fingerprint: str, **changes: object) -> Finding:
    """billing-service threw it itself, at invoice.py:14."""
    repo, path = "acme/billing-service", "billing/invoice.py"
    loc = _loc(repo, BILLING_SHA, path, 14, "invoice_total",
               "in configured package billing; 2 path segments match; innermost own frame")
    api = _loc(repo, BILLING_SHA, "billing/api.py", 12, "handle_create_invoice",
               "in configured package billing; 2 path segments match; own frame #2 from the throw")
    base = Finding(
        fingerprint=fingerprint, symptom_service="billing-service", culprit_service="billing-service",
        culprit_repo=repo, deployed_commit=BILLING_SHA, commit_source="commit 70af41feaf05 (deployed version)",
        primary_location=loc, evidence_chain=(loc, api),
        snippet=CodeSnippet(location=loc, start_line=12, lines=(
            "def invoice_total(invoice: dict) -> Decimal:",
            "    subtotal = sum((line_total(line) for line in invoice[\"lines\"]), Decimal(0))",
            "    rate = RATES[invoice[\"currency\"]]", "    return (subtotal * rate).quantize(Decimal(\"0.01\"))")),
        suspects=(SuspectCommit(sha=BILLING_SHA, author="Priya Shah", date="2026-11-28T12:00:00+00:00",
                                summary="Support multi-currency invoices (#17)", pr_number=17,
                                reason="last changed lines 13–15",
                                url=f"https://github.com/{repo}/commit/{BILLING_SHA}"),),
        error_class="missing-key", classification_rule="missing key or index: 'KeyError'", confidence=0.85,
        trace=TraceSummary(trace_id=_trace(111), status="found", culprit_service="billing-service",
                           culprit_span_id="37fde40d440a7c2d", culprit_operation="POST /invoices",
                           path_edges=(("api-gateway:POST /invoices", "billing-service:POST /invoices", "ERROR"),)),
    )  # fmt: skip
    return base.model_copy(update=changes)


def refused(fingerprint: str, *rules: tuple[str, str]) -> Decision:
    """A decision for an issue without a PR, refused by `rules` (name, detail)."""
    reasons = (RuleOutcome(rule="not muted", passed=True, detail="incident status 'new'"),
               *(RuleOutcome(rule=r, passed=False, detail=d) for r, d in rules))  # fmt: skip
    return Decision(fingerprint=fingerprint, action="issue", reasons=reasons)


class Case(NamedTuple):
    """One issue shape: how to render it."""

    name: str
    build: Callable[[], RenderedIssue]


def _render(planned: PlannedIncident, finding: Finding | None, **kw: object) -> RenderedIssue:
    args: dict[str, object] = {"grafana": GRAFANA, "loki_selector": '{deployment_environment="prod"}',
                               "redactor": Redactor(), "tool_version": "0.1.0", **kw}  # fmt: skip
    return render_issue(planned, finding, **args)  # type: ignore[arg-type]


def culprit_elsewhere() -> RenderedIssue:
    """order-service logged it, user-service threw it; the env forbids auto-fix; a related issue exists."""
    i = order_incident()
    related = (RelatedIssue("where this failure starts (user-service logs the exception)",
                            "NullPointerException: Request failed: GET …",
                            "https://github.com/acme/user-service/issues/3"),)  # fmt: skip
    return _render(PlannedIncident(incident=i, status="new"), user_finding(i.fingerprint), related=related,
                   decision=refused(i.fingerprint, ("environment allows auto-fix",
                                                    "environment 'prod' has auto_fix=False"),
                                    ("analysis available", "no LLM analysis for this incident")))  # fmt: skip


def no_stack() -> RenderedIssue:
    """A message without a stack: nothing to map to code."""
    i = timeout_incident()
    f = Finding(fingerprint=i.fingerprint, symptom_service="order-service", culprit_service="order-service",
                unknowns=("no stack trace in the log lines: the code location is not established",
                          "no trace id in the log lines"))  # fmt: skip
    return _render(
        PlannedIncident(incident=i, status="new"),
        f,
        decision=refused(i.fingerprint, ("analysis available", "no LLM analysis for this incident")),
    )


def no_tempo() -> RenderedIssue:
    """Tempo is not configured: the culprit is the logging service, which the reader must be told."""
    i = order_incident(count=6, minutes=6)
    f = user_finding(
        i.fingerprint,
        culprit_service="order-service",
        trace=None,
        suspects=(),
        unknowns=("no Tempo configured for prod: the culprit is assumed to be the logging service",),
    )
    f = f.model_copy(update={"primary_location": None, "snippet": None, "evidence_chain": (), "confidence": 0.3})
    return _render(PlannedIncident(incident=i, status="new"), f, grafana=NO_TEMPO)


def regression() -> RenderedIssue:
    """A closed issue's error is back, and this run has no finding."""
    i = order_incident(count=4, minutes=3)
    return _render(
        PlannedIncident(incident=i, status="regressed", issue_number=12),
        None,
        truncated=("trace capped at 2000 spans",),
        run_url="https://github.com/acme/ops/actions/runs/1",
    )


def recurrence_update() -> RenderedIssue:
    """A known issue, ten times busier than the last window and now in staging too."""
    i = order_incident(count=370, minutes=55)
    planned = PlannedIncident(incident=i, status="recurring", issue_number=9, known_environments=("prod",),
                              previous_count=37)  # fmt: skip
    return _render(planned, user_finding(i.fingerprint))


def pr_refused() -> RenderedIssue:
    """Claude proposed a patch; the policy refused it."""
    i = billing_incident()
    f = billing_finding(
        i.fingerprint,
        analysis=AgentAnalysis(
            root_cause="`invoice_total` indexes RATES with a currency the payload may omit; default to EUR.",
            citations=("billing/invoice.py:14",),
            confidence=0.82,
            fix_kind="missing-key",
            patch="--- a\n+++ b\n",
        ),
        patch_check=PatchVerdict(applies=True, files=("billing/invoice.py",), changed_lines=31),
        tokens_used=5120,
    )
    decision = refused(i.fingerprint, ("max_changed_lines", "31 changed line(s), limit 20"))
    return _render(PlannedIncident(incident=i, status="new"), f, decision=decision)


CASES = (Case("culprit-elsewhere", culprit_elsewhere), Case("no-stack", no_stack), Case("no-tempo", no_tempo),
         Case("regression", regression), Case("recurrence-update", recurrence_update),
         Case("pr-refused", pr_refused))  # fmt: skip
