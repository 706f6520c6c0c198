"""GitWorkspace and blame against real git repositories (bare remotes in tmp_path)."""

from __future__ import annotations

import base64
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from error_autopilot.demo.httpserver import LoopbackServer, Request, Response
from error_autopilot.demo.scenario import build_repos
from error_autopilot.domain.errors import WorkspaceError
from error_autopilot.domain.findings import CodeLocation
from error_autopilot.investigation.blame import listing, snippet, suspects
from error_autopilot.investigation.checkout import GitWorkspace


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


_CLOCK = iter(range(1_790_000_000, 1_800_000_000, 3600))


def commit(work: Path, message: str) -> str:
    """Commit everything, an hour after the previous commit (so "newest first" is well defined)."""
    when = f"{next(_CLOCK)} +0000"
    env = {**os.environ, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
    git(work, "add", "-A")
    subprocess.run(["git", "commit", "-q", "-m", message], cwd=work, check=True, capture_output=True, env=env)
    return git(work, "rev-parse", "HEAD")


class Repo:
    """A work tree with history, pushed to a bare remote."""

    def __init__(self, root: Path) -> None:
        self.work, self.remote = root / "work", root / "remote.git"
        self.work.mkdir()
        git(self.work, "init", "-q", "-b", "main")
        src = self.work / "src" / "app.py"
        src.parent.mkdir()
        src.write_text("".join(f"line {i}\n" for i in range(1, 21)))
        self.first = commit(self.work, "Initial import")
        git(self.work, "tag", "v1.2.3")
        src.write_text(src.read_text().replace("line 10\n", "value = user.nickname.strip()\n"))
        self.bug = commit(self.work, "Show nickname in display name (#42)")
        (self.work / "README.md").write_text("docs\n")
        self.head = commit(self.work, "Merge pull request #7 from acme/docs")
        git(root, "clone", "-q", "--bare", str(self.work), str(self.remote))
        git(self.remote, "config", "uploadpack.allowFilter", "true")


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path)


def test_checkout_at_a_sha(repo: Repo, tmp_path: Path) -> None:
    ws = GitWorkspace(tmp_path / "cache")
    out = ws.checkout(str(repo.remote), repo.first[:10], "main", None)
    assert out.commit == repo.first
    assert out.ref_source == f"commit {repo.first[:10]} (deployed version)"
    assert "nickname" not in (out.path / "src/app.py").read_text()
    assert git(out.path, "rev-parse", "HEAD") == repo.first
    assert ws.checkout(str(repo.remote), repo.first[:10], "main", None) is out


def test_checkout_at_a_tag_via_tag_pattern(repo: Repo, tmp_path: Path) -> None:
    out = GitWorkspace(tmp_path / "cache").checkout(str(repo.remote), "1.2.3", "main", "v{version}")
    assert (out.commit, out.ref_source) == (repo.first, "tag v1.2.3")


def test_unknown_version_falls_back_to_branch_head(repo: Repo, tmp_path: Path) -> None:
    ws = GitWorkspace(tmp_path / "cache")
    out = ws.checkout(str(repo.remote), "9.9.9", "main", "v{version}")
    assert out.commit == repo.head
    assert out.ref_source == "branch main head (version '9.9.9' not found in the repository)"
    unknown = ws.checkout(str(repo.remote), None, "main", None)
    assert unknown.ref_source == "branch main head (deployed version unknown)"
    with pytest.raises(WorkspaceError, match="branch 'release' not found"):
        ws.checkout(str(repo.remote), "0.0.1", "release", None)


def test_a_second_run_fetches_new_commits(repo: Repo, tmp_path: Path) -> None:
    GitWorkspace(tmp_path / "cache").checkout(str(repo.remote), None, "main", None)
    (repo.work / "new.txt").write_text("new\n")
    newer = commit(repo.work, "Newer")
    git(repo.work, "push", "-q", str(repo.remote), "main")
    out = GitWorkspace(tmp_path / "cache").checkout(str(repo.remote), None, "main", None)
    assert out.commit == newer
    assert (out.path / "new.txt").read_text() == "new\n"


def test_partial_clone_is_used(repo: Repo, tmp_path: Path) -> None:
    out = GitWorkspace(tmp_path / "cache").checkout(f"file://{repo.remote}", repo.first, "main", None)
    assert git(out.path, "config", "remote.origin.partialclonefilter") == "blob:none"
    assert git(out.path, "config", "remote.origin.promisor") == "true"
    missing = [
        o for o in git(out.path, "rev-list", "--objects", "--all", "--missing=print").splitlines() if o[0] == "?"
    ]
    assert missing, "blobs of commits that were not checked out should stay on the remote"
    assert suspects(out.path, out.commit, "src/app.py", 10, None)  # blame fetches what it needs on demand


def test_unclonable_repo_error_has_no_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")
    token = "ghp_SuperSecretToken1234567890"
    seen: list[str] = []

    def app(req: Request) -> Response:
        seen.append(req.headers.get("authorization", ""))
        return Response.text("Repository not found.\n", 404)

    with LoopbackServer(app) as server:
        ws = GitWorkspace(tmp_path / "cache", github_url=server.url, token=token)
        with pytest.raises(WorkspaceError) as caught:
            ws.checkout("acme/missing", "abc1234", "main", None)
        with pytest.raises(WorkspaceError) as in_url:
            ws.checkout(
                f"{server.url.replace('http://', f'http://x-access-token:{token}@')}/acme/x.git", None, "main", None
            )
    assert "cannot clone" in caught.value.message
    for error in (caught.value, in_url.value):
        assert token not in error.message and token not in str(error)
    expected = "Basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()
    assert expected in seen  # the token travelled as a header
    assert not (tmp_path / "cache").exists() or token not in "".join(
        p.read_text(errors="replace") for p in (tmp_path / "cache").rglob("config") if p.is_file()
    )


def test_symlink_pointing_outside_is_only_a_name(repo: Repo, tmp_path: Path) -> None:
    (repo.work / "secrets").symlink_to("/etc/passwd")
    linked = commit(repo.work, "Add a link")
    git(repo.work, "push", "-q", str(repo.remote), "main")
    out = GitWorkspace(tmp_path / "cache").checkout(str(repo.remote), linked, "main", None)
    files = listing(out.path, out.commit)
    assert "secrets" in files and "src/app.py" in files
    location = CodeLocation(repo="r", commit=out.commit, path="secrets", line=1)
    assert snippet(out.path, location) is None
    outside = CodeLocation(repo="r", commit=out.commit, path="../../../../etc/passwd", line=1)
    assert snippet(out.path, outside) is None


def test_suspects_and_snippet(repo: Repo, tmp_path: Path) -> None:
    out = GitWorkspace(tmp_path / "cache").checkout(str(repo.remote), repo.head, "main", None)
    found = suspects(out.path, out.commit, "src/app.py", 10, "https://github.com/acme/app")
    assert found[0].sha == repo.bug
    assert found[0].summary == "Show nickname in display name (#42)"
    assert found[0].pr_number == 42
    assert found[0].author == "Test Author"
    assert found[0].url == f"https://github.com/acme/app/commit/{repo.bug}"
    assert found[0].reason == "last changed line 10"  # each commit gets exactly its own lines
    assert [(s.sha, s.reason) for s in found[1:]] == [(repo.first, "last changed lines 7–9, 11–13, near line 10")]
    at_the_end = suspects(out.path, out.commit, "src/app.py", 19, None)  # 20 lines: the range stops at the file
    assert [s.reason for s in at_the_end] == ["last changed lines 16–20", "recent change to app.py"]
    readme = suspects(out.path, out.commit, "README.md", None, None)
    assert [(s.sha, s.pr_number) for s in readme] == [(repo.head, 7)]
    snip = snippet(out.path, CodeLocation(repo="r", commit=out.commit, path="src/app.py", line=10))
    assert snip is not None and snip.start_line == 1
    assert snip.lines[9] == "value = user.nickname.strip()"
    assert suspects(out.path, out.commit, "src/app.py", 500, None)  # past the end: history still answers


def _clone_seconds(url: str, dest: Path, *extra: str) -> float:
    started = time.perf_counter()
    subprocess.run(["git", "clone", "-q", "--no-checkout", *extra, url, str(dest)], check=True, capture_output=True)
    return time.perf_counter() - started


def test_clone_time_partial_vs_full_for_demo_repos(tmp_path: Path) -> None:
    repos = build_repos(tmp_path / "demo", int(time.time()))
    partial_total = full_total = workspace_total = 0.0
    for name, demo in repos.items():
        git(demo.remote, "config", "uploadpack.allowFilter", "true")
        url = f"file://{demo.remote}"
        full_total += _clone_seconds(url, tmp_path / "full" / name)
        partial_total += _clone_seconds(url, tmp_path / "partial" / name, "--filter=blob:none")
        ws = GitWorkspace(tmp_path / "ws" / name)
        assert ws.checkout(str(demo.remote), demo.head, "main", None).commit == demo.head
        workspace_total += ws.clone_seconds
    print(  # the figure is the point of this test (pytest -s)
        f"\nclone of {len(repos)} demo repos: full {full_total * 1000:.0f} ms, partial {partial_total * 1000:.0f} ms, "
        f"GitWorkspace (local path) {workspace_total * 1000:.0f} ms"
    )
    assert workspace_total < 30


def test_two_deployed_versions_at_once_never_move_each_others_files(repo: Repo, tmp_path: Path) -> None:
    ws = GitWorkspace(tmp_path / "cache")
    with ThreadPoolExecutor(max_workers=4) as pool:
        outs = list(pool.map(lambda v: ws.checkout(str(repo.remote), v, "main", None), [repo.first, repo.bug] * 3))
    old, new = outs[0], outs[1]
    assert old.path != new.path and {o.path for o in outs} == {old.path, new.path}
    assert git(old.path, "rev-parse", "HEAD") == repo.first and git(new.path, "rev-parse", "HEAD") == repo.bug
    assert "nickname" not in (old.path / "src" / "app.py").read_text()
    assert "nickname" in (new.path / "src" / "app.py").read_text()
    again = GitWorkspace(tmp_path / "cache").checkout(str(repo.remote), repo.first, "main", None)
    assert again.path == old.path, "a later run reuses the worktree of the same commit"


def test_clone_token_goes_only_to_the_github_host(repo: Repo, tmp_path: Path) -> None:
    token = "ghp_OnlyForGitHub1234567890"
    git(repo.remote, "update-server-info")  # served as static files: git's "dumb" HTTP protocol
    seen: list[str] = []

    def app(req: Request) -> Response:
        seen.append(req.headers.get("authorization", ""))
        file = repo.remote / req.path.split("/remote.git/", 1)[-1]
        if "/remote.git/" not in req.path or not file.is_file():
            return Response.text("not found\n", 404)
        return Response(200, file.read_bytes(), {"Content-Type": "application/octet-stream"})

    with LoopbackServer(app) as server:
        elsewhere = GitWorkspace(tmp_path / "a", github_url="https://github.com", token=token)
        out = elsewhere.checkout(f"{server.url}/remote.git", repo.first, "main", None)
        assert git(out.path, "rev-parse", "HEAD") == repo.first
        assert seen and not any(seen), "the token must not travel to another host"
        seen.clear()
        GitWorkspace(tmp_path / "b", github_url=server.url, token=token).checkout(
            f"{server.url}/remote.git", repo.first, "main", None
        )
        assert seen and all(h.startswith("Basic ") for h in seen)


def test_a_symlink_inside_the_repository_is_never_followed(repo: Repo, tmp_path: Path) -> None:
    (repo.work / "src" / "Config.java").symlink_to("../.git/config")
    (repo.work / "src" / "Passwd.java").symlink_to("/etc/passwd")
    (repo.work / "src" / "Alias.java").symlink_to("app.py")  # stays inside the checkout when resolved
    linked = commit(repo.work, "Add links")
    git(repo.work, "push", "-q", str(repo.remote), "main")
    out = GitWorkspace(tmp_path / "cache").checkout(str(repo.remote), linked, "main", None)
    for path in ("src/Config.java", "src/Passwd.java", "src/Alias.java"):
        assert snippet(out.path, CodeLocation(repo="r", commit=out.commit, path=path, line=1)) is None
    shown = snippet(out.path, CodeLocation(repo="r", commit=out.commit, path="src/app.py", line=10))
    assert shown is not None and any("nickname" in line for line in shown.lines)
    (out.path / "src" / "app.py").write_text("edited in the work tree\n")
    again = snippet(out.path, CodeLocation(repo="r", commit=out.commit, path="src/app.py", line=10))
    assert again == shown, "the snippet is the commit's, not whatever the work tree holds"
