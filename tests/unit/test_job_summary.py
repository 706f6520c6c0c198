"""The job summary puts the answer first, like the issue: what, where, how often, then links and why no PR."""

from __future__ import annotations

from datetime import UTC, datetime

from error_autopilot.domain.decisions import RuleOutcome
from error_autopilot.domain.incidents import PollWindow
from error_autopilot.domain.report import PublishedIncident, RunReport
from error_autopilot.sinks.job_summary import render_summary
from tests.support.gfm import screen_lines, to_html

NOON = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _incident(**changes: object) -> PublishedIncident:
    base = PublishedIncident(
        fingerprint="8a6e96fc53eae397", service="order-service", environment="prod", status="new", count=37,
        title="UserServiceException: user-service answered 500 for user …", culprit="user-service UserService.kt:12",
        issue_url="https://github.com/acme/user-service/issues/3", issue_number=3, issue_action="created",
        policy_refusals=(RuleOutcome(rule="environment allows auto-fix", passed=False, detail="prod: auto_fix off"),),
    )  # fmt: skip
    return base.model_copy(update=changes)


def test_each_incident_row_reads_what_where_how_often_then_links_and_why_no_pr() -> None:
    hostile = _incident(fingerprint="1" * 16, status="regressed", title="<img src=x> @team | cell", count=2,
                        pr_url="https://github.com/acme/user-service/pull/9", policy_refusals=())  # fmt: skip
    report = RunReport(run_id="r1", trigger="schedule", started_at=NOON, finished_at=NOON,
                       incidents=(_incident(), hostile))  # fmt: skip
    summary = render_summary(report)
    html = to_html(summary)
    lines = screen_lines(summary)
    assert lines[1:3] == ["🚨 1 new, 1 regressed · 0 recurring · 0 muted · 0 LLM tokens",
                          "Error Where Count Issue Draft PR Logged by"]  # fmt: skip
    assert (
        lines[3] == "🔁 regressed <img src=x> @team | cell user-service UserService.kt:12 2 #3 draft PR order-service"
    )
    assert lines[4].endswith(" UserService.kt:12 37 #3 no: environment allows auto-fix order-service")
    assert "<img" not in html and html.count("<tr>") == 4  # the hostile `|` stayed inside its cell


def test_the_polled_table_says_how_many_split_traces_were_rejoined_and_what_was_left() -> None:
    windows = (
        PollWindow(environment="prod", start_ns=0, end_ns=1, lines=900, events=40, rejoined=12, rejoined_lines=31,
                   rejoin_note="5 pieces of split traces left as single lines: the 100 reads a run "
                               "allows (`rejoin_queries`) were used; a multiline stage joins them at the source"),
        PollWindow(environment="staging", start_ns=0, end_ns=1, lines=3, events=3),
    )  # fmt: skip
    report = RunReport(run_id="r1", trigger="schedule", started_at=NOON, finished_at=NOON, windows=windows)
    lines = screen_lines(render_summary(report))
    prod = next(line for line in lines if line.startswith("prod "))
    assert "12 split traces rejoined from 31 lines; 5 pieces of split traces left as single lines" in prod
    assert next(line for line in lines if line.startswith("staging ")) == "staging 3 3 0 0 0"
