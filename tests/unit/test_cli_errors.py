"""The CLI's failure contract, in-process: one line on stderr (problem — fix), a distinct exit code,
and refusals before anything is polled or saved."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from error_autopilot.cli import main

UNREACHABLE = "http://127.0.0.1:9"  # nothing listens: a test that polled would fail differently


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "service-map.json"
    env = {"loki": {"url": UNREACHABLE, "selector": '{env="dev"}'}}
    path.write_text(json.dumps({"environments": {"dev": env}, "services": {"api": {"repo": "acme/api"}}}))
    return path


@pytest.fixture(autouse=True)
def laptop(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("GITHUB_ACTIONS", "GITHUB_TOKEN", "AUTOPILOT_GITHUB_TOKEN", "AUTOPILOT_WORK_DIR"):
        monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "plain"
    folder.mkdir()
    monkeypatch.chdir(folder)


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_local_state_in_an_actions_job_is_refused_before_polling(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:  # fmt: skip
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert main(["plan", "--config", str(config)]) == 4
    out = capsys.readouterr()
    assert out.err.splitlines() == [
        "error: no state repository: this folder is not a checkout, and local state would be lost with the job"
        " — run actions/checkout before error-autopilot, or pass --state-repo"
    ]
    assert "::error title=State branch problem::" in out.out


def test_a_work_dir_that_is_a_file_is_exit_5(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Path("taken").write_text("a file, not a folder")
    assert main(["plan", "--config", str(config), "--work-dir", "taken"]) == 5
    line = _one_line(capsys)
    assert line.startswith("error: cannot write to taken (--work-dir): ") and "choose a writable folder" in line


def test_any_unwritable_path_is_exit_5_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    """A path no preflight knows about (the demo's --out) still ends as one line."""
    Path("taken").write_text("x")
    assert main(["demo", "--out", "taken/demo"]) == 5
    line = _one_line(capsys)
    assert line.startswith(f"error: cannot write {Path.cwd() / 'taken' / 'demo'}") and "Not a directory" in line


def test_state_show_of_a_missing_repository_is_one_line_exit_4(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["state", "show", "--state-repo", "no-such-ops.git"]) == 4
    assert _one_line(capsys) == (
        "error: the state repository no-such-ops.git does not exist — give --state-repo a git checkout, a bare"
        " repository or a git URL, or omit it to keep state locally"
    )


def test_state_show_in_a_plain_folder_reads_local_state(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["state", "show"]) == 0
    assert "no error-autopilot-state branch yet" in capsys.readouterr().out


def test_the_entry_module_loads_no_sdk_so_ctrl_c_is_caught_from_the_start() -> None:
    """pip's console script imports `error_autopilot.cli` before calling main(): whatever it imports
    at load time runs before the Ctrl-C handler, so it must stay the standard library."""
    probe = "import sys, error_autopilot.cli; print(sorted({m.split('.')[0] for m in sys.modules}))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    heavy = {"pydantic", "pydantic_core", "httpx", "anthropic", "github", "git", "re2", "actions_toolkit"}
    assert heavy.isdisjoint(json.loads(loaded.replace("'", '"'))), loaded
