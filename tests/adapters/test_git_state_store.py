"""The state branch with real git: orphan creation, racing saves, corrupt and future files, repair."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from error_autopilot.domain.errors import StateConflict, StateCorrupt, StateError
from error_autopilot.state.admin import repair, state_admin
from error_autopilot.state.model import State
from error_autopilot.state.store import GitStateStore, ReadOnlyStateStore
from tests.support.world import git


def _remote(tmp: Path) -> Path:
    remote = tmp / "ops.git"
    git(tmp, "init", "-q", "--bare", str(remote))
    return remote


def _spend(key: str):  # type: ignore[no-untyped-def]
    def mutate(state: State) -> State:
        spend = {**state.runs.tokens_by_day, key: 1}
        return state.model_copy(update={"runs": state.runs.model_copy(update={"tokens_by_day": spend})})

    return mutate


def _push_raw(tmp: Path, remote: Path, text: str) -> None:
    work = tmp / "hand-edit"
    git(tmp, "clone", "-q", str(remote), str(work))
    git(work, "checkout", "-q", "--orphan", "error-autopilot-state")
    (work / "state.json").write_text(text)
    git(work, "add", "state.json")
    git(work, "commit", "-q", "-m", "hand edit")
    git(work, "push", "-q", "-f", "origin", "HEAD:error-autopilot-state")


def test_first_save_creates_an_orphan_branch_holding_only_state_json(tmp_path: Path) -> None:
    remote = _remote(tmp_path)
    store = GitStateStore(str(remote), work_dir=tmp_path / "w")
    assert store.load() == State()
    store.update(_spend("2026-11-25"), "first")
    parents = git(tmp_path, "--git-dir", str(remote), "rev-list", "--parents", "-n1", "error-autopilot-state").split()
    assert len(parents) == 1, "the first state commit has no parent"
    files = git(tmp_path, "--git-dir", str(remote), "ls-tree", "--name-only", "error-autopilot-state")
    assert files == "state.json"
    assert store.load().runs.tokens_by_day == {"2026-11-25": 1}


def test_saving_from_a_checkout_leaves_its_branch_and_worktree_alone(tmp_path: Path) -> None:
    remote = _remote(tmp_path)
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", str(remote), str(checkout))
    (checkout / "README").write_text("mine\n")
    git(checkout, "add", "README")
    git(checkout, "commit", "-q", "-m", "user work")
    GitStateStore(str(checkout), work_dir=tmp_path / "w").update(_spend("d"), "save")
    assert git(checkout, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert git(checkout, "status", "--porcelain") == ""
    assert "error-autopilot-state" in git(tmp_path, "--git-dir", str(remote), "branch")


RACER = """
import sys
from pathlib import Path
from error_autopilot.state.model import State
from error_autopilot.state.store import GitStateStore
remote, work, key = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
store = GitStateStore(remote, work_dir=work)
for i in range(5):
    def mutate(s: State, k=f"{key}-{i}") -> State:
        spend = {**s.runs.tokens_by_day, k: 1}
        return s.model_copy(update={"runs": s.runs.model_copy(update={"tokens_by_day": spend})})
    store.update(mutate, f"{key} {i}")
"""


def test_two_processes_racing_to_save_lose_no_mutation(tmp_path: Path) -> None:
    remote = _remote(tmp_path)
    GitStateStore(str(remote), work_dir=tmp_path / "w0").update(_spend("seed"), "seed")
    procs = [
        subprocess.Popen([sys.executable, "-c", RACER, str(remote), str(tmp_path / f"w{n}"), f"p{n}"])
        for n in (1, 2)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    keys = set(GitStateStore(str(remote), work_dir=tmp_path / "w9").load().runs.tokens_by_day)
    assert keys == {"seed"} | {f"p{n}-{i}" for n in (1, 2) for i in range(5)}


def test_corrupt_state_is_a_clear_error_naming_file_and_branch(tmp_path: Path) -> None:
    remote = _remote(tmp_path)
    _push_raw(tmp_path, remote, '{"schema_version": 1, "cursors": ')
    with pytest.raises(StateCorrupt) as info:
        GitStateStore(str(remote), work_dir=tmp_path / "w").load()
    assert "state.json on branch error-autopilot-state" in str(info.value)
    assert "not valid JSON" in str(info.value) and "state repair" in str(info.value)


def test_a_newer_schema_version_is_refused_not_overwritten(tmp_path: Path) -> None:
    remote = _remote(tmp_path)
    _push_raw(tmp_path, remote, json.dumps({"schema_version": 99}))
    store = GitStateStore(str(remote), work_dir=tmp_path / "w")
    with pytest.raises(StateCorrupt, match="schema version 99, newer than"):
        store.update(_spend("x"), "must not write")
    assert json.loads(store.read_raw()[1] or "{}") == {"schema_version": 99}


def test_repair_keeps_valid_records_and_names_the_dropped_ones() -> None:
    good = {"fingerprint": "a" * 16, "service": "s", "title": "t", "first_seen": "2026-11-25T00:00:00Z",
            "last_seen": "2026-11-25T00:00:00Z"}  # fmt: skip
    raw = {"schema_version": 1, "incidents": {"a" * 16: good, "b" * 16: {"service": 3}},
           "cursors": {"prod": {"ts_ns": 5}, "dev": {"ts_ns": "soon"}}}  # fmt: skip
    state, dropped = repair(json.dumps(raw))
    assert set(state.incidents) == {"a" * 16} and set(state.cursors) == {"prod"}
    assert sorted(dropped) == ["cursor dev", f"incident {'b' * 16}"]


def test_read_only_store_never_pushes(tmp_path: Path) -> None:
    remote = _remote(tmp_path)
    store = ReadOnlyStateStore(GitStateStore(str(remote), work_dir=tmp_path / "w"))
    assert store.update(_spend("x"), "dry").runs.tokens_by_day == {"x": 1}
    assert git(tmp_path, "--git-dir", str(remote), "branch") == ""


def _tip(tmp: Path, remote: Path) -> str:
    return git(tmp, "--git-dir", str(remote), "rev-parse", "--verify", "-q", "error-autopilot-state")


def test_two_state_repositories_through_one_work_dir_stay_separate(tmp_path: Path) -> None:
    a, b = _remote(tmp_path), tmp_path / "b.git"
    git(tmp_path, "init", "-q", "--bare", str(b))
    work = tmp_path / "w"
    GitStateStore(str(a), work_dir=work).update(_spend("a"), "a")
    tip_a = _tip(tmp_path, a)
    store_b = GitStateStore(str(b), work_dir=work)
    assert store_b.load() == State(), "nothing of A may be read through B"
    store_b.update(_spend("b"), "b")
    assert _tip(tmp_path, a) == tip_a, "nothing may be written to A"
    assert GitStateStore(str(a), work_dir=work).load().runs.tokens_by_day == {"a": 1}
    assert GitStateStore(str(b), work_dir=work).load().runs.tokens_by_day == {"b": 1}


def test_the_unkeyed_clone_of_another_repository_is_never_used(tmp_path: Path) -> None:
    """The layout before keying: WORK_DIR/state-git cloned from A, reused for B (the reported bug)."""
    a, b = _remote(tmp_path), tmp_path / "b.git"
    git(tmp_path, "init", "-q", "--bare", str(b))
    GitStateStore(str(a), work_dir=tmp_path / "other").update(_spend("a"), "a")
    tip_a = _tip(tmp_path, a)
    legacy = tmp_path / "w" / "state-git"
    git(tmp_path, "init", "-q", "--bare", str(legacy))
    git(legacy, "remote", "add", "origin", str(a))
    store = GitStateStore(str(b), work_dir=tmp_path / "w")
    assert store.load() == State()
    store.update(_spend("b"), "b")
    assert _tip(tmp_path, a) == tip_a
    assert GitStateStore(str(b), work_dir=tmp_path / "x").load().runs.tokens_by_day == {"b": 1}


def test_a_clone_whose_origin_was_changed_is_recloned_not_used(tmp_path: Path) -> None:
    a, b = _remote(tmp_path), tmp_path / "b.git"
    git(tmp_path, "init", "-q", "--bare", str(b))
    store = GitStateStore(str(a), work_dir=tmp_path / "w")
    store.update(_spend("a"), "a")
    git(store.location.repo, "remote", "set-url", "origin", str(b))
    GitStateStore(str(a), work_dir=tmp_path / "w").update(_spend("a2"), "a2")
    assert git(tmp_path, "--git-dir", str(b), "branch") == "", "B was never written"
    assert set(GitStateStore(str(a), work_dir=tmp_path / "y").load().runs.tokens_by_day) == {"a", "a2"}


def test_each_branch_of_one_repository_has_its_own_state(tmp_path: Path) -> None:
    a = _remote(tmp_path)
    GitStateStore(str(a), branch="state-prod", work_dir=tmp_path / "w").update(_spend("prod"), "p")
    dev = GitStateStore(str(a), branch="state-dev", work_dir=tmp_path / "w")
    assert dev.load() == State()
    dev.update(_spend("dev"), "d")
    prod = GitStateStore(str(a), branch="state-prod", work_dir=tmp_path / "w")
    assert prod.load().runs.tokens_by_day == {"prod": 1}
    assert dev.location.repo != prod.location.repo


def test_a_state_repository_that_does_not_exist_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StateError) as info:
        GitStateStore(str(tmp_path / "nope.git"), work_dir=tmp_path / "w")
    assert str(info.value.message) == f"the state repository {tmp_path / 'nope.git'} does not exist"
    assert "omit it to keep state locally" in (info.value.hint or "")
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(StateError, match="is not a git repository"):
        GitStateStore(str(plain), work_dir=tmp_path / "w")


def test_an_unreachable_state_url_names_gits_reason_in_one_line(tmp_path: Path) -> None:
    store = GitStateStore(f"file://{tmp_path}/missing.git", work_dir=tmp_path / "w")
    with pytest.raises(StateError) as info:
        store.load()
    assert "\n" not in info.value.message and "cannot read state.json" in info.value.message
    assert "does not appear to be a git repository" in info.value.message


def test_a_checkout_without_a_remote_keeps_state_on_a_local_branch(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    git(tmp_path, "init", "-q", "-b", "main", str(checkout))
    git(checkout, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "init")
    store = GitStateStore(str(checkout), work_dir=tmp_path / "w")
    assert store.location.remote is None
    store.update(_spend("x"), "x")
    assert json.loads(git(checkout, "show", "error-autopilot-state:state.json"))["runs"]["tokens_by_day"] == {"x": 1}
    assert git(checkout, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert git(checkout, "status", "--porcelain") == ""
    assert not (tmp_path / "w" / "state-git").exists(), "no clone: the branch lives in the checkout"


def test_a_local_branch_save_that_lost_a_race_is_retried_not_lost(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    git(tmp_path, "init", "-q", str(checkout))
    first, second = (GitStateStore(str(checkout), work_dir=tmp_path / "w") for _ in range(2))
    tip, _ = first.read_raw()
    assert second.write_raw(State().model_dump_json(), "second saved first", tip)
    assert not first.write_raw(State().model_dump_json(), "stale parent", tip), "compare-and-swap refuses"
    first.update(_spend("after"), "retried")
    assert git(checkout, "rev-list", "--count", "error-autopilot-state") == "2"


def test_repair_refuses_a_newer_file_and_leaves_it_alone(tmp_path: Path) -> None:
    remote = _remote(tmp_path)
    newer = json.dumps({"schema_version": 99, "incidents": {}, "future": True})
    _push_raw(tmp_path, remote, newer)
    with pytest.raises(StateCorrupt, match="schema version 99, newer than"):
        state_admin("repair", str(remote), "error-autopilot-state", tmp_path / "w", False)
    assert GitStateStore(str(remote), work_dir=tmp_path / "w").read_raw()[1] == newer


def test_repair_keeps_the_daily_token_spend() -> None:
    raw = {"schema_version": 1, "incidents": {"x": {"service": 3}}, "runs": {"tokens_by_day": {"2026-11-25": 7}}}
    state, dropped = repair(json.dumps(raw))
    assert state.runs.tokens_by_day == {"2026-11-25": 7} and dropped == ["incident x"]


def test_repair_that_loses_a_race_says_nothing_was_written(tmp_path: Path) -> None:
    remote = _remote(tmp_path)
    _push_raw(tmp_path, remote, '{"schema_version": 1, "incidents": {"x": {"service": 3}}}')
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'error: cannot lock ref' >&2\nexit 1\n")  # another run saved in between
    hook.chmod(0o755)
    with pytest.raises(StateConflict, match="nothing written"):
        state_admin("repair", str(remote), "error-autopilot-state", tmp_path / "w", False)
