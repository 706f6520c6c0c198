"""Draft PRs: a real bare repo as the remote, the fake GitHub for the pulls API. Nothing is ever merged."""

from __future__ import annotations

from pathlib import Path

import github
import pytest

from error_autopilot.domain.errors import SinkError
from error_autopilot.ports import ProposedChange
from error_autopilot.sinks.github_prs import GitHubChangeProposer, branch_for
from tests.support.fakes.github import FakeGitHub
from tests.support.world import git

FP = "0123456789abcdef"
SECRET = "ghs_" + "S3cr3t" * 6
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


def _change(patch: str = PATCH, title: str = "fix: nickname may be null", body: str = "A draft.") -> ProposedChange:
    return ProposedChange(repo="acme/svc", base_branch="main", base_commit="", fingerprint=FP, patch=patch,
                          title=title, body=body, issue_number=7)  # fmt: skip


def _proposer(fake: FakeGitHub, remote: Path | str, tmp: Path) -> GitHubChangeProposer:
    gh = github.Github(base_url=fake.url, auth=github.Auth.Token("t"), retry=None,
                       seconds_between_requests=0, seconds_between_writes=0)  # fmt: skip
    return GitHubChangeProposer(gh, clone_url_for=lambda _: str(remote), work_dir=tmp / "prs", token=SECRET,
                                bot_name="error-autopilot[bot]", bot_email="bot@example.com")  # fmt: skip


def test_a_draft_pr_is_opened_then_updated_never_duplicated(tmp_path: Path) -> None:
    bare = _remote(tmp_path)
    with FakeGitHub({"acme/svc": bare}) as fake:
        proposer = _proposer(fake, bare, tmp_path)
        first, action = proposer.propose(_change())
        assert action == "created" and first.branch == branch_for(FP) == "error-autopilot/0123456789"
        pull = fake.pulls["acme/svc"][0]
        assert pull["draft"] is True and pull["body"].startswith("Fixes #7") and pull["base"] == "main"
        assert '(user.nickname or "").strip()' in git(
            tmp_path, "--git-dir", str(bare), "show", f"{first.branch}:app.py"
        )
        log = git(tmp_path, "--git-dir", str(bare), "log", "-1", "--format=%an|%ae|%B", first.branch)
        assert log.startswith("error-autopilot[bot]|bot@example.com|fix: nickname may be null") and "Fixes #7" in log
        assert git(tmp_path, "--git-dir", str(bare), "rev-parse", "main") == git(
            tmp_path, "--git-dir", str(bare), "rev-parse", f"{first.branch}~1"
        ), "branched from the base branch head; main itself untouched"
        second, action = proposer.propose(_change(title="fix: nickname may be null (v2)", body="Fixes #7\n\nv2"))
        assert action == "updated" and second == first
        assert len(fake.pulls["acme/svc"]) == 1 and fake.pulls["acme/svc"][0]["title"].endswith("(v2)")
        assert fake.pulls["acme/svc"][0]["merged_at"] is None and fake.server.unexpected == []
        assert not (tmp_path / "prs" / FP).exists(), "the working clone is removed"


def test_a_pr_a_person_closed_is_left_alone(tmp_path: Path) -> None:
    bare = _remote(tmp_path)
    with FakeGitHub({"acme/svc": bare}) as fake:
        proposer = _proposer(fake, bare, tmp_path)
        proposer.propose(_change())
        fake.pulls["acme/svc"][0]["state"] = "closed"
        pushed = git(tmp_path, "--git-dir", str(bare), "rev-parse", branch_for(FP))
        ref, action = proposer.propose(_change(title="again"))
        assert action == "none" and ref.state == "closed" and len(fake.pulls["acme/svc"]) == 1
        assert git(tmp_path, "--git-dir", str(bare), "rev-parse", branch_for(FP)) == pushed


def test_a_patch_that_does_not_apply_opens_nothing_and_says_why(tmp_path: Path) -> None:
    bare = _remote(tmp_path)
    with FakeGitHub({"acme/svc": bare}) as fake:
        with pytest.raises(SinkError, match=r"does not apply.*patch failed") as info:
            _proposer(fake, bare, tmp_path).propose(_change(PATCH.replace("user.nickname.strip()", "user.other()")))
        assert info.value.__cause__ is not None and fake.pulls["acme/svc"] == []
        assert "error-autopilot" not in git(tmp_path, "--git-dir", str(bare), "branch")


def test_a_git_failure_never_shows_the_token(tmp_path: Path) -> None:
    with FakeGitHub({"acme/svc": None}) as fake:
        with pytest.raises(SinkError, match="git clone failed") as info:
            _proposer(fake, tmp_path / "missing.git", tmp_path).propose(_change())
        assert SECRET not in str(info.value) and fake.pulls["acme/svc"] == []


def test_the_fake_refuses_a_pr_whose_branch_was_never_pushed(tmp_path: Path) -> None:
    bare = _remote(tmp_path)
    with FakeGitHub({"acme/svc": bare}) as fake:
        gh = github.Github(base_url=fake.url, auth=github.Auth.Token("t"), retry=None)
        with pytest.raises(github.GithubException) as info:
            gh.get_repo("acme/svc").create_pull(base="main", head="nope", title="t", body="b", draft=True)
        assert info.value.status == 422 and info.value.data["message"] == "Validation Failed"
        assert fake.pulls["acme/svc"] == []
