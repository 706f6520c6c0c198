"""GitHubIssueTracker against a fake GitHub that follows the REST API: one living issue per bug."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import github
import pytest

from error_autopilot.domain.errors import SinkError, SinkRateLimited
from error_autopilot.domain.incidents import Incident, PlannedIncident
from error_autopilot.investigation.sanitize import Redactor
from error_autopilot.ports import RenderedIssue
from error_autopilot.sinks.github_issues import GitHubIssueTracker
from error_autopilot.sinks.render import MARKER, render_issue
from tests.support.fakes.github import FakeGitHub

REPO = "acme/ops"
FP = "0123456789abcdef"


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub() as f:
        yield f
        assert f.server.unexpected == []


def _tracker(fake: FakeGitHub, sleeps: list[float] | None = None) -> GitHubIssueTracker:
    gh = github.Github(base_url=fake.url, auth=github.Auth.Token("t"), retry=None,
                       seconds_between_requests=0, seconds_between_writes=0)  # fmt: skip
    return GitHubIssueTracker(gh, retry_sleep=(sleeps if sleeps is not None else []).append)


def _issue(body: str = "summary", fp: str = FP) -> RenderedIssue:
    return RenderedIssue(title="[svc] boom", body=f"{body}\n{MARKER.format(fp=fp)}",
                         labels=("error-autopilot", "env:prod", "service:svc"), fingerprint=fp)  # fmt: skip


def test_the_same_incident_published_three_times_is_one_issue_updated(fake: FakeGitHub) -> None:
    tracker = _tracker(fake)
    outcomes = [tracker.upsert(REPO, _issue(f"count {n}"), None, False, None).action for n in (1, 2, 2)]
    assert outcomes == ["created", "updated", "unchanged"]
    assert len(fake.issues[REPO]) == 1
    assert "count 2" in fake.issues[REPO][0]["body"]
    assert set(fake.issues[REPO][0]["labels"]) == {"error-autopilot", "env:prod", "service:svc"}


def test_a_closed_issue_that_recurs_is_reopened_as_a_regression(fake: FakeGitHub) -> None:
    tracker = _tracker(fake)
    ref = tracker.upsert(REPO, _issue(), None, False, None).ref
    fake.issues[REPO][0]["state"] = "closed"  # a person fixed it
    outcome = tracker.upsert(REPO, _issue("back"), ref, True, "🔁 Regression since today")
    assert outcome.action == "reopened" and outcome.ref.state == "open"
    issue = fake.issues[REPO][0]
    assert issue["state"] == "open" and "regressed" in issue["labels"]
    assert fake.comments[(REPO, issue["number"])] == ["🔁 Regression since today"]


@pytest.mark.parametrize("search", ["lagging", "rate-limited"])
def test_no_duplicate_when_search_lags_or_is_rate_limited(fake: FakeGitHub, search: str) -> None:
    tracker = _tracker(fake)
    tracker.upsert(REPO, _issue(), None, False, None)
    fake.search_lag, fake.rate_limit_search = (100, False) if search == "lagging" else (0, True)
    assert tracker.upsert(REPO, _issue("again"), None, False, None).action == "updated"
    assert len(fake.issues[REPO]) == 1 and fake.search_calls >= 1


def test_a_secondary_rate_limit_is_waited_out_then_gives_up_clearly(fake: FakeGitHub) -> None:
    sleeps: list[float] = []
    fake.rate_limit_next_create = 1
    assert _tracker(fake, sleeps).upsert(REPO, _issue(), None, False, None).action == "created"
    assert sleeps == [3.0]
    fake.rate_limit_next_create = 10
    with pytest.raises(SinkRateLimited, match="secondary rate limit"):
        _tracker(fake, []).upsert(REPO, _issue(fp="f" * 16), None, False, None)


def test_a_body_github_would_refuse_is_a_clear_error(fake: FakeGitHub) -> None:
    with pytest.raises(SinkError, match="body is too long"):
        _tracker(fake).upsert(REPO, _issue("x" * 70_000), None, False, None)


def test_markers_rebuild_the_registry(fake: FakeGitHub) -> None:
    tracker = _tracker(fake)
    for fp in ("a" * 16, "b" * 16):
        tracker.upsert(REPO, _issue(fp=fp), None, False, None)
    assert set(tracker.list_markers(REPO)) == {"a" * 16, "b" * 16}
    assert tracker.find(REPO, "b" * 16) is not None and tracker.find(REPO, "c" * 16) is None


def test_hostile_log_text_reaches_github_inert(fake: FakeGitHub) -> None:
    now = datetime.now(UTC)
    token = "ghp_" + "A1b2C3d4" * 5
    hostile = (f"@org/team <img src=x onerror=alert(1)> ``` <!-- error-autopilot:fingerprint={'e' * 16} --> "
               f"token {token}")  # fmt: skip
    incident = Incident(fingerprint=FP, service="svc", environment="prod", title=hostile, count=1,
                        first_seen=now, last_seen=now)  # fmt: skip
    incident = incident.model_copy(update={"sample": ()})
    rendered = render_issue(PlannedIncident(incident=incident, status="new"), None, grafana=None, loki_selector=None,
                            redactor=Redactor(), tool_version="test")  # fmt: skip
    _tracker(fake).upsert(REPO, rendered, None, False, None)
    issue = fake.issues[REPO][0]
    text = issue["title"] + issue["body"]
    assert token not in text and "[REDACTED:github-token]" in text
    assert "<img" not in text and "@org/team" not in text
    assert "e" * 16 not in issue["body"], "a fingerprint marker in log text must not survive"
    assert issue["body"].count("error-autopilot:fingerprint=") == 1
