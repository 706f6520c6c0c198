"""GitHubIssueTracker's lifecycle calls against the fake GitHub: one listing of changed issues, the
commit that closed an issue, a merged PR's merge commit, a note that leaves the issue closed, and
labels created once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import github
import pytest

from error_autopilot.ports import RenderedIssue
from error_autopilot.sinks.github_issues import GitHubIssueTracker
from error_autopilot.sinks.render import MARKER
from tests.support.fakes.github import FakeGitHub

REPO = "acme/ops"
T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub() as f:
        f.now = lambda: T0
        yield f
        assert f.server.unexpected == []


def _tracker(fake: FakeGitHub) -> GitHubIssueTracker:
    gh = github.Github(base_url=fake.url, auth=github.Auth.Token("t"), retry=None,
                       seconds_between_requests=0, seconds_between_writes=0)  # fmt: skip
    return GitHubIssueTracker(gh, retry_sleep=lambda _s: None)


def _file(tracker: GitHubIssueTracker, fp: str) -> int:
    issue = RenderedIssue(title=f"boom {fp[:4]}", body=f"x\n{MARKER.format(fp=fp)}",
                          labels=("error-autopilot", "env:prod"), fingerprint=fp)  # fmt: skip
    return tracker.upsert(REPO, issue, None, False, None).ref.number


def test_one_listing_returns_what_people_changed_since_the_last_sync(fake: FakeGitHub) -> None:
    tracker = _tracker(fake)
    first, second, third = (_file(tracker, fp * 16) for fp in "abc")
    fake.now = lambda: T0 + timedelta(hours=1)
    fake.close(REPO, first, commit_id="c" * 40)
    fake.close(REPO, second, reason="not_planned")
    requests: list[str] = []
    fake.on_request = lambda req: requests.append(f"{req.method} {req.path}")
    changes = tracker.changes_since(REPO, T0 + timedelta(minutes=30))
    assert [(c.number, c.state, c.state_reason) for c in changes] == [
        (first, "closed", "completed"), (second, "closed", "not_planned")]  # fmt: skip
    assert third not in [c.number for c in changes] and requests == [f"GET /repos/{REPO}", f"GET /repos/{REPO}/issues"]
    assert tracker.fix_commit(REPO, first) == "c" * 40
    assert tracker.fix_commit(REPO, second) is None


def test_a_note_comments_and_labels_without_reopening(fake: FakeGitHub) -> None:
    tracker = _tracker(fake)
    number = _file(tracker, "d" * 16)
    fake.close(REPO, number)
    tracker.note(REPO, number, "✅ verified", "verified")
    issue = fake.issues[REPO][0]
    assert issue["state"] == "closed" and "verified" in issue["labels"]
    assert fake.comments[(REPO, number)] == ["✅ verified"]


def test_labels_remembered_are_not_created_again(fake: FakeGitHub) -> None:
    tracker = _tracker(fake)
    _file(tracker, "e" * 16)
    posts = fake.label_posts
    assert posts == 4  # error-autopilot, env:prod, regressed, verified
    again = _tracker(fake)
    again.remember_labels(tracker.known_labels())
    _file(again, "f" * 16)
    assert fake.label_posts == posts
    fresh = _tracker(fake)  # what every run did before labels were kept in state
    _file(fresh, "1" * 16)
    assert fake.label_posts == 2 * posts


def test_a_merged_pull_request_names_its_merge_commit(fake: FakeGitHub) -> None:
    fake.pulls[REPO].append({"id": 1, "number": 7, "title": "fix", "body": "", "state": "open", "draft": True,
                             "merged_at": None, "merge_commit_sha": None, "head": "b", "base": "main",
                             "merged": False})  # fmt: skip
    tracker = _tracker(fake)
    assert tracker.merge_commit(REPO, 7) is None
    fake.merge(REPO, 7, "9" * 40)
    assert tracker.merge_commit(REPO, 7) == "9" * 40
