"""`state scrub` with real git: a branch written by an older version, raw sample lines and unredacted
titles in every commit, becomes one commit without log text; and schema 2 drops the samples on load."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from error_autopilot.domain.errors import ConfigError, StateError
from error_autopilot.state.admin import state_admin
from error_autopilot.state.model import STATE_SCHEMA_VERSION
from error_autopilot.state.store import GitStateStore
from tests.support.world import git

BRANCH = "error-autopilot-state"
TOKEN = "ghp_" + "Rk7Qm2Vp9Lt4Wz8Ks1Nd6Bf3Hj5Gc0Ya2Uex"
PASSWORD = "Summer!8xK2#mqZ"
FP = "0123456789abcdef"


def _old_state(count: int) -> str:
    """state.json as versions before schema 2 wrote it: raw sample lines, titles unredacted."""
    when = "2026-11-25T00:00:00Z"
    incident = {
        "fingerprint": FP, "service": "orders", "environment": "prod",
        "title": f"AuthError: bad token {TOKEN} in orders", "count": count, "first_seen": when, "last_seen": when,
        "sample": [{"line_id": "a" * 24, "ts_ns": 1, "text": f"ERROR db login password={PASSWORD} token={TOKEN}"}],
        "stack": {"language": "python", "exceptions": [{"type": "AuthError", "message": f"bad token {TOKEN}"}]},
    }  # fmt: skip
    record = {"fingerprint": FP, "service": "orders", "title": incident["title"], "first_seen": when,
              "last_seen": when, "pending": True, "pending_incident": incident}  # fmt: skip
    return json.dumps({"schema_version": 1, "cursors": {"prod": {"ts_ns": count}}, "incidents": {FP: record}})


def _old_branch(tmp: Path) -> Path:
    remote = tmp / "ops.git"
    git(tmp, "init", "-q", "--bare", str(remote))
    work = tmp / "old-version"
    git(tmp, "clone", "-q", str(remote), str(work))
    git(work, "checkout", "-q", "--orphan", BRANCH)
    for count in (1, 2, 3):  # three runs, each commit holding the secrets
        (work / "state.json").write_text(_old_state(count))
        git(work, "add", "state.json")
        git(work, "commit", "-q", "-m", f"run {count}")
    git(work, "push", "-q", "origin", f"HEAD:{BRANCH}")
    return remote


def _everything(remote: Path) -> str:
    objects = subprocess.run(["git", "--git-dir", str(remote), "cat-file", "--batch-all-objects", "--batch"],
                             capture_output=True, check=True).stdout  # fmt: skip
    return objects.decode("utf-8", "replace")


def test_scrub_rewrites_the_history_as_one_commit_without_log_text(tmp_path: Path) -> None:
    remote = _old_branch(tmp_path)
    assert TOKEN in _everything(remote) and PASSWORD in _everything(remote)
    admin = ("scrub", str(remote), BRANCH, tmp_path / "work")
    with pytest.raises(ConfigError, match="--yes"):
        state_admin(*admin, False)
    assert len(git(remote, "--git-dir", str(remote), "rev-list", BRANCH).split()) == 3, "nothing without --yes"

    assert "scrubbed" in state_admin(*admin, True)
    assert len(git(remote, "--git-dir", str(remote), "rev-list", BRANCH).split()) == 1
    history = git(remote, "--git-dir", str(remote), "log", "-p", BRANCH)
    assert TOKEN not in history and PASSWORD not in history and TOKEN[4:16] not in history
    state = json.loads(git(remote, "--git-dir", str(remote), "show", f"{BRANCH}:state.json"))
    record = state["incidents"][FP]
    assert state["schema_version"] == STATE_SCHEMA_VERSION and state["cursors"]["prod"]["ts_ns"] == 3
    assert record["pending"] and record["pending_incident"]["count"] == 3 and record["pending_incident"]["sample"] == []
    assert record["title"] == "AuthError: bad token [REDACTED:github-token] in orders"
    assert "[REDACTED:github-token]" in record["pending_incident"]["stack"]["exceptions"][0]["message"]

    git(remote, "--git-dir", str(remote), "reflog", "expire", "--expire=now", "--all")
    git(remote, "--git-dir", str(remote), "gc", "-q", "--prune=now")
    assert TOKEN not in _everything(remote), "the old commits are unreachable: the remote's gc deletes them"


def test_scrub_refuses_when_a_run_saved_meanwhile(tmp_path: Path) -> None:
    remote = _old_branch(tmp_path)
    store = GitStateStore(str(remote), branch=BRANCH, work_dir=tmp_path / "work")
    tip, _text = store.read_raw()
    assert tip is not None
    git(remote, "--git-dir", str(remote), "update-ref", f"refs/heads/{BRANCH}", f"{tip}~1")  # the branch moved
    with pytest.raises(StateError, match="cannot rewrite"):
        store.replace_history("{}\n", "scrub", tip)
    assert len(git(remote, "--git-dir", str(remote), "rev-list", BRANCH).split()) == 2


def test_loading_an_old_state_drops_its_samples_and_the_next_save_writes_none(tmp_path: Path) -> None:
    remote = _old_branch(tmp_path)
    store = GitStateStore(str(remote), branch=BRANCH, work_dir=tmp_path / "work")
    pending = store.load().incidents[FP].pending_incident
    assert pending is not None and pending.sample == () and pending.count == 3
    assert TOKEN not in pending.model_dump_json() and PASSWORD not in pending.model_dump_json()
    store.update(lambda s: s.model_copy(update={"cursors": {}}), "a later run")
    tip_text = git(remote, "--git-dir", str(remote), "show", f"{BRANCH}:state.json")
    assert TOKEN not in tip_text and PASSWORD not in tip_text
