"""How a run's plan and publications change state (pure).

The contract with pipeline.py: `plan` reads state through `poll_window` and `plan_incidents`;
`publish` applies `record_plan` (every incident pending, with its payload; cursors moved past the
lines counted) before publishing anything, then `record_published` per incident. Each function is
a pure State → State mutation, so the store can re-apply it on a fresh copy when a push races.
"""

from __future__ import annotations

import hashlib
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from error_autopilot.domain.incidents import (
    MAX_TRACE_IDS,
    Evidence,
    Incident,
    IncidentStatus,
    Plan,
    PlannedIncident,
)
from error_autopilot.domain.report import PublishedIncident
from error_autopilot.state.bounded import capped, merge, storable
from error_autopilot.state.model import Cursor, IncidentRecord, IssueRef, PrRef, State

NS = 1_000_000_000
MINUTES_KEPT = 180  # how far back late lines can be noticed


@dataclass(frozen=True)
class PollStart:
    """Where one environment's poll starts and which lines it must not count again."""

    start_ns: int
    seen_line_ids: frozenset[str]
    replay_before_ns: int | None  # lines older than this were counted by earlier runs (a --since re-read)
    # the cursor: every line in `seen_line_ids` was read by the run that moved it here, so none is newer
    # (None: not known, every line is looked up)
    seen_until_ns: int | None = None


def poll_window(
    state: State, env: str, *, now_ns: int, overlap_s: int, initial_lookback_s: int, since_s: int | None
) -> PollStart:
    """Start at the cursor minus the overlap (late lines), or `since`/the initial look-back."""
    cursor = state.cursors.get(env)
    if cursor is None:
        start = now_ns - (since_s or initial_lookback_s) * NS
        return PollStart(start, frozenset(), None)
    resume = cursor.ts_ns - overlap_s * NS
    if since_s is not None and now_ns - since_s * NS < resume:
        return PollStart(now_ns - since_s * NS, frozenset(cursor.seen_line_ids), resume, cursor.ts_ns)
    return PollStart(resume, frozenset(cursor.seen_line_ids), None, cursor.ts_ns)


def classify(record: IncidentRecord | None, incident: Incident | None = None) -> IncidentStatus:
    """new / recurring / regressed / muted, from what state remembers and the versions it came from.

    An incident whose issue was closed by a fix regresses only when it came from a version that
    contains the fix (or from a version not known); from old versions only, it is still recurring
    (the issue stays closed: the fix is not deployed there yet)."""
    if record is None or (record.issue is None and record.total_count == 0):
        return "new"
    if record.muted:
        return "muted"
    if record.issue is not None and record.issue.state == "closed":
        fixed, old = fix_split(record, incident)
        return "recurring" if old and not fixed else "regressed"
    return "recurring"


def fix_split(record: IncidentRecord, incident: Incident | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The incident's versions that contain its fix, and those that do not; a version whose ancestry is
    unknown (or an occurrence without a version) counts as containing it: a regression is not hidden."""
    if record.fix is None or incident is None:
        return (), ()
    versions = incident.versions or ("",)
    known = record.fix.in_versions
    fixed = tuple(v for v in versions if known.get(v, True))
    old = tuple(v for v in versions if known.get(v) is False)
    return fixed, old


def evidence_digest(incident: Incident) -> str:
    """What an analysis of this incident depends on: its stack and the versions it came from. An open
    draft PR made from the same evidence is neither analysed nor pushed again."""
    frames = [f"{f.module}.{f.function} {f.file}" for f in incident.stack.in_app_frames()] if incident.stack else []
    text = "\n".join([incident.exception_type or "", *frames, *sorted(incident.versions)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _planned(
    incident: Incident, record: IncidentRecord | None, carried: str | None = None, evidence: Evidence = "full"
) -> PlannedIncident:
    if evidence == "lean":
        incident = storable(incident)
    issue = record.issue if record else None
    fixed, old = fix_split(record, incident) if record else ((), ())
    pr = record.pr if record else None
    return PlannedIncident(
        incident=incident,
        status=classify(record, incident),
        evidence=evidence,
        issue_url=issue.url if issue else None,
        issue_number=issue.number if issue else None,
        issue_repo=issue.repo if issue else None,
        known_environments=record.environments if record else (),
        previous_count=record.last_window_count if record else 0,
        issue_closed=issue is not None and issue.state == "closed",
        fix_commit=record.fix.commit if record and record.fix else None,
        fixed_versions=fixed if record and record.fix else (),
        old_versions=old,
        old_versions_noted=bool(old) and record is not None and set(old) <= set(record.old_versions_noted),
        analysis_current=pr is not None and pr.state == "open" and pr.evidence == evidence_digest(incident),
        first_version=record.first_version if record else None,
        introduced_after=record.introduced_after if record else None,
        suspects=record.suspects if record else (),
        carried=carried,
    )


def plan_incidents(
    state: State, fresh: Sequence[Incident], full: Container[str] | None = None, dropped: Container[str] = ()
) -> list[PlannedIncident]:
    """Fresh incidents classified, with incidents still pending from earlier runs merged in first, but for
    those `dropped` (`selection.choose`). Those not in `full` (None: all are) are lean: built without their
    sample lines, and as state keeps them (`storable`)."""

    def evidence(fp: str) -> Evidence:
        return "full" if full is None or fp in full else "lean"

    by_fp = {i.fingerprint: i for i in fresh}
    planned: list[PlannedIncident] = []
    for fp, record in state.incidents.items():
        if record.pending and record.pending_incident is not None and fp not in dropped:
            incident = record.pending_incident
            carried = incident.digest()
            if fp in by_fp:
                incident = merge(incident, by_fp.pop(fp))
            planned.append(_planned(incident, record, carried, evidence(fp)))
    planned += [
        _planned(i, state.incidents.get(i.fingerprint), evidence=evidence(i.fingerprint))
        for i in fresh if i.fingerprint in by_fp
    ]  # fmt: skip
    return planned


def select(planned: Sequence[PlannedIncident], cap: int | None) -> tuple[PlannedIncident, ...]:
    """The first `cap` incidents as they are, the others lean: as state keeps them (`storable`), marked
    so, to be published by a later run (`cap` None: all as they are). For a plan reordered after it was
    made (`dispatched_trace.with_trace`); `plan_incidents` builds them so from the start."""
    return tuple(p if cap is None or n < cap else _lean(p) for n, p in enumerate(planned))


def _lean(planned: PlannedIncident) -> PlannedIncident:
    # an incident built lean has no lines to drop: copying it would only cost ten thousand bugs memory
    lean = planned.incident if not planned.incident.sample else storable(planned.incident)
    return planned.model_copy(update={"incident": lean, "evidence": "lean"})


def _dropped(incidents: dict[str, IncidentRecord], fingerprints: Iterable[str]) -> None:
    """Forget the pending payloads of `fingerprints`; a record that held nothing else goes with it."""
    for fp in fingerprints:
        record = incidents.get(fp)
        if record is None or not record.pending:
            continue
        if record.issue is None and record.total_count == 0 and record.pr is None:
            del incidents[fp]
        else:
            incidents[fp] = record.model_copy(update={"pending": False, "pending_incident": None})


def publish_queue(state: State, plan: Plan) -> list[PlannedIncident]:
    """What publishing this recorded plan handles: its selected incidents still pending, in the plan's
    order, classified by state as it is now (publish syncs issue states first). Each keeps the plan's
    evidence (its sample lines) while state holds exactly the payload the plan recorded for it."""
    queue: list[PlannedIncident] = []
    for planned in plan.selected:
        record = state.incidents.get(planned.incident.fingerprint)
        payload = record.pending_incident if record is not None and record.pending else None
        if record is None or payload is None:
            continue  # published already (a re-run of this publish), or never recorded
        incident = planned.incident if storable(planned.incident) == payload else payload
        queue.append(_planned(incident, record))
    return queue


def _advance(state: State, plan: Plan) -> dict[str, Cursor]:
    cursors = dict(state.cursors)
    for window in plan.windows:
        if window.error is not None:
            continue  # the source failed: the same window is read again next run
        current = cursors.get(window.environment)
        new_ts = window.last_ts_ns if window.truncated or window.last_ts_ns else window.end_ns
        if new_ts is None or (current is not None and current.ts_ns > new_ts):
            continue  # another run already got further: never move back
        counts = dict(current.minute_counts) if current else {}
        for minute, n in window.minute_counts.items():
            counts[minute] = counts.get(minute, 0) + n
        horizon = new_ts // (60 * NS) - MINUTES_KEPT
        counts = {m: n for m, n in counts.items() if m >= horizon}
        cursors[window.environment] = Cursor(ts_ns=new_ts, seen_line_ids=window.tail_line_ids, minute_counts=counts)
    return cursors


def _pending_payload(state: State, fingerprint: str) -> Incident | None:
    record = state.incidents.get(fingerprint)
    return record.pending_incident if record is not None and record.pending else None


def _published_since(state: State, plan: Plan) -> list[str]:
    """Fingerprints whose pending payload, merged into this plan, state no longer holds: the run that
    recorded it published it after this plan was made (publishing does not change the last run id)."""
    return [
        p.incident.fingerprint
        for p in plan.incidents
        if p.carried is not None and _digest(_pending_payload(state, p.incident.fingerprint)) != p.carried
    ]


def _digest(payload: Incident | None) -> str | None:
    return payload.digest() if payload is not None else None


def is_stale(state: State, plan: Plan) -> bool:
    """Whether state changed under this plan since it was computed: another plan was recorded, or
    pending occurrences it merged in were published. Its lines were then either counted by that run
    (it read from the same cursor) or are still ahead of the cursor and read again by the next run,
    so recording it would only count them twice (an old publish job re-run, or a run started while
    an interrupted run's last save was still landing)."""
    if state.runs.last_run_id == plan.run_id:
        return False
    return state.runs.last_run_id != plan.based_on_run or bool(_published_since(state, plan))


def stale_plan_message(state: State, plan: Plan) -> str:
    """What a refused stale plan reports."""
    if state.runs.last_run_id != plan.based_on_run:
        why = f"run {state.runs.last_run_id} was recorded after it was made"
    else:
        published = len(_published_since(state, plan))
        why = f"run {plan.based_on_run} published {published} of its incident(s) after it was made"
    return (
        f"plan {plan.run_id} was not published: {why}, "
        "so its occurrences are already counted or are read again by the next run"
    )


def record_plan(state: State, plan: Plan) -> State:
    """Every planned incident becomes pending with its payload; cursors move past what was read.

    Idempotent: applying the same plan twice changes nothing the second time, and a stale plan
    (`is_stale`) changes nothing at all."""
    if state.runs.last_run_id == plan.run_id or is_stale(state, plan):
        return state
    incidents = dict(state.incidents)
    for planned in plan.incidents:
        incident = planned.incident
        record = incidents.get(incident.fingerprint)
        if record is None:
            known = (
                IssueRef(repo=planned.issue_repo, number=planned.issue_number, url=planned.issue_url or "")
                if planned.issue_repo and planned.issue_number
                else None
            )  # the plan found its issue by marker (a lost state branch): keep it
            record = IncidentRecord(
                fingerprint=incident.fingerprint, service=incident.service, title=incident.title,
                first_seen=incident.first_seen, last_seen=incident.last_seen, issue=known,
            )  # fmt: skip
        incidents[incident.fingerprint] = record.model_copy(
            update={"pending": True, "pending_incident": storable(incident), "title": incident.title}
        )
    _dropped(incidents, plan.dropped_pending)
    runs = state.runs.model_copy(update={"last_run_id": plan.run_id, "last_run_at": plan.created_at})
    return state.model_copy(update={"incidents": incidents, "cursors": _advance(state, plan), "runs": runs})


def record_published(
    state: State, *, outcome: PublishedIncident, published: Incident, tokens: int, now: datetime
) -> State:
    """Clear the pending flag and fold the occurrences into the totals, once: only while the record is
    still pending with exactly the payload that was `published`. Anything else means this save was
    already recorded (a retry), or another run's plan took the record over: its payload is that run's
    to count."""
    record = state.incidents.get(outcome.fingerprint)
    if record is None or not record.pending or record.pending_incident != published:
        return state
    payload = record.pending_incident
    issue = record.issue
    stays_closed = (
        issue is not None and issue.state == "closed" and issue.number == outcome.issue_number
        and outcome.issue_action in {"commented", "unchanged"}
    )  # fmt: skip
    if outcome.issue_number and outcome.issue_url and outcome.issue_repo and not stays_closed:
        issue = IssueRef(repo=outcome.issue_repo, number=outcome.issue_number, url=outcome.issue_url, state="open")
    pr = record.pr
    if outcome.pr_url and outcome.pr_number and outcome.pr_branch and outcome.pr_action != "none":
        pr = PrRef(repo=outcome.pr_repo or "", number=outcome.pr_number, url=outcome.pr_url, branch=outcome.pr_branch,
                   evidence=evidence_digest(payload) if payload else "")  # fmt: skip
    regressed = outcome.status == "regressed" and outcome.issue_action == "reopened"
    noted = record.old_versions_noted
    if outcome.issue_action == "commented" and payload is not None and record.fix is not None:
        noted = capped((*noted, *fix_split(record, payload)[1]), MAX_TRACE_IDS)
    updated = record.model_copy(
        update={
            "pending": False,
            "pending_incident": None,
            "issue": issue,
            "pr": pr,
            "total_count": record.total_count + (payload.count if payload else 0),
            "last_window_count": payload.count if payload else record.last_window_count,
            "last_seen": max(record.last_seen, payload.last_seen) if payload else record.last_seen,
            "environments": tuple(dict.fromkeys((*record.environments, *(payload.environments if payload else ())))),
            "trace_ids": capped((*record.trace_ids, *(payload.trace_ids if payload else ())), MAX_TRACE_IDS),
            "last_analysed": now if tokens else record.last_analysed,
            "regressed_at": now if regressed else record.regressed_at,
            # a regression ends the fix's story: the next close records the next fix
            "fix": None if regressed else record.fix,
            "verified": None if regressed else record.verified,
            "resolved_at": None if regressed else record.resolved_at,
            "old_versions_noted": () if regressed else noted,
        }
    )
    day = now.strftime("%Y-%m-%d")
    spend = dict(state.runs.tokens_by_day)
    if tokens:
        spend[day] = spend.get(day, 0) + tokens
    return state.model_copy(
        update={
            "incidents": {**state.incidents, outcome.fingerprint: updated},
            "runs": state.runs.model_copy(update={"tokens_by_day": spend}),
        }
    )


def late_lines(state: State, env: str, probe_counts: dict[int, int], before_ns: int) -> int:
    """Lines Loki now holds for minutes we already read in full, beyond what we read: they arrived
    after the overlap window had passed them. Only minutes fully behind `before_ns` are compared."""
    cursor = state.cursors.get(env)
    if cursor is None or not cursor.minute_counts:
        return 0
    first_known, last_full = min(cursor.minute_counts), before_ns // (60 * NS) - 1
    return sum(
        max(0, n - cursor.minute_counts.get(minute, 0))
        for minute, n in probe_counts.items()
        if first_known < minute <= last_full
    )


def rebuild_from_markers(state: State, markers: dict[str, IssueRef], now: datetime) -> State:
    """Known fingerprints from the markers on existing issues (the state branch was lost): classify
    them as recurring or regressed instead of new. Counts restart; the issues keep their history."""
    incidents = dict(state.incidents)
    for fp, ref in markers.items():
        if fp not in incidents:
            incidents[fp] = IncidentRecord(fingerprint=fp, service="unknown", title="(rebuilt from its issue marker)",
                                           first_seen=now, last_seen=now, issue=ref)  # fmt: skip
    return state.model_copy(update={"incidents": incidents})
