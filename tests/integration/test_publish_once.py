"""A plan is published once: publishing the same plan.json again, or re-running an old publish job
after a newer run was recorded, files nothing, comments nothing and counts nothing twice."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from error_autopilot.cli import main
from tests.support.fakes.github import UNSPACED, FakeGitHub
from tests.support.world import World, git

pytestmark = pytest.mark.slow



def _counts(world: World) -> dict[str, int]:
    raw = git(world.root, "--git-dir", str(world.ops_remote), "show", "error-autopilot-state:state.json")
    return {fp: r["total_count"] for fp, r in json.loads(raw)["incidents"].items()}


def _publish(world: World, work: Path) -> dict[str, object]:
    code = main(["publish", "--config", str(world.config), "--state-repo", str(world.ops_remote),
                 "--work-dir", str(work), "--plan", str(work / "plan.json")])  # fmt: skip
    assert code == 0
    report: dict[str, object] = json.loads((work / "report.json").read_text())
    return report


def _plan(world: World, work: Path) -> None:
    code = main(["plan", "--config", str(world.config), "--state-repo", str(world.ops_remote),
                 "--work-dir", str(work)])  # fmt: skip
    assert code == 0


def test_an_old_publish_job_rerun_counts_nothing_twice(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # fmt: skip
    with FakeGitHub({"acme/ops": world.ops_remote}) as fake:
        for name, value in {"GITHUB_TOKEN": "ghs_test", "GITHUB_API_URL": fake.url, "GITHUB_REPOSITORY": "acme/ops",
                            **UNSPACED}.items():  # fmt: skip
            monkeypatch.setenv(name, value)
        old, new = tmp_path / "run-a", tmp_path / "run-b"
        _plan(world, old)
        assert len(_publish(world, old)["incidents"]) == 4  # type: ignore[arg-type]
        after_a = _counts(world)
        assert sorted(after_a.values()) == [5, 12, 37, 41]
        comments = {k: list(v) for k, v in fake.comments.items()}

        again = _publish(world, old)  # the same plan.json published twice
        assert again["incidents"] == [] and _counts(world) == after_a
        assert len(fake.issues["acme/ops"]) == 4 and fake.comments == comments

        newest = max(int(v[0]) for s in world.telemetry.loki_push["streams"] for v in s["values"])
        line = next(v[1] for s in world.telemetry.loki_push["streams"] for v in s["values"] if "KeyError" in v[1])
        push = {"streams": [{"stream": {"service_name": "billing-service", "deployment_environment": "staging"},
                             "values": [[str(newest + 1_000_000_000), line]]}]}  # fmt: skip
        httpx.post(f"{world.loki.url}/loki/api/v1/push", json=push).raise_for_status()
        _plan(world, new)
        published = _publish(world, new)["incidents"]
        assert [(i["service"], i["count"]) for i in published] == [("billing-service", 1)]  # type: ignore[index,union-attr]
        after_b = _counts(world)
        assert sorted(after_b.values()) == [5, 13, 37, 41]
        issues, comments = json.dumps(fake.issues), {k: list(v) for k, v in fake.comments.items()}

        rerun = _publish(world, old)  # the old publish job re-run after run B was recorded
        assert rerun["incidents"] == []
        assert any("was not published" in e for e in rerun["errors"])  # type: ignore[union-attr]
        assert _counts(world) == after_b, "the old plan's occurrences are not counted again"
        assert json.dumps(fake.issues) == issues and fake.comments == comments
