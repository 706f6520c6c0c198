"""A run killed with SIGKILL at any stage is repaired by the next run: every incident published
exactly once, counts not doubled, nothing left pending."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from error_autopilot.demo.httpserver import Request
from tests.support.world import World, git

pytestmark = pytest.mark.slow
EXPECTED_COUNTS = {41, 37, 12, 5}



def _start(world: World, out: Path) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "error_autopilot", "run", "--config", str(world.config),
           "--state-repo", str(world.ops_remote), "--sink", "local", "--out", str(out / "drafts"),
           "--work-dir", str(out / "work")]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _kill_on(nth: int, pid: Callable[[], int]) -> Callable[[Request], None]:
    seen = [0]

    def hook(req: Request) -> None:
        seen[0] += 1
        if seen[0] == nth:
            os.kill(pid(), signal.SIGKILL)

    return hook


def _kill_on_push(remote: Path, nth: int, pid_file: Path) -> None:
    """A pre-receive hook that SIGKILLs the run on its nth push to the state branch (and refuses it)."""
    counter = remote / "pushes"
    hook = remote / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\n"
        f'n=$(($(cat "{counter}" 2>/dev/null || echo 0) + 1)); echo $n > "{counter}"\n'
        f'if [ "$n" -eq {nth} ]; then kill -9 "$(cat "{pid_file}")"; exit 1; fi\n'
    )
    hook.chmod(hook.stat().st_mode | stat.S_IEXEC)


def _recovered(world: World, out: Path) -> None:
    """Run again without faults and check the end state."""
    again = _start(world, out)
    assert again.wait(timeout=180) == 0, again.stderr.read() if again.stderr else ""
    drafts = sorted((out / "drafts" / "issues").glob("*.md"))
    assert len(drafts) == 4, [d.name for d in drafts]
    state = json.loads(git(world.root, "--git-dir", str(world.ops_remote), "show", "error-autopilot-state:state.json"))
    records = state["incidents"].values()
    assert not [r for r in records if r["pending"]], "nothing may stay pending"
    assert {r["total_count"] for r in records} == EXPECTED_COUNTS, "no occurrence counted twice or lost"


def test_killed_while_polling_loki(world: World, tmp_path: Path) -> None:
    proc: list[subprocess.Popen[str]] = []
    world.loki.app.on_request = _kill_on(2, lambda: proc[0].pid)  # type: ignore[attr-defined]
    proc.append(_start(world, tmp_path))
    assert proc[0].wait(timeout=120) == -signal.SIGKILL
    world.loki.app.on_request = None  # type: ignore[attr-defined]
    _recovered(world, tmp_path)


def test_killed_while_investigating(world: World, tmp_path: Path) -> None:
    proc: list[subprocess.Popen[str]] = []
    world.tempo.app.on_request = _kill_on(3, lambda: proc[0].pid)  # type: ignore[attr-defined]
    proc.append(_start(world, tmp_path))
    assert proc[0].wait(timeout=120) == -signal.SIGKILL
    world.tempo.app.on_request = None  # type: ignore[attr-defined]
    _recovered(world, tmp_path)


# publishing commits twice: the plan (every incident pending), then everything published in one commit
@pytest.mark.parametrize("push", [1, 2], ids=["recording-the-plan", "recording-what-was-published"])
def test_killed_while_publishing(world: World, tmp_path: Path, push: int) -> None:
    pid_file = tmp_path / "pid"
    _kill_on_push(world.ops_remote, push, pid_file)
    proc = _start(world, tmp_path)
    pid_file.write_text(str(proc.pid))
    assert proc.wait(timeout=120) == -signal.SIGKILL
    (world.ops_remote / "hooks" / "pre-receive").unlink()
    _recovered(world, tmp_path)
