"""state.json on a dedicated branch, read and written with git plumbing.

Saving never touches a working tree or the current branch: the new file becomes a blob, a tree
and a commit whose parent is the branch tip just read, then becomes the branch without force — a
push to the state repository, or a compare-and-swap `update-ref` on a local branch. A rejected
save means someone else saved first: read again, re-apply the (pure) mutation, try again.

Where state lives (`locate`):
- a checkout with an `origin` remote (the action's): its origin, with the credentials actions/checkout left;
- a bare repository path or a git URL: a private clone in WORK_DIR/state-git/, one per repository and
  branch, checked against both before every use (a clone of another repository is never used);
- a checkout without a remote, or no state repository at all (local mode): a local branch, of that
  checkout or of WORK_DIR/state.git.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import git

from error_autopilot.domain.errors import StateConflict, StateCorrupt, StateError
from error_autopilot.state.migrations import migrate
from error_autopilot.state.model import State, state_json

log = logging.getLogger(__name__)

STATE_FILE = "state.json"
Mutation = Callable[[State], State]
_NO_COMMIT = "0" * 40
_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:)", re.IGNORECASE)  # scheme:// or scp-like user@host:
_FIX = "give --state-repo a git checkout, a bare repository or a git URL, or omit it to keep state locally"


@dataclass(frozen=True)
class StateLocation:
    """Where one state branch lives, resolved from what the user asked for."""

    repo: Path  # the repository git runs in
    remote: str | None  # where saves are pushed; None: a local branch of `repo`
    description: str  # for messages: "branch B of R"
    local_mode: bool = False  # no state repository was given and none was found: WORK_DIR/state.git


def _git_error(e: git.GitCommandError) -> str:
    """git's first `fatal:`/`error:` reason, not its whole stderr (GitPython wraps it in `stderr: '…'`)."""
    text = str(e.stderr or "")
    found = re.search(r"(?:fatal|error): (.+?)'?$", text, re.MULTILINE)
    if found:
        return found.group(1).strip()
    lines = [line.strip(" '") for line in text.splitlines() if line.strip(" '")]
    return lines[0].removeprefix("stderr: ").strip(" '") if lines else str(e)


def _has_origin(path: Path) -> bool:
    try:
        return "origin" in [r.name for r in git.Repo(path).remotes]
    except (git.GitError, ValueError):
        return False


def _is_bare(path: Path) -> bool:
    return (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir()


def _cache_dir(work_dir: Path, remote: str, branch: str) -> Path:
    """One private clone per (repository, branch): the key is in the folder name."""
    digest = hashlib.sha256(f"{remote}\0{branch}".encode()).hexdigest()[:12]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", remote.rstrip("/").removesuffix(".git").rsplit("/", 1)[-1])[:40]
    return work_dir / "state-git" / f"{slug or 'state'}-{digest}"


def _private_clone(work_dir: Path, remote: str, branch: str) -> Path:
    """The private clone for exactly this remote and branch; anything else found there is replaced."""
    legacy = work_dir / "state-git"
    if (legacy / "HEAD").is_file():  # the old unkeyed layout: a cache only (every save was pushed)
        log.info("replacing the unkeyed state clone %s with one per state repository", legacy)
        shutil.rmtree(legacy)
    private = _cache_dir(work_dir, remote, branch)
    if (private / "HEAD").is_file():
        reader = git.Repo(private).config_reader()
        found = (
            reader.get_value('remote "origin"', "url", ""),
            reader.get_value("error-autopilot", "remote", ""),
            reader.get_value("error-autopilot", "branch", ""),
        )
        if found == (remote, remote, branch):
            return private
        log.warning("the state clone %s belongs to %s (branch %s), not %s: recloning", private, found[0], found[2],
                    remote)  # fmt: skip
        shutil.rmtree(private)
    private.mkdir(parents=True, exist_ok=True)
    bare = git.Repo.init(private, bare=True)
    bare.create_remote("origin", remote)
    with bare.config_writer() as writer:
        writer.set_value("error-autopilot", "remote", remote)
        writer.set_value("error-autopilot", "branch", branch)
    return private


def locate(repo: str | None, branch: str, work_dir: Path) -> StateLocation:
    """Resolve `--state-repo` (None: the current directory if it is a checkout, else local mode)."""
    where = f"branch {branch} of"
    if repo is None and not (Path(".") / ".git").exists():
        local = work_dir / "state.git"
        if not (local / "HEAD").is_file():
            local.mkdir(parents=True, exist_ok=True)
            git.Repo.init(local, bare=True)
        return StateLocation(local.resolve(), None, f"{where} {local}", local_mode=True)
    repo = repo or "."
    if _URL.match(repo):
        return StateLocation(_private_clone(work_dir, repo, branch), repo, f"{where} {repo}")
    path = Path(repo).expanduser()
    if not path.exists():
        raise StateError(f"the state repository {repo} does not exist", hint=_FIX)
    if (path / ".git").exists():
        here = path.resolve()
        if _has_origin(path):  # the action's checkout: reuse its origin and credentials
            return StateLocation(here, "origin", f"{where} the origin of {here}")
        return StateLocation(here, None, f"{where} {here} (a local branch: it has no remote)")
    if _is_bare(path):
        remote = str(path.resolve())
        return StateLocation(_private_clone(work_dir, remote, branch), remote, f"{where} {repo}")
    raise StateError(f"the state repository {repo} is not a git repository", hint=_FIX)


class GitStateStore:
    """ports.StateStore on a branch of a state repository (see `locate`)."""

    def __init__(
        self, repo: str | None, *, branch: str = "error-autopilot-state", work_dir: Path, max_retries: int = 8,
        author: tuple[str, str] = ("error-autopilot", "error-autopilot@users.noreply.github.com"),
    ) -> None:  # fmt: skip
        self.branch = branch
        self._max_retries = max_retries
        self._author = author
        try:
            self.location = locate(repo, branch, work_dir)
            self._repo = git.Repo(self.location.repo)
            self._repo.git.update_environment(GIT_TERMINAL_PROMPT="0")  # a missing credential fails, never waits
        except git.GitCommandError as e:
            raise StateError(f"cannot open the state repository {repo or '.'}: {_git_error(e)}", hint=_FIX) from e
        except git.GitError as e:
            raise StateError(f"cannot open the state repository {repo or '.'}: {e}", hint=_FIX) from e
        self._where = f"{STATE_FILE} on {self.location.description}"

    @property
    def _remote_ref(self) -> str:
        return f"refs/remotes/origin/{self.branch}"

    def _fetch(self) -> str | None:
        """Fetch the branch; its tip sha, or None when the branch does not exist yet."""
        if self.location.remote is None:
            try:
                return str(self._repo.git.rev_parse("--verify", "--quiet", f"refs/heads/{self.branch}^{{commit}}"))
            except git.GitCommandError:
                return None
        try:
            heads = str(self._repo.git.ls_remote("--heads", "origin", f"refs/heads/{self.branch}"))
            if not heads.strip():
                return None
            self._repo.git.fetch("--quiet", "origin", f"+refs/heads/{self.branch}:{self._remote_ref}")
            return str(self._repo.git.rev_parse(self._remote_ref))
        except git.GitCommandError as e:
            raise StateError(
                f"cannot read {self._where}: {_git_error(e)}",
                hint="check that the repository exists and this runner may fetch from it",
            ) from e

    def read_raw(self) -> tuple[str | None, str | None]:
        """(tip sha, state.json text) — both None when the branch does not exist."""
        tip = self._fetch()
        if tip is None:
            return None, None
        try:
            return tip, str(self._repo.git.show(f"{tip}:{STATE_FILE}"))
        except git.GitCommandError as e:
            raise StateCorrupt(f"{self._where} is missing from the branch tip {tip[:12]}") from e

    def _decode(self, text: str | None) -> State:
        if text is None:
            return State()
        try:
            raw: Any = json.loads(text)
        except json.JSONDecodeError as e:
            raise StateCorrupt(
                f"{self._where} is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})",
                hint="`error-autopilot state show` prints it; `state repair` or `state reset --yes` fixes it",
            ) from e
        return migrate(raw, where=self._where)

    def branch_exists(self) -> bool:
        """Whether the state branch exists on the remote."""
        return self._fetch() is not None

    def load(self) -> State:
        """The current state; an empty State before the first save."""
        return self._decode(self.read_raw()[1])

    def _commit(self, text: str, parent: str | None, message: str) -> str:
        blob = self._git_stdin(text, "hash_object", "-w", "--stdin")
        tree = self._git_stdin(f"100644 blob {blob}\t{STATE_FILE}\n", "mktree")
        name, email = self._author
        env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": name,
               "GIT_COMMITTER_EMAIL": email}  # fmt: skip
        args = [tree, "-m", message] + (["-p", parent] if parent else [])
        return str(self._repo.git.commit_tree(*args, env=env))

    def _git_stdin(self, text: str, command: str, *args: str) -> str:
        with tempfile.TemporaryFile() as stdin:  # Popen needs a real file descriptor
            stdin.write(text.encode("utf-8"))
            stdin.seek(0)
            return str(getattr(self._repo.git, command)(*args, istream=stdin))

    def write_raw(self, text: str, message: str, parent: str | None) -> bool:
        """Save `text` as the new state on top of `parent`; False when someone else saved first."""
        try:
            commit = self._commit(text, parent, message)
        except git.GitCommandError as e:  # a full disk or an unwritable object store
            reason = _git_error(e)
            raise StateError(f"cannot save {self._where}: {reason}", hint="check disk space and permissions") from e
        if self.location.remote is None:
            try:  # compare-and-swap: only if the branch is still at `parent` (or still absent)
                self._repo.git.update_ref(f"refs/heads/{self.branch}", commit, parent or _NO_COMMIT)
            except git.GitCommandError:
                return False
            return True
        try:
            self._repo.git.push("--quiet", "origin", f"{commit}:refs/heads/{self.branch}")
        except git.GitCommandError as e:
            stderr = e.stderr or ""
            if any(s in stderr for s in ("rejected", "non-fast-forward", "fetch first", "failed to update ref",
                                         "cannot lock ref")):  # fmt: skip
                return False
            raise StateError(
                f"cannot save {self._where}: {_git_error(e)}", hint="check that this runner may push to it"
            ) from e
        return True

    def replace_history(self, text: str, message: str, expected_tip: str) -> None:
        """Make `text` the branch's only commit: a forced push of a parentless commit, refused when the
        branch moved past `expected_tip` meanwhile (a run saved: scrub again)."""
        commit = self._commit(text, None, message)
        lease = f"--force-with-lease=refs/heads/{self.branch}:{expected_tip}"
        try:
            self._repo.git.push("--quiet", lease, "origin", f"{commit}:refs/heads/{self.branch}")
        except git.GitCommandError as e:
            raise StateError(
                f"cannot rewrite {self._where}: {(e.stderr or '').strip() or e}",
                hint="a run saved meanwhile, or the branch is protected: retry between runs",
            ) from e

    def update(self, mutate: Mutation, message: str) -> State:
        """Re-read, apply `mutate`, commit and push; retried when another run saved first."""
        for attempt in range(1, self._max_retries + 1):
            tip, text = self.read_raw()
            state = self._decode(text)
            new = mutate(state)
            if new == state and tip is not None:
                return state
            body = state_json(new)
            if self.write_raw(body, f"error-autopilot: {message}", tip):
                return new
            log.info("state push rejected (attempt %d): another run saved first; retrying", attempt)
            time.sleep(random.uniform(0.05, 0.3) * attempt)  # noqa: S311 - jitter, not crypto
        raise StateConflict(f"could not save {self._where} after {self._max_retries} attempts: every push was rejected")


class SeededStateStore:
    """A read-only view of a store with a pure function applied on load (e.g. markers of a lost branch)."""

    def __init__(self, inner: GitStateStore, seed: Mutation) -> None:
        self._inner = inner
        self._seed = seed

    def load(self) -> State:
        """The stored state, seeded."""
        return self._seed(self._inner.load())

    def update(self, mutate: Mutation, message: str) -> State:
        """The mutated view, computed and discarded."""
        return mutate(self.load())


class ReadOnlyStateStore:
    """A store that reads the real state but never writes (plan and --dry-run)."""

    def __init__(self, inner: GitStateStore) -> None:
        self._inner = inner

    def load(self) -> State:
        """The current state."""
        return self._inner.load()

    def update(self, mutate: Mutation, message: str) -> State:
        """The mutated state, computed and discarded."""
        return mutate(self._inner.load())
