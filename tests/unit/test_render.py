"""The issue is the product: what a tired engineer reads at 9 a.m. Snapshots are reviewed like code
(regenerate with UPDATE_SNAPSHOTS=1 and read the diff); the rest pins safety and size rules."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

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
from error_autopilot.domain.incidents import FingerprintPart, Incident, PlannedIncident, SampleLine
from error_autopilot.incidents.group import IncidentGrouper
from error_autopilot.incidents.stacktrace import parse_stacktrace
from error_autopilot.investigation.sanitize import Redactor
from error_autopilot.ports import RenderedIssue
from error_autopilot.sinks import render
from tests.support import render_cases as cases
from tests.support.gfm import links, screen_lines, to_html

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
                       permalink=f"{WEB}/blob/{SHA}/{path}#L12")  # fmt: skip
    api = "src/main/kotlin/com/acme/user/UserApi.kt"
    caller = CodeLocation(repo="acme/user-service", commit=SHA, path=api, line=30, function="getUser",
                          permalink=f"{WEB}/blob/{SHA}/{api}#L30")  # fmt: skip
    base = Finding(
        fingerprint=FP, symptom_service="order-service", culprit_service="user-service",
        culprit_repo="acme/user-service", deployed_commit=SHA, commit_source="service.version resource attribute",
        primary_location=loc, evidence_chain=(loc, caller),
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
    ours = re.compile(r"<!-- error-autopilot:(?:[a-z]+:(?:start|end)|fingerprint=[0-9a-f]{16}) -->")
    assert "<!--" not in ours.sub("", live)
    html = to_html(rendered.body)  # GitHub's parser, raw HTML kept: an injected tag would be a tag here
    assert "<img" not in html and "https://evil" not in " ".join(links(html))
    assert "<!--" not in ours.sub("", html) and render.parse_marker(html) == FP
    assert re.search(r"(?m)^(`{4,})text\n[^\n]*\n```\n&#64;here|^(`{4,})text\n[^\n]*\n```\n@here\n\2$", rendered.body)
    assert "\n" not in rendered.title and len(rendered.title) <= 256 and "@" not in rendered.title


def test_a_comment_split_to_reassemble_a_marker_does_not_survive() -> None:
    sneaky = f"<!<!-- x -->-- error-autopilot:fingerprint={'e' * 16} -->"
    body = issue(planned(sample=(SampleLine(line_id="l", ts_ns=1, text=sneaky),)), None).body
    assert "e" * 16 not in body and render.parse_marker(body) == FP


def test_the_body_stays_under_githubs_limit_trimming_evidence_in_order() -> None:
    text = "at com.acme.order.OrderService.place(OrderService.java:42) " * 100
    huge = tuple(SampleLine(line_id=f"l{n}", ts_ns=n, text=text, message=f"E: {n} " + text) for n in range(50))
    long_link = f"{WEB}/blob/{SHA}/{'d/' * 800}F.kt#L1"  # 30 of these outgrow the limit on their own
    chain = tuple(finding().evidence_chain[0].model_copy(update={"permalink": long_link}) for n in range(30))
    lines = tuple("y" * 300 for _ in range(40))
    big = finding(
        evidence_chain=chain,
        suspects=finding().suspects * 10,
        unknowns=("z" * 200,) * 10,
        snippet=finding().snippet.model_copy(update={"lines": lines}),
    )  # type: ignore[union-attr]
    body = issue(planned(sample=huge, title="t" * 5000), big, truncated=("w" * 5000,) * 40).body
    assert len(body) <= render.BODY_LIMIT and render.parse_marker(body) == FP
    assert "the stacks and the candidates left out to fit" in body and "### Where:" in body
    assert "; and 21 more." in body
    assert body.startswith("- **What:**") and "- **Where:**" in body and "- **⚠️ Not established:**" in body


def test_a_five_megabyte_line_and_500_traces_fit_with_the_answer_intact() -> None:
    grouper = IncidentGrouper()
    huge = "Payment failed for order 1 " + "x" * 5_000_000
    for n in range(500):
        grouper.add(ErrorEvent(line_id=f"l{n}", ts_ns=(1_795_000_000 + n * 7) * 10**9, environment=f"env{n % 7}",
                               service="order-service", message=f"Payment failed for order {n}",
                               trace_id=f"{n:032x}", version=f"v{n // 50}", line=huge))  # fmt: skip
    grouper.add(
        ErrorEvent(
            line_id="huge",
            ts_ns=1_795_000_000 * 10**9,
            environment="prod",
            service="order-service",
            message=huge,
            exception_type="PaymentError",
            exception_message=huge,
            line=huge,
        )
    )
    big, single = grouper.incidents()
    alone = issue(PlannedIncident(incident=single, status="new"), None)
    assert len(alone.body) < 65_536 and len(alone.title) <= 120 and alone.title.endswith("…")
    f = finding(
        fingerprint=big.fingerprint,
        unknowns=("y" * 5_000_000,),
        trace=finding().trace.model_copy(  # type: ignore[union-attr]
            update={"path_edges": tuple((f"s{n}:op", f"s{n + 1}:op", "ERROR") for n in range(500))}
        ),
    )
    rendered = issue(PlannedIncident(incident=big, status="new"), f)
    body = rendered.body
    assert len(body) < 65_536 and render.parse_marker(body) == big.fingerprint
    assert len(rendered.title) <= 120 and rendered.title.startswith("Payment failed for order")
    screen = "\n".join(screen_lines(body)[:25])
    assert "500 time(s)" in screen and "UserService.kt:12" in screen and "Not established" in screen


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


_PLACEHOLDER = re.compile(r"<(?:url|email|uuid|timestamp|date|time|ip|hex|duration|path|float|int|quoted)>")


def _outside_how_found(html: str) -> str:
    return re.sub(r"<details><summary>How this was found</summary>[\s\S]*?</details>", "", html)


@pytest.mark.parametrize("case", cases.CASES, ids=[c.name for c in cases.CASES])
def test_no_grouping_placeholder_reaches_the_reader_outside_how_it_was_found(case: cases.Case) -> None:
    rendered = case.build()
    html = to_html(rendered.body)
    assert _PLACEHOLDER.search(rendered.title) is None and "‹" not in rendered.title
    assert _PLACEHOLDER.search(_outside_how_found(html).replace("&lt;", "<").replace("&gt;", ">")) is None
    assert "How this was found" in html and len(rendered.title) <= 120


@pytest.mark.parametrize("case", cases.CASES, ids=[c.name for c in cases.CASES])
def test_the_first_screen_says_what_where_since_when_culprit_and_caveats(case: cases.Case) -> None:
    rendered = case.build()
    screen = screen_lines(rendered.body)[:25]
    text = "\n".join(screen)
    head = to_html("\n".join(rendered.body.split("\n")[:12]))  # the answer list, as links
    assert screen[0].startswith(("What: ", "Regression")) and "What: " + rendered.title.split(" …")[0] in text
    assert "Where: " in text and " time(s), 2026-11-25 03:00 UTC" in text
    if "Where: not established" not in text:
        assert any("/blob/" in url and "#L" in url for url in links(head))  # a permalink at the deployed commit
        assert "Culprit: " in text
    if case.name in ("no-stack", "no-tempo", "regression", "culprit-elsewhere"):
        assert "⚠️ Not established: " in text
    if case.name in ("pr-refused", "culprit-elsewhere", "no-stack"):
        assert "Why no draft PR: rule “" in text


def test_titles_show_the_newest_real_message_with_varying_values_summarised() -> None:
    order = cases.order_incident()
    title = cases.culprit_elsewhere().title
    assert title == "UserServiceException: user-service answered 500 INTERNAL_SERVER_ERROR for user …"
    assert str(1400 + 36 * 7) not in title and "order-service" not in title
    assert "(`user` took 37 distinct values)" in cases.culprit_elsewhere().body
    assert cases.pr_refused().title == "KeyError: 'currency'"  # a value every occurrence shares is the message
    assert [(v.name, v.distinct) for v in order.variables] == [("answered", 1), ("user", 37)]
    grouper = IncidentGrouper()
    for n, word in enumerate(["alpha", "beta"] * 40):
        message = (f"could not sync the catalogue for tenant {word} because upstream refused the request with "
                   f"status {500 + n % 3} and {TOKEN} " + "pad " * 40)  # fmt: skip
        grouper.add(ErrorEvent(line_id=str(n), ts_ns=n, environment="prod", service="s", line="x", message=message))
    rendered = issue(PlannedIncident(incident=grouper.incidents()[0], status="new"), None)
    assert len(rendered.title) <= 120 and rendered.title.endswith("…") and not rendered.title.endswith(" …")
    assert TOKEN not in rendered.title and "status …" in rendered.title


def test_own_frames_link_to_the_deployed_commit_and_library_frames_fold() -> None:
    body = cases.pr_refused().body
    base = f"https://github.com/acme/billing-service/blob/{cases.BILLING_SHA}"
    assert f"- ◆ [`billing/invoice.py:14`]({base}/billing/invoice.py#L14) `billing.invoice.invoice_total`" in body
    assert f"- ◆ [`billing/api.py:12`]({base}/billing/api.py#L12)" in body
    symptom = cases.culprit_elsewhere().body  # order-service's frames are not in user-service's repo: no link
    assert "- ◆ `UserClient.java:17` `com.acme.order.UserClient.getUser`" in symptom
    assert "- ⋯ 3 library frame(s): `org.springframework.aop.framework`" in symptom
    assert "\\n\\tat" not in symptom and "\tat com.acme.order.UserClient.getUser" in symptom


def test_the_timeline_is_drawn_per_environment_and_version_only_with_data() -> None:
    body = cases.culprit_elsewhere().body
    charts = re.findall(r"```mermaid\nxychart-beta\n([\s\S]*?)```", body)
    assert [re.search(r'title "(\w+):', c).group(1) for c in charts] == ["prod", "staging"]  # type: ignore[union-attr]
    for chart in charts:
        labels = re.search(r"x-axis \[(.*)\]", chart).group(1).split(", ")  # type: ignore[union-attr]
        bars = re.search(r"bar \[(.*)\]", chart).group(1).split(", ")  # type: ignore[union-attr]
        assert len(labels) == len(bars) <= 24
    assert sum(int(b) for c in charts for b in re.search(r"bar \[(.*)\]", c).group(1).split(", ")) == 37  # type: ignore[union-attr]
    assert "| `9c1f2e7a4b5d` | 2026-11-25 03:00 UTC | 2026-11-25 03:22 UTC | 18 |" in body
    one_minute = cases.order_incident(count=3, minutes=0)
    assert "xychart-beta" not in issue(PlannedIncident(incident=one_minute, status="new"), None).body


def test_an_update_without_evidence_refreshes_every_live_section() -> None:
    first = cases.culprit_elsewhere().body
    later = issue(PlannedIncident(incident=cases.order_incident(count=90, minutes=20), status="recurring"), None).body
    merged = render.merge_body(first, later)
    assert "### Where:" in merged and "| count (this run) | 90 |" in merged and "| 37 |" not in merged
    assert "**How often:** <!-- error-autopilot:often:start -->90 time(s)" in merged and "37 time(s)" not in merged
    assert merged.count("xychart-beta") == 2  # redrawn for the later window: 20 minutes, per minute
    assert "per 1 min" in merged and "per 5 min" not in merged


def test_a_material_change_comment_is_one_line_saying_what_changed() -> None:
    same = PlannedIncident(incident=incident(count=370), status="recurring", known_environments=("prod",),
                           previous_count=37)  # fmt: skip
    comment = render.render_material_comment(same) or ""
    assert "\n" not in comment and comment.startswith("📈 Changed since the last update: now also seen in **staging**")
    assert "**370** occurrences this window, up from 37" in comment


def test_hostile_text_in_every_new_part_is_inert_when_github_renders_it() -> None:
    grouper = IncidentGrouper()
    stack = parse_stacktrace(cases.BILLING_LOG, packages=("billing",))
    for n in range(3):  # message, environment, version and line all hostile; the message varies
        grouper.add(ErrorEvent(line_id=f"<b>{n}", ts_ns=cases.START_NS + n * cases.MINUTE * 5, environment=HOSTILE[:40],
                               service="svc", message=f"{HOSTILE} {n}", exception_type="KeyError",
                               exception_message=f"{HOSTILE} user '{n}'", version=f"v<img src=x>{n}", stack=stack,
                               trace_id=f"{n:032x}", line=HOSTILE + "\n```\n@here"))  # fmt: skip
    (hostile,) = grouper.incidents()
    related = (render.RelatedIssue("shares trace 00000000", HOSTILE, "javascript:alert(1)"),)
    rendered = issue(PlannedIncident(incident=hostile, status="new"), finding(fingerprint=hostile.fingerprint),
                     related=related)  # fmt: skip
    html = to_html(rendered.body)
    ours = re.compile(r"<!-- error-autopilot:(?:[a-z]+:(?:start|end)|fingerprint=[0-9a-f]{16}) -->")
    assert "<img" not in html and "<b>" not in html and "javascript:" not in " ".join(links(html))
    assert all(not url.startswith("https://evil") for url in links(html))
    assert "<!--" not in ours.sub("", html) and render.parse_marker(rendered.body) == hostile.fingerprint
    assert TOKEN not in rendered.body + rendered.title and "@org" not in _outside_code(rendered.body)
    chart = rendered.body.split("xychart-beta\n", 1)[1].split("```", 1)[0]
    assert re.fullmatch(r'  title "[\w .:/{}\-]*: occurrences per \d+ min \(UTC\)"', chart.splitlines()[0])


def test_jvm_frames_link_only_to_the_file_in_their_own_package() -> None:
    text = ("java.lang.NullPointerException\n\tat com.acme.user.UserService.displayName(UserService.kt:12)\n"
            "\tat com.acme.audit.UserService.record(UserService.kt:5)\n"
            "\tat com.acme.user.UserController.get(UserController.kt:13)")  # fmt: skip
    stack = parse_stacktrace(text, packages=("com.acme",))
    grouper = IncidentGrouper()
    grouper.add(ErrorEvent(line_id="l", ts_ns=cases.START_NS, environment="prod", service="user-service", line=text,
                           message="Request failed", exception_type="NullPointerException", stack=stack))  # fmt: skip
    (own,) = grouper.incidents()
    f = cases.user_finding(own.fingerprint, symptom_service="user-service")
    body = issue(PlannedIncident(incident=own, status="new"), f).body
    blob = f"https://github.com/acme/user-service/blob/{cases.USER_SHA}/src/main/kotlin/com/acme/user"
    assert f"- ◆ [`src/main/kotlin/com/acme/user/UserService.kt:12`]({blob}/UserService.kt#L12)" in body
    assert f"- ◆ [`src/main/kotlin/com/acme/user/UserController.kt:13`]({blob}/UserController.kt#L13)" in body
    assert "- ◆ `UserService.kt:5` `com.acme.audit.UserService.record`" in body  # same name, other package
    assert "Thrown `java.lang.NullPointerException` (no message)" in body
