"""Runs action.yml's steps the way the Actions runner runs a published action, for end-to-end tests.

As for `uses: OWNER/error-autopilot@v1`, the action is a copy outside the workspace (the runner's
`_actions/OWNER/error-autopilot/v1`) and GITHUB_ACTION_PATH points at it. Each `run:` step gets its
`env:` with the expressions the runner would fill in (inputs with their defaults, `github.action_path`,
earlier steps' outputs), runs in `bash --noprofile --norc -eo pipefail`, and has its stdout and stderr
read as two pipes by two threads, the order lines arrived kept. No PYTHONUNBUFFERED, as on a runner.

`uses:` steps are JavaScript actions this harness cannot run: setup-python's `python-path` is the
interpreter the test names, and actions/cache behaves as a miss (a cold runner with an empty cache).

By default only the last step runs, with the venv's python being this test environment's (fast, for
tests about what the action does); `full=True` also runs the install steps against a tool cache.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
OWNER_REPO_REF = ("acme-tools", "error-autopilot", "v1")
# pip's own cache, captured before the tests point HOME at a temporary folder: a runner keeps it too.
PIP_CACHE = Path(os.environ.get("PIP_CACHE_DIR") or Path.home() / ".cache" / "pip")
_EXPR = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")
_CONDITION = re.compile(r"^steps\.([\w-]+)\.outputs\.([\w-]+)\s*(==|!=)\s*'([^']*)'$")
_DELIMITED = re.compile(r"^(?P<name>[\w-]+)<<(?P<delim>\S+)\n(?P<value>.*?)\n(?P=delim)$", re.S | re.M)
_PLAIN = re.compile(r"^(?P<name>[\w-]+)=(?P<value>.*)$", re.M)
_COPY_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", "__pycache__", "*.egg-info", ".pytest_cache", ".mypy_cache", ".ruff_cache",
    "build", "dist", "demo-out", ".error-autopilot", "tests",
)  # fmt: skip


@dataclass
class StepRun:
    """One step: its exit code, output lines per stream, and every line in the order it arrived."""

    name: str
    returncode: int = 0
    arrived: list[tuple[str, str]] = field(default_factory=list)  # (stream, line)
    outputs: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    skipped: bool = False  # its `if:` was false
    emulated: bool = False  # a `uses:` step, stood in for (see the module docstring)

    def lines(self, stream: str) -> list[str]:
        """The lines of one stream ("stdout" or "stderr"), in order."""
        return [line for s, line in self.arrived if s == stream]


@dataclass
class ActionResult:
    """What the run left behind; stdout/stderr/outputs are the last (autopilot) step's."""

    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str
    steps: list[StepRun]

    def step(self, name: str) -> StepRun:
        """The step run whose name starts with `name`."""
        return next(s for s in self.steps if s.name.startswith(name))


def install_action(root: Path) -> Path:
    """Lay the action out as the runner does for `uses: OWNER/error-autopilot@v1` (idempotent)."""
    owner, repo, ref = OWNER_REPO_REF
    path = root / "_actions" / owner / repo / ref
    if not path.exists():
        shutil.copytree(ROOT, path, ignore=_COPY_IGNORE)
    return path


def action_definition(action_path: Path = ROOT) -> dict[str, Any]:
    """action.yml, parsed."""
    data: dict[str, Any] = yaml.safe_load((action_path / "action.yml").read_text())
    return data


def _read(pipe: IO[bytes], stream: str, sink: list[tuple[int, str, str]], lock: threading.Lock,
          seq: itertools.count[int]) -> None:  # fmt: skip
    for raw in pipe:
        with lock:
            sink.append((next(seq), stream, raw.decode("utf-8", "replace").rstrip("\r\n")))


def _run_bash(script: str, cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, list[tuple[str, str]]]:
    """bash as the runner starts it, both streams piped and read concurrently."""
    proc = subprocess.Popen(
        ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", script],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    sink: list[tuple[int, str, str]] = []
    lock, seq = threading.Lock(), itertools.count()
    assert proc.stdout is not None and proc.stderr is not None
    readers = [
        threading.Thread(target=_read, args=(proc.stdout, "stdout", sink, lock, seq), daemon=True),
        threading.Thread(target=_read, args=(proc.stderr, "stderr", sink, lock, seq), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        returncode = proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
        for reader in readers:
            reader.join(timeout=10)
    return returncode, [(stream, line) for _, stream, line in sorted(sink)]


def _outputs(path: Path) -> dict[str, str]:
    text = path.read_text() if path.exists() else ""
    found = {m.group("name"): m.group("value") for m in _PLAIN.finditer(text) if "<<" not in m.group(0)}
    found.update({m.group("name"): m.group("value") for m in _DELIMITED.finditer(text)})
    return found


class _Context:
    """What `${{ … }}` can refer to inside the action."""

    def __init__(self, declared: dict[str, Any], inputs: dict[str, str], action_path: Path, token: str) -> None:
        self.declared, self.inputs, self.action_path, self.token = declared, inputs, action_path, token
        self.steps: dict[str, dict[str, str]] = {}

    def value(self, expr: str) -> str:
        if expr.startswith("inputs."):
            name = expr.removeprefix("inputs.")
            assert name in self.declared, f"undeclared input {name}"
            if name in self.inputs:
                return self.inputs[name]
            default = str(self.declared[name].get("default", ""))
            return self.token if default.startswith("${{") else default
        if expr == "github.action_path":
            return str(self.action_path)
        if expr.startswith("steps."):
            _, step_id, kind, name = expr.split(".")
            assert kind == "outputs", expr
            return self.steps.get(step_id, {}).get(name, "")
        raise AssertionError(f"the harness does not know the expression {expr!r}")

    def expand(self, text: str) -> str:
        return _EXPR.sub(lambda m: self.value(m.group(1)), text)

    def condition(self, expr: str) -> bool:
        inner = _EXPR.fullmatch(expr.strip())
        match = _CONDITION.match(inner.group(1) if inner else expr.strip())
        assert match, f"the harness does not know the condition {expr!r}"
        actual = self.steps.get(match.group(1), {}).get(match.group(2), "")
        return (actual == match.group(4)) == (match.group(3) == "==")


def _runner_env(workspace: Path, tmp: Path, action_path: Path, tool_cache: Path) -> dict[str, str]:
    """The job's environment: the machine's, minus what a runner would not pass, plus the runner's."""
    dropped = ("GITHUB_", "AUTOPILOT_", "INPUT_", "PIP_", "PYTHON")
    base = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    return {
        **base,
        "GITHUB_ACTIONS": "true", "CI": "true", "RUNNER_OS": "Linux", "RUNNER_ARCH": "X64",
        "RUNNER_TEMP": str(tmp / "runner-temp"), "RUNNER_TOOL_CACHE": str(tool_cache),
        "GITHUB_ACTION_PATH": str(action_path), "GITHUB_WORKSPACE": str(workspace), "GITHUB_RUN_ID": "4242",
        "GITHUB_REPOSITORY": "acme/ops", "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_STEP_SUMMARY": str(tmp / "step_summary"), "GITHUB_ENV": str(tmp / "github_env"),
        # a runner has no pip configuration of this machine's; it does keep pip's download cache
        "PIP_CONFIG_FILE": os.devnull, "PIP_CACHE_DIR": str(PIP_CACHE),
    }  # fmt: skip


def run_action(
    workspace: Path, tmp: Path, *, inputs: dict[str, str], event_name: str, event: dict[str, Any],
    env: dict[str, str] | None = None, full: bool = False, python: str | None = None,
    tool_cache: Path | None = None, action_root: Path | None = None, timeout: float = 300,
    until: str | None = None,
) -> ActionResult:  # fmt: skip
    """Run the action in `workspace` (the checked-out repository) as a workflow step would.

    The action is laid out under `action_root` (default: beside the workspace). `full`: run every step,
    installing into `tool_cache` with `python` as setup-python's interpreter; otherwise only the last
    step runs, on this test environment's interpreter. `until`: stop after the step of that name."""
    action_path = install_action(action_root or workspace.parent)
    definition = action_definition(action_path)
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "runner-temp").mkdir(exist_ok=True)
    event_path, summary = tmp / "event.json", tmp / "step_summary"
    event_path.write_text(json.dumps(event))
    summary.write_text("")
    ctx = _Context(definition["inputs"], inputs, action_path, os.environ.get("GITHUB_TOKEN", ""))
    job_env = {
        **_runner_env(workspace, tmp, action_path, tool_cache or tmp / "tool-cache"),
        "GITHUB_EVENT_NAME": event_name, "GITHUB_EVENT_PATH": str(event_path), **(env or {}),
    }  # fmt: skip
    steps: list[dict[str, Any]] = definition["runs"]["steps"]
    if not full:
        ctx.steps["venv"] = {"python": sys.executable}
        steps = steps[-1:]
    runs: list[StepRun] = []
    for n, step in enumerate(steps):
        run = StepRun(step.get("name", f"step {n}"))
        runs.append(run)
        if "if" in step and not ctx.condition(step["if"]):
            run.skipped = True
            continue
        if "uses" in step:
            run.emulated = True
            if step["uses"].startswith("actions/setup-python@"):
                run.outputs = {"python-path": python or sys.executable}
            else:
                assert step["uses"].startswith("actions/cache@"), f"the harness cannot run {step['uses']}"
        else:
            output = tmp / f"github_output_{n}"
            output.write_text("")
            step_env = {**job_env, "GITHUB_OUTPUT": str(output)}
            step_env.update({k: ctx.expand(str(v)) for k, v in step.get("env", {}).items()})
            started = time.monotonic()
            run.returncode, run.arrived = _run_bash(step["run"], workspace, step_env, timeout)
            run.seconds = time.monotonic() - started
            run.outputs = _outputs(output)
        if "id" in step:
            ctx.steps[step["id"]] = run.outputs
        if run.returncode != 0 or run.name == until:
            break
    last = runs[-1]
    return ActionResult(
        last.returncode, "\n".join(last.lines("stdout")) + "\n", "\n".join(last.lines("stderr")) + "\n",
        last.outputs, summary.read_text(), runs,
    )  # fmt: skip
