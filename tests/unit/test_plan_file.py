"""plan.json is written one incident at a time; the file must be exactly the plan's own compact JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from error_autopilot import workfiles
from error_autopilot.domain.incidents import Incident, Plan, PlannedIncident, PollWindow
from error_autopilot.incidents.group import IncidentGrouper
from tests.unit.test_group import order_event, plain_event

NOW = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)


def _incidents() -> list[Incident]:
    grouper = IncidentGrouper()
    for i in range(12):
        grouper.add(order_event(i, env="prod" if i % 2 else "dev", trace=f"{i + 1:032x}", version=f"v{i % 3}"))
    # text that must come out escaped, including what the writer looks for to place the list
    grouper.add(plain_event(1, 'bad "incidents":[] payload ✓ \u2028 \\ end'))
    grouper.add(plain_event(2, "timeout after 30 ms", service="billing-service"))
    return grouper.incidents()


def _plan(incidents: list[Incident]) -> Plan:
    window = PollWindow(environment="prod", start_ns=0, end_ns=10**18, last_ts_ns=10**17, tail_line_ids=("l1", "l2"),
                        minute_counts={28_000_000: 3}, truncated_reason='page cap "incidents":[]')  # fmt: skip
    planned = tuple(
        PlannedIncident(incident=i, status="recurring" if n else "new", issue_number=n or None,
                        carried=i if n else None)
        for n, i in enumerate(incidents)
    )  # fmt: skip
    return Plan(run_id="r-1", created_at=NOW, windows=(window,), incidents=planned, max_incidents=2,
                based_on_run="r-0")  # fmt: skip


@pytest.mark.parametrize("count", [0, 1, 3])
def test_the_plan_file_is_the_plans_own_json(tmp_path: Path, count: int) -> None:
    plan = _plan(_incidents()[:count])
    path = tmp_path / "out" / "plan.json"
    workfiles.write_plan(path, plan)
    assert len(plan.incidents) == count
    assert path.read_bytes() == workfiles.plan_json(plan).encode("utf-8")
    assert workfiles.read_plan(path) == plan
    assert ('"timeline":[[' in path.read_text()) == bool(count), "cells as arrays"
    path.write_text(plan.model_dump_json())  # every field and cells as objects, as state has them: read too
    assert workfiles.read_plan(path) == plan
    assert not path.with_suffix(".json.tmp").exists()


def test_released_incidents_are_the_same_and_the_grouper_is_left_empty() -> None:
    kept, released = IncidentGrouper(), IncidentGrouper()
    for grouper in (kept, released):
        for i in range(6):
            grouper.add(order_event(i, trace=f"{i + 1:032x}"))
        grouper.add(plain_event(1, "timeout after 30 ms", service="billing-service"))
    assert released.incidents(release=True) == kept.incidents()
    assert released.incidents() == []
    assert released.group(kept.incidents()[0].fingerprint) is None
