"""The issue is the product: what a tired engineer reads at 9 a.m. Snapshots are reviewed like code
(regenerate with UPDATE_SNAPSHOTS=1 and read the diff); the rest pins safety and size rules."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from error_autopilot.config.service_map import GrafanaLinks
from error_autopilot.domain.decisions import Decision, RuleOutcome
from error_autopilot.domain.findings import (
    AgentAnalysis,
    CodeLocation,
    CodeSnippet,
    Finding,
    PatchVerdict,
    SuspectCommit,
    TraceSummary,
)
from error_autopilot.domain.incidents import FingerprintPart, Incident, PlannedIncident, SampleLine
from error_autopilot.investigation.sanitize import Redactor
from error_autopilot.ports import RenderedIssue
from error_autopilot.sinks import render

SNAPSHOTS = Path(__file__).resolve().parents[1] / "fixtures" / "render"
SHA = "4ea313e889bdbbe7db8fc88d321c91f8e7042b3b"
WEB = "https://github.com/acme/user-service"
FP = "8a6e96fc53eae397"
WHEN = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
TOKEN = "ghp_" + "Zx9aB3cD4eF5gH6iJ7kL8mN9oP0qR1sT2uV3"  # 36 characters after the prefix
HOSTILE = (f"NPE for @org/team <img src=x onerror=alert(1)> ``` then [click](https://evil.example) "
           f"<!-- error-autopilot:fingerprint={'e' * 16} --> auth {TOKEN}")  # fmt: skip
GRAFANA = GrafanaLinks(url="https://grafana.example.com", loki_datasource_uid="loki-uid", tempo_datasource_uid="tempo")


def incident(**changes: object) -> Incident:
    """A realistic incident: order-service logs what user-service threw."""
    base = Incident(
        fingerprint=FP, service="order-service", environment="prod", environments=("prod", "staging"),
        exception_type="com.acme.order.UserServiceException", count=37, first_seen=WHEN,
        last_seen=WHEN.replace(minute=50), title="UserServiceException: user-service answered <int> for user <int>",
        trace_ids=("a4f5f8db2bb94e9bc51d2ba647b00705",), versions=(SHA,),
        fingerprint_parts=(
            FingerprintPart(name="service", value="order-service", contributes=True, hint="logging service"),
            FingerprintPart(name="frame", value="com.acme.order.UserClient.getUser", contributes=True,
                            hint="in-app frame"),
            FingerprintPart(name="frame", value="org.springframework.X.y", contributes=False, hint="library frame"),
        ),
        sample=(SampleLine(line_id="486b38cd46ea0000aaaa", ts_ns=1, trace_id="a4f5f8db2bb94e9bc51d2ba647b00705",
                           text="ERROR Failed to place order 4034: user-service answered 500"),),
    )  # fmt: skip
    return base.model_copy(update=changes)


def finding(**changes: object) -> Finding:
    """What investigation found: the culprit line, the trace path, a suspect commit."""
    path = "src/main/kotlin/com/acme/user/UserService.kt"
    loc = CodeLocation(repo="acme/user-service", commit=SHA, path=path, line=12, function="displayName",
                       permalink=f"{WEB}/blob/{SHA}/{path}#L12",
                       reason="in configured package com.acme.user; path matches; innermost own frame")  # fmt: skip
    api = "src/main/kotlin/com/acme/user/UserApi.kt"
    caller = CodeLocation(repo="acme/user-service", commit=SHA, path=api, line=30, function="getUser",
                          permalink=f"{WEB}/blob/{SHA}/{api}#L30",
                          reason="in configured package com.acme.user; 2. own frame from the throw")  # fmt: skip
    base = Finding(
        fingerprint=FP, symptom_service="order-service", culprit_service="user-service",
        culprit_repo="acme/user-service", deployed_commit=SHA, commit_source="service.version resource attribute",
        primary_location=loc, evidence_chain=(loc, caller),
        frame_notes=("UserService.kt:12 displayName: → src/main/kotlin/com/acme/user/UserService.kt (own code)",
                     "FrameworkServlet.java:885 service: runtime (library package org.springframework)"),
        snippet=CodeSnippet(location=loc, start_line=11, lines=("    fun displayName(user: User): String {",
                            "        val nick = user.nickname!!.trim()", "        return nick")),
        suspects=(SuspectCommit(sha="578dd535953f" + "0" * 28, author="Sam Rivera", date="2026-11-21T10:00:00+00:00",
                                summary="Show nickname in display name (#42)", pr_number=42,
                                reason="blame of line 12", url=f"{WEB}/commit/578dd535953f" + "0" * 28),),
        error_class="null-dereference", classification_rule="'NullPointerException'", confidence=0.9,
        trace=TraceSummary(trace_id="a4f5f8db2bb94e9bc51d2ba647b00705", status="found", culprit_service="user-service",
                           culprit_span_id="65fd6d28e03b3c87", culprit_operation="GET /users/{id}",
                           culprit_status_message="NullPointerException",
                           path_edges=(("api-gateway:POST /checkout", "order-service:POST /orders", "ERROR"),
                                       ("order-service:POST /orders", "user-service:GET /users/{id}", "ERROR"))),
        tokens_used=1234,
    )  # fmt: skip
    return base.model_copy(update=changes)


def planned(status: str = "new", **changes: object) -> PlannedIncident:
    """The incident as publish sees it."""
    return PlannedIncident(incident=incident(**changes), status=status)  # type: ignore[arg-type]


def issue(p: PlannedIncident, f: Finding | None, **kw: object) -> RenderedIssue:
    """render_issue with the usual configuration."""
    args: dict[str, object] = {"grafana": GRAFANA, "loki_selector": '{deployment_environment="prod"}',
                               "redactor": Redactor(), "tool_version": "0.1.0", **kw}  # fmt: skip
    return render.render_issue(p, f, **args)  # type: ignore[arg-type]


def _outside_code(body: str) -> str:
    """What GitHub interprets: the body without fenced blocks and inline code spans."""
    body = re.sub(r"(?ms)^(`{3,})[^\n]*\n.*?^\1$", "", body)
    live, pos = [], 0
    while opening := re.compile(r"(?<![\\`])`+").search(body, pos):
        closing = re.compile(rf"(?<!`){opening.group(0)}(?!`)").search(body, opening.end())
        if closing is None:
            break
        live.append(body[pos : opening.start()])
        pos = closing.end()
    return "".join(live) + body[pos:]


@pytest.mark.parametrize(
    ("name", "status", "with_finding"),
    [("culprit-in-another-service", "new", True), ("regressed-without-finding", "regressed", False)],
)
def test_rendered_issue_matches_the_reviewed_snapshot(name: str, status: str, with_finding: bool) -> None:
    rendered = issue(planned(status), finding() if with_finding else None, truncated=("trace capped at 2000 spans",),
                     run_url="https://github.com/acme/ops/actions/runs/1")  # fmt: skip
    text = f"# {rendered.title}\n\nlabels: {', '.join(rendered.labels)}\n\n{rendered.body}\n"
    snapshot = SNAPSHOTS / f"{name}.md"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        snapshot.write_text(text, encoding="utf-8")
    assert text == snapshot.read_text(encoding="utf-8"), "rendering changed: rerun with UPDATE_SNAPSHOTS=1, review"


def test_the_answer_comes_first_and_cites_its_sources() -> None:
    body = issue(planned(), finding()).body
    answer = body.split("\n\n")[0]
    assert answer.startswith("**UserServiceException")
    permalink = f"{WEB}/blob/{SHA}/src/main/kotlin/com/acme/user/UserService.kt#L12"
    facts = ("37 occurrence(s)", "prod, staging", permalink, "UserService.kt:12", "`65fd6d28e03b3c87`", "user-service",
             "only logged it", "2026-11-25 03:00 UTC", "578dd535")  # fmt: skip
    for fact in facts:
        assert fact in answer, fact
    assert "Line `486b38cd46ea`" in body  # each sample cites its log line id


def test_the_mermaid_path_highlights_the_culprit_and_survives_hostile_span_names() -> None:
    hostile = ('evil"] --> x["pwn', "user-service:GET /users/{id}", "ERROR")
    f = finding(trace=finding().trace.model_copy(update={"path_edges": (*finding().trace.path_edges, hostile)}))  # type: ignore[union-attr]
    block = issue(planned(), f).body.split("```mermaid\n")[1].split("\n```")[0]
    assert "style n2 fill:#f66" in block  # n2 = user-service:GET /users/{id}, the culprit span
    assert '"] --> x["' not in block and block.count('"') == 2 * 6  # every label is one quoted string
    assert all(re.fullmatch(r'  n\d+\["[\w .:/{}\-]*"\] (-- ERROR -->|-->) n\d+\["[\w .:/{}\-]*"\]', line)
               for line in block.splitlines()[1:-1])  # fmt: skip


def test_grafana_links_come_from_config_and_are_omitted_when_not_configured() -> None:
    body = issue(planned(), finding()).body
    assert "https://grafana.example.com/explore?" in body and "loki-uid" in body and "%22tempo%22" in body
    assert "### Links" not in issue(planned(), finding(), grafana=None).body
    no_tempo = GrafanaLinks(url="https://g.example.com", loki_datasource_uid="loki-uid")
    body = issue(planned(), finding(), grafana=no_tempo).body
    assert "Logs in Grafana Explore" in body and "[Trace" not in body


def test_labels_name_environment_service_class_and_regression() -> None:
    labels = issue(planned("regressed"), finding()).labels
    assert labels == ("error-autopilot", "service:order-service", "env:prod", "env:staging", "null-dereference",
                      "regressed")  # fmt: skip
    odd = issue(planned(service="a,b" + "x" * 80), None).labels
    assert all(len(label) <= 50 and "," not in label for label in odd)


def test_hostile_log_text_is_inert_everywhere() -> None:
    p = planned(title=HOSTILE, sample=(SampleLine(line_id="l1", ts_ns=1, text=HOSTILE + "\n```\n@here"),))
    f = finding(unknowns=(HOSTILE,), analysis=AgentAnalysis(root_cause=HOSTILE, citations=(HOSTILE,), confidence=0.5))
    rendered = issue(p, f)
    everything = rendered.title + rendered.body + "".join(rendered.labels)
    assert TOKEN not in everything and "[REDACTED:github-token]" in rendered.body
    assert render.parse_marker(rendered.body) == FP and rendered.body.count("error-autopilot:fingerprint=") == 1
    live = _outside_code(rendered.body)
    assert "@org" not in live and "@here" not in live and "<img" not in live
    assert re.search(r"(?<!\\)\]\(https://evil", live) is None
    assert "<!--" not in live.replace(render.OCCURRENCES_START, "").replace(render.OCCURRENCES_END, "").replace(
        render.MARKER.format(fp=FP), ""
    )
    assert re.search(r"(?m)^(`{4,})text\n[^\n]*\n```\n&#64;here|^(`{4,})text\n[^\n]*\n```\n@here\n\2$", rendered.body)
    assert "\n" not in rendered.title and len(rendered.title) <= 256 and "@" not in rendered.title


def test_a_comment_split_to_reassemble_a_marker_does_not_survive() -> None:
    sneaky = f"<!<!-- x -->-- error-autopilot:fingerprint={'e' * 16} -->"
    body = issue(planned(sample=(SampleLine(line_id="l", ts_ns=1, text=sneaky),)), None).body
    assert "e" * 16 not in body and render.parse_marker(body) == FP


def test_the_body_stays_under_githubs_limit_trimming_evidence_in_order() -> None:
    text = "at com.acme.order.OrderService.place(OrderService.java:42) " * 100
    huge = tuple(SampleLine(line_id=f"l{n}", ts_ns=n, text=text) for n in range(50))
    body = issue(planned(sample=huge), finding()).body
    assert len(body) <= render.BODY_LIMIT < 65_536
    assert "sample log lines trimmed to the latest one to fit" in body and body.count("Line `l") == 1
    assert body.startswith("**UserServiceException") and "UserService.kt:12" in body.split("\n\n")[0]
    long_link = f"{WEB}/blob/{SHA}/{'d/' * 900}F.kt#L1"
    chain = tuple(finding().evidence_chain[0].model_copy(update={"permalink": long_link, "reason": "r" * 999})
                  for n in range(30))  # fmt: skip
    lines = tuple("y" * 300 for _ in range(40))
    big = finding(
        evidence_chain=chain,
        suspects=finding().suspects * 10,
        unknowns=("z" * 200,) * 10,
        snippet=finding().snippet.model_copy(update={"lines": lines}),
    )  # type: ignore[union-attr]
    body = issue(planned(sample=huge, title="t" * 5000), big, truncated=("w" * 5000,) * 40).body
    assert len(body) <= render.BODY_LIMIT and render.parse_marker(body) == FP
    # candidates are capped (10 shown, reasons cut), so they fit once the samples are gone
    assert "sample log lines trimmed to the latest one" in body and "### Where:" in body and "### Why here" in body
    assert "\n10. " in body and "\n11. " not in body and "r" * 301 not in body
    assert body.startswith("**" + "t" * 199 + "…**") and "; and 21 more." in body


def test_a_rendering_without_evidence_only_refreshes_the_occurrences() -> None:
    first = issue(planned(), finding()).body
    later = issue(planned(count=99, last_seen=WHEN.replace(hour=9)), None).body
    merged = render.merge_body(first, later)
    assert "### Where:" in merged and "| count (this run) | 99 |" in merged and "| 37 |" not in merged
    assert render.merge_body(first, issue(planned(count=5), finding()).body).count("| count (this run) | 5 |") == 1
    assert render.merge_body(None, later) == later


def test_comments_for_regressions_and_material_changes_only() -> None:
    assert "back since 2026-11-25 03:00 UTC" in render.render_regression_comment(planned("regressed"))
    same = PlannedIncident(incident=incident(count=40), status="recurring", known_environments=("prod", "staging"),
                           previous_count=37)  # fmt: skip
    assert render.render_material_comment(same) is None
    jump = same.model_copy(update={"incident": incident(count=370)})
    assert "370" in (render.render_material_comment(jump) or "")
    moved = same.model_copy(update={"known_environments": ("prod",)})
    assert "staging" in (render.render_material_comment(moved) or "")


def test_the_pr_body_says_fixes_what_changed_why_allowed_and_the_tests() -> None:
    f = finding(analysis=AgentAnalysis(root_cause="nickname may be null", citations=(), confidence=0.8,
                                       fix_kind="null-check", patch="diff"),
                patch_check=PatchVerdict(applies=True, files=("UserService.kt",), changed_lines=2,
                                         test_passed=True))  # fmt: skip
    decision = Decision(fingerprint=FP, action="issue_and_pr", reasons=(
        RuleOutcome(rule="environment allows auto-fix", passed=True, detail="staging has auto_fix: true"),
        RuleOutcome(rule="max_changed_lines", passed=True, detail="2 ≤ 20")))  # fmt: skip
    body = render.render_pr_body(planned(), f, issue_number=7, decision=decision)
    assert body.startswith("Fixes #7\n")
    assert "`UserService.kt`; 2 changed line(s)" in body and "staging has auto\\_fix: true" in body
    assert "**Tests:** passed." in body and "never merges" in body


def test_the_crosslink_points_at_the_culprit_issue_under_its_own_marker() -> None:
    url = "https://github.com/acme/user-service/issues/3"
    link = render.render_crosslink(planned(), finding(), url, Redactor())
    assert url in link.body and render.parse_marker(link.body) == render.crosslink_fingerprint(FP) != FP
    assert "symptom" in link.labels
