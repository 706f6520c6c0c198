"""The whole pipeline, in-process, against loopback Loki/Tempo, real git repos and the local sink."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from error_autopilot.cli import main
from tests.support.world import World, git


def _run(world: World, out: Path, *extra: str) -> int:
    return main([
        "run", "--config", str(world.config), "--state-repo", str(world.ops_remote), "--sink", "local",
        "--out", str(out / "drafts"), "--work-dir", str(out / "work"), *extra,
    ])  # fmt: skip


def _report(out: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((out / "work" / "report.json").read_text())
    return data


def test_first_run_files_each_bug_once_and_replay_files_nothing(world: World, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _run(world, out) == 0
    first = _report(out)
    incidents = first["incidents"]
    assert isinstance(incidents, list)
    by_service = {(i["service"], i["status"]) for i in incidents}
    assert ("user-service", "new") in by_service and ("billing-service", "new") in by_service
    assert sum(1 for i in incidents if i["service"] == "order-service") == 2  # the 500 and the timeouts
    issues = sorted((out / "drafts" / "issues").glob("*.md"))
    assert len(issues) == len(incidents) == 4
    npe = next(i for i in incidents if i["service"] == "user-service")
    assert npe["count"] == 41
    assert "UserService.kt" in (npe["culprit"] or "")

    assert _run(world, out) == 0
    second = _report(out)
    assert [i["status"] for i in second["incidents"]] == []  # nothing new was logged since
    assert len(list((out / "drafts" / "issues").glob("*.md"))) == 4
    state = json.loads(git(world.root, "--git-dir", str(world.ops_remote), "show", "error-autopilot-state:state.json"))
    assert state["incidents"][npe["fingerprint"]]["total_count"] == 41


def test_order_service_symptom_points_at_the_user_service_culprit(world: World, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _run(world, out) == 0
    finding_files = list((out / "work" / "findings").glob("finding-*.json"))
    findings = [json.loads(f.read_text()) for f in finding_files]
    order = next(f for f in findings if f["symptom_service"] == "order-service" and f["trace"])
    assert order["culprit_service"] == "user-service"
    assert order["primary_location"]["path"] == "src/main/kotlin/com/acme/user/UserService.kt"
    assert order["suspects"][0]["summary"] == "Show nickname in display name (#42)"


def test_hostile_log_text_never_reaches_a_draft_live(world: World, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _run(world, out) == 0
    text = "\n".join(p.read_text() for p in (out / "drafts").rglob("*.md"))
    assert "ghp_Zx9" not in text
    assert "<img" not in text
    assert "@acme/oncall" not in text
    summary = (out / "work" / "summary.md").read_text()
    assert "ghp_Zx9" not in summary and "<img" not in summary


def test_dry_run_writes_no_state(world: World, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _run(world, out, "--dry-run") == 0
    branches = git(world.root, "--git-dir", str(world.ops_remote), "branch", "--list")
    assert branches == ""
    assert len(list((out / "drafts" / "issues").glob("*.md"))) == 4


def _push(world: World, ts_ns: int, line: str) -> None:
    body = {"streams": [{"stream": {"service_name": "billing-service", "deployment_environment": "staging"},
                         "values": [[str(ts_ns), line]]}]}  # fmt: skip
    httpx.post(f"{world.loki.url}/loki/api/v1/push", json=body).raise_for_status()


LATE_LINE = json.dumps({
    "levelname": "ERROR", "message": "ledger %s unbalanced",
    "exc_info": 'Traceback (most recent call last):\n  File "/app/billing/ledger.py", line 3, in close\nValueError: x',
})  # fmt: skip


def test_late_lines_inside_the_overlap_count_once_and_older_ones_are_reported(world: World, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _run(world, out) == 0
    newest = max(int(v[0]) for s in world.telemetry.loki_push["streams"] for v in s["values"])
    _push(world, newest - 60 * 1_000_000_000, LATE_LINE % "L-1")  # late, but inside the 5-minute overlap
    assert _run(world, out) == 0
    second = _report(out)
    assert [(i["status"], i["count"]) for i in second["incidents"]] == [("new", 1)]
    assert _run(world, out) == 0
    assert _report(out)["incidents"] == [], "a line inside the overlap is counted once, not on every run"

    _push(world, newest - 20 * 60 * 1_000_000_000, LATE_LINE % "L-2")  # older than the overlap window
    assert _run(world, out) == 0
    fourth = _report(out)
    staging = next(w for w in fourth["windows"] if w["environment"] == "staging")
    assert staging["late"] == 1
    assert any("reached Loki after the overlap window" in t for t in fourth["truncated"])
    assert "| staging |" in (out / "work" / "summary.md").read_text()
