"""The product as a stranger gets it: `uses: OWNER/error-autopilot@v1` from a copy outside the workspace,
installing only the locked, hash-checked dependencies into a cached environment; and the wheel built
from the sdist, installed outside the checkout, running the demo and `check`.

The cold install downloads the locked wheels from PyPI (through pip's cache), as a runner does."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest
from packaging.markers import Marker

from tests.support.action_runner import ROOT, StepRun, run_action
from tests.support.session import shared_once
from tests.support.world import World, git

# the cold install builds the whole locked environment (some 30 wheels through pip's cache): about a minute on
# two idle cores, past the suite's 120 s default when the machine is loaded (seen at load average 15)
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

BASE_PYTHON = getattr(sys, "_base_executable", sys.executable)  # setup-python's interpreter, no venv
INSTALL = "Install the locked dependencies"
SECRETS = {"github-token": "ghs_LockedRunToken0123", "anthropic-api-key": "sk-ant-locked-0123456789"}
_PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)", re.M)
_LOCKED = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)(?:\s*;\s*([^\\]+?))?\s*\\?$", re.M)


@dataclass
class Installed:
    """The cold run's steps and where they put the environment."""

    tool_cache: Path
    steps: list[StepRun]
    venv: Path

    def step(self, name: str) -> StepRun:
        """The step run called `name`."""
        return next(s for s in self.steps if s.name == name)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_for_this_interpreter() -> dict[str, str]:
    """The lock's pins whose environment markers hold here (it is universal: all platforms, 3.11+)."""
    found = _LOCKED.findall((ROOT / "requirements.lock").read_text())
    assert len(found) >= 10, "did not read the lock"
    return {_norm(name): version for name, version, marker in found if not marker or Marker(marker).evaluate()}


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Installed:
    """A first run on a runner with an empty tool cache and an empty actions/cache: the steps up to the install.

    Done once per test session: xdist workers share their base temp's parent, and the first to take the
    lock installs while the others wait and read what it recorded."""
    with shared_once(tmp_path_factory, worker_id, "runner") as shared:
        root, record = shared / "runner", shared / "runner" / "cold-run.json"
        if not record.exists():
            tool_cache, workspace = root / "tool-cache", root / "work" / "ops"
            workspace.mkdir(parents=True)
            result = run_action(
                workspace, root / "job1", inputs={}, event_name="schedule", event={}, full=True,
                python=BASE_PYTHON, tool_cache=tool_cache, until=INSTALL, action_root=root / "work",
            )  # fmt: skip
            record.write_text(json.dumps([asdict(step) for step in result.steps]))
    steps = [StepRun(**step) for step in json.loads(record.read_text())]
    venv = Path(next(s for s in steps if s.name == "Find the locked environment").outputs["dir"])
    return Installed(root / "tool-cache", steps, venv)


def test_a_cold_run_installs_exactly_the_locked_set_into_the_tool_cache(installed: Installed) -> None:
    install = installed.step(INSTALL)
    assert install.returncode == 0, install.arrived
    restore = installed.step("Restore the locked environment")
    assert restore.emulated and not restore.skipped  # it ran (as a cache miss): nothing was cached yet
    assert installed.venv.parent == installed.tool_cache / "error-autopilot"
    assert (installed.venv / ".complete").is_file()
    assert any("Installed the locked dependencies" in line for _, line in install.arrived)
    listing = subprocess.run(
        [str(installed.venv / "bin" / "python"), "-c",
         "import importlib.metadata as m; print('\\n'.join(f\"{d.metadata['Name']}=={d.version}\" "
         "for d in m.distributions()))"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    present = {_norm(n): v for n, v in _PIN.findall(listing) if _norm(n) not in {"pip", "setuptools"}}
    assert present == locked_for_this_interpreter()


def _workspace(world: World, tmp: Path) -> Path:
    work = tmp / "work" / "ops"
    git(tmp, "clone", "-q", str(world.ops_remote), str(work))
    shutil.copy(world.config, work / "service-map.json")
    return work


def test_a_warm_run_reuses_the_environment_and_masks_secrets_before_any_output(
    installed: Installed, world: World, tmp_path: Path
) -> None:
    before = (installed.venv / ".complete").stat().st_mtime_ns
    work = _workspace(world, tmp_path)
    result = run_action(work, tmp_path / "job2", inputs={"dry-run": "true", **SECRETS}, event_name="schedule",
                        event={}, full=True, python=BASE_PYTHON, tool_cache=installed.tool_cache,
                        action_root=tmp_path / "work")  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.step("Find the locked environment").outputs["ready"] == "true"
    assert result.step("Restore the locked environment").skipped  # a warm runner downloads nothing
    install = result.step(INSTALL)
    assert [line for _, line in install.arrived] == [f"Reusing the locked environment {installed.venv}"]
    assert install.seconds < 3, f"a warm install step took {install.seconds:.1f}s"
    assert (installed.venv / ".complete").stat().st_mtime_ns == before
    assert result.outputs["incidents"] == "4", result.stdout + result.stderr

    run = result.step("Run error-autopilot")
    parts = sorted({p for s in SECRETS.values() for p in {s, *s.split()}})
    masks = [f"::add-mask::{p}" for p in parts]
    for stream in ("stdout", "stderr"):  # the runner handles each pipe in order; nothing may precede the masks
        lines = run.lines(stream)
        assert lines[: len(masks)] == masks, f"{stream} starts with {lines[:3]}"
        assert len(lines) > len(masks), f"nothing else on {stream}: the check above proves nothing"
    leaked = [(s, line) for s, line in run.arrived if not line.startswith("::add-mask::")
              and any(secret in line for secret in parts)]  # fmt: skip
    assert leaked == []


def _built(tmp: Path) -> tuple[Path, Path]:
    """sdist, then the wheel built from that sdist (as `python -m build` does), from a copy of the sources."""
    src = tmp / "source"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "__pycache__", "*.egg-info", "build", "dist", ".*_cache", "tests", "demo-out"))  # fmt: skip
    out = tmp / "dist"
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(src)],
                   capture_output=True, text=True, check=True)  # fmt: skip
    return next(out.glob("*.tar.gz")), next(out.glob("*.whl"))


def test_the_wheel_from_the_sdist_runs_the_demo_and_check_outside_the_checkout(
    installed: Installed, tmp_path: Path
) -> None:
    sdist, wheel = _built(tmp_path / "build")
    data = ROOT / "src" / "error_autopilot" / "demo" / "data"
    demo_files = sorted(p.relative_to(ROOT / "src").as_posix() for p in data.rglob("*") if p.is_file())
    assert len(demo_files) >= 10
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    assert set(demo_files) <= names, f"missing from the wheel: {set(demo_files) - names}"
    assert "error_autopilot/py.typed" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    with tarfile.open(sdist) as tf:
        in_sdist = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    assert {f"src/{f}" for f in demo_files} | {"LICENSE", "pyproject.toml"} <= in_sdist

    venv = tmp_path / "stranger" / "venv"
    subprocess.run([BASE_PYTHON, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    locked_site = subprocess.run(
        [str(installed.venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    # The wheel's own files come only from the wheel; its dependencies are the locked set installed above.
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    "--no-index", str(wheel)], check=True, capture_output=True)  # fmt: skip
    Path(site, "locked-dependencies.pth").write_text(locked_site + "\n")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path / "home"), "LC_ALL": "C.UTF-8"}
    where = subprocess.run([str(python), "-c", "import error_autopilot; print(error_autopilot.__file__)"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert where.startswith(str(venv)), where
    demo = subprocess.run([str(venv / "bin" / "error-autopilot"), "demo", "--out", "out"], cwd=elsewhere, env=env,
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "Traceback" not in demo.stderr
    drafts = list((elsewhere / "out" / "drafts" / "issues").glob("*.md"))
    assert len(drafts) >= 3, demo.stdout
    assert any("UserService.kt" in d.read_text() for d in drafts)
    check = subprocess.run([str(venv / "bin" / "error-autopilot"), "check", "--config", "out/service-map.json"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, check=False)  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    services = json.loads((elsewhere / "out" / "service-map.json").read_text())["services"]
    assert f"{len(services)} services" in check.stdout
