"""The state branch with real git: orphan creation, racing saves, corrupt and future files, repair."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from error_autopilot.app import repair
from error_autopilot.domain.errors import StateCorrupt
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
