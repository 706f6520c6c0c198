"""Runs action.yml's Python step the way the Actions runner does, for end-to-end tests.

Inputs are mapped to the step's `env:` exactly as written in action.yml (defaults included), the
event payload is written to GITHUB_EVENT_PATH, and the `run:` script is executed by bash with
RUNNER_TEMP pointing at a folder whose `error-autopilot-venv` is this test environment (the
install step itself needs the network, so it is the one step not replayed)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
_INPUT_EXPR = re.compile(r"^\$\{\{\s*inputs\.([\w-]+)\s*\}\}$")
_DELIMITED = re.compile(r"^(?P<name>[\w-]+)<<(?P<delim>\S+)\n(?P<value>.*?)\n(?P=delim)$", re.S | re.M)


@dataclass
class ActionResult:
    """What one step run left behind."""

    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str


def _step() -> tuple[dict[str, Any], dict[str, Any]]:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    step = next(s for s in action["runs"]["steps"] if s.get("id") == "autopilot")
    return action["inputs"], step


def run_action(
    workspace: Path, tmp: Path, *, inputs: dict[str, str], event_name: str, event: dict[str, Any],
    env: dict[str, str] | None = None,
) -> ActionResult:  # fmt: skip
    """Execute the step in `workspace` (the checked-out repository)."""
    declared, step = _step()
    runner_temp = tmp / "runner-temp"
    runner_temp.mkdir(parents=True, exist_ok=True)
    venv = runner_temp / "error-autopilot-venv"
    if not venv.exists():
        venv.symlink_to(Path(sys.prefix))
    event_path, output, summary = tmp / "event.json", tmp / "github_output", tmp / "step_summary"
    event_path.write_text(json.dumps(event))
    output.write_text("")
    summary.write_text("")
    step_env: dict[str, str] = {}
    for var, expr in step["env"].items():
        name = _INPUT_EXPR.match(expr)
        assert name, f"{var} is not mapped from an input"
        default = str(declared[name.group(1)].get("default", ""))
        if default.startswith("${{"):
            default = os.environ.get("GITHUB_TOKEN", "")
        step_env[var] = inputs.get(name.group(1), default)
    full_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "AUTOPILOT_", "INPUT_"))},
        "GITHUB_ACTIONS": "true", "RUNNER_TEMP": str(runner_temp), "GITHUB_EVENT_NAME": event_name,
        "GITHUB_EVENT_PATH": str(event_path), "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_ENV": str(tmp / "github_env"), "GITHUB_WORKSPACE": str(workspace), "GITHUB_RUN_ID": "4242",
        "GITHUB_REPOSITORY": "acme/ops", "GITHUB_SERVER_URL": "https://github.com",
        **step_env, **(env or {}),
    }  # fmt: skip
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", step["run"]],
        cwd=workspace, env=full_env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    outputs = {m.group("name"): m.group("value") for m in _DELIMITED.finditer(output.read_text())}
    return ActionResult(proc.returncode, proc.stdout, proc.stderr, outputs, summary.read_text())
