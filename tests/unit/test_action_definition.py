"""action.yml, the workflows users copy (examples/workflows/) and the repository's own CI: every input
wired, no script injection, actions pinned, artifacts without code, no stray schedules."""

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
OURS = "OWNER/error-autopilot@v1"  # what the examples use; the release procedure moves the v1 tag
ARTIFACTS = {".error-autopilot/plan.json", ".error-autopilot/findings/", ".error-autopilot/report.json"}


def _action() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "action.yml").read_text())
    return data


def _workflows() -> dict[str, dict[str, Any]]:
    """The workflows users copy."""
    files = sorted((ROOT / "examples" / "workflows").glob("*.yml"))
    assert len(files) >= 2, "expected the workflows users copy"
    return {f.name: yaml.safe_load(f.read_text()) for f in files}


def _own_workflows() -> dict[str, dict[str, Any]]:
    """The repository's own CI."""
    files = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert files, "expected the repository's CI"
    return {f.name: yaml.safe_load(f.read_text()) for f in files}


def _triggers(wf: dict[str, Any]) -> dict[str, Any]:
    triggers: dict[str, Any] = wf[True] if True in wf else wf["on"]  # YAML 1.1 reads `on` as True
    return triggers


def _steps(wf: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in wf["jobs"].values() for step in job.get("steps", [])]


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
    for wf in [*_workflows().values(), *_own_workflows().values()]:
        blocks += _run_blocks(_steps(wf))
    assert blocks, "found no run: blocks to check"
    for block in blocks:
        assert not INJECTION.search(block), f"expression inside run: {block!r}"


def test_third_party_actions_are_pinned_by_sha() -> None:
    uses = [s["uses"] for s in _action()["runs"]["steps"] if "uses" in s]
    for wf in [*_workflows().values(), *_own_workflows().values()]:
        uses += [s["uses"] for s in _steps(wf) if "uses" in s]
    third_party = [u for u in uses if u != OURS]
    assert len(third_party) >= 5
    for ref in third_party:
        assert PINNED.match(ref), f"{ref} is not pinned to a commit SHA"


def test_examples_use_the_published_action_and_upload_no_code() -> None:
    for name, wf in _workflows().items():
        ours = [s for s in _steps(wf) if "error-autopilot" in s.get("uses", "") or s.get("uses") == "./"]
        assert ours and {s["uses"] for s in ours} == {OURS}, f"{name}: copy-ready means `uses: {OURS}`"
        uploads = [s for s in _steps(wf) if s.get("uses", "").startswith("actions/upload-artifact@")]
        assert uploads, f"{name} keeps no report"
        for step in uploads:
            paths = set(str(step["with"]["path"]).split())
            assert paths <= ARTIFACTS, f"{name} uploads {paths - ARTIFACTS}: clones and state never leave the runner"


def test_the_repository_runs_its_ci_and_no_schedule() -> None:
    own = _own_workflows()
    assert "ci.yml" in own
    assert "make test" in _run_blocks(_steps(own["ci.yml"]))
    for name, wf in own.items():
        assert "schedule" not in _triggers(wf), f"{name}: the action's own repository must not poll anything"
        runners = [str(job.get("runs-on")) for job in wf["jobs"].values()]
        assert not [r for r in runners if "self-hosted" in r], f"{name} would queue on a self-hosted label"


def test_workflows_are_least_privilege_and_queue_rather_than_cancel() -> None:
    wfs = _workflows()
    simple, hardened = wfs["error-autopilot.yml"], wfs["error-autopilot-hardened.yml"]
    for wf in (simple, hardened):
        assert wf["concurrency"]["cancel-in-progress"] is False
        triggers = _triggers(wf)
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
    workflows = sorted([*ROOT.glob(".github/workflows/*.yml"), *ROOT.glob("examples/workflows/*.yml")])
    assert len(workflows) >= 3
    assert _schema_check("vendor.github-workflows", *workflows) == 0
    assert _schema_check("vendor.github-actions", ROOT / "action.yml") == 0
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: 42\n        run: 1\n"
    )
    assert _schema_check("vendor.github-workflows", broken) != 0, "the schema check must be able to fail"


def test_setup_python_gets_no_cache_path_outside_the_workspace() -> None:
    # For `uses: OWNER/error-autopilot@v1` the action's folder is outside GITHUB_WORKSPACE, where
    # setup-python refuses cache-dependency-path; the locked environment is cached by the action itself.
    steps = _action()["runs"]["steps"]
    setup = [s for s in steps if s.get("uses", "").startswith("actions/setup-python@")]
    assert len(setup) == 1
    assert not {"cache", "cache-dependency-path"} & set(setup[0].get("with", {}))
    assert all("github.action_path" not in str(s.get("with", {})) for s in steps if "uses" in s)
