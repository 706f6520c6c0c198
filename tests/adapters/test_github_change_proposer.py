"""Draft PRs: a real bare repo as the remote, the fake GitHub for the pulls API."""

from __future__ import annotations

from pathlib import Path

import github
import pytest

from error_autopilot.domain.errors import SinkError
from error_autopilot.ports import ProposedChange
from error_autopilot.sinks.github_prs import GitHubChangeProposer
from tests.support.fakes.github import FakeGitHub
from tests.support.world import git

PATCH = """diff --git a/app.py b/app.py
--- a/app.py
+++ b/app.py
@@ -1,2 +1,2 @@
 def name(user):
-    return user.nickname.strip()
+    return (user.nickname or "").strip()
"""


def _remote(tmp: Path) -> Path:
    work, bare = tmp / "seed", tmp / "svc.git"
    work.mkdir()
    (work / "app.py").write_text("def name(user):\n    return user.nickname.strip()\n")
    git(work, "init", "-q", "-b", "main")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "seed")
    git(tmp, "clone", "-q", "--bare", str(work), str(bare))
    return bare


def _change(patch: str = PATCH, title: str = "fix: nickname may be null") -> ProposedChange:
    return ProposedChange(repo="acme/svc", base_branch="main", base_commit="", fingerprint="0123456789abcdef",
                          patch=patch, title=title, body="Fixes #7\n\nA draft for review.", issue_number=7)  # fmt: skip


def _proposer(fake: FakeGitHub, bare: Path, tmp: Path) -> GitHubChangeProposer:
    gh = github.Github(base_url=fake.url, auth=github.Auth.Token("t"), retry=None,
                       seconds_between_requests=0, seconds_between_writes=0)  # fmt: skip
    return GitHubChangeProposer(gh, clone_url_for=lambda _: str(bare), work_dir=tmp / "prs", token="s3cret",
                                bot_name="error-autopilot[bot]", bot_email="bot@example.com")  # fmt: skip


def test_a_draft_pr_is_opened_then_updated_never_duplicated(tmp_path: Path) -> None:
    bare = _remote(tmp_path)
    with FakeGitHub({"acme/svc": bare}) as fake:
        proposer = _proposer(fake, bare, tmp_path)
        first, action = proposer.propose(_change())
        assert action == "created" and first.branch == "error-autopilot/0123456789"
        pull = fake.pulls["acme/svc"][0]
        assert pull["draft"] is True and "Fixes #7" in pull["body"] and pull["base"] == "main"
        shown = git(tmp_path, "--git-dir", str(bare), "show", f"{first.branch}:app.py")
        assert '(user.nickname or "").strip()' in shown
        author = git(tmp_path, "--git-dir", str(bare), "log", "-1", "--format=%an", first.branch)
        assert author == "error-autopilot[bot]"
        second, action = proposer.propose(_change(title="fix: nickname may be null (v2)"))
        assert action == "updated" and second.number == first.number
        assert len(fake.pulls["acme/svc"]) == 1 and fake.pulls["acme/svc"][0]["title"].endswith("(v2)")
        assert fake.server.unexpected == []


def test_a_patch_that_does_not_apply_opens_nothing(tmp_path: Path) -> None:
    bare = _remote(tmp_path)
    with FakeGitHub({"acme/svc": bare}) as fake:
        with pytest.raises(SinkError, match="does not apply"):
            _proposer(fake, bare, tmp_path).propose(_change(PATCH.replace("user.nickname.strip()", "user.other()")))
        assert fake.pulls["acme/svc"] == []


def test_the_fake_refuses_a_pr_whose_branch_was_never_pushed(tmp_path: Path) -> None:
    bare = _remote(tmp_path)
    with FakeGitHub({"acme/svc": bare}) as fake:
        gh = github.Github(base_url=fake.url, auth=github.Auth.Token("t"), retry=None)
        with pytest.raises(github.GithubException) as info:
            gh.get_repo("acme/svc").create_pull(base="main", head="nope", title="t", body="b", draft=True)
        assert info.value.status == 422
