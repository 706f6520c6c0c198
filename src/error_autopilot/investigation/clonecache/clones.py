"""The cached clone of one repository and its worktrees: made, checked, refreshed and pruned.

One partial clone (`--filter=blob:none`) per repository URL: a later run fetches what is new instead of
cloning again, and history comes without file contents, so clones stay cheap. Each commit gets its own
worktree beside the clone (`<name>@<commit>`), so two versions of one service investigated at the same
time never move each other's files.

A clone is made aside and moved into place whole, so a killed clone never leaves half a cache; a clone
git cannot read or fetch, or whose .git/config holds anything beyond what `git clone` writes (something
planted there could run in a later job, see `safegit`), is discarded and made again. Folder names are
derived from the URL (a readable tail and a hash), so no repository name can point outside the cache.

Everything here runs under the repository's lock (`lock`) on the shared cache, or on a private clone
no other run can see.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import git

from error_autopilot.domain.errors import WorkspaceError
from error_autopilot.investigation.clonecache.safegit import SafeGit, git_version, host_down, without_credentials

log = logging.getLogger(__name__)

# What `git clone` (and fetch, worktree, commit-graph) write to a clone's .git/config; anything else was
# put there by someone else. Key names are case-insensitive except for the branch name.
_CLONE_CONFIG = re.compile(
    r"(?i:core\.(?:repositoryformatversion|filemode|bare|logallrefupdates|ignorecase|precomposeunicode|symlinks)"
    r"|remote\.origin\.(?:url|fetch|promisor|partialclonefilter|tagopt)"
    r"|extensions\.(?:partialclone|objectformat|refstorage))"
    r"|branch\.[^\n]+\.(?i:remote|merge)"
)
# `commit-graph write --changed-paths` (2.27): a Bloom filter per commit of the paths it changed, so
# walking one file's history (the batch's listing, blame, log) skips the commits that did not touch it.
CHANGED_PATHS_GIT = (2, 27)
# A worktree no run has used for this long is deleted: the cache would otherwise keep a full checkout
# of every version ever deployed. Far longer than a run, so a run never loses the worktree it reads.
STALE_WORKTREE_S = 7 * 24 * 3600


def cache_folder_name(url: str) -> str:
    """The clone's folder name: the URL's last two parts, made safe, and a hash of the whole URL.

    Only letters, digits, `_` and `-` (never `.`, `/` or `..`), so the folder is always a direct child
    of the cache root, and two URLs that look alike once made safe still get different folders."""
    clean = without_credentials(url)[0].rstrip("/").removesuffix(".git")
    tail = "-".join(clean.replace(":", "/").split("/")[-2:])
    slug = re.sub(r"[^A-Za-z0-9_]+", "-", tail).strip("-")[:60] or "repo"
    return f"{slug}-{hashlib.sha256(clean.encode()).hexdigest()[:12]}"


@dataclass(frozen=True)
class Clone:
    """A clone of `url` ready to read at `path`: the cache's (`shared`, changed only under its lock), or
    this run's own, made in a temporary folder when the cache's lock could not be had in time."""

    url: str
    path: Path
    shared: bool


def clone_or_fetch(run: SafeGit, url: str, dest: Path) -> None:
    """The cached clone checked and fetched; made (again) when missing or unusable. Under the lock."""
    try:
        if (dest / ".git").exists():
            try:
                _refresh(run, url, dest)
            except (git.GitCommandError, git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError) as e:
                if host_down(str(getattr(e, "stderr", ""))):
                    raise
                why = run.redact(str(getattr(e, "stderr", "") or e).strip()).splitlines()
                log.warning("the cached clone %s cannot be used (%s): cloning again", dest.name,
                            why[-1] if why else type(e).__name__)  # fmt: skip
                fresh_clone(run, url, dest)
        else:
            fresh_clone(run, url, dest)
        _prune_worktrees(run, url, dest)
        index_history(run, url, dest)
    except git.GitCommandError as e:
        raise WorkspaceError(f"cannot clone {run.redact(url)}: {run.redact(str(e.stderr).strip())}") from e


def _refresh(run: SafeGit, url: str, dest: Path) -> None:
    """The cached clone, checked to be this URL's and to hold nothing planted, then fetched."""
    git.Repo(dest)  # raises when git cannot read it
    keys = run(["config", "--local", "--list", "--name-only"], url, dest).splitlines()
    if foreign := sorted({k for k in keys if not _CLONE_CONFIG.fullmatch(k)}):
        raise ValueError(f"its .git/config sets {', '.join(foreign)[:200]}, which git clone never writes")
    origin = run(["config", "--get", "remote.origin.url"], url, dest)
    if origin != without_credentials(url)[0]:
        raise ValueError(f"it is a clone of {run.redact(origin)}")
    for stale in [*(dest / ".git").glob("*.lock"), *(dest / ".git" / "refs").rglob("*.lock")]:
        stale.unlink(missing_ok=True)  # left by a killed run: nobody else holds the clone's lock
    run(["fetch", "--quiet", "--prune", "--tags", "--force", "origin"], url, dest)


def fresh_clone(run: SafeGit, url: str, dest: Path) -> None:
    """Clone beside `dest` and move it into place, so a killed clone never leaves half a cache; what
    `dest` held before, and the worktrees beside it, are deleted."""
    clean = without_credentials(url)[0]
    staging = dest.with_name(dest.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    base = ["clone", "--quiet", "--no-checkout"]
    try:
        run([*base, "--filter=blob:none", clean, str(staging)], url)
    except git.GitCommandError as e:  # a server without partial-clone support
        if host_down(str(e.stderr)):
            raise
        shutil.rmtree(staging, ignore_errors=True)
        run([*base, clean, str(staging)], url)
    _discard(dest)  # whatever is left there (and its worktrees) is not this clone's
    staging.rename(dest)


def index_history(run: SafeGit, url: str, dest: Path) -> None:
    """The commit graph with changed-path filters, brought up to date with what was just fetched
    (`--split`: a new layer for the new commits only). An optimisation: a failure is only logged."""
    if git_version() < CHANGED_PATHS_GIT:
        return
    try:
        run(["commit-graph", "write", "--reachable", "--changed-paths", "--split"], url, dest)
    except git.GitCommandError as e:
        log.info("no commit graph for %s (history walks stay slower): %s", dest.name, str(e.stderr).strip())


def _discard(dest: Path) -> None:
    """Delete a clone and its worktrees (they cannot outlive the clone they belong to)."""
    for worktree in dest.parent.glob(f"{dest.name}@*"):
        shutil.rmtree(worktree, ignore_errors=True)
    shutil.rmtree(dest, ignore_errors=True)


def _prune_worktrees(run: SafeGit, url: str, dest: Path) -> None:
    """Delete the worktrees of versions no run has looked at for STALE_WORKTREE_S."""
    cutoff = time.time() - STALE_WORKTREE_S
    stale = [w for w in dest.parent.glob(f"{dest.name}@*") if w.stat().st_mtime < cutoff]
    for worktree in stale:
        shutil.rmtree(worktree, ignore_errors=True)
    if stale:
        run(["worktree", "prune"], url, dest)


def worktree(run: SafeGit, url: str, clone_dir: Path, sha: str) -> Path:
    """A worktree of the clone at `sha` beside it, reused when a run made it before (and marked as in use)."""
    path = clone_dir.with_name(f"{clone_dir.name}@{sha[:12]}")
    try:
        if _belongs(path, clone_dir):
            run(["checkout", "--quiet", "--force", "--detach", sha], url, path)
            os.utime(path)  # in use: not stale
        else:
            shutil.rmtree(path, ignore_errors=True)  # what a killed run left half-made
            run(["worktree", "prune"], url, clone_dir)  # a worktree deleted by hand is forgotten first
            run(["worktree", "add", "--quiet", "--force", "--detach", str(path), sha], url, clone_dir)
    except git.GitCommandError as e:
        raise WorkspaceError(f"cannot check out {sha[:12]}: {run.redact(str(e.stderr).strip())}") from e
    return path


def _belongs(worktree: Path, clone_dir: Path) -> bool:
    """True when `worktree` is a worktree of this clone (its .git file could name any repository)."""
    try:
        pointer = (worktree / ".git").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return False
    return pointer == f"gitdir: {clone_dir / '.git' / 'worktrees' / worktree.name}"
