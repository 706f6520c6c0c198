"""Shared test setup: a clean environment for every test, and real git with a fixed identity."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

_PREFIXES = ("AUTOPILOT_", "GITHUB_", "ANTHROPIC_", "TELEGRAM_", "INPUT_", "RUNNER_")

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_FIXTURES = Path(__file__).resolve().parent / "fixtures"
# Payloads recorded from real Loki, Tempo, Grafana and Telegram (each folder says where from): copied
# into the repository so a fresh clone tests with nothing beside it.
SHARED_FIXTURES = TEST_FIXTURES / "real"
# A suite started in the background by a shell without job control (`make test &` in a script, `nohup`) inherits
# SIGINT ignored, and every run a test starts would ignore it too: the Ctrl-C tests would see runs finish instead of
# stop. A handler of our own here means each child starts with the default disposition again (exec resets it).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
# Longest first: xdist's workers run their queues from the front and steal from the back of another's, so a
# long test queued last leaves the other workers idle while it runs; short tests last even out the finish.
FIRST = ("heavy", "slow")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `heavy`, then `slow`, ahead of the rest, each group in collection order (every xdist
    worker collects the same order, as it must)."""
    items.sort(key=lambda item: next((n for n, mark in enumerate(FIRST) if item.get_closest_marker(mark)), len(FIRST)))


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No test sees the developer's tokens or the runner's variables; git is isolated and identified."""
    for name in list(os.environ):
        if name.startswith(_PREFIXES) or name == "CI":
            monkeypatch.delenv(name, raising=False)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Test Author")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "test@example.com")
    (home / ".gitconfig").write_text('[init]\n\tdefaultBranch = main\n[protocol "file"]\n\tallow = always\n')
    yield
