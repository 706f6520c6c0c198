"""state.json on a dedicated branch, read and written with git plumbing.

Saving never touches a working tree or the current branch: the new file becomes a blob, a tree
and a commit whose parent is the branch tip just fetched, pushed without force. A rejected push
means someone else saved first: fetch, re-apply the (pure) mutation to their state, try again.
Works in the action's checkout (its `origin` carries the credentials actions/checkout left), on a
bare repository path, or on any git URL.
"""

from __future__ import annotations

import json
import logging
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import git

from error_autopilot.domain.errors import StateConflict, StateCorrupt, StateError
from error_autopilot.state.migrations import migrate
from error_autopilot.state.model import State

log = logging.getLogger(__name__)

STATE_FILE = "state.json"
Mutation = Callable[[State], State]


class GitStateStore:
    """ports.StateStore on a branch of `repo` (a working clone, a bare repo path or a URL)."""

    def __init__(
        self, repo: str, *, branch: str = "error-autopilot-state", work_dir: Path, max_retries: int = 8,
        author: tuple[str, str] = ("error-autopilot", "error-autopilot@users.noreply.github.com"),
    ) -> None:  # fmt: skip
        self.branch = branch
        self._max_retries = max_retries
        self._author = author
        self._where = f"{STATE_FILE} on branch {branch} of {repo}"
        try:
            self._repo = self._open(repo, work_dir)
        except git.GitError as e:
            raise StateError(f"cannot open the state repository {repo}: {e}") from e

    @staticmethod
    def _open(repo: str, work_dir: Path) -> git.Repo:
        path = Path(repo)
        if path.is_dir() and (path / ".git").exists():
            return git.Repo(path)  # the action's checkout: reuse its origin and credentials
        private = work_dir / "state-git"
        if not (private / "HEAD").exists():
            private.mkdir(parents=True, exist_ok=True)
            bare = git.Repo.init(private, bare=True)
            bare.create_remote("origin", str(path.resolve()) if path.exists() else repo)
        return git.Repo(private)

    @property
    def _remote_ref(self) -> str:
        return f"refs/remotes/origin/{self.branch}"

    def _fetch(self) -> str | None:
        """Fetch the branch; its tip sha, or None when the branch does not exist yet."""
        try:
            heads = str(self._repo.git.ls_remote("--heads", "origin", f"refs/heads/{self.branch}"))
            if not heads.strip():
                return None
            self._repo.git.fetch("--quiet", "origin", f"+refs/heads/{self.branch}:{self._remote_ref}")
            return str(self._repo.git.rev_parse(self._remote_ref))
        except git.GitCommandError as e:
            raise StateError(f"cannot fetch {self._where}: {e.stderr.strip() or e}") from e

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
        """Push `text` as the new state on top of `parent`; False when the push was rejected."""
        commit = self._commit(text, parent, message)
        try:
            self._repo.git.push("--quiet", "origin", f"{commit}:refs/heads/{self.branch}")
        except git.GitCommandError as e:
            stderr = e.stderr or ""
            if any(s in stderr for s in ("rejected", "non-fast-forward", "fetch first", "failed to update ref",
                                         "cannot lock ref")):  # fmt: skip
                return False
            raise StateError(f"cannot push {self._where}: {stderr.strip() or e}") from e
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
            body = json.dumps(new.model_dump(mode="json"), indent=1, sort_keys=True) + "\n"
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
