"""Schema 4 and the compact layout of plan.json: smaller files that read back exactly, files written by the
previous version still read (a state branch of schema 3, a plan made before an upgrade), and at most
`max_pending` incidents waiting in state, the rest counted, never silently gone."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from error_autopilot import selection
from error_autopilot.domain.incidents import FingerprintPart, Incident, Plan, PlannedIncident, TimelineCount
from error_autopilot.domain.layout import COMPACT
from error_autopilot.domain.stack import ExceptionInfo, Frame, StackTrace
from error_autopilot.pipeline import Timings, build_report
from error_autopilot.state import bounded, ledger
from error_autopilot.state.migrations import migrate
from error_autopilot.state.model import STATE_SCHEMA_VERSION, IncidentRecord, IssueRef, State, state_json
from error_autopilot.workfiles import plan_json, read_plan, write_plan
from tests.support.stores import WallClock

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "state"
NOW = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)


def test_a_schema_3_state_written_by_the_previous_version_loads_and_shrinks() -> None:
    text = (FIXTURES / "schema-3.json").read_text()
    raw = json.loads(text)
    assert raw["schema_version"] == 3
    state = migrate(raw, where="state.json")
    assert state.schema_version == STATE_SCHEMA_VERSION == 4
    pending = {fp: r.pending_incident for fp, r in state.incidents.items() if r.pending}
    assert len(pending) == len(raw["incidents"]) == 22
    for fp, incident in pending.items():
        old = raw["incidents"][fp]["pending_incident"]
        assert incident is not None and incident.count == old["count"] and incident.title == old["title"]
        assert old["timeline"] == [c._asdict() for c in incident.timeline]
        assert (incident.stack.model_dump(mode="json") if incident.stack else None) == old.get("stack")
        assert [p.model_dump() for p in incident.fingerprint_parts] == old["fingerprint_parts"]
    old_ids = raw["cursors"]["prod"]["seen_line_ids"]
    assert len(old_ids[0]) == 24 and state.cursors["prod"].seen_line_ids == tuple(sorted(i[:16] for i in old_ids))

    written = state_json(state)
    assert migrate(json.loads(written), where="state.json") == state, "schema 4 reads back exactly"
    assert len(written) < len(text) * 0.6
    records = [line for line in written.splitlines() if line.startswith(' "')]
    assert sorted(line[2:18] for line in records) == sorted(state.incidents), "one incident record a line"


def test_a_plan_written_before_the_upgrade_is_read_and_compact_plans_read_back_exactly(tmp_path: Path) -> None:
    before = FIXTURES / "plan-before-schema-4.json"
    plan = read_plan(before)
    assert len(plan.incidents) == 22 and all(p.incident.sample for p in plan.incidents)
    assert isinstance(json.loads(before.read_text())["windows"][0]["tail_line_ids"], list)
    write_plan(tmp_path / "plan.json", plan)
    assert read_plan(tmp_path / "plan.json") == plan
    assert (tmp_path / "plan.json").stat().st_size < before.stat().st_size * 0.8
    packed = json.loads((tmp_path / "plan.json").read_text())["windows"][0]["tail_line_ids"]
    assert isinstance(packed, str) and len(packed) == 1200 * 8 * 4 // 3  # 8 bytes a line, base64


def _stack() -> StackTrace:
    frames = (Frame(function="get", module="com.acme.Users", file="Users.kt", line=31, in_app=True,
                    raw="at com.acme.Users.get(Users.kt:31)"),
              Frame(function="service", module="org.fw.Servlet", file="Servlet.java", line=9))  # fmt: skip
    return StackTrace(language="jvm", exceptions=(ExceptionInfo(type="java.lang.NullPointerException", frames=frames),))


def _incident(fp: str = "a" * 16, count: int = 3, **extra: object) -> Incident:
    fields = {"fingerprint": fp, "service": "users", "environment": "prod", "environments": ("prod",),
              "title": "boom", "count": count, "first_seen": NOW, "last_seen": NOW,
              "exception_type": "java.lang.NullPointerException"}  # fmt: skip
    return Incident.model_validate({**fields, **extra})


def test_parts_timeline_and_frames_in_the_compact_layout_refer_to_what_they_repeat() -> None:
    parts = (
        FingerprintPart(name="service", value="users", contributes=True, hint="service"),
        FingerprintPart(name="exception_type", value="java.lang.NullPointerException", contributes=True, hint="x"),
        FingerprintPart(name="frame", value="com.acme.Users.get", contributes=True, hint="in-app frame"),
        FingerprintPart(name="frame", value="+2 more in-app frames", contributes=False, hint="in-app frame"),
        FingerprintPart(name="frame", value="org.fw.Servlet.service", contributes=False, hint="library frame"),
    )
    timeline = (TimelineCount(100, "prod", "", 4), TimelineCount(101, "dev", "v2", 1),
                TimelineCount(101, "prod", "", 2), TimelineCount(105, "prod", "", 7))  # fmt: skip
    incident = _incident(fingerprint_parts=parts, timeline=timeline, stack=_stack())
    data = json.loads(incident.model_dump_json(context={COMPACT: True}))
    assert data["fingerprint_parts"] == [
        ["service", None, 1, "service"], ["exception_type", None, 1, "x"], ["frame", 0, 1, "in-app frame"],
        ["frame", "+2 more in-app frames", 0, None], ["frame", 1, 0, "library frame"],
    ]  # fmt: skip
    assert data["timeline"] == [["prod", "", 100, [4, 2, -3, 7]], ["dev", "v2", 101, [1]]]
    assert data["stack"]["exceptions"][0]["frames"] == [
        ["get", "com.acme.Users", "Users.kt", 31, 1, "at com.acme.Users.get(Users.kt:31)"],
        ["service", "org.fw.Servlet", "Servlet.java", 9],
    ]
    assert Incident.model_validate_json(json.dumps(data)) == incident
    assert Incident.model_validate_json(incident.model_dump_json()) == incident, "the object layout still reads"

    unsorted = incident.model_copy(update={"timeline": tuple(reversed(timeline))})
    cells = json.loads(unsorted.model_dump_json(context={COMPACT: True}))["timeline"]
    assert cells[0] == {"minute": 105, "environment": "prod", "version": "", "count": 7}, "kept as cells"

    data["fingerprint_parts"][2][1] = 9
    with pytest.raises(ValueError, match="names frame 9"):
        Incident.model_validate_json(json.dumps(data))


def _plan(*incidents: Incident, carried: frozenset[str] = frozenset(), cap: int = 1) -> Plan:
    planned = tuple(PlannedIncident(incident=i, status="new", carried=i if i.fingerprint in carried else None)
                    for i in incidents)  # fmt: skip
    return Plan(run_id="r2", created_at=NOW, windows=(), incidents=planned, max_incidents=cap)


def test_at_most_max_pending_wait_in_state_and_the_rest_are_counted_in_the_report() -> None:
    old, known, fresh = _incident("a" * 16, 5), _incident("b" * 16, 7), _incident("c" * 16, 11)
    selected = _incident("0" * 16, 2)
    state = State(incidents={
        "a" * 16: IncidentRecord(fingerprint="a" * 16, service="users", title="boom", first_seen=NOW, last_seen=NOW,
                                 pending=True, pending_incident=old),
        "b" * 16: IncidentRecord(fingerprint="b" * 16, service="users", title="boom", first_seen=NOW, last_seen=NOW,
                                 pending=True, pending_incident=known, total_count=40,
                                 issue=IssueRef(repo="o/r", number=3, url="u")),
    })  # fmt: skip
    plan = _plan(selected, old, known, fresh, carried=frozenset({"a" * 16, "b" * 16}))
    assert selection.cap_pending(plan, 10).incidents == plan.incidents

    capped = selection.cap_pending(plan, 0 + 1)  # the selected one, and one more waits: the oldest in publish order
    assert [p.incident.fingerprint for p in capped.incidents] == ["0" * 16, "a" * 16]
    assert (capped.dropped, capped.dropped_occurrences, capped.dropped_pending) == (2, 18, ("b" * 16,))
    assert len(plan_json(capped)) < len(plan_json(plan))

    after = ledger.record_plan(state, capped)
    assert after.incidents["a" * 16].pending and after.incidents["0" * 16].pending
    kept = after.incidents["b" * 16]  # it has an issue: the record stays, its pending occurrences do not
    assert not kept.pending and kept.pending_incident is None and kept.issue is not None and kept.total_count == 40
    assert "c" * 16 not in after.incidents
    never_published = ledger.record_plan(state, selection.cap_pending(_plan(selected, known, old, carried=frozenset({
        "a" * 16, "b" * 16})), 0 + 1))  # fmt: skip
    assert "a" * 16 not in never_published.incidents, "a record that only held the dropped payload goes"

    report = build_report(capped, [], errors=[], findings={}, started_at_clock=WallClock(), timings=Timings(),
                          dry_run=False)  # fmt: skip
    assert any("2 incident(s) (18 occurrence(s)) dropped" in t and "at most 1 wait in state" in t
               for t in report.truncated)  # fmt: skip


def test_a_waiting_incident_keeps_a_bounded_stack_and_timeline_and_merging_sums_the_timelines() -> None:
    own = [Frame(function=f"own{n}", module="com.acme.A", in_app=True) for n in range(60)]
    library = [Frame(function=f"lib{n}", module="org.fw.B") for n in range(100)]
    exceptions = tuple(ExceptionInfo(type=f"E{n}", frames=(*library[:40], *own)) for n in range(8))
    cells = tuple(TimelineCount(m, "prod", "", 1) for m in range(3000))
    big = _incident(stack=StackTrace(language="jvm", exceptions=exceptions), timeline=cells, count=3000)
    stored = bounded.storable(big)
    stack = stored.stack
    assert stack is not None and stack.truncated
    assert [e.type for e in stack.exceptions] == ["E0", "E1", "E2", "E3", "E7"], "the root cause is kept"
    first = stack.exceptions[0]
    assert [f.function for f in first.frames] == [f.function for f in library[:30]] + [f"own{n}" for n in range(40)]
    assert first.omitted_frames == 100 - 70
    assert all(len(e.frames) == 30 for e in stack.exceptions[1:]), "the own-frame budget is the whole stack's"
    assert len(stored.timeline) <= bounded.MAX_STORED_CELLS and sum(c.count for c in stored.timeline) == 3000
    assert {c.minute % 5 for c in stored.timeline} == {0}, "3,000 minutes merged into 5-minute cells"
    assert bounded.storable(stored) is stored, "what is stored is stored as it is"
    small = _incident(stack=_stack(), timeline=cells[:10])
    assert bounded.storable(small) is small

    older = _incident(count=3, timeline=(TimelineCount(10, "prod", "", 2), TimelineCount(11, "prod", "", 1)))
    newer = _incident(count=4, timeline=(TimelineCount(11, "prod", "", 3), TimelineCount(12, "dev", "", 1)))
    merged = bounded.merge(older, newer)
    assert merged.count == 7 and sum(c.count for c in merged.timeline) == 7
    assert merged.timeline == (TimelineCount(10, "prod", "", 2), TimelineCount(11, "prod", "", 4),
                               TimelineCount(12, "dev", "", 1))  # fmt: skip
