"""The ledger's guarantees, on pure State values: nothing counted twice, nothing lost."""

from __future__ import annotations

from datetime import UTC, datetime

from error_autopilot.domain.incidents import Incident, Plan, PlannedIncident, PollWindow
from error_autopilot.domain.report import PublishedIncident
from error_autopilot.sinks.comments import render_material_comment
from error_autopilot.state import ledger
from error_autopilot.state.model import Cursor, IncidentRecord, IssueRef, State

NOW = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)
NS = 1_000_000_000


def _incident(fp: str = "a" * 16, count: int = 3) -> Incident:
    return Incident(fingerprint=fp, service="svc", environment="prod", environments=("prod",), title="boom",
                    count=count, first_seen=NOW, last_seen=NOW, trace_ids=("1" * 32,))  # fmt: skip


def _plan(run: str, *incidents: Incident, last_ts: int | None = 100 * NS, error: str | None = None) -> Plan:
    window = PollWindow(environment="prod", start_ns=0, end_ns=200 * NS, last_ts_ns=last_ts, error=error,
                        tail_line_ids=("l1", "l2"))  # fmt: skip
    planned = tuple(PlannedIncident(incident=i, status="new") for i in incidents)
    return Plan(run_id=run, created_at=NOW, windows=(window,), incidents=planned)


def _published(fp: str = "a" * 16, number: int = 7) -> PublishedIncident:
    return PublishedIncident(fingerprint=fp, service="svc", environment="prod", title="boom", status="new", count=3,
                             issue_url=f"https://github.com/o/r/issues/{number}", issue_number=number, issue_repo="o/r",
                             issue_action="created")  # fmt: skip


def test_poll_starts_at_cursor_minus_overlap_with_the_tail_ids() -> None:
    state = State(cursors={"prod": Cursor(ts_ns=1000 * NS, seen_line_ids=("x",))})
    start = ledger.poll_window(state, "prod", now_ns=2000 * NS, overlap_s=300, initial_lookback_s=3600, since_s=None)
    assert start.start_ns == 700 * NS and start.seen_line_ids == {"x"} and start.replay_before_ns is None
    assert start.seen_until_ns == 1000 * NS  # the tail ids are of lines no newer than the cursor
    first = ledger.poll_window(State(), "prod", now_ns=5000 * NS, overlap_s=300, initial_lookback_s=3600, since_s=None)
    assert first.start_ns == 1400 * NS


def test_since_reaches_further_back_but_marks_what_was_already_counted() -> None:
    state = State(cursors={"prod": Cursor(ts_ns=10_000 * NS)})
    start = ledger.poll_window(state, "prod", now_ns=10_100 * NS, overlap_s=60, initial_lookback_s=3600, since_s=7200)
    assert start.start_ns == 2900 * NS and start.replay_before_ns == 9940 * NS


def test_recording_a_plan_makes_everything_pending_and_moves_the_cursor() -> None:
    state = ledger.record_plan(State(), _plan("r1", _incident()))
    record = state.incidents["a" * 16]
    assert record.pending and record.pending_incident is not None and record.total_count == 0
    assert state.cursors["prod"] == Cursor(ts_ns=100 * NS, seen_line_ids=("l1", "l2"))
    assert ledger.record_plan(state, _plan("r1", _incident())) == state, "re-applying the same plan is a no-op"


def test_a_failed_poll_does_not_move_the_cursor() -> None:
    state = State(cursors={"prod": Cursor(ts_ns=50 * NS)})
    after = ledger.record_plan(state, _plan("r1", last_ts=None, error="Loki is unavailable"))
    assert after.cursors["prod"].ts_ns == 50 * NS


def test_the_cursor_never_moves_back() -> None:
    state = State(cursors={"prod": Cursor(ts_ns=500 * NS)})
    assert ledger.record_plan(state, _plan("r1", last_ts=100 * NS)).cursors["prod"].ts_ns == 500 * NS


def test_publishing_folds_the_count_in_once() -> None:
    state = ledger.record_plan(State(), _plan("r1", _incident(count=3)))
    once = ledger.record_published(state, outcome=_published(), published=_incident(count=3), tokens=120, now=NOW)
    twice = ledger.record_published(once, outcome=_published(), published=_incident(count=3), tokens=120, now=NOW)
    record = twice.incidents["a" * 16]
    assert record.total_count == 3 and not record.pending and record.pending_incident is None
    assert record.issue == IssueRef(repo="o/r", number=7, url="https://github.com/o/r/issues/7")
    assert twice.runs.tokens_by_day == {"2026-11-25": 120}


def test_pending_incidents_come_first_and_merge_with_new_occurrences() -> None:
    state = ledger.record_plan(State(), _plan("r1", _incident(count=3)))
    planned = ledger.plan_incidents(state, [_incident(count=2), _incident("b" * 16, count=1)])
    assert [p.incident.fingerprint for p in planned] == ["a" * 16, "b" * 16]
    assert planned[0].incident.count == 5


def test_classification_new_recurring_regressed_muted() -> None:
    issue = IssueRef(repo="o/r", number=1, url="u")
    base = {"fingerprint": "a" * 16, "service": "s", "title": "t", "first_seen": NOW, "last_seen": NOW}
    assert ledger.classify(None) == "new"
    assert ledger.classify(IncidentRecord(**base, total_count=4, issue=issue)) == "recurring"
    closed = issue.model_copy(update={"state": "closed"})
    assert ledger.classify(IncidentRecord(**base, total_count=4, issue=closed)) == "regressed"
    assert ledger.classify(IncidentRecord(**base, total_count=4, muted=True)) == "muted"


def test_a_recurring_incident_comments_only_on_material_change() -> None:
    state = ledger.record_plan(State(), _plan("r1", _incident(count=3)))
    state = ledger.record_published(state, outcome=_published(), published=_incident(count=3), tokens=0, now=NOW)
    same = ledger.plan_incidents(state, [_incident(count=4)])[0]
    assert same.status == "recurring" and render_material_comment(same) is None
    spike = ledger.plan_incidents(state, [_incident(count=30)])[0]
    assert "up from 3" in (render_material_comment(spike) or "")
    wider = _incident(count=1).model_copy(update={"environments": ("prod", "staging")})
    assert "now also seen in **staging**" in (render_material_comment(ledger.plan_incidents(state, [wider])[0]) or "")


def test_a_plan_made_before_another_was_recorded_changes_nothing() -> None:
    first = ledger.record_plan(State(), _plan("run-1", _incident(count=3)))
    done = ledger.record_published(first, outcome=_published(), published=_incident(count=3), tokens=0, now=NOW)
    late = _plan("run-0", _incident(count=3)).model_copy(update={"based_on_run": None})  # made before run-1
    assert ledger.is_stale(done, late) and ledger.record_plan(done, late) == done
    assert "run run-1 was recorded after it was made" in ledger.stale_plan_message(done, late)
    follow = _plan("run-2", _incident(count=2)).model_copy(update={"based_on_run": "run-1"})
    recorded = ledger.record_plan(done, follow)
    assert not ledger.is_stale(done, follow) and recorded.incidents["a" * 16].pending
    assert ledger.record_plan(recorded, follow) == recorded, "the same plan twice: recorded once"


def _publish_pending(state: State) -> State:
    """What a run's last save does: fold every pending payload it published into the totals."""
    for fp, record in state.incidents.items():
        if record.pending and record.pending_incident is not None:
            state = ledger.record_published(state, outcome=_published(fp), published=record.pending_incident,
                                            tokens=0, now=NOW)  # fmt: skip
    return state


def test_a_plan_made_while_the_pending_incidents_it_carries_were_being_published_changes_nothing() -> None:
    """Ctrl-C during run 1's last push: the push lands after the recovery run read state. The recovery
    plan carries run 1's pending occurrences; run 1's publish then counts them; recording the recovery
    plan must not make them pending again, or its publish counts them a second time."""
    run1 = ledger.record_plan(State(), _plan("run-1", _incident(count=3), _incident("b" * 16, count=5)))
    fresh = [_incident(count=2)]  # run 2 also read two new occurrences of the first bug
    recovery = _plan("run-2", last_ts=150 * NS).model_copy(
        update={"based_on_run": "run-1", "incidents": tuple(ledger.plan_incidents(run1, fresh))}
    )
    landed = _publish_pending(run1)  # run 1's last push lands after run 2 read state
    assert ledger.is_stale(landed, recovery)
    assert ledger.record_plan(landed, recovery) == landed, "the cursor stays: the two new lines are read again"
    assert "run run-1 published 2 of its incident(s) after it was made" in ledger.stale_plan_message(landed, recovery)
    again = _publish_pending(ledger.record_plan(landed, recovery))
    assert sorted(r.total_count for r in again.incidents.values()) == [3, 5], "nothing counted twice"
    assert not ledger.is_stale(run1, recovery), "had run 1's push not landed, run 2 takes its incidents over"
    taken = _publish_pending(ledger.record_plan(run1, recovery))
    assert sorted(r.total_count for r in taken.incidents.values()) == [5, 5], "nothing lost: 3 + 2 new, and 5"


def test_a_publish_counts_only_the_payload_it_published() -> None:
    """A run's last save that lands after another run's plan took its records over counts nothing:
    the record is pending with the other run's payload, which that run counts."""
    run1 = ledger.record_plan(State(), _plan("run-1", _incident(count=3)))
    follow = _plan("run-2").model_copy(
        update={"based_on_run": "run-1", "incidents": tuple(ledger.plan_incidents(run1, [_incident(count=2)]))}
    )
    run2 = ledger.record_plan(run1, follow)
    late = ledger.record_published(run2, outcome=_published(), published=_incident(count=3), tokens=0, now=NOW)
    assert late == run2, "run 1's save counts nothing it no longer owns"
    assert _publish_pending(late).incidents["a" * 16].total_count == 5
