"""GitHub sink edge cases against the fake GitHub: later runs, stale state, refused searches, the token
on the wire, and PRs a person closed. The everyday paths are in test_github_issue_tracker.py,
test_github_issues.py and test_github_change_proposer.py."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import github
import pytest

from error_autopilot.demo.httpserver import LoopbackServer, Request, Response
from error_autopilot.domain.errors import SinkError
from error_autopilot.ports import ProposedChange, RenderedIssue
from error_autopilot.sinks.github_issues import GitHubIssueTracker
from error_autopilot.sinks.github_prs import GitHubChangeProposer
from error_autopilot.sinks.markers import MARKER
from error_autopilot.state.model import IssueRef
from tests.support.fakes.github import FakeGitHub
from tests.support.world import git

REPO = "acme/ops"
FP = "0123456789abcdef"
LABELS = ("error-autopilot", "env:prod", "service:svc")


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub() as f:
        yield f
        assert f.server.unexpected == []


def _gh(fake: FakeGitHub, *, auth: bool = True) -> github.Github:
    return github.Github(base_url=fake.url, auth=github.Auth.Token("t") if auth else None, retry=None,
                         seconds_between_requests=0, seconds_between_writes=0)  # fmt: skip


def _tracker(fake: FakeGitHub) -> GitHubIssueTracker:
    sleeps: list[float] = []
    return GitHubIssueTracker(_gh(fake), retry_sleep=sleeps.append)


def _issue(body: str = "summary", fp: str = FP) -> RenderedIssue:
    return RenderedIssue(title="[svc] boom", body=f"{body}\n{MARKER.format(fp=fp)}", labels=LABELS, fingerprint=fp)


def _requests(fake: FakeGitHub, method: str, suffix: str) -> int:
    return sum(1 for r in fake.server.requests if r.method == method and r.path.endswith(suffix))


def test_a_later_run_finds_its_labels_already_there_and_updates(fake: FakeGitHub) -> None:
    _tracker(fake).upsert(REPO, _issue("run 1"), None, False, None)
    before = _requests(fake, "POST", "/labels")
    outcome = _tracker(fake).upsert(REPO, _issue("run 2"), None, False, None)  # a new process: no label cache
    assert outcome.action == "updated"
    assert _requests(fake, "POST", "/labels") > before, "the second run asked again and got 422 already_exists"
    assert len(fake.issues[REPO]) == 1 and "run 2" in fake.issues[REPO][0]["body"]
    assert fake.labels[REPO] >= {*LABELS, "regressed"}


def test_a_known_number_that_carries_another_marker_is_left_alone(fake: FakeGitHub) -> None:
    tracker = _tracker(fake)
    other = tracker.upsert(REPO, _issue("other bug", fp="a" * 16), None, False, None).ref
    stale = IssueRef(repo=REPO, number=other.number, url=other.url)  # state pointing at the wrong issue
    outcome = tracker.upsert(REPO, _issue("this bug"), stale, False, None)
    assert outcome.action == "created" and outcome.ref.number != other.number
    assert "other bug" in fake.issues[REPO][0]["body"] and "this bug" not in fake.issues[REPO][0]["body"]


def test_a_found_issue_costs_no_label_listing(fake: FakeGitHub) -> None:
    tracker = _tracker(fake)
    tracker.upsert(REPO, _issue(), None, False, None)
    listed = _requests(fake, "GET", f"/repos/{REPO}/issues")
    assert tracker.upsert(REPO, _issue("again"), None, False, None).action == "updated"
    assert _requests(fake, "GET", f"/repos/{REPO}/issues") == listed, "search found it: no listing needed"


def test_a_search_github_refuses_as_invalid_falls_back_to_the_label_listing() -> None:
    repo = "acme/" + "r" * 200  # the query goes over GitHub's 256 characters → 422
    with FakeGitHub({repo: None}) as fake:
        tracker = _tracker(fake)
        tracker.upsert(repo, _issue(), None, False, None)
        assert tracker.upsert(repo, _issue("again"), None, False, None).action == "updated"
        assert len(fake.issues[repo]) == 1 and fake.search_calls >= 1
        assert fake.server.unexpected == []


def test_comments_only_when_given_and_a_reopen_always_says_why(fake: FakeGitHub) -> None:
    tracker = _tracker(fake)
    ref = tracker.upsert(REPO, _issue(), None, False, None).ref
    tracker.upsert(REPO, _issue(), ref, False, None)
    assert fake.comments.get((REPO, ref.number), []) == []
    tracker.upsert(REPO, _issue(), ref, False, "📈 now also in staging")
    assert fake.comments[(REPO, ref.number)] == ["📈 now also in staging"]
    fake.issues[REPO][0]["state"] = "closed"
    assert tracker.find(REPO, FP) == ref.model_copy(update={"state": "closed"})
    assert tracker.upsert(REPO, _issue(), ref, True, None).action == "reopened"
    assert len(fake.comments[(REPO, ref.number)]) == 2 and "Regression" in fake.comments[(REPO, ref.number)][1]
    assert "regressed" in fake.issues[REPO][0]["labels"]


def test_an_unknown_repository_is_a_clear_error(fake: FakeGitHub) -> None:
    with pytest.raises(SinkError, match="HTTP 404: Not Found"):
        _tracker(fake).upsert("acme/missing", _issue(), None, False, None)


# --- draft PRs ---------------------------------------------------------------------------------------

PATCH = """diff --git a/app.py b/app.py
--- a/app.py
+++ b/app.py
@@ -1,2 +1,2 @@
 def name(user):
-    return user.nickname.strip()
+    return (user.nickname or "").strip()
"""
TOKEN = "ghs_s3cretT0ken"


def _remote(tmp: Path) -> Path:
    work, bare = tmp / "seed", tmp / "svc.git"
    work.mkdir()
    (work / "app.py").write_text("def name(user):\n    return user.nickname.strip()\n")
    git(work, "init", "-q", "-b", "main")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "seed")
    git(tmp, "clone", "-q", "--bare", str(work), str(bare))
    return bare


def _change(patch: str = PATCH, body: str = "Fixes #7\n\nfirst analysis") -> ProposedChange:
    return ProposedChange(repo="acme/svc", base_branch="main", base_commit="", fingerprint=FP, patch=patch,
                          title="fix: nickname may be null", body=body, issue_number=7)  # fmt: skip


def _proposer(fake: FakeGitHub, clone_url: str, tmp: Path) -> GitHubChangeProposer:
    return GitHubChangeProposer(_gh(fake), clone_url_for=lambda _: clone_url, work_dir=tmp / "prs", token=TOKEN,
                                bot_name="error-autopilot[bot]", bot_email="bot@example.com")  # fmt: skip


def test_a_second_proposal_replaces_the_branch_content_and_the_pr_body(tmp_path: Path) -> None:
    bare = _remote(tmp_path)
    with FakeGitHub({"acme/svc": bare}) as fake:
        proposer = _proposer(fake, str(bare), tmp_path)
        first, _ = proposer.propose(_change())
        v2 = PATCH.replace('(user.nickname or "").strip()', 'str(user.nickname or "").strip()')
        second, action = proposer.propose(_change(v2, body="second analysis"))
        assert (action, second.number, second.branch) == ("updated", first.number, first.branch)
        shown = git(tmp_path, "--git-dir", str(bare), "show", f"{first.branch}:app.py")
        assert 'str(user.nickname or "").strip()' in shown
        commits = git(tmp_path, "--git-dir", str(bare), "rev-list", "--count", f"main..{first.branch}")
        assert commits == "1", "the branch is rebuilt from the base, not stacked"
        pull = fake.pulls["acme/svc"][0]
        assert pull["body"].startswith("Fixes #7") and "second analysis" in pull["body"] and pull["draft"] is True
        assert len(fake.pulls["acme/svc"]) == 1 and not list((tmp_path / "prs").glob("*/.git"))
        assert fake.server.unexpected == []


def test_a_pr_a_person_closed_is_not_proposed_again(tmp_path: Path) -> None:
    bare = _remote(tmp_path)
    with FakeGitHub({"acme/svc": bare}) as fake:
        proposer = _proposer(fake, str(bare), tmp_path)
        first, _ = proposer.propose(_change())
        tip = git(tmp_path, "--git-dir", str(bare), "rev-parse", first.branch)
        fake.pulls["acme/svc"][0]["state"] = "closed"
        again, action = proposer.propose(_change(body="retry"))
        assert action == "none" and again.state == "closed" and again.number == first.number
        assert len(fake.pulls["acme/svc"]) == 1 and fake.pulls["acme/svc"][0]["body"] != "retry"
        assert git(tmp_path, "--git-dir", str(bare), "rev-parse", first.branch) == tip, "branch left as it was"
        assert fake.server.unexpected == []


def test_the_token_travels_as_a_header_never_in_the_url_or_an_error(tmp_path: Path) -> None:
    seen: list[Request] = []

    def refuse(req: Request) -> Response:
        seen.append(req)
        return Response.text("Repository not found.\n", 404)

    with LoopbackServer(refuse) as remote, FakeGitHub({"acme/svc": None}) as fake:
        with pytest.raises(SinkError, match="git clone failed") as info:
            _proposer(fake, f"{remote.url}/acme/svc.git", tmp_path).propose(_change())
        basic = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
        assert seen and all(r.headers.get("authorization") == f"Basic {basic}" for r in seen)
        assert all(TOKEN not in r.path and basic not in r.path for r in seen)
        assert TOKEN not in str(info.value) and basic not in str(info.value)
        assert fake.pulls["acme/svc"] == [] and fake.server.unexpected == []
