"""A repository's lock in the shared cache, waited for up to a limit, and the private clone a run makes
when the limit passes.

Several runs may share the cache (a self-hosted runner's tool cache): a file lock per repository
serialises them. The investigations of one run share its clones too, and flock cannot tell them from
another run (each opens the lock file on its own), so a thread lock per repository serialises those
first: the file lock is then only ever waited for because of another process, and the log says which.

A lock is waited for up to a deadline, never forever: a run stuck inside it (a hung `git fetch`) would
otherwise hang every other run until its job's timeout killed it, silently. Past the deadline this run
clones privately into a temporary folder and leaves the cache alone; the kernel drops the lock of a
process that dies, so a killed run never leaves it held.
"""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import git

from error_autopilot.domain.errors import WorkspaceError
from error_autopilot.investigation.clonecache.clones import Clone, cache_folder_name, fresh_clone, index_history
from error_autopilot.investigation.clonecache.safegit import SafeGit
from error_autopilot.resilience import Deadline

log = logging.getLogger(__name__)

# The longest wait for a repository's lock held by another run. A healthy holder is done in seconds to
# minutes (a first clone of a large repository); past this it is presumed stuck.
LOCK_WAIT_S = 10 * 60
_LOCK_POLL_S = (0.05, 1.0)  # first and longest pause between two tries


ANOTHER_RUN = "another run"
SIBLING = "another investigation of this run"

# One thread lock per lock file, for the investigations of this process (see the module docstring).
_IN_PROCESS: dict[Path, threading.Lock] = {}
_IN_PROCESS_GUARD = threading.Lock()


class LockTimeout(Exception):
    """A repository's cache lock was held, by `holder`, for longer than this run may wait."""

    def __init__(self, lock: Path, waited_s: float, holder: str = ANOTHER_RUN) -> None:
        super().__init__(f"{lock} held by {holder} for {waited_s:.0f}s")
        self.lock = lock
        self.waited_s = waited_s
        self.holder = holder


def wait_limit(lock_wait_s: float, deadline: Deadline | None) -> float:
    """How long to wait for a lock: `lock_wait_s`, and at most half of what is left of the run (at least
    a second), so a private clone and the investigation still fit."""
    if deadline is None:
        return lock_wait_s
    return min(lock_wait_s, max(1.0, deadline.remaining() / 2))


@contextmanager
def exclusive(clone_dir: Path, limit: float) -> Iterator[None]:
    """This thread alone works on the clone, or LockTimeout once another investigation of this run or another
    run has held it `limit` seconds. The kernel drops the lock when a process dies, so a killed run never leaves
    the cache locked."""
    clone_dir.parent.mkdir(parents=True, exist_ok=True)
    lock = clone_dir.with_name(clone_dir.name + ".lock")
    with _IN_PROCESS_GUARD:
        ours = _IN_PROCESS.setdefault(lock, threading.Lock())
    started = time.monotonic()
    if not ours.acquire(timeout=limit):
        raise LockTimeout(lock, time.monotonic() - started, SIBLING)
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _acquire(fd, lock, max(0.0, limit - (time.monotonic() - started)))
            yield
        finally:
            os.close(fd)  # closing releases the lock
    finally:
        ours.release()


def _acquire(fd: int, lock: Path, limit: float) -> None:
    """Take the lock, trying again with growing pauses until the wait limit (flock itself would wait
    forever, with no word in the log)."""
    started = time.monotonic()
    pause, longest = _LOCK_POLL_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            waited = time.monotonic() - started
        if waited >= limit:
            raise LockTimeout(lock, waited) from None
        if pause == _LOCK_POLL_S[0]:  # the first miss: say why the run pauses
            log.info("waiting up to %.0fs for %s: another run sharing the clone cache holds it", limit, lock)
        time.sleep(min(pause, limit - waited))
        pause = min(pause * 2, longest)


class PrivateClones:
    """This run's own clones, made when the cache's lock could not be had in time.

    They live as long as this object (or the process): TemporaryDirectory deletes its folder when
    collected, so nothing of them is left behind on the runner."""

    def __init__(self) -> None:
        self._folders: list[tempfile.TemporaryDirectory[str]] = []
        self._guard = threading.Lock()

    def make(self, run: SafeGit, url: str, busy: LockTimeout) -> Clone:
        """A clone of `url` for this run alone in a temporary folder, the cache left as it is."""
        log.warning("clone cache busy: %s was held by %s for %.0fs, so %s is cloned privately for this "
                    "run (the cache is left untouched). If this repeats, look for a stuck git process of another "
                    "run on this runner, or give each job its own AUTOPILOT_CACHE_DIR.",
                    busy.lock, busy.holder, busy.waited_s, run.redact(url))  # fmt: skip
        private = tempfile.TemporaryDirectory(prefix="error-autopilot-clone-", ignore_cleanup_errors=True)
        with self._guard:
            self._folders.append(private)
        dest = Path(private.name).resolve() / cache_folder_name(url)
        try:
            fresh_clone(run, url, dest)
        except git.GitCommandError as e:
            # The advice is in the message itself: the finding records only the message of a failed checkout.
            raise WorkspaceError(
                f"cannot clone {run.redact(url)}: the clone cache lock {busy.lock} was held by {busy.holder} for "
                f"{busy.waited_s:.0f}s, and a private clone failed too ({run.redact(str(e.stderr).strip())}); "
                "look for a stuck git process of another error-autopilot run on this runner holding that lock "
                "(killing it frees the lock), or give each job its own AUTOPILOT_CACHE_DIR"
            ) from e
        index_history(run, url, dest)
        return Clone(url, dest, shared=False)
