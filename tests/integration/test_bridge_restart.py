"""Kill -9 the bridge mid-stream and start it again: no alert dispatched twice, none missed.

A real `python -m error_autopilot.bridge` process talks to the fake Bot API and the fake GitHub
dispatch endpoint (see tests/adapters/test_bridge.py) over loopback; the assertions are on what
the fake GitHub recorded.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from error_autopilot.bridge.state import load_state
from error_autopilot.demo.httpserver import LoopbackServer
from tests.adapters.test_bridge import ALICE, PRIVATE, REPO, FakeGitHubDispatch
from tests.support.fakes.telegram import FakeTelegram

pytestmark = pytest.mark.slow


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[FakeTelegram, FakeGitHubDispatch, Path, dict[str, str]]]:
    gh = FakeGitHubDispatch()
    with FakeTelegram(max_wait_s=0.2) as tg, LoopbackServer(gh.app) as gh_server:
        config = {
            "repo": REPO,
            "allowed_user_ids": [ALICE["id"]],
            "default_environment": "prod",
            "telegram_api_url": tg.api_url,
            "github_api_url": gh_server.url,
            "state_file": "state.json",
            "poll_timeout_s": 1,
        }
        path = tmp_path / "bridge.json"
        path.write_text(json.dumps(config))
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": tg.token, "BRIDGE_GITHUB_TOKEN": gh.token}
        yield tg, gh, path, env
        gh.release.set()
        assert tg.server.unexpected == [] and gh_server.unexpected == []


def alert(tg: FakeTelegram, service: str) -> int:
    text = f"🚨 {service} - ERROR LOG!!! is Firing\nDescription: Pls Check it ASAP"
    origin = {"type": "user", "date": 1, "sender_user": {"id": 5, "is_bot": True, "first_name": "Grafana"}}
    return tg.add_update("message", tg.message(PRIVATE, text, user=ALICE, forward_origin=origin))


def start(path: Path, env: dict[str, str], log: Path, *, once: bool = False) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "error_autopilot.bridge", "--config", str(path), *(["--once"] if once else [])]
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=log.open("ab"))


def wait_for(condition: Any, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def services(gh: FakeGitHubDispatch) -> list[str]:
    return [d["client_payload"]["service"] for d in gh.dispatches]


def test_sigkill_in_the_middle_of_a_batch_neither_repeats_nor_loses(world: Any, tmp_path: Path) -> None:
    tg, gh, path, env = world
    ids = [alert(tg, f"svc-{n}") for n in range(1, 7)]
    gh.hold_at = 4  # the 4th dispatch hangs: the process is killed with 3 done and the batch unfinished
    log = tmp_path / "bridge.log"
    proc = start(path, env, log)
    try:
        wait_for(gh.holding.is_set, "the 4th dispatch")
        assert services(gh) == ["svc-1", "svc-2", "svc-3"]
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL
    finally:
        proc.kill()
    gh.release.set()  # the held request dies with its client: GitHub never accepted it
    assert load_state(path.parent / "state.json").offset is None  # the batch was never confirmed
    ids += [alert(tg, "svc-7"), alert(tg, "svc-8")]  # alerts that arrive while the bridge is down

    again = start(path, env, log, once=True)
    assert again.wait(30) == 0, log.read_text()
    assert services(gh) == [f"svc-{n}" for n in range(1, 9)]  # each exactly once, none missed
    assert load_state(path.parent / "state.json").offset == ids[-1] + 1
    assert log.read_text().count("already dispatched before a restart") == 3


def test_sigkill_while_idle_then_restart_dispatches_nothing_again(world: Any, tmp_path: Path) -> None:
    tg, gh, path, env = world
    for n in range(1, 4):
        alert(tg, f"svc-{n}")
    log = tmp_path / "bridge.log"
    proc = start(path, env, log)
    try:
        wait_for(lambda: len(gh.dispatches) == 3 and not tg.updates, "the batch to be handled and confirmed")
        polls = tg.polls
        wait_for(lambda: tg.polls > polls + 1, "the bridge to be idle in its long poll")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        proc.kill()
    alert(tg, "svc-4")
    again = start(path, env, log, once=True)
    assert again.wait(30) == 0, log.read_text()
    assert services(gh) == ["svc-1", "svc-2", "svc-3", "svc-4"]
