"""Running outside Actions, and failing well: local mode in a plain folder and in a checkout without
a remote; the README's example as written; a read-only folder, a missing state repository and
Ctrl-C at any moment each give one line and a distinct exit code, and lose nothing.

Local mode and the README's commands run in-process through the real entry (`main`), in a laptop's
folder and environment: they are judged by exit codes, files and state. What is judged by the process
itself — stderr as the terminal shows it, exit on a signal, a read-only mount — runs as a process."""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from error_autopilot import INTERRUPTED
from error_autopilot.cli import main
from error_autopilot.demo.httpserver import Request
from tests.support.world import World, git

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
EXPECTED_COUNTS = [5, 12, 37, 41]
CONSOLE_SCRIPT = "import sys; from error_autopilot.cli import main; sys.exit(main())"  # what pip's wrapper runs


def _env() -> dict[str, str]:
    """A laptop's environment: no runner variables, no tokens."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "AUTOPILOT_", "INPUT_"))}


def _cli(*args: str, cwd: Path, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    cmd = [*prefix, sys.executable, "-m", "error_autopilot", *args]
    return subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=180, check=False)


@pytest.fixture(autouse=True)
def laptop(monkeypatch: pytest.MonkeyPatch) -> None:
    """`main` in-process sees a laptop's environment, as the processes started here do (see `_env`)."""
    for name in list(os.environ):
        if name.startswith(("GITHUB_", "AUTOPILOT_", "INPUT_")):
            monkeypatch.delenv(name)


def _state_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("state: state.json on ")]


def _state_of(git_dir: Path) -> dict[str, dict[str, object]]:
    raw = git(git_dir, "--git-dir", str(git_dir), "show", "error-autopilot-state:state.json")
    incidents: dict[str, dict[str, object]] = json.loads(raw)["incidents"]
    return incidents


def test_plan_and_run_in_a_plain_directory_keep_state_locally(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:  # fmt: skip
    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.chdir(plain)
    caplog.set_level(logging.INFO)
    started = time.monotonic()
    assert main(["plan", "--config", str(world.config)]) == 0
    took = time.monotonic() - started
    assert took < 60, f"plan took {took:.1f}s"  # a blow-up guard; the README quotes the measured figure
    [line] = _state_lines(caplog)
    assert "state.git (local mode" in line and "only reads it" in line
    planned = json.loads((plain / ".error-autopilot" / "plan.json").read_text())["incidents"]
    assert sorted(p["incident"]["count"] for p in planned) == EXPECTED_COUNTS

    local_git = plain / ".error-autopilot" / "state.git"
    assert main(["run", "--dry-run", "--config", str(world.config)]) == 0
    assert len(list((plain / ".error-autopilot" / "drafts" / "issues").glob("*.md"))) == 4
    assert git(plain, "--git-dir", str(local_git), "branch") == "", "a dry run writes no state"

    assert main(["run", "--sink", "local", "--out", "drafts", "--config", str(world.config)]) == 0
    assert sorted(int(str(r["total_count"])) for r in _state_of(local_git).values()) == EXPECTED_COUNTS
    assert main(["run", "--sink", "local", "--out", "drafts", "--config", str(world.config)]) == 0
    assert json.loads((plain / ".error-autopilot" / "report.json").read_text())["incidents"] == []


def test_run_in_a_checkout_without_a_remote_keeps_state_on_a_local_branch(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:  # fmt: skip
    repo = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "init")
    monkeypatch.chdir(repo)
    caplog.set_level(logging.INFO)
    work = str(tmp_path / "work")
    assert main(["plan", "--config", str(world.config), "--work-dir", work]) == 0
    [line] = _state_lines(caplog)
    assert "a local branch: it has no remote" in line
    assert main(["run", "--sink", "local", "--config", str(world.config), "--work-dir", work]) == 0
    raw = git(repo, "show", "error-autopilot-state:state.json")
    assert sorted(r["total_count"] for r in json.loads(raw)["incidents"].values()) == EXPECTED_COUNTS
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD") == "main" and git(repo, "status", "--porcelain") == ""


def _readme_block(title: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block, f"no bash block under {title}"
    return [line.split("  #")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_the_readme_example_for_running_outside_actions_works_as_written(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:  # fmt: skip
    folder = tmp_path / "laptop"
    folder.mkdir()
    shutil.copy(world.config, folder / "service-map.json")
    monkeypatch.chdir(folder)
    commands = _readme_block("Running outside Actions")
    assert len(commands) >= 5
    for line in commands:
        program, *args = shlex.split(line)
        assert program == "error-autopilot", line  # the installed command runs `main`: test_install runs it
        assert main(args) == 0, f"{line}\n{capsys.readouterr().err}"
    assert len(list((folder / "drafts" / "issues").glob("*.md"))) == 4


def _read_only(folder: Path) -> tuple[str, ...]:
    """A command prefix under which `folder` is read-only: a read-only mount for root (who ignores
    permission bits), the permission bits for anyone else."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
        return ()
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "-m", "true"], capture_output=True, check=False).returncode:
        pytest.skip("running as root without mount namespaces: no way to make a folder read-only")
    return (unshare, "-m", "sh", "-c", 'mount -t tmpfs -o ro,size=1m tmpfs "$0" && exec "$@"', str(folder))


@pytest.mark.parametrize("flag", ["--out", "--work-dir"])
def test_a_read_only_folder_is_one_line_exit_5_and_loses_nothing(world: World, tmp_path: Path, flag: str) -> None:
    read_only = tmp_path / "read-only"
    folders = {"--out": str(tmp_path / "drafts"), "--work-dir": str(tmp_path / "work"), flag: str(read_only)}
    args = ("run", "--config", str(world.config), "--state-repo", str(world.ops_remote), "--sink", "local",
            "--out", folders["--out"], "--work-dir", folders["--work-dir"])  # fmt: skip
    failed = _cli(*args, cwd=tmp_path, prefix=_read_only(read_only))
    assert failed.returncode == 5, failed.stderr
    assert failed.stderr.splitlines() == [
        f"error: cannot write to {read_only} ({flag}): Read-only file system — choose a writable folder with {flag},"
        " or fix its permissions"
    ] or (os.geteuid() != 0 and "Permission denied" in failed.stderr and len(failed.stderr.splitlines()) == 1)
    assert git(world.root, "--git-dir", str(world.ops_remote), "branch") == "", "refused before any state write"
    folders[flag] = str(tmp_path / "writable")
    fixed = _cli("run", "--config", str(world.config), "--state-repo", str(world.ops_remote), "--sink", "local",
                 "--out", folders["--out"], "--work-dir", folders["--work-dir"], cwd=tmp_path)  # fmt: skip
    assert fixed.returncode == 0, fixed.stderr
    assert sorted(int(str(r["total_count"])) for r in _state_of(world.ops_remote).values()) == EXPECTED_COUNTS


def test_a_state_repository_that_does_not_exist_is_one_line_exit_4(world: World, tmp_path: Path) -> None:
    missing = tmp_path / "ops-typo.git"
    polls: list[str] = []
    world.loki.app.on_request = lambda req: polls.append(req.path)  # type: ignore[attr-defined]
    result = _cli("run", "--config", str(world.config), "--state-repo", str(missing), "--sink", "local",
                  "--work-dir", str(tmp_path / "work"), cwd=tmp_path)  # fmt: skip
    assert result.returncode == 4
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: the state repository {missing} does not exist — give --state-repo a git checkout")
    assert polls == [], "refused before polling"


# --- Ctrl-C ------------------------------------------------------------------------------------------


def _run_args(world: World, out: Path) -> list[str]:
    return ["run", "--config", str(world.config), "--state-repo", str(world.ops_remote), "--sink", "local",
            "--out", str(out / "drafts"), "--work-dir", str(out / "work")]  # fmt: skip


def _start(world: World, out: Path, *, entry: tuple[str, ...] = ("-m", "error_autopilot"),
           python_flags: tuple[str, ...] = ()) -> subprocess.Popen[str]:  # fmt: skip
    cmd = [sys.executable, *python_flags, *entry, *_run_args(world, out)]
    return subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _interrupted_cleanly(proc: subprocess.Popen[str], stderr_so_far: str = "") -> list[str]:
    _, err = proc.communicate(timeout=120)
    lines = [line for line in (stderr_so_far + err).splitlines() if not line.startswith("import time:")]
    assert proc.returncode == 130, "\n".join(lines)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert lines[-1] == INTERRUPTED
    return lines


def _recovered(world: World, out: Path) -> None:
    again = _start(world, out)
    _, err = again.communicate(timeout=180)
    assert again.returncode == 0, err
    assert len(list((out / "drafts" / "issues").glob("*.md"))) == 4
    records = _state_of(world.ops_remote).values()
    assert not [r for r in records if r["pending"]], "nothing may stay pending"
    assert sorted(int(str(r["total_count"])) for r in records) == EXPECTED_COUNTS, "no occurrence lost or doubled"


@pytest.mark.parametrize("entry", [("-m", "error_autopilot"), ("-c", CONSOLE_SCRIPT)], ids=["python-m", "script"])
def test_ctrl_c_while_importing(world: World, tmp_path: Path, entry: tuple[str, ...]) -> None:
    proc = _start(world, tmp_path, entry=entry, python_flags=("-X", "importtime"))
    assert proc.stderr is not None
    seen = ""
    for line in proc.stderr:  # interrupt halfway through main()'s imports: it has not dispatched yet
        seen += line
        if line.rstrip().endswith("error_autopilot.config.service_map"):
            proc.send_signal(signal.SIGINT)
            break
    lines = _interrupted_cleanly(proc, seen)
    assert lines == [INTERRUPTED], "only the one line: nothing had started"
    _recovered(world, tmp_path)


def _interrupt_on(nth: int, pid: Callable[[], int]) -> Callable[[Request], None]:
    seen = [0]

    def hook(req: Request) -> None:
        seen[0] += 1
        if seen[0] == nth:
            os.kill(pid(), signal.SIGINT)

    return hook


@pytest.mark.parametrize("server", ["loki", "tempo"], ids=["polling", "investigating"])
def test_ctrl_c_while_polling_or_investigating(world: World, tmp_path: Path, server: str) -> None:
    app = world.loki.app if server == "loki" else world.tempo.app
    proc: list[subprocess.Popen[str]] = []
    app.on_request = _interrupt_on(2, lambda: proc[0].pid)  # type: ignore[attr-defined]
    proc.append(_start(world, tmp_path))
    _interrupted_cleanly(proc[0])
    app.on_request = None  # type: ignore[attr-defined]
    _recovered(world, tmp_path)


def _hold_push(world: World, tmp_path: Path, push: int, *, accepted: bool) -> tuple[Path, Path, Path]:
    """Hooks on the state repository: its `push`-th push interrupts the run, then waits for the test to
    touch `release`, then is accepted or refused; `finished` appears once it has landed (post-receive)
    or been refused. No sleeps: the test decides when the interrupted run's last push ends."""
    pid_file, counter = tmp_path / "pid", world.ops_remote / "pushes"
    release, finished = tmp_path / "release", tmp_path / "finished"
    hooks = world.ops_remote / "hooks"
    (hooks / "pre-receive").write_text(
        "#!/bin/sh\n"
        f'n=$(($(cat "{counter}" 2>/dev/null || echo 0) + 1)); echo $n > "{counter}"\n'
        f'[ "$n" -eq {push} ] || exit 0\n'
        f'kill -INT "$(cat "{pid_file}")"\n'
        f'i=0; while [ ! -e "{release}" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done\n'
        + ("exit 0\n" if accepted else f'touch "{finished}"; exit 1\n')
    )
    landed = f'[ "$(cat "{counter}")" -eq {push} ] && touch "{finished}"'
    (hooks / "post-receive").write_text(f"#!/bin/sh\n{landed}\nexit 0\n")
    for hook in ("pre-receive", "post-receive"):
        (hooks / hook).chmod(0o755)
    return pid_file, release, finished


def _end_held_push(world: World, release: Path, finished: Path) -> None:
    release.touch()
    deadline = time.monotonic() + 60
    while not finished.exists():
        assert time.monotonic() < deadline, "the held push never ended"
        time.sleep(0.02)
    for hook in ("pre-receive", "post-receive"):
        (world.ops_remote / "hooks" / hook).unlink()


@pytest.mark.parametrize(("push", "accepted"), [(1, False), (2, False), (2, True)],
                         ids=["recording-the-plan", "saving-the-first-issue", "after-the-push-landed"])  # fmt: skip
def test_ctrl_c_while_saving_state(world: World, tmp_path: Path, push: int, accepted: bool) -> None:
    pid_file, release, finished = _hold_push(world, tmp_path, push, accepted=accepted)
    proc = _start(world, tmp_path)
    pid_file.write_text(str(proc.pid))
    _interrupted_cleanly(proc)
    _end_held_push(world, release, finished)
    _recovered(world, tmp_path)


def test_a_run_that_reads_state_while_an_interrupted_runs_last_push_lands_counts_nothing_twice(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C during the last save: that push lands after the next run has read state. The next run's
    plan merged the interrupted run's pending occurrences; recording it would count them again."""
    pid_file, release, finished = _hold_push(world, tmp_path, 2, accepted=True)
    proc = _start(world, tmp_path)
    pid_file.write_text(str(proc.pid))
    _interrupted_cleanly(proc)
    state_flags = ("--config", str(world.config), "--state-repo", str(world.ops_remote), "--work-dir",
                   str(tmp_path / "next"))  # fmt: skip
    monkeypatch.chdir(tmp_path)
    assert main(["plan", *state_flags]) == 0  # reads state before the held push lands
    _end_held_push(world, release, finished)
    assert main(["publish", *state_flags, "--sink", "local", "--out", str(tmp_path / "drafts")]) == 0
    counts = sorted(int(str(r["total_count"])) for r in _state_of(world.ops_remote).values())
    assert counts == EXPECTED_COUNTS, "the interrupted run's last save counted them: not again"
    [error] = json.loads((tmp_path / "next" / "report.json").read_text())["errors"]
    assert "published 4 of its incident(s) after it was made" in error, "and the report says why it published nothing"
    _recovered(world, tmp_path)
