"""A run that nears its deadline stops starting investigations, publishes what is ready and leaves the
rest pending; the next run publishes those exactly once. Real git state branch, local sink, loopback
Loki/Tempo; the run's clock is a fake that moves 150 s on every Tempo request."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from error_autopilot import app, commands
from error_autopilot.config.settings import Settings
from error_autopilot.demo.httpserver import Request
from error_autopilot.resilience import Deadline
from tests.support.world import World, git

pytestmark = pytest.mark.slow
EXPECTED_COUNTS = {41, 37, 12, 5}



def _state(world: World) -> dict[str, dict[str, object]]:
    text = git(world.root, "--git-dir", str(world.ops_remote), "show", "error-autopilot-state:state.json")
    incidents: dict[str, dict[str, object]] = json.loads(text)["incidents"]
    return incidents


def test_deadline_leaves_the_rest_pending_and_the_next_run_publishes_them_once(world: World, tmp_path: Path) -> None:
    now = [0.0]

    def tempo_takes_150s(req: Request) -> None:
        now[0] += 150

    settings = Settings(config=world.config, work_dir=tmp_path / "work", cache_dir=tmp_path / "cache",
                        investigate_workers=1, run_deadline_s=300)  # fmt: skip
    opts = commands.RunOptions(state_repo=str(world.ops_remote), sink="local", out=tmp_path / "drafts")
    world.tempo.app.on_request = tempo_takes_150s  # type: ignore[attr-defined]
    ctx = dataclasses.replace(app.load_context(settings), deadline=Deadline(300, clock=lambda: now[0]))
    first = commands.execute_run(ctx, opts)
    world.tempo.app.on_request = None  # type: ignore[attr-defined]

    published_first = {i.fingerprint for i in first.incidents}
    assert 1 <= len(published_first) < 4, "some incidents published, the rest left for later"
    assert all(i.issue_action == "created" for i in first.incidents)
    left = 4 - len(published_first)
    assert f"{left} incident(s) left pending for the next run: the run deadline neared" in " ".join(first.truncated)
    pending = {fp for fp, r in _state(world).items() if r["pending"]}
    assert len(pending) == left and not pending & published_first
    deferred = json.loads((tmp_path / "work" / "findings" / "deferred.json").read_text())
    assert deferred == sorted(pending), "a separate publish job learns what was left, too"

    second = commands.execute_run(app.load_context(settings), opts)
    published_second = {i.fingerprint for i in second.incidents}
    assert published_second == pending, "exactly the pending ones, nothing published twice"
    assert all(i.issue_action == "created" for i in second.incidents)
    assert not any("deadline" in t for t in second.truncated)
    assert len(list((tmp_path / "drafts" / "issues").glob("*.md"))) == 4
    records = _state(world).values()
    assert not [r for r in records if r["pending"]]
    assert {r["total_count"] for r in records} == EXPECTED_COUNTS, "no occurrence lost or counted twice"
