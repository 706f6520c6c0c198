"""Every action run and CLI call starts a Python process: it must not pay for SDKs the run does not use.

Each test runs the real command (`python -X importtime -m error_autopilot …`) and reads the modules it
imported from the interpreter's own import log, so an eager import anywhere on the path fails here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

# The SDKs and clients a command loads only when it uses them (top-level module names).
CLAUDE, GITHUB, GITPYTHON, HTTP = "anthropic", "github", "git", "httpx"
HEAVY = (CLAUDE, GITHUB, GITPYTHON, HTTP, "requests", "urllib3")
CLOSED_PORT = "http://127.0.0.1:9"  # discard: nothing listens, every call fails at once

_MAP = {
    "environments": {"prod": {"loki": {"url": CLOSED_PORT, "selector": '{env="prod"}'}}},
    "services": {"svc": {"repo": "acme/svc"}},
}


def loaded_modules(*args: str, cwd: Path, env: dict[str, str] | None = None) -> tuple[set[str], int]:
    """(top-level modules the real CLI imported, its exit code)."""
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "error_autopilot", *args],
        cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=120, check=False,
    )  # fmt: skip
    names = {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in run.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "error_autopilot" in names and "argparse" in names, f"no import log: {run.stderr[-2000:]}"
    return names, run.returncode


@pytest.fixture
def service_map(tmp_path: Path) -> Path:
    path = tmp_path / "service-map.json"
    path.write_text(json.dumps(_MAP))
    return path


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["plan", "--help"], ["schema"]])
def test_version_and_help_load_no_sdk_and_no_http_stack(args: list[str], tmp_path: Path) -> None:
    names, code = loaded_modules(*args, cwd=tmp_path)
    assert code == 0
    assert not names & set(HEAVY), sorted(names & set(HEAVY))


def test_check_loads_no_sdk(service_map: Path, tmp_path: Path) -> None:
    names, code = loaded_modules(
        "check", "--config", str(service_map), cwd=tmp_path, env={"GITHUB_TOKEN": "t", "ANTHROPIC_API_KEY": "k"}
    )
    assert code == 0
    assert not names & set(HEAVY), sorted(names & set(HEAVY))


def _state_repo(root: Path, *, with_branch: bool) -> Path:
    """A bare state repository, with the state branch already there or not."""
    remote = root / "state.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    if with_branch:
        work = root / "state-work"
        subprocess.run(["git", "init", "-q", "-b", "error-autopilot-state", str(work)], check=True)
        (work / "state.json").write_text("{}\n")
        for args in (["add", "-A"], ["commit", "-q", "-m", "state"], ["push", "-q", str(remote), "HEAD"]):
            subprocess.run(["git", *args], cwd=work, check=True, capture_output=True)
    return remote


@pytest.mark.parametrize("with_branch", [True, False])
def test_plan_loads_github_only_to_rebuild_a_lost_state_branch(
    with_branch: bool, service_map: Path, tmp_path: Path
) -> None:
    env = {"GITHUB_TOKEN": "t", "GITHUB_API_URL": CLOSED_PORT, "ANTHROPIC_API_KEY": "k"}
    state = _state_repo(tmp_path, with_branch=with_branch)
    names, code = loaded_modules(
        "plan", "--config", str(service_map), "--work-dir", str(tmp_path / "work"), "--state-repo", str(state),
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert code == 3  # the only Loki is unreachable: the plan is made (and written) with its error
    assert {HTTP, GITPYTHON} <= names, "plan polls Loki and reads the state branch"
    assert CLAUDE not in names
    # With the branch there, the issue markers are never needed; without it they are read from GitHub.
    assert (GITHUB in names) is not with_branch


def test_the_cli_module_imports_only_the_standard_library_and_our_errors() -> None:
    listing = "import sys, error_autopilot.cli; print(sorted({m.split('.')[0] for m in sys.modules}))"
    loaded = subprocess.run(
        [sys.executable, "-c", listing],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "'error_autopilot'" in loaded, "did not see the process's modules"
    assert "'pydantic'" not in loaded and "'anthropic'" not in loaded


def test_the_demo_publishes_locally_without_the_github_or_claude_sdk(tmp_path: Path) -> None:
    names, code = loaded_modules("demo", "--out", str(tmp_path / "demo-out"), cwd=tmp_path)
    assert code == 0
    assert {HTTP, GITPYTHON} <= names, "the demo polls its Loki and blames its repositories"
    assert not names & {GITHUB, CLAUDE}, sorted(names & {GITHUB, CLAUDE})
