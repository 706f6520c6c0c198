"""The lifecycle transitions on state: what people did on GitHub, which versions carry a fix, when a
fix counts as verified, and an older state file loading into the new schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from error_autopilot import pipeline
from error_autopilot.domain.findings import Finding
from error_autopilot.domain.incidents import Incident, Plan, PlannedIncident, TimelineCount
from error_autopilot.ports import IssueChange
from error_autopilot.state import ledger, transitions
from error_autopilot.state.migrations import migrate
from error_autopilot.state.model import STATE_SCHEMA_VERSION, Fix, IncidentRecord, IssueRef, PrRef, State

T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
FP = "0123456789abcdef"
FIX = "f" * 40


def _incident(*versions: str, at: datetime = T0) -> Incident:
    minute = int(at.timestamp()) // 60
    return Incident(
        fingerprint=FP, service="orders", environment="prod", environments=("prod",), title="KeyError in orders",
        count=len(versions) or 1, first_seen=at, last_seen=at, versions=versions,
        timeline=tuple(TimelineCount(minute=minute + i, environment="prod", version=v, count=1)
                       for i, v in enumerate(versions)),
    )  # fmt: skip


def _state(**record: object) -> State:
    base = IncidentRecord(
        fingerprint=FP, service="orders", title="KeyError in orders", first_seen=T0, last_seen=T0, total_count=3,
        issue=IssueRef(repo="acme/orders", number=1, url="https://github.com/acme/orders/issues/1"),
    )  # fmt: skip
    return State(incidents={FP: base.model_copy(update=record)})


def test_a_schema_2_state_loads_with_the_lifecycle_defaults() -> None:
    old = {
        "schema_version": 2,
        "cursors": {"prod": {"ts_ns": 5}},
        "incidents": {FP: {"fingerprint": FP, "service": "orders", "title": "KeyError in orders",
                           "first_seen": "2026-11-01T00:00:00Z", "last_seen": "2026-11-01T01:00:00Z",
                           "total_count": 4, "issue": {"repo": "acme/orders", "number": 1, "url": "u",
                                                       "state": "closed"}}},
    }  # fmt: skip
    state = migrate(old, where="state.json")
    assert state.schema_version == STATE_SCHEMA_VERSION == 4
    record = state.incidents[FP]
    assert record.fix is None and record.verified is None and record.issue and record.issue.state_reason is None
    assert state.labels == {} and state.deployments == {} and state.synced == {}
    # closed before reasons were recorded: still watched for a regression
    assert ledger.classify(record, _incident("1")) == "regressed"


def test_closed_as_not_planned_mutes_and_a_person_reopening_tracks_again() -> None:
    state = _state()
    closed = [IssueChange(number=1, state="closed", state_reason="not_planned", closed_at=T0)]
    state, events = transitions.apply_issue_changes(state, "acme/orders", closed, {}, now=T0)
    assert state.incidents[FP].muted and [e.kind for e in events] == ["muted"]
    assert ledger.classify(state.incidents[FP], _incident("1")) == "muted"
    again, events = transitions.apply_issue_changes(state, "acme/orders", closed, {}, now=T0)
    assert events == [] and again == state, "the same listing applied twice changes nothing"
    quiet, _ = transitions.apply_issue_changes(state, "acme/orders", [], {}, now=T0 + timedelta(hours=1))
    assert quiet == state, "an empty listing costs no state commit"
    reopened = [IssueChange(number=1, state="open", state_reason="reopened", closed_at=None)]
    state, events = transitions.apply_issue_changes(state, "acme/orders", reopened, {}, now=T0)
    assert not state.incidents[FP].muted and [e.kind for e in events] == ["reopened"]
    assert ledger.classify(state.incidents[FP], _incident("1")) == "recurring"


def test_an_occurrence_is_a_regression_only_from_a_version_with_the_fix() -> None:
    fix = Fix(repo="acme/orders", commit=FIX, source="closing commit", recorded_at=T0,
              in_versions={"1": False, "3": True})  # fmt: skip
    closed = IssueRef(repo="acme/orders", number=1, url="u", state="closed", state_reason="completed")
    record = _state(fix=fix, issue=closed).incidents[FP]
    assert ledger.classify(record, _incident("1")) == "recurring"
    assert ledger.classify(record, _incident("1", "3")) == "regressed"
    assert ledger.classify(record, _incident("9")) == "regressed", "a version git does not know is not hidden"
    assert ledger.classify(record, _incident()) == "regressed", "nor an occurrence without a version"
    planned = ledger.plan_incidents(State(incidents={FP: record}), [_incident("1")])[0]
    assert planned.issue_closed and planned.old_versions == ("1",) and planned.fix_commit == FIX


def test_verified_only_after_the_quiet_period_was_read() -> None:
    fix = Fix(repo="acme/orders", commit=FIX, source="closing commit", recorded_at=T0, in_versions={"3": True})
    closed = IssueRef(repo="acme/orders", number=1, url="u", state="closed", state_reason="completed")
    state = transitions.observe_deployments(_state(fix=fix, issue=closed), [_incident("3", at=T0)])
    quiet = timedelta(hours=24)

    def due(now: datetime, read: datetime) -> list[str]:
        found = transitions.due_verifications(state, now=now, quiet=quiet, read_until={"prod": read})
        return [d.deployment.version for d in found]

    assert due(T0 + timedelta(hours=23), T0 + timedelta(hours=23)) == []
    assert due(T0 + timedelta(hours=25), T0 + timedelta(hours=2)) == [], "logs not read through the quiet period"
    assert due(T0 + timedelta(hours=25), T0 + timedelta(hours=25)) == ["3"]
    verified = transitions.mark_verified(state, FP, state.deployments["prod/orders/3"], T0 + timedelta(hours=25))
    assert transitions.due_verifications(verified, now=T0 + timedelta(days=3), quiet=quiet,
                                         read_until={"prod": T0 + timedelta(days=3)}) == []  # fmt: skip


def test_an_open_draft_pr_from_the_same_evidence_is_not_analysed_again() -> None:
    incident = _incident("2")
    pr = PrRef(repo="acme/orders", number=2, url="u", branch="b", evidence=ledger.evidence_digest(incident))
    state = _state(pr=pr)
    assert ledger.plan_incidents(state, [incident])[0].analysis_current
    assert not ledger.plan_incidents(state, [_incident("3")])[0].analysis_current, "a new version is new evidence"
    closed_pr = pr.model_copy(update={"state": "closed"})
    assert not ledger.plan_incidents(_state(pr=closed_pr), [incident])[0].analysis_current


def test_the_pipeline_does_not_analyse_an_incident_whose_open_pr_has_the_same_evidence() -> None:
    current = PlannedIncident(incident=_incident("2"), status="recurring", analysis_current=True)
    changed = PlannedIncident(incident=_incident("3").model_copy(update={"fingerprint": "1" * 16}), status="recurring")
    plan = Plan(run_id="r", created_at=T0, windows=(), incidents=(current, changed))
    seen: list[str] = []

    def investigate_one(planned: PlannedIncident) -> Finding:
        seen.append(planned.incident.fingerprint)
        return Finding(fingerprint=planned.incident.fingerprint, symptom_service="orders", culprit_service="orders")

    done = pipeline.investigate(plan, investigate_one, workers=1)
    assert seen == ["1" * 16] and [f.fingerprint for f in done.findings] == ["1" * 16]


def test_versions_not_seen_for_a_month_are_forgotten() -> None:
    state = transitions.observe_deployments(State(), [_incident("1", at=T0)])
    state = transitions.observe_deployments(state, [_incident("2", at=T0 + timedelta(days=20))])
    assert sorted(state.deployments) == ["prod/orders/1", "prod/orders/2"]
    state = transitions.observe_deployments(state, [_incident("2", at=T0 + timedelta(days=31))])
    assert sorted(state.deployments) == ["prod/orders/2"]


def test_introduced_in_names_the_version_seen_before_it() -> None:
    earlier = _incident("1", at=T0).model_copy(update={"fingerprint": "f" * 16})
    state = transitions.observe_deployments(State(), [earlier])
    first, previous = transitions.introduced_in(state, _incident("2", at=T0 + timedelta(hours=1)))
    assert (first, previous) == ("2", "1")
    assert transitions.introduced_in(State(), _incident("2")) == ("2", None)
