"""The composite action end to end, per trigger, the way the runner executes it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.action_runner import ROOT, run_action
from tests.support.fakes.github import UNSPACED, FakeGitHub
from tests.support.world import World, checked_out, git

pytestmark = pytest.mark.slow



def test_schedule_dry_run_writes_outputs_summary_and_drafts(world: World, tmp_path: Path) -> None:
    work = checked_out(world, tmp_path)
    result = run_action(work, tmp_path, inputs={"dry-run": "true"}, event_name="schedule", event={})
    assert result.returncode == 0, result.stderr
    assert result.outputs["incidents"] == "4"
    assert result.outputs["new-incidents"] == "4"
    urls = json.loads(result.outputs["urls"])
    assert len(urls) == 4 and all(u.startswith("file://") for u in urls)  # dry run: drafts, nothing on GitHub
    assert Path(work / result.outputs["report-path"]).is_file()
    assert len(json.loads(result.outputs["matrix"])) == 4
    assert "error-autopilot" in result.summary and "user-service" in result.summary
    assert len(list((work / ".error-autopilot" / "drafts" / "issues").glob("*.md"))) == 4
    assert git(work, "ls-remote", "--heads", "origin", "error-autopilot-state") == ""  # dry run writes no state


def test_hostile_repository_dispatch_payload_is_rejected_as_data(world: World, tmp_path: Path) -> None:
    work = checked_out(world, tmp_path)
    marker = tmp_path / "pwned"
    payload = {"environment": "prod", "service": f'"; touch {marker}; echo "', "since": f"$(touch {marker})"}
    event = {"action": "error-alert", "client_payload": payload}
    result = run_action(work, tmp_path, inputs={"dry-run": "true"}, event_name="repository_dispatch", event=event)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "::error" in result.stdout and "repository_dispatch payload rejected" in result.stdout
    assert not marker.exists()


def test_repository_dispatch_narrows_the_run(world: World, tmp_path: Path) -> None:
    work = checked_out(world, tmp_path)
    event = {"action": "error-autopilot", "client_payload": {"environment": "staging", "service": "billing-service"}}
    result = run_action(work, tmp_path, inputs={"dry-run": "true"}, event_name="repository_dispatch", event=event)
    assert result.returncode == 0, result.stderr
    report = json.loads((work / result.outputs["report-path"]).read_text())
    assert [w["environment"] for w in report["windows"]] == ["staging"]
    assert {i["service"] for i in report["incidents"]} == {"billing-service"}


def test_workflow_dispatch_inputs_are_honoured(world: World, tmp_path: Path) -> None:
    work = checked_out(world, tmp_path)
    event = {"inputs": {"environment": "prod", "service": "users", "since": "2h", "dry_run": "true"}}
    result = run_action(work, tmp_path, inputs={"dry-run": "true"}, event_name="workflow_dispatch", event=event)
    assert result.returncode == 0, result.stderr
    report = json.loads((work / result.outputs["report-path"]).read_text())
    assert [w["environment"] for w in report["windows"]] == ["prod"]
    assert {i["service"] for i in report["incidents"]} == {"user-service"}  # "users" is its alias


def test_bad_service_map_fails_with_exit_2_and_an_annotation(world: World, tmp_path: Path) -> None:
    work = checked_out(world, tmp_path)
    (work / "service-map.json").write_text(json.dumps({"environments": {}, "services": {"x": {}}}))
    result = run_action(work, tmp_path, inputs={}, event_name="schedule", event={})
    assert result.returncode == 2
    assert "::error title=Invalid configuration::" in result.stdout
    assert "services.x.repo: field required" in result.stdout


def test_every_declared_output_is_written(world: World, tmp_path: Path) -> None:
    declared = set(yaml.safe_load((ROOT / "action.yml").read_text())["outputs"])
    work = checked_out(world, tmp_path)
    result = run_action(work, tmp_path, inputs={"dry-run": "true"}, event_name="schedule", event={})
    assert result.returncode == 0, result.stderr
    assert declared and declared <= set(result.outputs), f"not written: {declared - set(result.outputs)}"


def test_hardened_flow_as_separate_processes_passing_artifacts(world: World, tmp_path: Path) -> None:
    work = checked_out(world, tmp_path)
    plan_run = run_action(work, tmp_path / "plan", inputs={"phase": "plan"}, event_name="schedule", event={})
    assert plan_run.returncode == 0, plan_run.stderr
    matrix = json.loads(plan_run.outputs["matrix"])
    assert len(matrix) == 4
    plan_file = work / ".error-autopilot" / "plan.json"
    artifacts = tmp_path / "artifacts"
    for n, fingerprint in enumerate(matrix):  # each matrix job: its own checkout, the plan artifact only
        job = tmp_path / f"job{n}"
        shutil.copytree(work, job / "checkout", ignore=shutil.ignore_patterns("findings", "drafts"))
        inv = run_action(job / "checkout", job, inputs={"phase": "investigate", "incident": fingerprint},
                         event_name="schedule", event={})  # fmt: skip
        assert inv.returncode == 0, inv.stderr
        produced = list((job / "checkout" / ".error-autopilot" / "findings").glob("finding-*.json"))
        assert [p.name for p in produced] == [f"finding-{fingerprint}.json"]
        artifacts.mkdir(exist_ok=True)
        shutil.copy(produced[0], artifacts / produced[0].name)
    publisher = tmp_path / "publish" / "checkout"
    shutil.copytree(work, publisher, ignore=shutil.ignore_patterns("findings", "drafts"))
    shutil.copytree(artifacts, publisher / ".error-autopilot" / "findings")
    assert (publisher / ".error-autopilot" / "plan.json").read_text() == plan_file.read_text()
    pub = run_action(publisher, tmp_path / "publish", inputs={"phase": "publish", "dry-run": "true"},
                     event_name="schedule", event={})  # fmt: skip
    assert pub.returncode == 0, pub.stderr
    report = json.loads((publisher / pub.outputs["report-path"]).read_text())
    culprits = {i["service"]: i["culprit"] for i in report["incidents"]}
    assert "UserService.kt:12" in culprits["user-service"]
    assert len(list((publisher / ".error-autopilot" / "drafts" / "issues").glob("*.md"))) == 4


def test_scheduled_runs_publish_to_github_once_and_reopen_a_regression(world: World, tmp_path: Path) -> None:
    with FakeGitHub({"acme/ops": world.ops_remote}) as fake:
        work = checked_out(world, tmp_path)
        env = {"GITHUB_API_URL": fake.url, **UNSPACED}
        inputs = {"github-token": "ghs_test"}
        first = run_action(work, tmp_path / "r1", inputs=inputs, event_name="schedule", event={}, env=env)
        assert first.returncode == 0, first.stderr
        assert first.outputs["issues"] == "4", first.stdout + first.stderr
        assert len(fake.issues["acme/ops"]) == 4
        urls = json.loads(first.outputs["urls"])
        assert all(u.startswith("https://github.com/acme/ops/issues/") for u in urls)
        raw = git(world.root, "--git-dir", str(world.ops_remote), "show", "error-autopilot-state:state.json")
        state = json.loads(raw)
        assert not [r for r in state["incidents"].values() if r["pending"]]

        second = run_action(work, tmp_path / "r2", inputs=inputs, event_name="schedule", event={}, env=env)
        assert second.returncode == 0, second.stderr
        assert len(fake.issues["acme/ops"]) == 4 and second.outputs["new-incidents"] == "0"

        billing = next(i for i in fake.issues["acme/ops"] if "service:billing-service" in i["labels"])
        billing["state"] = "closed"  # someone shipped a fix and closed the issue…
        newest = max(int(v[0]) for s in world.telemetry.loki_push["streams"] for v in s["values"])
        line = next(v[1] for s in world.telemetry.loki_push["streams"] for v in s["values"] if "KeyError" in v[1])
        push = {"streams": [{"stream": {"service_name": "billing-service", "deployment_environment": "staging"},
                             "values": [[str(newest + 1_000_000_000), line]]}]}  # fmt: skip
        httpx.post(f"{world.loki.url}/loki/api/v1/push", json=push).raise_for_status()  # …and it came back
        third = run_action(work, tmp_path / "r3", inputs=inputs, event_name="schedule", event={}, env=env)
        assert third.returncode == 0, third.stderr
        assert len(fake.issues["acme/ops"]) == 4
        assert billing["state"] == "open" and "regressed" in billing["labels"]
        assert any("Regression" in c for c in fake.comments[("acme/ops", billing["number"])])
        logged = "\n".join(first.stdout.splitlines() + third.stdout.splitlines() + [first.stderr, third.stderr])
        assert "::add-mask::ghs_test" in first.stdout, "the token is masked before anything is logged"
        assert "ghs_test" not in logged.replace("::add-mask::ghs_test", "")
        assert fake.server.unexpected == []


def test_a_lost_state_branch_is_rebuilt_from_issue_markers(world: World, tmp_path: Path) -> None:
    with FakeGitHub({"acme/ops": world.ops_remote}) as fake:
        work = checked_out(world, tmp_path)
        env = {"GITHUB_API_URL": fake.url, **UNSPACED}
        inputs = {"github-token": "ghs_test", "since": "2h"}
        first = run_action(work, tmp_path / "r1", inputs=inputs, event_name="schedule", event={}, env=env)
        assert first.returncode == 0 and first.outputs["new-incidents"] == "4", first.stderr
        git(world.root, "--git-dir", str(world.ops_remote), "branch", "-D", "error-autopilot-state")
        again = run_action(work, tmp_path / "r2", inputs=inputs, event_name="schedule", event={}, env=env)
        assert again.returncode == 0, again.stderr
        assert again.outputs["new-incidents"] == "0", "known bugs are recurring, not new, after the branch loss"
        assert len(fake.issues["acme/ops"]) == 4, "no issue filed twice"
        report = json.loads((work / again.outputs["report-path"]).read_text())
        assert {i["status"] for i in report["incidents"]} == {"recurring"}
        assert "rebuilt 4 known bug(s) from issue markers" in again.stderr
