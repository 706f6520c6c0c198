"""CloneCache: what a run asks of the cache — a repository's clone, a worktree at a commit, the history
of a stack's files — each done under the repository's lock, or on a private clone when the lock stays
held past the wait limit. Counts the time spent cloning and prefetching for the run report.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from pathlib import Path

import git

from error_autopilot.domain.errors import WorkspaceError
from error_autopilot.investigation.clonecache.clones import Clone, cache_folder_name, clone_or_fetch, worktree
from error_autopilot.investigation.clonecache.lock import LOCK_WAIT_S, LockTimeout, PrivateClones, exclusive, wait_limit
from error_autopilot.investigation.clonecache.prefetch import fetch_missing
from error_autopilot.investigation.clonecache.safegit import SafeGit
from error_autopilot.resilience import Deadline

log = logging.getLogger(__name__)


class CloneCache:
    """One clone per repository URL in `root`, with its worktrees beside it (`<name>@<commit>`).

    Safe for several processes sharing `root`; callers serialise the work of their own threads on one
    URL. `deadline` (the run's) caps each lock wait at half of what is left of the run, so a private
    clone and the investigation still fit; `lock_wait_s` caps it in any case."""

    def __init__(
        self, root: Path, *, github_url: str = "https://github.com", token: str | None = None,
        deadline: Deadline | None = None, lock_wait_s: float = LOCK_WAIT_S,
    ) -> None:  # fmt: skip
        self.root = root.resolve()  # later steps (patch checks) run git from other directories
        self._git = SafeGit(github_url=github_url, token=token)
        self._deadline = deadline
        self._lock_wait_s = lock_wait_s
        self._open: dict[str, Clone] = {}  # clones already brought up to date in this run
        self._prefetched: set[tuple[Path, str, tuple[str, ...]]] = set()
        self._private = PrivateClones()
        self._guard = threading.Lock()
        self.clone_seconds = 0.0
        self.prefetch_seconds = 0.0

    def folder(self, url: str) -> Path:
        """Where the cached clone of `url` lives."""
        path = self.root / cache_folder_name(url)
        if path.parent != self.root:  # cannot happen by construction; a path outside the cache never may
            raise WorkspaceError(f"refusing a clone folder outside the cache: {path}")
        return path

    def redact(self, text: str) -> str:
        """`text` without the token or a user:password written into a URL."""
        return self._git.redact(text)

    def open(self, url: str) -> Clone:
        """The clone of `url`, checked and fetched once per run; made (again) when missing or unusable.
        A private clone for this run when another run holds the cache's lock past the wait limit."""
        if (known := self._open.get(url)) is not None:
            return known
        dest = self.folder(url)
        started = time.monotonic()
        try:
            clone = Clone(url, dest, shared=True)
            try:
                with exclusive(dest, self._wait_limit()):
                    if (known := self._open.get(url)) is not None:  # another investigation fetched it meanwhile
                        return known
                    clone_or_fetch(self._git, url, dest)
            except LockTimeout as busy:
                clone = self._private.make(self._git, url, busy)
        finally:
            with self._guard:
                self.clone_seconds += time.monotonic() - started
        self._open[url] = clone
        return clone

    def opened(self, url: str) -> Clone:
        """The clone of `url` this run opened, else the cache's (as it is: nothing is fetched)."""
        return self._open.get(url) or Clone(url, self.folder(url), shared=True)

    def worktree(self, clone: Clone, sha: str) -> Path:
        """A worktree of the clone at `sha`, created once and reused across runs. When the cache's lock
        stays held past the wait, the rest of the run uses a private clone (and its worktree)."""
        if not clone.shared:
            return worktree(self._git, clone.url, clone.path, sha)
        try:
            with exclusive(clone.path, self._wait_limit()):
                return worktree(self._git, clone.url, clone.path, sha)
        except LockTimeout as busy:
            private = self._open[clone.url] = self._private.make(self._git, clone.url, busy)
            return worktree(self._git, private.url, private.path, sha)

    def prefetch(self, clone: Clone, commit: str, paths: tuple[str, ...]) -> int:
        """Every past version of `paths` up to `commit` that the partial clone lacks, fetched in one
        request, once per run; returns how many. Best effort: on any failure (a lock held too long
        included, or a git older than BATCH_FETCH_GIT) nothing is fetched and blame fetches what it
        needs one version at a time."""
        key = (clone.path, commit, paths)
        if key in self._prefetched:
            return 0
        started = time.monotonic()
        try:
            if clone.shared:
                with exclusive(clone.path, self._wait_limit()):
                    fetched = fetch_missing(self._git, clone.url, clone.path, commit, paths)
            else:
                fetched = fetch_missing(self._git, clone.url, clone.path, commit, paths)
        except LockTimeout as busy:
            log.warning("the clone cache lock %s was held by %s for %.0fs: blame fetches the history of %s "
                        "file by file", busy.lock, busy.holder, busy.waited_s, ", ".join(paths))  # fmt: skip
            return 0
        except (OSError, subprocess.SubprocessError, git.GitCommandError) as e:
            why = self.redact(str(getattr(e, "stderr", "") or e).strip()).splitlines()
            log.warning("could not fetch the history of %s in one request (%s): blame fetches it file by file",
                        ", ".join(paths), why[-1] if why else type(e).__name__)  # fmt: skip
            return 0
        finally:
            with self._guard:
                self.prefetch_seconds += time.monotonic() - started
        self._prefetched.add(key)
        return fetched

    def _wait_limit(self) -> float:
        return wait_limit(self._lock_wait_s, self._deadline)
