"""The clone cache kept across runs, and the one-request fetch of a file's history before blame: real
git, bare remotes served over file:// (so the partial-clone protocol is really spoken) or loopback HTTP."""

from __future__ import annotations

import base64
import gc
import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from error_autopilot.demo.httpserver import LoopbackServer, Request, Response
from error_autopilot.domain.errors import WorkspaceError
from error_autopilot.investigation.blame import suspects
from error_autopilot.investigation.checkout import GitWorkspace
from error_autopilot.investigation.clonecache.clones import cache_folder_name
from error_autopilot.investigation.clonecache.lock import LockTimeout, exclusive
from error_autopilot.resilience import Deadline
from tests.adapters.test_repo_checkout_blame import Repo, commit, git
from tests.conftest import REPO_ROOT


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path)


def _url(repo: Repo) -> str:
    return f"file://{repo.remote}"  # a plain path would make a local (hard-linked, unfiltered) clone


def _clone_of(checkout_path: Path) -> Path:
    """The cached clone a worktree belongs to."""
    return Path(git(checkout_path, "rev-parse", "--path-format=absolute", "--git-common-dir")).parent


def _missing(clone: Path, *paths: str) -> list[str]:
    """Object ids the partial clone lacks (for `paths` only, when given), without fetching any."""
    out = git(clone, "rev-list", "--objects", "--missing=print", "--all", "--", *paths)
    return [line[1:] for line in out.splitlines() if line.startswith("?")]


def _packs(clone: Path) -> set[str]:
    return {p.name for p in (clone / ".git" / "objects" / "pack").glob("*.pack")}


def test_a_later_run_fetches_into_the_cached_clone_instead_of_cloning(repo: Repo, tmp_path: Path) -> None:
    first = GitWorkspace(tmp_path / "cache").checkout(_url(repo), None, "main", None)
    clone = _clone_of(first.path)
    (clone / ".git" / "cloned-by-the-first-run").write_text("marker\n")
    (repo.work / "new.txt").write_text("new\n")
    newer = commit(repo.work, "Newer")
    git(repo.work, "push", "-q", str(repo.remote), "main")

    second = GitWorkspace(tmp_path / "cache").checkout(_url(repo), None, "main", None)
    assert second.commit == newer and (second.path / "new.txt").read_text() == "new\n"
    assert _clone_of(second.path) == clone
    assert (clone / ".git" / "cloned-by-the-first-run").exists(), "the clone was made again, not fetched"
    assert git(clone, "config", "remote.origin.promisor") == "true"


def test_a_force_pushed_remote_is_followed(repo: Repo, tmp_path: Path) -> None:
    GitWorkspace(tmp_path / "cache").checkout(_url(repo), None, "main", None)
    git(repo.work, "reset", "-q", "--hard", repo.bug)  # drop the head commit and write another in its place
    (repo.work / "src" / "app.py").write_text((repo.work / "src" / "app.py").read_text().replace("line 12", "x = 1"))
    rewritten = commit(repo.work, "Rewritten history")
    git(repo.work, "push", "-q", "--force", str(repo.remote), "main")

    out = GitWorkspace(tmp_path / "cache").checkout(_url(repo), None, "main", None)
    assert out.commit == rewritten
    found = suspects(out.path, out.commit, "src/app.py", 12, None)
    assert found[0].sha == rewritten and found[0].reason == "last changed line 12"


@pytest.mark.parametrize("damage", ["garbage HEAD", "truncated packs", "a clone of another repository"])
def test_a_damaged_clone_is_detected_and_made_again(
    damage: str, repo: Repo, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clone = _clone_of(GitWorkspace(tmp_path / "cache").checkout(_url(repo), None, "main", None).path)
    (clone / ".git" / "cloned-by-the-first-run").write_text("marker\n")
    if damage == "garbage HEAD":
        (clone / ".git" / "HEAD").write_text("not a ref\n")
    elif damage == "truncated packs":
        for pack in (clone / ".git" / "objects" / "pack").glob("*.pack"):
            pack.write_bytes(pack.read_bytes()[: pack.stat().st_size // 2])
    else:
        git(clone, "remote", "set-url", "origin", f"file://{tmp_path}/elsewhere.git")

    out = GitWorkspace(tmp_path / "cache").checkout(_url(repo), repo.bug, "main", None)
    assert out.commit == repo.bug and "nickname" in (out.path / "src" / "app.py").read_text()
    assert not (clone / ".git" / "cloned-by-the-first-run").exists(), "the damaged clone was kept"
    assert "cannot be used" in caplog.text and "cloning again" in caplog.text
    assert suspects(out.path, out.commit, "src/app.py", 10, None)[0].sha == repo.bug


_RACE = """
import sys
from pathlib import Path
from error_autopilot.investigation.checkout import GitWorkspace
out = GitWorkspace(Path(sys.argv[1])).checkout(sys.argv[2], None, "main", None)
print(out.commit, out.path)
"""


def test_concurrent_runs_share_one_cache_without_breaking_it(repo: Repo, tmp_path: Path) -> None:
    command = [sys.executable, "-c", _RACE, str(tmp_path / "cache"), _url(repo)]
    runs = [
        subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    results = [(*run.communicate(timeout=120), run.returncode) for run in runs]
    assert all(code == 0 for _, _, code in results), [err for _, err, _ in results]
    assert {out.split()[0] for out, _, _ in results} == {repo.head}
    clones = [p for p in (tmp_path / "cache").iterdir() if p.is_dir() and "@" not in p.name]
    assert len(clones) == 1 and not clones[0].name.endswith(".new")
    assert git(clones[0], "fsck", "--connectivity-only", "--no-dangling") == ""


@pytest.mark.parametrize(
    "hostile",
    ["..", "../../../../etc", "acme/../../../../tmp/x", "file:///../../../etc/passwd", "https://github.com/../..",
     "git@github.com:../../../x.git", "/", "a\nb/c", "x" * 500, ".git", "acme/.."],
)  # fmt: skip
def test_a_cache_folder_never_leaves_the_cache_root(hostile: str, tmp_path: Path) -> None:
    ws = GitWorkspace(tmp_path / "cache")
    folder = ws.clone_dir(hostile)
    assert folder.parent == (tmp_path / "cache").resolve()
    assert folder.name not in {"", ".", ".."} and "/" not in folder.name and ".." not in folder.name
    assert len(folder.name) <= 80


def test_lookalike_repositories_get_different_folders() -> None:
    names = {cache_folder_name(u) for u in ("https://h/acme/a-b", "https://h/acme/a_b", "https://h/acme/a.b",
                                            "https://other/acme/a-b", "https://h/acme/a-b.git/")}  # fmt: skip
    assert len(names) == 4  # the last is the first one written another way


def test_credentials_in_a_url_reach_the_server_but_never_the_cache(repo: Repo, tmp_path: Path) -> None:
    password = "s3cret-Password-123456"
    expected = "Basic " + base64.b64encode(f"deploy:{password}".encode()).decode()
    git(repo.remote, "update-server-info")  # served as static files: git's "dumb" HTTP protocol
    seen: list[str] = []

    def app(req: Request) -> Response:
        seen.append(req.headers.get("authorization", ""))
        if req.headers.get("authorization") != expected:
            return Response.text("auth required\n", 401, {"WWW-Authenticate": 'Basic realm="git"'})
        file = repo.remote / req.path.split("/remote.git/", 1)[-1]
        if "/remote.git/" not in req.path or not file.is_file():
            return Response.text("not found\n", 404)
        return Response(200, file.read_bytes(), {"Content-Type": "application/octet-stream"})

    token = "ghp_NeverOnDisk1234567890"
    with LoopbackServer(app) as server:
        url = server.url.replace("http://", f"http://deploy:{password}@") + "/remote.git"
        ws = GitWorkspace(tmp_path / "cache", github_url=server.url, token=token)
        out = ws.checkout(url, repo.first, "main", None)
        GitWorkspace(tmp_path / "cache").checkout(url, None, "main", None)  # a later run fetches with them too
    assert git(out.path, "rev-parse", "HEAD") == repo.first
    assert seen and expected in seen
    assert git(_clone_of(out.path), "config", "remote.origin.url") == f"{server.url}/remote.git"
    for path in (tmp_path / "cache").rglob("*"):
        assert password not in str(path) and token not in str(path)
        if path.is_file() and path.suffix != ".pack":
            text = path.read_bytes().decode("utf-8", errors="replace")
            assert password not in text and token not in text, f"a credential was written to {path}"
            assert base64.b64encode(f"deploy:{password}".encode()).decode() not in text


def _long_history(repo: Repo, changes: int) -> list[str]:
    """`src/app.py` changed by `changes` more commits (line 20 each time); their commit ids."""
    src = repo.work / "src" / "app.py"
    done = []
    for n in range(changes):
        lines = src.read_text().splitlines(keepends=True)
        lines[19] = f"line 20, version {n}\n"
        src.write_text("".join(lines))
        (repo.work / "other.txt").write_text(f"{n}\n")
        done.append(commit(repo.work, f"Change {n}"))
    git(repo.work, "push", "-q", str(repo.remote), "main")
    return done


def test_the_history_of_the_stack_files_arrives_in_one_request(repo: Repo, tmp_path: Path) -> None:
    _long_history(repo, 25)
    ws = GitWorkspace(tmp_path / "cache")
    out = ws.checkout(_url(repo), None, "main", None)
    clone = _clone_of(out.path)
    missing = _missing(clone, "src/app.py")
    assert len(missing) >= 25, "the clone should lack the past versions of the file"
    other = _missing(clone, "other.txt")
    packs = _packs(clone)

    assert ws.prefetch_history(out, ["src/app.py"]) == len(missing)
    assert _missing(clone, "src/app.py") == []
    assert len(_packs(clone) - packs) == 1, "one request, one pack"
    assert _missing(clone, "other.txt") == other, "only the files on the stack"
    packs = _packs(clone)
    found = suspects(out.path, out.commit, "src/app.py", 10, None)
    assert found[0].sha == repo.bug
    assert _packs(clone) == packs, "blame needed nothing more from the server"
    assert ws.prefetch_history(out, ["src/app.py"]) == 0  # once per run


def test_without_the_batch_blame_fetches_one_version_per_request(repo: Repo, tmp_path: Path) -> None:
    """What the batch saves: the same blame on a fresh partial clone makes a request per version."""
    _long_history(repo, 10)
    out = GitWorkspace(tmp_path / "cache").checkout(_url(repo), None, "main", None)
    clone = _clone_of(out.path)
    packs = _packs(clone)
    subprocess.run(["git", "-c", "gc.auto=0", "blame", "-L", "8,12", out.commit, "--", "src/app.py"],
                   cwd=out.path, check=True, capture_output=True)  # fmt: skip
    assert len(_packs(clone) - packs) >= 10


def test_nothing_to_fetch_on_a_full_clone_or_for_unknown_paths(repo: Repo, tmp_path: Path) -> None:
    ws = GitWorkspace(tmp_path / "cache")
    local = ws.checkout(str(repo.remote), None, "main", None)  # a local path: git copies everything
    assert ws.prefetch_history(local, ["src/app.py"]) == 0
    partial = GitWorkspace(tmp_path / "cache2").checkout(_url(repo), None, "main", None)
    assert GitWorkspace(tmp_path / "cache2").prefetch_history(partial, ["no/such/file.py", ":(glob)**"]) == 0


def test_a_server_that_refuses_the_batch_leaves_blame_to_fetch_on_demand(
    repo: Repo, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _long_history(repo, 3)
    ws = GitWorkspace(tmp_path / "cache")
    out = ws.checkout(_url(repo), None, "main", None)
    os.rename(repo.remote, tmp_path / "gone.git")  # the server is gone between checkout and blame
    assert ws.prefetch_history(out, ["src/app.py"]) == 0
    assert "could not fetch the history of src/app.py in one request" in caplog.text


def test_nothing_planted_in_a_cached_clone_runs_in_a_later_job(repo: Repo, tmp_path: Path) -> None:
    """The investigate job runs untrusted code; the cache outlives it and the publish job reads it."""
    first = GitWorkspace(tmp_path / "cache").checkout(_url(repo), repo.first, "main", None)
    clone = _clone_of(first.path)
    ran = tmp_path / "planted-code-ran"
    hook = f"#!/bin/sh\necho hook >> {ran}\n"
    for name in ("reference-transaction", "post-checkout", "pre-auto-gc"):
        (clone / ".git" / "hooks" / name).write_text(hook)
        (clone / ".git" / "hooks" / name).chmod(0o755)
    (repo.work / "new.txt").write_text("new\n")
    newer = commit(repo.work, "Newer")
    git(repo.work, "push", "-q", str(repo.remote), "main")

    out = GitWorkspace(tmp_path / "cache").checkout(_url(repo), None, "main", None)
    assert out.commit == newer and _clone_of(out.path) == clone
    assert not ran.exists(), "a hook planted in the cache ran"

    fsmonitor = tmp_path / "fsmonitor.sh"
    fsmonitor.write_text(f"#!/bin/sh\necho fsmonitor >> {ran}\n")
    fsmonitor.chmod(0o755)
    git(clone, "config", "core.fsmonitor", str(fsmonitor))
    again = GitWorkspace(tmp_path / "cache").checkout(_url(repo), repo.first, "main", None)
    assert again.commit == repo.first and not ran.exists(), "planted configuration ran"
    assert git(clone, "config", "--default", "", "--get", "core.fsmonitor") == "", "the planted clone was kept"


def test_a_worktree_pointing_at_another_repository_is_made_again(repo: Repo, tmp_path: Path) -> None:
    first = GitWorkspace(tmp_path / "cache").checkout(_url(repo), repo.first, "main", None)
    clone = _clone_of(first.path)
    elsewhere = tmp_path / "elsewhere"
    git(tmp_path, "init", "-q", str(elsewhere))
    (first.path / ".git").write_text(f"gitdir: {elsewhere / '.git'}\n")

    again = GitWorkspace(tmp_path / "cache").checkout(_url(repo), repo.first, "main", None)
    assert again.path == first.path
    assert _clone_of(again.path) == clone
    assert git(again.path, "rev-parse", "HEAD") == repo.first


_OLD_GIT = """
import logging, sys
from pathlib import Path
from error_autopilot.investigation.checkout import GitWorkspace
logging.basicConfig(level=logging.INFO, format="%(message)s")
ws = GitWorkspace(Path(sys.argv[1]))
out = ws.checkout(sys.argv[2], None, "main", None)
print(ws.prefetch_history(out, ["src/app.py"]))
"""


def test_an_older_git_skips_the_batch_and_says_so(repo: Repo, tmp_path: Path) -> None:
    """Real git behind a wrapper that reports 2.25 (before `fetch --stdin`): the checkout works, the
    batch is skipped with one line, blame would fetch on demand."""
    real = subprocess.run(["sh", "-c", "command -v git"], capture_output=True, text=True, check=True).stdout.strip()
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "git").write_text(f'#!/bin/sh\nif [ "$1" = version ]; then echo "git version 2.25.1"; exit 0; fi\n'
                              f'exec {real} "$@"\n')  # fmt: skip
    (shim / "git").chmod(0o755)
    env = {**os.environ, "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}"}
    run = subprocess.run([sys.executable, "-c", _OLD_GIT, str(tmp_path / "cache"), _url(repo)], cwd=REPO_ROOT,
                         env=env, capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "0"
    assert "git 2.25.1 is older than 2.29: blame fetches past versions one at a time" in run.stderr


# --- another run holding a repository's lock: waited for up to a limit, never forever ----------------

_HOLD = """
import fcntl, os, sys, time
os.makedirs(os.path.dirname(sys.argv[1]), exist_ok=True)
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(120)  # a regression to waiting forever fails the test instead of hanging it
"""


@contextmanager
def _held(lock: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding `lock` as a run would (flock), until killed; killed on exit in any case."""
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(lock)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.kill()
        holder.wait(timeout=30)


def _lock_of(cache: Path, url: str) -> Path:
    clone = GitWorkspace(cache).clone_dir(url)
    return clone.with_name(clone.name + ".lock")


def test_a_lock_held_too_long_means_a_private_clone_and_a_killed_holder_frees_the_cache(
    repo: Repo, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "cache"
    clone = _clone_of(GitWorkspace(cache).checkout(_url(repo), None, "main", None).path)
    (clone / ".git" / "cloned-by-the-first-run").write_text("marker\n")
    (repo.work / "new.txt").write_text("new\n")
    newer = commit(repo.work, "Newer")
    git(repo.work, "push", "-q", str(repo.remote), "main")
    lock = _lock_of(cache, _url(repo))

    with _held(lock) as holder:
        ws = GitWorkspace(cache, lock_wait_s=1.0)
        started = time.monotonic()
        out = ws.checkout(_url(repo), None, "main", None)
        waited = time.monotonic() - started
        assert 1.0 <= waited < 60
        assert out.commit == newer and (out.path / "new.txt").read_text() == "new\n"
        assert not out.path.is_relative_to(cache), "the private clone must not be in the shared cache"
        assert ws.prefetch_history(out, ["src/app.py"]) > 0, "a private clone needs no lock"
        assert suspects(out.path, out.commit, "src/app.py", 10, None)[0].sha == repo.bug
        warning = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
        assert len(warning) == 1 and re.search(rf"clone cache busy: {re.escape(str(lock))} was held by another run "
                                               r"for \d+s", warning[0])  # fmt: skip
        assert "cloned privately for this run (the cache is left untouched)" in warning[0]
        assert git(clone, "rev-parse", "refs/remotes/origin/main") == repo.head, "the cache was changed unlocked"
        holder.kill()  # a run killed while holding the lock: the kernel releases it
        holder.wait(timeout=30)

        again = GitWorkspace(cache, lock_wait_s=1.0).checkout(_url(repo), None, "main", None)
    assert again.commit == newer and _clone_of(again.path) == clone
    assert (clone / ".git" / "cloned-by-the-first-run").exists(), "the cache was cloned again, not fetched"

    private = out.path.parent
    del ws
    gc.collect()
    assert not private.exists(), "the private clone outlived the workspace that made it"


def test_the_wait_ends_as_soon_as_the_holder_is_killed(repo: Repo, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with _held(_lock_of(cache, _url(repo))) as holder, ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        waiting = pool.submit(GitWorkspace(cache, lock_wait_s=120).checkout, _url(repo), None, "main", None)
        time.sleep(1.0)
        assert not waiting.done(), "the lock was not waited for"
        holder.kill()
        out = waiting.result(timeout=60)
    assert time.monotonic() - started < 30
    assert out.commit == repo.head and out.path.is_relative_to(cache.resolve())


def test_the_run_deadline_bounds_the_wait(repo: Repo, tmp_path: Path) -> None:
    """Half of what is left of the run (at least 1 s): a 2 s run waits about 1 s, not the 10 minute cap."""
    cache = tmp_path / "cache"
    with _held(_lock_of(cache, _url(repo))):
        started = time.monotonic()
        out = GitWorkspace(cache, deadline=Deadline(2.0)).checkout(_url(repo), repo.bug, "main", None)
        assert time.monotonic() - started < 30
    assert out.commit == repo.bug and not out.path.is_relative_to(cache.resolve())


def test_a_lock_held_during_the_prefetch_leaves_blame_to_fetch_on_demand(
    repo: Repo, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "cache"
    ws = GitWorkspace(cache, lock_wait_s=0.5)
    out = ws.checkout(_url(repo), None, "main", None)
    lock = _lock_of(cache, _url(repo))
    with _held(lock):
        assert ws.prefetch_history(out, ["src/app.py"]) == 0
    assert re.search(rf"the clone cache lock {re.escape(str(lock))} was held by another run for \d+s", caplog.text)
    assert ws.prefetch_history(out, ["src/app.py"]) > 0, "a skipped prefetch is tried again once the lock is free"
    assert suspects(out.path, out.commit, "src/app.py", 10, None)[0].sha == repo.bug


def test_a_held_lock_and_no_private_clone_is_an_error_that_says_what_to_do(repo: Repo, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    lock = _lock_of(cache, _url(repo))
    url = _url(repo)
    os.rename(repo.remote, tmp_path / "gone.git")
    with _held(lock), pytest.raises(WorkspaceError) as raised:
        GitWorkspace(cache, lock_wait_s=0.5).checkout(url, None, "main", None)
    message = rf"the clone cache lock {re.escape(str(lock))} was held by another run for \d+s, and a private clone"
    assert re.search(message + r" failed too \(.+\); look for a stuck git process of another error-autopilot run",
                     raised.value.message, re.DOTALL)  # fmt: skip


# --- the investigations of one run sharing a clone: they wait for each other, and the log does not blame a run


@contextmanager
def _sibling_holding(clone: Path) -> Iterator[None]:
    """Another investigation of this run holding the clone (a thread of this process), until the block ends."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with exclusive(clone, 30.0):
            held.set()
            release.wait(30)

    with ThreadPoolExecutor(1) as pool:
        holder = pool.submit(hold)
        assert held.wait(30)
        try:
            yield
        finally:
            release.set()
            holder.result(timeout=30)


def _take_and_leave(clone: Path) -> None:
    with exclusive(clone, 30.0):
        pass


def test_two_investigations_of_one_run_take_turns_without_blaming_another_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clone = tmp_path / "cache" / "remotes-order-service"
    caplog.set_level(logging.DEBUG, logger="error_autopilot")
    with ThreadPoolExecutor(1) as pool:
        with _sibling_holding(clone):
            second = pool.submit(_take_and_leave, clone)
            time.sleep(0.3)
            assert not second.done(), "the second investigation did not wait for the first"
        second.result(timeout=30)
    assert "another run" not in caplog.text, "a sibling investigation of the same run was logged as another run"


def test_a_sibling_holding_the_clone_too_long_is_named_as_such(tmp_path: Path) -> None:
    clone = tmp_path / "cache" / "remotes-order-service"
    with _sibling_holding(clone), pytest.raises(LockTimeout) as busy, exclusive(clone, 0.2):
        pass
    assert busy.value.holder == "another investigation of this run"
    assert "held by another investigation of this run for" in str(busy.value)
