"""No secret leaves the runner: `run` over log lines full of secrets, every output scanned.

The generated corpus (tests/fixtures/secrets/generated.json) is pushed into the loopback Loki, then
`error-autopilot run` runs as a process — once with the local sink, once with the GitHub sink against
the fake GitHub — with Telegram notifications to the fake Bot API. Every file it wrote, its console
output, every Telegram message, every GitHub request and every object of the state repository
(the whole history of the state branch) is searched for each secret and for every 12-character
piece of its random part.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import TEST_FIXTURES
from tests.support.action_runner import run_action
from tests.support.fakes.github import UNSPACED, FakeGitHub
from tests.support.fakes.telegram import FakeTelegram
from tests.support.world import World, checked_out, demo_world, git

pytestmark = pytest.mark.slow

CORPUS: dict[str, Any] = json.loads((TEST_FIXTURES / "secrets" / "generated.json").read_text(encoding="utf-8"))
POSITIVES: list[dict[str, str]] = CORPUS["positives"]
PUBLISHED = 12  # issues per run: enough to exercise every sink, few enough to stay quick; the rest stay pending


PIECE = 12


def _pieces(value: str, size: int = PIECE) -> set[str]:
    return {value[i : i + size] for i in range(max(1, len(value) - size + 1))}


NEEDLES = [(f"{p['provider']} {p['pattern']}", {p["secret"], *_pieces(p["random"])}) for p in POSITIVES]


def _by_piece() -> dict[str, set[int]]:
    """The needles of PIECE characters, each with the secrets (indices into NEEDLES) it belongs to: one pass
    over a text's windows finds them all, where searching the text for each (some 8,000) took most of these
    tests' time."""
    by_piece: dict[str, set[int]] = {}
    for n, (_, needles) in enumerate(NEEDLES):
        for needle in needles:
            if len(needle) == PIECE:
                by_piece.setdefault(needle, set()).add(n)
    return by_piece


BY_PIECE = _by_piece()


def leaked(where: str, text: str) -> list[str]:
    """`where: format` for every secret of the corpus found (whole or a 12-character piece) in `text`."""
    found: set[int] = set()
    for i in range(len(text) - PIECE + 1):
        if (secrets := BY_PIECE.get(text[i : i + PIECE])) is not None:
            found |= secrets
    return [
        f"{where}: {name}"
        for n, (name, needles) in enumerate(NEEDLES)
        if n in found or any(needle in text for needle in needles if len(needle) != PIECE)
    ]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with demo_world(tmp_path / "world") as w:
        config = w.service_map()
        for env in config["environments"].values():  # type: ignore[union-attr]
            env["telegram_chat"] = "-1001234567890"
        w.config.write_text(json.dumps(config, indent=2))
        now = time.time_ns()
        values = [[str(now - (len(POSITIVES) - i) * 1_000_000), p["line"]] for i, p in enumerate(POSITIVES)]
        push = {"streams": [{"stream": {"service_name": "order-service", "deployment_environment": "prod"},
                             "values": values}]}  # fmt: skip
        httpx.post(f"{w.loki.url}/loki/api/v1/push", json=push, timeout=30).raise_for_status()
        yield w


def _run(world: World, out: Path, sink: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    args = ["run", "--config", str(world.config), "--state-repo", str(world.ops_remote), "--sink", sink,
            "--work-dir", str(out / "work"), "--max-incidents", str(PUBLISHED), "--verbose"]  # fmt: skip
    if sink == "local":
        args += ["--out", str(out / "drafts")]
    full_env = {**{k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "AUTOPILOT_"))}, **env}
    return subprocess.run(
        [sys.executable, "-m", "error_autopilot", *args],
        env=full_env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def _files(root: Path) -> Iterator[tuple[str, str]]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and ".git" not in path.parts and "cache" not in path.parts:
            yield str(path.relative_to(root)), path.read_text(encoding="utf-8", errors="replace")


def _state_repository(remote: Path) -> str:
    """Every object of the state repository (every commit of the branch, reachable or not) as text."""
    objects = subprocess.run(["git", "--git-dir", str(remote), "cat-file", "--batch-all-objects", "--batch"],
                             capture_output=True, check=True).stdout  # fmt: skip
    history = git(remote, "--git-dir", str(remote), "log", "--all", "-p")
    return objects.decode("utf-8", "replace") + "\n" + history


def _assert_nothing_leaked(
    world: World, out: Path, proc: subprocess.CompletedProcess[str], extra: dict[str, str]
) -> None:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((out / "work" / "report.json").read_text())
    events = sum(w["events"] for w in report["windows"])
    assert events >= len(POSITIVES), "every planted line was read as an error"
    assert len(report["incidents"]) == PUBLISHED
    state = _state_repository(world.ops_remote)
    texts = {**dict(_files(out)), "console": proc.stdout + proc.stderr, "state repository": state, **extra}
    found = [hit for where, text in texts.items() for hit in leaked(where, text)]
    assert found == [], f"{len(found)} leak(s): {found[:20]}"


def test_local_sink_run_leaks_no_secret(world: World, tmp_path: Path) -> None:
    out = tmp_path / "local"
    with FakeTelegram() as telegram:
        env = {"TELEGRAM_BOT_TOKEN": telegram.token, "TELEGRAM_API_URL": telegram.api_url}
        proc = _run(world, out, "local", env)
        messages = "\n".join(str(m.get("text")) for m in telegram.sent)
    assert telegram.sent, "the run notified Telegram"
    assert len(list((out / "drafts").rglob("*.md"))) >= PUBLISHED
    state = json.loads(git(world.root, "--git-dir", str(world.ops_remote), "show", "error-autopilot-state:state.json"))
    pending = [r for r in state["incidents"].values() if r["pending"]]
    assert pending, "incidents beyond max-incidents wait in state"
    assert all(r["pending_incident"]["sample"] == [] for r in pending), "state keeps no log lines"
    _assert_nothing_leaked(world, out, proc, {"telegram": messages})


def test_github_sink_run_leaks_no_secret(world: World, tmp_path: Path) -> None:
    out = tmp_path / "github"
    requests: list[str] = []
    with FakeGitHub({"acme/ops": world.ops_remote}) as github, FakeTelegram() as telegram:
        github.on_request = lambda req: requests.append(
            f"{req.method} {req.path} {req.body.decode('utf-8', 'replace')}"
        )
        env = {"GITHUB_TOKEN": "ghs_test", "GITHUB_REPOSITORY": "acme/ops", "GITHUB_API_URL": github.url,
               **UNSPACED, "TELEGRAM_BOT_TOKEN": telegram.token,
               "TELEGRAM_API_URL": telegram.api_url}  # fmt: skip
        proc = _run(world, out, "github", env)
        issues = json.dumps([github.issues, {str(k): v for k, v in github.comments.items()}])
        messages = "\n".join(str(m.get("text")) for m in telegram.sent)
    assert len(github.issues["acme/ops"]) >= PUBLISHED // 2
    _assert_nothing_leaked(world, out, proc, {"github requests": "\n".join(requests), "github issues": issues,
                                              "telegram": messages})  # fmt: skip


def test_the_action_leaks_no_secret_into_its_summary_outputs_or_log(world: World, tmp_path: Path) -> None:
    """The composite action as the runner executes it: job summary, step outputs and the workflow log."""
    work = checked_out(world, tmp_path)
    with FakeGitHub({"acme/ops": world.ops_remote}) as github, FakeTelegram() as telegram:
        env = {"GITHUB_API_URL": github.url, **UNSPACED,
               "TELEGRAM_API_URL": telegram.api_url}  # fmt: skip
        inputs = {"github-token": "ghs_test", "telegram-bot-token": telegram.token, "max-incidents": str(PUBLISHED)}
        result = run_action(work, tmp_path / "runner", inputs=inputs, event_name="schedule", event={}, env=env)
        issues = json.dumps([github.issues, {str(k): v for k, v in github.comments.items()}])
        messages = "\n".join(str(m.get("text")) for m in telegram.sent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.summary and result.outputs["incidents"]
    texts = {
        **{f"checkout/{name}": text for name, text in _files(work / ".error-autopilot")},
        "job summary": result.summary, "step outputs": json.dumps(result.outputs),
        "workflow log": result.stdout + result.stderr, "github issues": issues, "telegram": messages,
        "state repository": _state_repository(world.ops_remote),
    }  # fmt: skip
    found = [hit for where, text in texts.items() for hit in leaked(where, text)]
    assert found == [], f"{len(found)} leak(s): {found[:20]}"
