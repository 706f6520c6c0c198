"""action.yml and the workflows users copy: every input wired, no script injection, actions pinned."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from error_autopilot.config.settings import INPUT_ENV, settings_from_env

ROOT = Path(__file__).resolve().parents[2]
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
INJECTION = re.compile(r"\$\{\{\s*(inputs|github\.event|matrix|needs|steps)\.")


def _action() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "action.yml").read_text())
    return data


def _workflows() -> dict[str, dict[str, Any]]:
    files = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert len(files) >= 2, "expected the workflows users copy"
    return {f.name: yaml.safe_load(f.read_text()) for f in files}


def test_every_input_reaches_settings_through_env() -> None:
    action = _action()
    inputs = action["inputs"]
    assert len(inputs) >= 13, "did not find the action's inputs"
    run_step = next(s for s in action["runs"]["steps"] if s.get("id") == "autopilot")
    env = run_step["env"]
    for name in inputs:
        var = INPUT_ENV[name]
        assert env.get(var) == f"${{{{ inputs.{name} }}}}", f"input {name} is not mapped to {var}"
    assert set(INPUT_ENV) == set(inputs), "settings and action.yml disagree on the inputs"
    values = {var: "x" for var in INPUT_ENV.values()} | {
        "AUTOPILOT_PHASE": "plan", "AUTOPILOT_DRY_RUN": "true", "AUTOPILOT_MAX_INCIDENTS": "3",
    }  # fmt: skip
    settings = settings_from_env(values)
    assert settings.phase == "plan" and settings.dry_run and settings.max_incidents == 3
    assert settings.github_token is not None and settings.github_token.get_secret_value() == "x"


def test_every_output_comes_from_the_python_step() -> None:
    outputs = _action()["outputs"]
    assert len(outputs) >= 6
    for name, spec in outputs.items():
        assert spec["value"] == f"${{{{ steps.autopilot.outputs.{name} }}}}"
    # that each one is actually written is checked end to end in tests/integration/test_action_e2e.py


def _run_blocks(steps: list[dict[str, Any]]) -> list[str]:
    return [s["run"] for s in steps if "run" in s]


def test_no_expression_interpolated_inside_run() -> None:
    blocks = _run_blocks(_action()["runs"]["steps"])
    for wf in _workflows().values():
        for job in wf["jobs"].values():
            blocks += _run_blocks(job.get("steps", []))
    assert blocks, "found no run: blocks to check"
    for block in blocks:
        assert not INJECTION.search(block), f"expression inside run: {block!r}"


def test_third_party_actions_are_pinned_by_sha() -> None:
    uses = [s["uses"] for s in _action()["runs"]["steps"] if "uses" in s]
    for wf in _workflows().values():
        for job in wf["jobs"].values():
            uses += [s["uses"] for s in job.get("steps", []) if "uses" in s]
    third_party = [u for u in uses if not u.startswith("./")]
    assert len(third_party) >= 5
    for ref in third_party:
        assert PINNED.match(ref), f"{ref} is not pinned to a commit SHA"


def test_workflows_are_least_privilege_and_queue_rather_than_cancel() -> None:
    wfs = _workflows()
    simple, hardened = wfs["error-autopilot.yml"], wfs["error-autopilot-hardened.yml"]
    for wf in (simple, hardened):
        assert wf["concurrency"]["cancel-in-progress"] is False
        triggers = wf[True] if True in wf else wf["on"]  # YAML 1.1 reads `on` as True
        assert {"schedule", "repository_dispatch", "workflow_dispatch"} <= set(triggers)
        assert set(triggers["repository_dispatch"]["types"]) == {"error-alert", "error-autopilot"}
        assert len(triggers["workflow_dispatch"]["inputs"]) <= 10  # GHES limit
    assert simple["permissions"] == {"contents": "write", "issues": "write", "pull-requests": "write"}
    jobs = hardened["jobs"]
    assert hardened["permissions"] == {}
    assert jobs["plan"]["permissions"] == {"contents": "read", "issues": "read"}
    assert jobs["investigate"]["permissions"] == {"contents": "read"}
    investigate_env = str(jobs["investigate"]["steps"])
    publish_env = str(jobs["publish"]["steps"])
    assert "ANTHROPIC_API_KEY" in investigate_env and "AUTOPILOT_GITHUB_TOKEN" not in investigate_env
    assert "ANTHROPIC_API_KEY" not in publish_env, "the write job must never see the LLM key"
    assert "matrix" in jobs["investigate"]["strategy"]


def _schema_check(schema: str, *files: Path) -> int:
    cmd = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, files)]
    return subprocess.run(cmd, capture_output=True, text=True, check=False).returncode


def test_workflows_and_action_pass_the_schema_check(tmp_path: Path) -> None:
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert _schema_check("vendor.github-workflows", *workflows) == 0
    assert _schema_check("vendor.github-actions", ROOT / "action.yml") == 0
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: 42\n        run: 1\n"
    )
    assert _schema_check("vendor.github-workflows", broken) != 0, "the schema check must be able to fail"
