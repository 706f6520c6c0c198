"""GitHubIssueTracker (PyGithub) against a fake GitHub that follows the REST API: one living issue per bug."""

from __future__ import annotations

from collections.abc import Iterator

import github
import pytest

from error_autopilot.domain.errors import SinkError, SinkRateLimited
from error_autopilot.domain.incidents import SampleLine
from error_autopilot.sinks.github_issues import GitHubIssueTracker
from error_autopilot.sinks.markers import MARKER, parse_marker
from tests.support.fakes.github import FakeGitHub
from tests.unit.test_render import FP, HOSTILE, TOKEN, finding, issue, planned

REPO = "acme/ops"


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub() as f:
        yield f
        assert f.server.unexpected == []


def _gh(fake: FakeGitHub, token: str | None = "ghs_test") -> github.Github:
    auth = github.Auth.Token(token) if token else None
    return github.Github(base_url=fake.url, auth=auth, retry=None, seconds_between_requests=0,
                         seconds_between_writes=0)  # fmt: skip


def _tracker(fake: FakeGitHub, sleeps: list[float] | None = None) -> GitHubIssueTracker:
    return GitHubIssueTracker(_gh(fake), retry_sleep=(sleeps if sleeps is not None else []).append)


def test_the_same_incident_published_three_times_is_one_issue_updated_in_place(fake: FakeGitHub) -> None:
    tracker = _tracker(fake)
    actions = [tracker.upsert(REPO, issue(planned(count=n), finding()), None, False, None).action for n in (3, 5, 5)]
    assert actions == ["created", "updated", "unchanged"]
    assert len(fake.issues[REPO]) == 1 and fake.comments == {}
    only = fake.issues[REPO][0]
    assert "| count (this run) | 5 |" in only["body"] and parse_marker(only["body"]) == FP
    assert set(only["labels"]) == {"error-autopilot", "env:prod", "env:staging", "service:order-service",
                                   "null-dereference"}  # fmt: skip
    assert {"error-autopilot", "regressed", "null-dereference"} <= fake.labels[REPO]


def test_a_recurrence_without_a_finding_keeps_the_evidence(fake: FakeGitHub) -> None:
    tracker = _tracker(fake)
    tracker.upsert(REPO, issue(planned(), finding()), None, False, None)
    outcome = tracker.upsert(REPO, issue(planned(count=99), None), None, False, "📈 now also in staging")
    body = fake.issues[REPO][0]["body"]
    assert outcome.action == "updated" and "### Where:" in body and "| count (this run) | 99 |" in body
    assert fake.comments[(REPO, outcome.ref.number)] == ["📈 now also in staging"]


def test_a_closed_issue_that_recurs_is_reopened_with_label_and_comment(fake: FakeGitHub) -> None:
    tracker = _tracker(fake)
    ref = tracker.upsert(REPO, issue(planned(), finding()), None, False, None).ref
    fake.issues[REPO][0]["state"] = "closed"  # a person fixed it
    assert tracker.find(REPO, FP) == ref.model_copy(update={"state": "closed"})
    outcome = tracker.upsert(REPO, issue(planned("regressed"), finding()), ref, True, "🔁 back since 03:00")
    assert outcome.action == "reopened" and outcome.ref.state == "open" and outcome.ref.number == ref.number
    reopened = fake.issues[REPO][0]
    assert reopened["state"] == "open" and "regressed" in reopened["labels"] and len(fake.issues[REPO]) == 1
    assert fake.comments[(REPO, ref.number)] == ["🔁 back since 03:00"]


@pytest.mark.parametrize("search", ["lagging", "rate-limited"])
def test_no_duplicate_when_search_lags_or_is_rate_limited(fake: FakeGitHub, search: str) -> None:
    tracker = _tracker(fake)
    fake.search_lag, fake.rate_limit_search = (100, False) if search == "lagging" else (0, True)
    tracker.upsert(REPO, issue(planned(), finding()), None, False, None)
    retried = _tracker(fake)  # a retried run: no state, nothing cached
    assert retried.upsert(REPO, issue(planned(count=8), finding()), None, False, None).action == "updated"
    assert len(fake.issues[REPO]) == 1 and fake.search_calls >= 2
    assert any(r.path == f"/repos/{REPO}/issues" and r.param("labels") == "error-autopilot"
               for r in fake.server.requests)  # fmt: skip


def test_search_finds_the_issue_when_it_is_indexed(fake: FakeGitHub) -> None:
    tracker = _tracker(fake)
    created = tracker.upsert(REPO, issue(planned(), finding()), None, False, None).ref
    before = len(fake.server.requests)
    assert tracker.find(REPO, FP) == created
    listed = [r for r in fake.server.requests[before:] if r.path == f"/repos/{REPO}/issues"]
    query = next(r.param("q") for r in fake.server.requests[before:] if r.path == "/search/issues")
    assert listed == [] and f'"error-autopilot:fingerprint={FP}" in:body repo:{REPO} label:error-autopilot' in (
        query or ""
    )


def test_the_label_fallback_pages_through_many_issues(fake: FakeGitHub) -> None:
    tracker = _tracker(fake)
    fingerprints = [f"{n:016x}" for n in range(45)]
    for fp in fingerprints:
        number = len(fake.issues[REPO]) + 1
        fake.issues[REPO].append({"id": number, "number": number, "title": fp, "body": MARKER.format(fp=fp),
                                  "state": "open", "labels": ["error-autopilot"]})  # fmt: skip
    fake.rate_limit_search = True
    assert set(tracker.list_markers(REPO)) == set(fingerprints)
    assert tracker.find(REPO, fingerprints[-1]) is not None and tracker.find(REPO, "f" * 16) is None
    pages = {r.param("page") for r in fake.server.requests if r.path == f"/repos/{REPO}/issues"}
    assert "2" in pages


def test_a_secondary_rate_limit_is_waited_out_then_gives_up_clearly(fake: FakeGitHub) -> None:
    sleeps: list[float] = []
    fake.rate_limit_next_create = 1
    assert _tracker(fake, sleeps).upsert(REPO, issue(planned(), finding()), None, False, None).action == "created"
    assert sleeps == [3.0]  # GitHub's Retry-After
    fake.rate_limit_next_create = 10
    with pytest.raises(SinkRateLimited, match="secondary rate limit") as info:
        _tracker(fake, []).upsert(REPO, issue(planned(fingerprint="f" * 16), None), None, False, None)
    assert isinstance(info.value.__cause__, github.GithubException) and len(fake.issues[REPO]) == 1


def test_a_body_github_would_refuse_is_a_clear_error(fake: FakeGitHub) -> None:
    rendered = issue(planned(), None)
    too_long = rendered.__class__(title=rendered.title, body="x" * 70_000 + rendered.body, labels=rendered.labels,
                                  fingerprint=FP)  # fmt: skip
    with pytest.raises(SinkError, match="body is too long") as info:
        _tracker(fake).upsert(REPO, too_long, None, False, None)
    assert isinstance(info.value.__cause__, github.GithubException) and fake.issues[REPO] == []


def test_missing_credentials_are_a_sink_error_with_githubs_message(fake: FakeGitHub) -> None:
    with pytest.raises(SinkError, match="Requires authentication"):
        GitHubIssueTracker(_gh(fake, token=None), retry_sleep=[].append).upsert(
            REPO, issue(planned(), None), None, False, None
        )


def test_hostile_log_text_reaches_github_inert_and_redacted(fake: FakeGitHub) -> None:
    hostile = planned(title=HOSTILE, sample=(SampleLine(line_id="l1", ts_ns=1, text=HOSTILE),))
    _tracker(fake).upsert(REPO, issue(hostile, finding()), None, False, None)
    created = fake.issues[REPO][0]
    text = created["title"] + created["body"]
    assert TOKEN not in text and "[REDACTED:github-token]" in text
    assert "<img" not in created["title"] and "@org" not in created["title"]
    assert "e" * 16 not in created["body"] and parse_marker(created["body"]) == FP
    assert created["body"].count("error-autopilot:fingerprint=") == 1


def test_the_fake_speaks_githubs_dispatch_and_search_rules(fake: FakeGitHub) -> None:
    repo = _gh(fake).get_repo(REPO)
    assert repo.create_repository_dispatch("error-autopilot", {"service": "user-service"}) is True
    assert fake.dispatches == [("error-autopilot", {"service": "user-service"})]
    requester = _gh(fake).requester
    refusals = [("x" * 101, {}, "event_type"), ("ok", {f"k{n}": n for n in range(11)}, "No more than 10 properties")]
    for event_type, payload, message in refusals:
        status, _, data = requester.requestJson(
            "POST", f"/repos/{REPO}/dispatches", input={"event_type": event_type, "client_payload": payload}
        )
        assert status == 422 and message in data
    assert len(fake.dispatches) == 1
    with pytest.raises(github.GithubException) as info:
        list(_gh(fake).search_issues("x" * 300))
    assert info.value.status == 422
