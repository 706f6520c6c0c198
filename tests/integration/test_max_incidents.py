"""More incidents than `max_incidents`: the plan selects the ones this run handles (oldest first) and
carries only those in full; investigate and publish take exactly those, in the same order, and the
rest wait in state, lean, for a later run, which publishes them with nothing missing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from error_autopilot.cli import main
from error_autopilot.domain.incidents import Plan
from error_autopilot.state.bounded import storable
from tests.support.world import World


def _run(world: World, out: Path, *extra: str) -> dict[str, Any]:
    code = main(["run", "--config", str(world.config), "--state-repo", str(world.ops_remote), "--sink", "local",
                 "--out", str(out / "drafts"), "--work-dir", str(out / "work"), *extra])  # fmt: skip
    assert code == 0
    report: dict[str, Any] = json.loads((out / "work" / "report.json").read_text())
    return report


def _plan(out: Path) -> Plan:
    return Plan.model_validate_json((out / "work" / "plan.json").read_bytes())


def _investigated(out: Path) -> list[str]:
    return sorted(p.name.removeprefix("finding-").removesuffix(".json")
                  for p in (out / "work" / "findings").glob("finding-*.json"))  # fmt: skip


def test_the_incidents_investigated_are_the_ones_published_and_the_rest_wait_lean(
    world: World, tmp_path: Path
) -> None:  # fmt: skip
    whole = tmp_path / "whole"  # the same lines planned with room for every incident: what a full build holds
    assert main(["plan", "--config", str(world.config), "--state-repo", str(world.ops_remote),
                 "--work-dir", str(whole / "work"), "--max-incidents", "10"]) == 0  # fmt: skip
    full = {p.incident.fingerprint: p.incident for p in _plan(whole).incidents}
    assert len(full) == 4 and all(i.sample for i in full.values())
    oldest_first = sorted(full, key=lambda fp: (full[fp].first_seen, fp))

    first = tmp_path / "first"
    report = _run(world, first, "--max-incidents", "2")
    published = [i["fingerprint"] for i in report["incidents"]]
    assert published == oldest_first[:2], "publish takes the oldest first"
    assert _investigated(first) == sorted(published), "investigated exactly what was published"
    assert any("2 incident(s) left pending for later runs by max-incidents" in t for t in report["truncated"])
    for fp in published:  # the issue shows the sample lines this run read
        assert "### Newest occurrence" in (first / "drafts" / "issues" / f"{fp}.md").read_text()
    plan = _plan(first)
    assert [p.incident.fingerprint for p in plan.selected] == published
    for planned in plan.incidents:
        fp = planned.incident.fingerprint
        if fp in published:
            assert planned.evidence == "full" and planned.incident == full[fp]
        else:  # what state keeps of it, which is all a later run has of it today
            assert planned.evidence == "lean" and planned.incident == storable(full[fp])

    later = tmp_path / "later"  # nothing new logged: the next run publishes the two left pending
    report = _run(world, later, "--max-incidents", "2")
    assert [i["fingerprint"] for i in report["incidents"]] == oldest_first[2:]
    assert _investigated(later) == sorted(oldest_first[2:])
    assert not any("left pending" in t for t in report["truncated"])
    for fp in oldest_first[2:]:  # published from state with the payload a full build would have stored
        assert next(p for p in _plan(later).incidents if p.incident.fingerprint == fp).incident == storable(full[fp])
    assert len(list((later / "drafts" / "issues").glob("*.md"))) == 2


def test_beyond_max_pending_the_newest_are_dropped_counted_in_the_report_and_never_published(
    world: World, tmp_path: Path
) -> None:  # fmt: skip
    config = json.loads(world.config.read_text())
    config["policy"] = {**config.get("policy", {}), "max_pending": 1}
    world.config.write_text(json.dumps(config))

    first = tmp_path / "first"
    report = _run(world, first, "--max-incidents", "1")
    plan = _plan(first)
    assert len(report["incidents"]) == 1 and len(plan.incidents) == 2, "one published, one waits"
    assert plan.dropped == 2 and plan.dropped_occurrences > 0
    dropped = [t for t in report["truncated"] if "dropped, not published" in t]
    assert dropped == [f"2 incident(s) ({plan.dropped_occurrences:,} occurrence(s)) dropped, not published: at most "
                       "1 wait in state (policy.max_pending); the newest were left out and are planned again when "
                       "they recur"]  # fmt: skip
    assert "2 incident(s)" in (first / "work" / "summary.md").read_text(), "the job summary says it too"

    later = tmp_path / "later"  # nothing new logged: the one that waited is published, the dropped ones are gone
    report = _run(world, later, "--max-incidents", "1")
    assert [i["fingerprint"] for i in report["incidents"]] == [plan.incidents[1].incident.fingerprint]
    assert not _plan(later).dropped and not any("dropped" in t for t in report["truncated"])
    filed = [*(first / "drafts" / "issues").glob("*.md"), *(later / "drafts" / "issues").glob("*.md")]
    assert len(filed) == 2
