"""Snapshot of a rendered issue, reviewed like code: regenerate with UPDATE_SNAPSHOTS=1 and read the diff."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

from error_autopilot.config.service_map import GrafanaLinks
from error_autopilot.domain.findings import CodeLocation, CodeSnippet, Finding, SuspectCommit, TraceSummary
from error_autopilot.domain.incidents import FingerprintPart, Incident, PlannedIncident, SampleLine
from error_autopilot.investigation.sanitize import Redactor
from error_autopilot.sinks.render import BODY_LIMIT, parse_marker, render_issue

SNAPSHOT = Path(__file__).resolve().parents[1] / "fixtures" / "render" / "order-service-culprit-user-service.md"
SHA = "4ea313e889bdbbe7db8fc88d321c91f8e7042b3b"
WEB = "https://github.com/acme/user-service"


def _inputs() -> tuple[PlannedIncident, Finding]:
    when = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    incident = Incident(
        fingerprint="8a6e96fc53eae397", service="order-service", environment="prod", environments=("prod", "staging"),
        exception_type="com.acme.order.UserServiceException", count=37, first_seen=when,
        last_seen=when.replace(hour=3, minute=50),
        title="UserServiceException: user-service answered <int> for user <int> in order-service",
        trace_ids=("a4f5f8db2bb94e9bc51d2ba647b00705",), versions=(SHA,),
        fingerprint_parts=(FingerprintPart(name="service", value="order-service", contributes=True),
                           FingerprintPart(name="frame", value="com.acme.order.UserClient.getUser", contributes=True),
                           FingerprintPart(name="frame", value="org.springframework.X.y", contributes=False,
                                           hint="library frame")),
        sample=(SampleLine(line_id="486b38cd46ea0000", ts_ns=1, trace_id="a4f5f8db2bb94e9bc51d2ba647b00705",
                           text="ERROR Failed to place order 4034 for @alice <b>bold</b> token=ghp_" + "x" * 36),),
    )  # fmt: skip
    location = CodeLocation(repo="acme/user-service", commit=SHA, path="src/main/kotlin/com/acme/user/UserService.kt",
                            line=12, function="displayName",
                            permalink=f"{WEB}/blob/{SHA}/src/main/kotlin/com/acme/user/UserService.kt#L12")  # fmt: skip
    finding = Finding(
        fingerprint=incident.fingerprint, symptom_service="order-service", culprit_service="user-service",
        culprit_repo="acme/user-service", deployed_commit=SHA, commit_source="commit 4ea313e889bd (deployed version)",
        primary_location=location, evidence_chain=(location,),
        snippet=CodeSnippet(location=location, start_line=11, lines=("    fun displayName(user: User): String {",
                            "        val nick = user.nickname!!.trim()", "        return nick")),
        suspects=(SuspectCommit(sha="578dd535953f" + "0" * 28, author="Sam Rivera", date="2026-11-21T10:00:00+00:00",
                                summary="Show nickname in display name (#42)", pr_number=42,
                                reason="last changed lines 9–15", url=f"{WEB}/commit/578dd535"),),
        error_class="null-dereference", classification_rule="null/None dereference: 'NullPointerException'",
        confidence=0.9, unknowns=("logs point at order-service, the trace at user-service",),
        trace=TraceSummary(trace_id="a4f5f8db2bb94e9bc51d2ba647b00705", status="found", culprit_service="user-service",
                           culprit_span_id="65fd6d28e03b3c87", culprit_operation="GET /users/{id}",
                           culprit_status_message="NullPointerException",
                           path_edges=(("order-service:POST /orders", "user-service:GET /users/{id}", "ERROR"),)),
    )  # fmt: skip
    return PlannedIncident(incident=incident, status="new"), finding


def _render() -> str:
    planned, finding = _inputs()
    grafana = GrafanaLinks(url="https://grafana.example.com", loki_datasource_uid="loki", tempo_datasource_uid="tempo")
    issue = render_issue(planned, finding, grafana=grafana, loki_selector='{deployment_environment="prod"}',
                         redactor=Redactor(), tool_version="0.1.0")  # fmt: skip
    return f"# {issue.title}\n\nlabels: {', '.join(issue.labels)}\n\n{issue.body}\n"


def test_rendered_issue_matches_the_reviewed_snapshot() -> None:
    rendered = _render()
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(rendered)
    assert rendered == SNAPSHOT.read_text(), "rendering changed: rerun with UPDATE_SNAPSHOTS=1 and review the diff"


def test_the_snapshot_leads_with_the_answer_and_is_safe() -> None:
    body = _render()
    first_paragraph = body.split("\n\n")[2]
    assert "37 occurrence(s)" in first_paragraph and "UserService.kt:12" in first_paragraph
    assert "user-service" in first_paragraph and "#42" in first_paragraph
    outside_code = re.sub(r"(?ms)^(`{3,}).*?^\1$", "", body)  # GitHub does not notify mentions in code blocks
    assert "ghp_" + "x" * 36 not in body
    assert "@alice" not in outside_code and "<b>" not in outside_code
    assert parse_marker(body) == "8a6e96fc53eae397" and len(body) < BODY_LIMIT
    assert "```mermaid" in body and "null-dereference" in body
