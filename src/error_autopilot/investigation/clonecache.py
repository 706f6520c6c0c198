"""The clone cache kept across runs (`AUTOPILOT_CACHE_DIR`): one clone per repository URL and its
worktrees, made, refreshed and locked safely for several runs sharing one folder (GitPython).

The cache holds one partial clone (`--filter=blob:none`) per repository: a later run fetches what is
new instead of cloning again. History comes without file contents, so clones stay cheap; contents
arrive on checkout, and `prefetch` brings every past version of the files on a stack in one request
before blame reads them (git alone fetches each missing version in its own round trip: tens of
seconds on a repository with a long history). Each commit gets its own worktree beside the clone, so
two versions of one service investigated at the same time never move each other's files.

Several runs may share the cache (a self-hosted runner's tool cache): a file lock per repository
serialises them, a clone is made aside and moved into place whole, and a clone git cannot read or
fetch is discarded and made again. Folder names are derived from the URL (a readable tail and a
hash), so no repository name can point outside the cache. The lock is waited for up to a deadline,
never forever: a run stuck inside it (a hung `git fetch`) would otherwise hang every other run until
its job's timeout killed it, silently. Past the deadline this run clones privately into a temporary
folder and leaves the cache alone; the kernel drops the lock of a process that dies, so a killed run
never leaves it held.

The cache outlives the job, and the investigate job runs code it does not trust (a model-written
patch under the service's tests): nothing planted in a cached clone may run in a later job, the
publish job with its write token included. So git runs here with hooks and fsmonitor switched off
from the command line (which outranks the clone's own configuration), and a clone whose .git/config
holds anything beyond what `git clone` writes is discarded and made again.

Credentials never reach argv, a remote URL or .git/config, and are never logged: the token goes only
to the GitHub host, passed per command through `GIT_CONFIG_*` variables scoped to that host's URL;
a user and password written into an https URL are taken out of it and passed the same way.

What the server must allow: partial clone (`uploadpack.allowFilter`, on by default at GitHub) for the
blobless clone (a server without it gets a full clone), and fetching an object by its id for the
batch, the same request git's own on-demand fetch of a missing file makes (GitHub allows it; a plain
git server needs `uploadpack.allowAnySHA1InWant`, or serves it over protocol v2 by default).
"""

from __future__ import annotations

import base64
import fcntl
import functools
import hashlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import git

from error_autopilot.domain.errors import WorkspaceError
from error_autopilot.resilience import Deadline

log = logging.getLogger(__name__)

_OID = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")
_NO_PROMPT = {"GIT_TERMINAL_PROMPT": "0"}  # a refused clone must fail, never wait for a password
# Configuration that makes git run a program, overridden for every command on the cache (see above).
_NEVER_RUN = (("core.hooksPath", os.devnull), ("core.fsmonitor", "false"))
# What `git clone` (and fetch, worktree, commit-graph) write to a clone's .git/config; anything else was
# put there by someone else. Key names are case-insensitive except for the branch name.
_CLONE_CONFIG = re.compile(
    r"(?i:core\.(?:repositoryformatversion|filemode|bare|logallrefupdates|ignorecase|precomposeunicode|symlinks)"
    r"|remote\.origin\.(?:url|fetch|promisor|partialclonefilter|tagopt)"
    r"|extensions\.(?:partialclone|objectformat|refstorage))"
    r"|branch\.[^\n]+\.(?i:remote|merge)"
)
# git's words for "the host is not there" (as opposed to "no such repository" or "not allowed")
_HOST_DOWN = re.compile(
    r"(?i)could not resolve host|connection refused|failed to connect|couldn't connect|timed out|"
    r"connection reset|returned error: 5\d\d|ssl_connect|gnutls_handshake|could not read from remote"
)
# `fetch --stdin` and `--no-write-fetch-head` (2.29): older git keeps fetching one file version at a time.
BATCH_FETCH_GIT = (2, 29)
# `commit-graph write --changed-paths` (2.27): a Bloom filter per commit of the paths it changed, so
# walking one file's history (the batch's listing, blame, log) skips the commits that did not touch it.
CHANGED_PATHS_GIT = (2, 27)
# One request may carry this many file versions; a file with a longer history gets its newest ones
# (blame walks from the newest), and git fetches any older version it still needs on demand.
MAX_PREFETCH_BLOBS = 20_000
PREFETCH_TIMEOUT_S = 300
# A worktree no run has used for this long is deleted: the cache would otherwise keep a full checkout
# of every version ever deployed. Far longer than a run, so a run never loses the worktree it reads.
STALE_WORKTREE_S = 7 * 24 * 3600
# The longest wait for a repository's lock held by another run. A healthy holder is done in seconds to
# minutes (a first clone of a large repository); past this it is presumed stuck.
LOCK_WAIT_S = 10 * 60
_LOCK_POLL_S = (0.05, 1.0)  # first and longest pause between two tries


@functools.cache
def git_version() -> tuple[int, ...]:
    """The installed git's version, e.g. (2, 39, 5); (0,) when it cannot be told."""
    try:
        out = subprocess.run(["git", "version"], capture_output=True, text=True, check=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return (0,)
    found = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", out)
    return tuple(int(n) for n in found.groups() if n is not None) if found else (0,)


def host_down(text: str) -> bool:
    """True when git's error output says the host could not be reached (not "no such repository")."""
    return _HOST_DOWN.search(text) is not None


def without_credentials(url: str) -> tuple[str, str | None]:
    """(the URL without a user and password, an Authorization header carrying them or None).

    Only http(s) URLs carry a secret there; the user of an ssh URL (`git@host`) is not one."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or (parts.username is None and parts.password is None):
        return url, None
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    user = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
    return urlunsplit(parts._replace(netloc=netloc)), "Authorization: Basic " + base64.b64encode(user.encode()).decode()


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


class _LockTimeout(Exception):
    """Another run held a repository's cache lock for longer than this run may wait."""

    def __init__(self, lock: Path, waited_s: float) -> None:
        super().__init__(f"{lock} held by another run for {waited_s:.0f}s")
        self.lock = lock
        self.waited_s = waited_s


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
        self._github_url = github_url.rstrip("/")
        self._token = token
        self._deadline = deadline
        self._lock_wait_s = lock_wait_s
        self._open: dict[str, Clone] = {}  # clones already brought up to date in this run
        self._prefetched: set[tuple[Path, str, tuple[str, ...]]] = set()
        # Private clones live as long as this object (or the process): TemporaryDirectory deletes its folder
        # when collected, so nothing of them is left behind on the runner.
        self._private: list[tempfile.TemporaryDirectory[str]] = []
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
        text = text.replace(self._token, "***") if self._token else text
        return re.sub(r"(https?://)[^/@\s]*@", r"\1***@", text)

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
                with self._exclusive(dest):
                    self._clone_or_fetch(url, dest)
            except _LockTimeout as busy:
                clone = self._private_clone(url, busy)
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
            return self._worktree(clone.url, clone.path, sha)
        try:
            with self._exclusive(clone.path):
                return self._worktree(clone.url, clone.path, sha)
        except _LockTimeout as busy:
            private = self._open[clone.url] = self._private_clone(clone.url, busy)
            return self._worktree(private.url, private.path, sha)

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
                with self._exclusive(clone.path):
                    fetched = self._fetch_missing(clone.url, clone.path, commit, paths)
            else:
                fetched = self._fetch_missing(clone.url, clone.path, commit, paths)
        except _LockTimeout as busy:
            log.warning("the clone cache lock %s was held by another run for %.0fs: blame fetches the history of %s "
                        "file by file", busy.lock, busy.waited_s, ", ".join(paths))  # fmt: skip
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

    def git(self, args: list[str], url: str, cwd: Path | None = None) -> str:
        """Run git on the cache: hooks and fsmonitor off, the credentials for `url` in the environment."""
        out = (git.Git(cwd) if cwd else git.Git()).execute(["git", *args], env=self._env(url))
        return str(out)

    def _env(self, url: str) -> dict[str, str]:
        """The token as an extra header for URLs under the GitHub host only (git's `http.<url>.*`), and
        the credentials taken out of `url` as one for that URL."""
        headers: list[tuple[str, str]] = list(_NEVER_RUN)
        if self._token:
            basic = base64.b64encode(f"x-access-token:{self._token}".encode()).decode()
            headers.append((f"http.{self._github_url}/.extraHeader", f"Authorization: Basic {basic}"))
        clean, header = without_credentials(url)
        if header is not None:
            headers.append((f"http.{clean}.extraHeader", header))
        env = dict(_NO_PROMPT)
        count = int(os.environ.get("GIT_CONFIG_COUNT") or 0)  # keep any configuration already passed this way
        for key, value in headers:
            env[f"GIT_CONFIG_KEY_{count}"], env[f"GIT_CONFIG_VALUE_{count}"] = key, value
            count += 1
        env["GIT_CONFIG_COUNT"] = str(count)
        return env

    def _lock_wait_limit(self) -> float:
        if self._deadline is None:
            return self._lock_wait_s
        return min(self._lock_wait_s, max(1.0, self._deadline.remaining() / 2))

    @contextmanager
    def _exclusive(self, clone_dir: Path) -> Iterator[None]:
        """This process alone works on the clone, or _LockTimeout once another run has held it too long.
        The kernel drops the lock when a process dies, so a killed run never leaves the cache locked."""
        clone_dir.parent.mkdir(parents=True, exist_ok=True)
        lock = clone_dir.with_name(clone_dir.name + ".lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            self._acquire(fd, lock)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _acquire(self, fd: int, lock: Path) -> None:
        """Take the lock, trying again with growing pauses until the wait limit (flock itself would wait
        forever, with no word in the log)."""
        limit = self._lock_wait_limit()
        started = time.monotonic()
        pause, longest = _LOCK_POLL_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                waited = time.monotonic() - started
            if waited >= limit:
                raise _LockTimeout(lock, waited) from None
            if pause == _LOCK_POLL_S[0]:  # the first miss: say why the run pauses
                log.info("waiting up to %.0fs for %s: another run sharing the clone cache holds it", limit, lock)
            time.sleep(min(pause, limit - waited))
            pause = min(pause * 2, longest)

    def _private_clone(self, url: str, busy: _LockTimeout) -> Clone:
        """A clone for this run alone in a temporary folder, the cache left as it is."""
        log.warning("clone cache busy: %s was held by another run for %.0fs, so %s is cloned privately for this "
                    "run (the cache is left untouched). If this repeats, look for a stuck git process of another "
                    "run on this runner, or give each job its own AUTOPILOT_CACHE_DIR.",
                    busy.lock, busy.waited_s, self.redact(url))  # fmt: skip
        private = tempfile.TemporaryDirectory(prefix="error-autopilot-clone-", ignore_cleanup_errors=True)
        with self._guard:
            self._private.append(private)
        dest = Path(private.name).resolve() / cache_folder_name(url)
        try:
            self._fresh_clone(url, dest)
        except git.GitCommandError as e:
            # The advice is in the message itself: the finding records only the message of a failed checkout.
            raise WorkspaceError(
                f"cannot clone {self.redact(url)}: the clone cache lock {busy.lock} was held by another run for "
                f"{busy.waited_s:.0f}s, and a private clone failed too ({self.redact(str(e.stderr).strip())}); "
                "look for a stuck git process of another error-autopilot run on this runner holding that lock "
                "(killing it frees the lock), or give each job its own AUTOPILOT_CACHE_DIR"
            ) from e
        self._index_history(url, dest)
        return Clone(url, dest, shared=False)

    def _clone_or_fetch(self, url: str, dest: Path) -> None:
        """The cached clone checked and fetched; made (again) when missing or unusable. Under the lock."""
        try:
            if (dest / ".git").exists():
                try:
                    self._refresh(url, dest)
                except (git.GitCommandError, git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError) as e:
                    if host_down(str(getattr(e, "stderr", ""))):
                        raise
                    why = self.redact(str(getattr(e, "stderr", "") or e).strip()).splitlines()
                    log.warning("the cached clone %s cannot be used (%s): cloning again", dest.name,
                                why[-1] if why else type(e).__name__)  # fmt: skip
                    self._fresh_clone(url, dest)
            else:
                self._fresh_clone(url, dest)
            self._prune_worktrees(url, dest)
            self._index_history(url, dest)
        except git.GitCommandError as e:
            raise WorkspaceError(f"cannot clone {self.redact(url)}: {self.redact(str(e.stderr).strip())}") from e

    def _refresh(self, url: str, dest: Path) -> None:
        """The cached clone, checked to be this URL's and to hold nothing planted, then fetched."""
        git.Repo(dest)  # raises when git cannot read it
        keys = self.git(["config", "--local", "--list", "--name-only"], url, dest).splitlines()
        if foreign := sorted({k for k in keys if not _CLONE_CONFIG.fullmatch(k)}):
            raise ValueError(f"its .git/config sets {', '.join(foreign)[:200]}, which git clone never writes")
        origin = self.git(["config", "--get", "remote.origin.url"], url, dest)
        if origin != without_credentials(url)[0]:
            raise ValueError(f"it is a clone of {self.redact(origin)}")
        for stale in [*(dest / ".git").glob("*.lock"), *(dest / ".git" / "refs").rglob("*.lock")]:
            stale.unlink(missing_ok=True)  # left by a killed run: nobody else holds the clone's lock
        self.git(["fetch", "--quiet", "--prune", "--tags", "--force", "origin"], url, dest)

    def _fresh_clone(self, url: str, dest: Path) -> None:
        """Clone beside `dest` and move it into place, so a killed clone never leaves half a cache; what
        `dest` held before, and the worktrees beside it, are deleted."""
        clean = without_credentials(url)[0]
        staging = dest.with_name(dest.name + ".new")
        shutil.rmtree(staging, ignore_errors=True)
        base = ["clone", "--quiet", "--no-checkout"]
        try:
            self.git([*base, "--filter=blob:none", clean, str(staging)], url)
        except git.GitCommandError as e:  # a server without partial-clone support
            if host_down(str(e.stderr)):
                raise
            shutil.rmtree(staging, ignore_errors=True)
            self.git([*base, clean, str(staging)], url)
        self._discard(dest)  # whatever is left there (and its worktrees) is not this clone's
        staging.rename(dest)

    def _index_history(self, url: str, dest: Path) -> None:
        """The commit graph with changed-path filters, brought up to date with what was just fetched
        (`--split`: a new layer for the new commits only). An optimisation: a failure is only logged."""
        if git_version() < CHANGED_PATHS_GIT:
            return
        try:
            self.git(["commit-graph", "write", "--reachable", "--changed-paths", "--split"], url, dest)
        except git.GitCommandError as e:
            log.info("no commit graph for %s (history walks stay slower): %s", dest.name, str(e.stderr).strip())

    @staticmethod
    def _discard(dest: Path) -> None:
        """Delete a clone and its worktrees (they cannot outlive the clone they belong to)."""
        for worktree in dest.parent.glob(f"{dest.name}@*"):
            shutil.rmtree(worktree, ignore_errors=True)
        shutil.rmtree(dest, ignore_errors=True)

    def _prune_worktrees(self, url: str, dest: Path) -> None:
        """Delete the worktrees of versions no run has looked at for STALE_WORKTREE_S."""
        cutoff = time.time() - STALE_WORKTREE_S
        stale = [w for w in dest.parent.glob(f"{dest.name}@*") if w.stat().st_mtime < cutoff]
        for worktree in stale:
            shutil.rmtree(worktree, ignore_errors=True)
        if stale:
            self.git(["worktree", "prune"], url, dest)

    def _worktree(self, url: str, clone_dir: Path, sha: str) -> Path:
        path = clone_dir.with_name(f"{clone_dir.name}@{sha[:12]}")
        try:
            if self._belongs(path, clone_dir):
                self.git(["checkout", "--quiet", "--force", "--detach", sha], url, path)
                os.utime(path)  # in use: not stale
            else:
                shutil.rmtree(path, ignore_errors=True)  # what a killed run left half-made
                self.git(["worktree", "prune"], url, clone_dir)  # a worktree deleted by hand is forgotten first
                self.git(["worktree", "add", "--quiet", "--force", "--detach", str(path), sha], url, clone_dir)
        except git.GitCommandError as e:
            raise WorkspaceError(f"cannot check out {sha[:12]}: {self.redact(str(e.stderr).strip())}") from e
        return path

    @staticmethod
    def _belongs(worktree: Path, clone_dir: Path) -> bool:
        """True when `worktree` is a worktree of this clone (its .git file could name any repository)."""
        try:
            pointer = (worktree / ".git").read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            return False
        return pointer == f"gitdir: {clone_dir / '.git' / 'worktrees' / worktree.name}"

    def _fetch_missing(self, url: str, clone_dir: Path, commit: str, paths: Sequence[str]) -> int:
        if self.git(["config", "--get", "--default", "", "remote.origin.promisor"], url, clone_dir) != "true":
            return 0  # a full clone already has every version
        if git_version() < BATCH_FETCH_GIT:
            log.info("git %s is older than %s: blame fetches past versions one at a time",
                     ".".join(map(str, git_version())), ".".join(map(str, BATCH_FETCH_GIT)))  # fmt: skip
            return 0
        # `--missing=print` lists what the clone lacks without fetching it; literal pathspecs, so a path
        # from a stack trace is never read as pathspec magic.
        listed = self.git(
            ["--literal-pathspecs", "rev-list", "--objects", "--missing=print", commit, "--", *paths], url, clone_dir
        )
        missing = [line[1:] for line in listed.splitlines() if line.startswith("?") and _OID.match(line[1:])]
        if not missing:
            return 0
        # What git runs for its own on-demand fetch, with every id at once: no negotiation (the server
        # would leave out whatever our commits reach, which is exactly what is missing), nothing else.
        subprocess.run(
            ["git", "-c", "fetch.negotiationAlgorithm=noop", "fetch", "--quiet", "origin", "--no-tags",
             "--no-write-fetch-head", "--recurse-submodules=no", "--filter=blob:none", "--stdin"],
            cwd=clone_dir, input="\n".join(missing[:MAX_PREFETCH_BLOBS]) + "\n", text=True, capture_output=True,
            check=True, timeout=PREFETCH_TIMEOUT_S, env={**os.environ, **self._env(url)},
        )  # fmt: skip
        return min(len(missing), MAX_PREFETCH_BLOBS)
