"""Service repositories checked out at the deployed commit, from a clone cache kept across runs (GitPython).

The cache holds one partial clone (`--filter=blob:none`) per repository: a later run fetches what is
new instead of cloning again. History comes without file contents, so clones stay cheap; contents
arrive on checkout, and `prefetch_history` brings every past version of the files on a stack in one
request before blame reads them (git alone fetches each missing version in its own round trip: tens
of seconds on a repository with a long history). Each deployed commit gets its own worktree beside
the clone, so two versions of one service investigated at the same time never move each other's files.

Several runs may share the cache (a self-hosted runner's tool cache): a file lock per repository
serialises them, a clone is made aside and moved into place whole, and a clone git cannot read or
fetch is discarded and made again. Folder names are derived from the URL (a readable tail and a
hash), so no repository name can point outside the cache.

The cache outlives the job, and the investigate job runs code it does not trust (a model-written
patch under the service's tests): nothing planted in a cached clone may run in a later job, the
publish job with its write token included. So git runs here with hooks and fsmonitor switched off
from the command line (which outranks the clone's own configuration), and a clone whose .git/config
holds anything beyond what `git clone` writes is discarded and made again.

Credentials never reach argv, a remote URL or .git/config, and are never logged: the token goes only
to the GitHub host, passed per command through `GIT_CONFIG_*` variables scoped to that host's URL;
a user and password written into an https URL are taken out of it and passed the same way. A host
that is unreachable opens its breaker: the rest of the run skips it instead of waiting on every clone.

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
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import git

from error_autopilot.domain.errors import WorkspaceError
from error_autopilot.ports import CheckedOut
from error_autopilot.resilience import Breaker, Breakers

log = logging.getLogger(__name__)

_OWNER_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_SHA = re.compile(r"^[0-9a-f]{7,40}$")
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


@functools.cache
def git_version() -> tuple[int, ...]:
    """The installed git's version, e.g. (2, 39, 5); (0,) when it cannot be told."""
    try:
        out = subprocess.run(["git", "version"], capture_output=True, text=True, check=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return (0,)
    found = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", out)
    return tuple(int(n) for n in found.groups() if n is not None) if found else (0,)


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


class GitWorkspace:
    """ports.Workspace: one worktree per deployed commit, beside one clone per repo, in `cache_dir`.

    Thread-safe, and safe for several processes sharing `cache_dir`: work on one repository is
    serialised (a thread lock, then a file lock), different repositories run in parallel."""

    def __init__(
        self, cache_dir: Path, *, github_url: str = "https://github.com", token: str | None = None,
        breakers: Breakers | None = None,
    ) -> None:  # fmt: skip
        self._cache = cache_dir.resolve()  # later steps (patch checks) run git from other directories
        self._github_url = github_url.rstrip("/")
        self._token = token
        self._breakers = breakers
        self._done: dict[tuple[str, str | None], CheckedOut] = {}
        self._fetched: set[Path] = set()  # clones already brought up to date in this run
        self._prefetched: set[tuple[Path, str, tuple[str, ...]]] = set()
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._seconds_guard = threading.Lock()
        self.clone_seconds = 0.0
        self.prefetch_seconds = 0.0

    def _url(self, repo: str) -> tuple[str, str | None]:
        """(clone URL, web URL for permalinks)."""
        if _OWNER_NAME.match(repo) and not Path(repo).exists():
            return f"{self._github_url}/{repo}.git", f"{self._github_url}/{repo}"
        if repo.startswith(("http://", "https://", "git@", "ssh://", "file://")):
            clean = without_credentials(repo)[0]
            web = clean.removesuffix(".git") if clean.startswith("https://") else None
            return repo, web
        return str(Path(repo).resolve()), None

    def clone_dir(self, repo: str) -> Path:
        """Where the cached clone of `repo` lives (its worktrees sit beside it, `<name>@<commit>`)."""
        path = self._cache / cache_folder_name(self._url(repo)[0])
        if path.parent != self._cache:  # cannot happen by construction; a path outside the cache never may
            raise WorkspaceError(f"refusing a clone folder outside the cache: {path}")
        return path

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

    def _redact(self, text: str) -> str:
        text = text.replace(self._token, "***") if self._token else text
        return re.sub(r"(https?://)[^/@\s]*@", r"\1***@", text)  # a user:password written into a URL

    def _breaker(self, url: str) -> Breaker | None:
        if "://" in url:
            host = urlsplit(url).hostname
        else:  # scp-like git@host:owner/repo, or a local path (no host to lose)
            host = url.split("@", 1)[1].split(":", 1)[0] if "@" in url and ":" in url else None
        if self._breakers is None or not host:
            return None
        return self._breakers.get(f"git host {host}")

    def _lock(self, repo: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(repo, threading.Lock())

    @contextmanager
    def _exclusive(self, clone_dir: Path) -> Iterator[None]:
        """This process alone works on the clone (another run sharing the cache waits). The kernel
        drops the lock when a process dies, so a killed run never leaves the cache locked."""
        clone_dir.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(clone_dir.with_name(clone_dir.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _git(self, args: list[str], url: str, cwd: Path | None = None) -> str:
        out = (git.Git(cwd) if cwd else git.Git()).execute(["git", *args], env=self._env(url))
        return str(out)

    def _clone_or_fetch(self, url: str, dest: Path) -> git.Repo:
        """The clone in `dest`, checked and fetched once per run; made (again) when missing or unusable."""
        if dest in self._fetched:
            return git.Repo(dest)
        started = time.monotonic()
        try:
            with self._exclusive(dest):
                if (dest / ".git").exists():
                    try:
                        repo = self._refresh(url, dest)
                    except (git.GitCommandError, git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError) as e:
                        if _HOST_DOWN.search(str(getattr(e, "stderr", ""))):
                            raise
                        why = self._redact(str(getattr(e, "stderr", "") or e).strip()).splitlines()
                        log.warning("the cached clone %s cannot be used (%s): cloning again", dest.name,
                                    why[-1] if why else type(e).__name__)  # fmt: skip
                        repo = self._fresh_clone(url, dest)
                else:
                    repo = self._fresh_clone(url, dest)
                self._prune_worktrees(url, dest)
                self._index_history(url, dest)
        except git.GitCommandError as e:
            raise WorkspaceError(f"cannot clone {self._redact(url)}: {self._redact(str(e.stderr).strip())}") from e
        finally:
            with self._seconds_guard:
                self.clone_seconds += time.monotonic() - started
        self._fetched.add(dest)
        return repo

    def _refresh(self, url: str, dest: Path) -> git.Repo:
        """The cached clone, checked to be this URL's and to hold nothing planted, then fetched."""
        repo = git.Repo(dest)
        keys = self._git(["config", "--local", "--list", "--name-only"], url, dest).splitlines()
        if foreign := sorted({k for k in keys if not _CLONE_CONFIG.fullmatch(k)}):
            raise ValueError(f"its .git/config sets {', '.join(foreign)[:200]}, which git clone never writes")
        origin = self._git(["config", "--get", "remote.origin.url"], url, dest)
        if origin != without_credentials(url)[0]:
            raise ValueError(f"it is a clone of {self._redact(origin)}")
        for stale in [*(dest / ".git").glob("*.lock"), *(dest / ".git" / "refs").rglob("*.lock")]:
            stale.unlink(missing_ok=True)  # left by a killed run: nobody else holds the clone's lock
        self._git(["fetch", "--quiet", "--prune", "--tags", "--force", "origin"], url, dest)
        return repo

    def _fresh_clone(self, url: str, dest: Path) -> git.Repo:
        """Clone beside `dest` and move it into place, so a killed clone never leaves half a cache; what
        `dest` held before, and the worktrees beside it, are deleted."""
        clean = without_credentials(url)[0]
        staging = dest.with_name(dest.name + ".new")
        shutil.rmtree(staging, ignore_errors=True)
        base = ["clone", "--quiet", "--no-checkout"]
        try:
            self._git([*base, "--filter=blob:none", clean, str(staging)], url)
        except git.GitCommandError as e:  # a server without partial-clone support
            if _HOST_DOWN.search(str(e.stderr)):
                raise
            shutil.rmtree(staging, ignore_errors=True)
            self._git([*base, clean, str(staging)], url)
        self._discard(dest)  # whatever is left there (and its worktrees) is not this clone's
        staging.rename(dest)
        return git.Repo(dest)

    def _index_history(self, url: str, dest: Path) -> None:
        """The commit graph with changed-path filters, brought up to date with what was just fetched
        (`--split`: a new layer for the new commits only). An optimisation: a failure is only logged."""
        if git_version() < CHANGED_PATHS_GIT:
            return
        try:
            self._git(["commit-graph", "write", "--reachable", "--changed-paths", "--split"], url, dest)
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
            self._git(["worktree", "prune"], url, dest)

    def _worktree(self, url: str, clone_dir: Path, sha: str) -> Path:
        """A worktree of the clone at `sha`, created once and reused across runs."""
        path = clone_dir.with_name(f"{clone_dir.name}@{sha[:12]}")
        try:
            if self._belongs(path, clone_dir):
                self._git(["checkout", "--quiet", "--force", "--detach", sha], url, path)
                os.utime(path)  # in use: not stale
            else:
                shutil.rmtree(path, ignore_errors=True)  # what a killed run left half-made
                self._git(["worktree", "prune"], url, clone_dir)  # a worktree deleted by hand is forgotten first
                self._git(["worktree", "add", "--quiet", "--force", "--detach", str(path), sha], url, clone_dir)
        except git.GitCommandError as e:
            raise WorkspaceError(f"cannot check out {sha[:12]}: {self._redact(str(e.stderr).strip())}") from e
        return path

    @staticmethod
    def _belongs(worktree: Path, clone_dir: Path) -> bool:
        """True when `worktree` is a worktree of this clone (its .git file could name any repository)."""
        try:
            pointer = (worktree / ".git").read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            return False
        return pointer == f"gitdir: {clone_dir / '.git' / 'worktrees' / worktree.name}"

    @staticmethod
    def _match_version(repo: git.Repo, version: str, tag_pattern: str | None) -> tuple[str, str] | None:
        """(commit, how) for a deployed version given as a sha, a `tag_pattern` tag or a tag name."""
        candidates: list[tuple[str, str]] = []
        if _SHA.match(version.lower()):
            candidates.append((version.lower(), f"commit {version[:12]} (deployed version)"))
        if tag_pattern:
            tag = tag_pattern.format(version=version)
            candidates.append((f"refs/tags/{tag}", f"tag {tag}"))
        candidates.append((f"refs/tags/{version}", f"tag {version}"))
        for ref, how in candidates:
            try:
                return str(repo.git.rev_parse("--verify", "--quiet", f"{ref}^{{commit}}")), how
            except git.GitCommandError:
                continue
        return None

    def _resolve(self, repo: git.Repo, version: str | None, branch: str, tag_pattern: str | None) -> tuple[str, str]:
        if version and (matched := self._match_version(repo, version, tag_pattern)) is not None:
            return matched
        try:
            sha = str(repo.git.rev_parse("--verify", f"refs/remotes/origin/{branch}^{{commit}}"))
        except git.GitCommandError as e:
            raise WorkspaceError(f"branch {branch!r} not found in the repository") from e
        why = f"version {version!r} not found in the repository" if version else "deployed version unknown"
        return sha, f"branch {branch} head ({why})"

    def _clone(self, repo: str) -> git.Repo:
        """The repository's cached clone, fetched once per run (under the host's breaker)."""
        url, _web = self._url(repo)
        breaker = self._breaker(url)
        if breaker is not None and (cause := breaker.skip()) is not None:
            raise WorkspaceError(f"{breaker.name} skipped: unavailable earlier in this run ({cause})")
        try:
            return self._clone_or_fetch(url, self.clone_dir(repo))
        except WorkspaceError as e:
            if breaker is not None and _HOST_DOWN.search(e.message):
                breaker.trip(e.message)
            raise

    # --- ports.History: which deployed version contains which commit --------------------------------
    def commit_for(self, repo: str, version: str, tag_pattern: str | None) -> str | None:
        """The commit a deployed version names (sha, `tag_pattern` tag or a tag of that name), else None."""
        with self._lock(repo):
            matched = self._match_version(self._clone(repo), version, tag_pattern)
        return matched[0] if matched else None

    def contains(self, repo: str, commit: str, ancestor: str) -> bool:
        """`git merge-base --is-ancestor ancestor commit`."""
        with self._lock(repo):
            clone = self._clone(repo)
            try:
                clone.git.merge_base("--is-ancestor", ancestor, commit)
            except git.GitCommandError as e:
                if e.status == 1:
                    return False
                why = str(e.stderr).strip()
                raise WorkspaceError(f"cannot compare {ancestor[:12]} with {commit[:12]}: {why}") from e
            return True

    def commits_between(self, repo: str, older: str, newer: str, paths: Sequence[str]) -> list[str]:
        """`git log older..newer -- paths` as "sha subject" lines, newest first (at most 20)."""
        with self._lock(repo):
            clone = self._clone(repo)
            try:
                out = clone.git.log("--max-count=20", "--format=%H %s", f"{older}..{newer}", "--", *paths)
            except git.GitCommandError as e:
                raise WorkspaceError(f"cannot list {older[:12]}..{newer[:12]}: {str(e.stderr).strip()}") from e
        return [line for line in str(out).splitlines() if line.strip()]

    def checkout(self, repo: str, version: str | None, branch: str, tag_pattern: str | None) -> CheckedOut:
        """The repo checked out (detached) at the deployed commit, or the branch head with the reason."""
        with self._lock(repo):
            key = (repo, version)
            if key in self._done:
                return self._done[key]
            url, web = self._url(repo)
            clone = self._clone(repo)
            clone_dir = self.clone_dir(repo)
            sha, how = self._resolve(clone, version, branch, tag_pattern)
            with self._exclusive(clone_dir):
                path = self._worktree(url, clone_dir, sha)
            done = CheckedOut(repo=repo, path=path, commit=sha, ref_source=how, web_url=web)
            self._done[key] = done
            return done

    def prefetch_history(self, checkout: CheckedOut, paths: Sequence[str]) -> int:
        """Every past version of `paths` up to the checked-out commit that the partial clone lacks,
        fetched in one request; returns how many. Best effort: on any failure (or a git older than
        BATCH_FETCH_GIT) nothing is fetched and blame fetches what it needs one version at a time."""
        wanted = tuple(sorted({p for p in paths if p and not p.startswith("/")}))
        if not wanted:
            return 0
        url = self._url(checkout.repo)[0]
        clone_dir = self.clone_dir(checkout.repo)
        key = (clone_dir, checkout.commit, wanted)
        started = time.monotonic()
        with self._lock(checkout.repo):
            if key in self._prefetched:
                return 0
            try:
                with self._exclusive(clone_dir):
                    fetched = self._fetch_missing(url, clone_dir, checkout.commit, wanted)
            except (OSError, subprocess.SubprocessError, git.GitCommandError) as e:
                why = self._redact(str(getattr(e, "stderr", "") or e).strip()).splitlines()
                log.warning("could not fetch the history of %s in one request (%s): blame fetches it file by file",
                            ", ".join(wanted), why[-1] if why else type(e).__name__)  # fmt: skip
                return 0
            finally:
                with self._seconds_guard:
                    self.prefetch_seconds += time.monotonic() - started
            self._prefetched.add(key)
        return fetched

    def _fetch_missing(self, url: str, clone_dir: Path, commit: str, paths: tuple[str, ...]) -> int:
        if self._git(["config", "--get", "--default", "", "remote.origin.promisor"], url, clone_dir) != "true":
            return 0  # a full clone already has every version
        if git_version() < BATCH_FETCH_GIT:
            log.info("git %s is older than %s: blame fetches past versions one at a time",
                     ".".join(map(str, git_version())), ".".join(map(str, BATCH_FETCH_GIT)))  # fmt: skip
            return 0
        # `--missing=print` lists what the clone lacks without fetching it; literal pathspecs, so a path
        # from a stack trace is never read as pathspec magic.
        listed = self._git(
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
