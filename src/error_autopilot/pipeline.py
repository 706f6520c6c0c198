"""plan → investigate → publish, over ports only (no SDK imports).

No error lost: `plan` never writes state. `publish` first records the whole plan in state (every
incident pending, with its payload, and the cursor moved past the lines it counted), then
publishes incident by incident, clearing each pending flag as it goes. A run killed anywhere is
repaired by the next one: either the cursor did not move (the lines are read again), or the
incident is pending in state and is published again — found by its marker, so never twice.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from error_autopilot.config.service_map import ServiceMap
from error_autopilot.domain.errors import AnalystError, AutopilotError, SourceError
from error_autopilot.domain.events import ErrorEvent
from error_autopilot.domain.findings import Finding
from error_autopilot.domain.incidents import Plan, PlannedIncident, PollWindow
from error_autopilot.domain.report import PublishedIncident, RunReport
from error_autopilot.incidents.events import parse_entry
from error_autopilot.incidents.fingerprint import fingerprint_event
from error_autopilot.incidents.group import IncidentGrouper
from error_autopilot.ports import Clock, EventSource, PollStats, StateStore
from error_autopilot.state import ledger
from error_autopilot.state.model import State

log = logging.getLogger(__name__)


@dataclass
class Timings:
    """Seconds spent per stage, for the run report."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time a block and add it to `name`."""
        started = time.monotonic()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.monotonic() - started, 3)


@dataclass(frozen=True)
class PlanRequest:
    """What to poll: environments, an optional look-back override and service narrowing."""

    environments: Sequence[str]
    since_s: int | None = None
    services: Sequence[str] = ()
    max_incidents: int | None = None
    trigger: str = "manual"


def new_run_id(clock: Clock) -> str:
    """A sortable, unique run id."""
    return f"{clock.now():%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def _replayed(event: ErrorEvent, window: ledger.PollStart, state: State) -> bool:
    """A --since re-read line older than the cursor: count it only toward bugs state does not know."""
    if window.replay_before_ns is None or event.ts_ns >= window.replay_before_ns:
        return False
    return fingerprint_event(event).value in state.incidents


LATE_PROBE_NS = 3600 * 1_000_000_000
LATE_PROBE_LINES = 5000


def _probe_late(env: str, source: EventSource, state: State, start_ns: int) -> int:
    """Re-count the hour before the window: lines Loki holds there beyond what we read arrived late."""
    counts: dict[int, int] = {}
    complete_before = start_ns
    try:
        for n, entry in enumerate(source.poll(start_ns - LATE_PROBE_NS, start_ns, PollStats()), start=1):
            minute = entry.ts_ns // 60_000_000_000
            counts[minute] = counts.get(minute, 0) + 1
            if n >= LATE_PROBE_LINES:  # bounded: compare only the minutes read in full
                complete_before = minute * 60_000_000_000
                break
    except SourceError as e:
        log.warning("%s: could not check for late lines: %s", env, e)
        return 0
    late = ledger.late_lines(state, env, counts, complete_before)
    if late:
        log.warning("%s: %d line(s) reached Loki after the overlap window had passed them; raise overlap_s", env, late)
    return late


def _poll_environment(
    env: str, source: EventSource, state: State, smap: ServiceMap, grouper: IncidentGrouper,
    now_ns: int, request: PlanRequest,
) -> PollWindow:  # fmt: skip
    config = smap.environments[env]
    window = ledger.poll_window(
        state, env, now_ns=now_ns, overlap_s=config.overlap_s,
        initial_lookback_s=config.initial_lookback_s, since_s=request.since_s,
    )  # fmt: skip
    stats = PollStats()
    events = skipped = duplicates = 0
    error: str | None = None
    tail: deque[tuple[int, str]] = deque()  # lines inside the overlap behind the newest one
    minutes: dict[int, int] = {}
    overlap_ns = config.overlap_s * 1_000_000_000
    try:
        for entry in source.poll(window.start_ns, now_ns, stats):
            line_id = entry.identity
            tail.append((entry.ts_ns, line_id))  # every line read, so the next run skips it too
            while tail[0][0] < entry.ts_ns - overlap_ns:
                tail.popleft()
            if line_id in window.seen_line_ids:
                duplicates += 1
                continue
            minute = entry.ts_ns // 60_000_000_000
            minutes[minute] = minutes.get(minute, 0) + 1
            event = parse_entry(entry, env, smap)
            if event is None:
                skipped += 1
                continue
            if request.services and event.service not in request.services:
                continue
            if _replayed(event, window, state):
                duplicates += 1
                continue
            events += 1
            grouper.add(event)
    except SourceError as e:
        log.error("polling %s failed: %s", env, e)
        error = str(e)
    return PollWindow(
        environment=env, start_ns=window.start_ns, end_ns=now_ns, lines=stats.lines, events=events,
        skipped=skipped, duplicates=duplicates, pages=stats.pages, truncated=stats.truncated,
        truncated_reason=stats.truncated_reason, last_ts_ns=stats.last_ts_ns, error=error,
        tail_line_ids=tuple(line_id for _, line_id in tail), minute_counts=minutes,
        late=0 if error else _probe_late(env, source, state, window.start_ns),
    )  # fmt: skip


def plan(
    request: PlanRequest, *, smap: ServiceMap, sources: Mapping[str, EventSource], store: StateStore, clock: Clock
) -> Plan:
    """Poll every requested environment from its cursor and group what was found into incidents."""
    state = store.load()
    now = clock.now()
    now_ns = int(now.timestamp()) * 1_000_000_000 + now.microsecond * 1_000
    grouper = IncidentGrouper()
    windows = [
        _poll_environment(env, sources[env], state, smap, grouper, now_ns, request) for env in request.environments
    ]
    planned = ledger.plan_incidents(state, grouper.incidents())
    if request.services:
        planned = [p for p in planned if p.incident.service in request.services]
    return Plan(
        run_id=new_run_id(clock), created_at=now, windows=tuple(windows), incidents=tuple(planned),
        trigger=request.trigger, max_incidents=request.max_incidents, based_on_run=state.runs.last_run_id,
    )  # fmt: skip


InvestigateFn = Callable[[PlannedIncident], Finding]


def investigate(plan: Plan, investigate_one: InvestigateFn, *, only: str | None = None) -> list[Finding]:
    """A finding per incident (or the one named by `only`, for a matrix job). One failing incident
    never stops the others: its finding says what went wrong."""
    findings = []
    for planned in plan.incidents:
        if only and planned.incident.fingerprint != only:
            continue
        if planned.status == "muted":
            continue
        try:
            findings.append(investigate_one(planned))
        except (AutopilotError, AnalystError) as e:
            log.error("investigating %s failed: %s", planned.incident.fingerprint, e)
            findings.append(
                Finding(
                    fingerprint=planned.incident.fingerprint,
                    symptom_service=planned.incident.service,
                    culprit_service=planned.incident.service,
                    unknowns=(f"investigation failed: {e.message}",),
                )
            )
    return findings


PublishFn = Callable[[PlannedIncident, Finding | None, int], PublishedIncident]


def publish(
    plan: Plan, findings: Mapping[str, Finding], publish_one: PublishFn, *, store: StateStore | None,
    dry_run: bool,
) -> tuple[list[PublishedIncident], list[str]]:  # fmt: skip
    """Record the plan in state, then publish incident by incident (pending ones from earlier runs first).

    Returns what was published and the errors met; an incident that failed stays pending."""
    errors: list[str] = []
    if store is not None and not dry_run:
        state = store.update(lambda s: ledger.record_plan(s, plan), f"plan {plan.run_id}")
        if state.runs.last_run_id != plan.run_id:  # a re-run of an old publish job: already counted
            return [], [ledger.stale_plan_message(state, plan)]
        queue = ledger.pending_incidents(state)
    else:
        queue = list(plan.incidents)
    if plan.max_incidents is not None:
        queue = queue[: plan.max_incidents]
    published: list[PublishedIncident] = []
    prs = 0
    for planned in queue:
        fp = planned.incident.fingerprint
        try:
            outcome = publish_one(planned, findings.get(fp), prs)
        except AutopilotError as e:
            log.error("publishing %s failed: %s", fp, e)
            errors.append(f"{planned.incident.service} {fp}: {e.message}")
            outcome = PublishedIncident(
                fingerprint=fp, service=planned.incident.service, environment=planned.incident.environment,
                title=planned.incident.title, status="pending", count=planned.incident.count,
                issue_action="failed", error=e.message,
            )  # fmt: skip
        published.append(outcome)
        if outcome.pr_url:
            prs += 1
        if store is not None and not dry_run and outcome.issue_action != "failed":
            finding = findings.get(fp)
            tokens = finding.tokens_used if finding else 0
            store.update(
                functools.partial(ledger.record_published, outcome=outcome, tokens=tokens, now=plan.created_at),
                f"published {fp}",
            )
    return published, errors


def build_report(
    plan: Plan, published: Sequence[PublishedIncident], *, errors: Sequence[str], findings: Mapping[str, Finding],
    started_at_clock: Clock, timings: Timings, dry_run: bool, notifications: Sequence[str] = (),
) -> RunReport:  # fmt: skip
    """The run report, with everything that was cut short said out loud."""
    truncated = [f"{w.environment}: {w.truncated_reason}" for w in plan.windows if w.truncated]
    truncated += [
        f"{w.environment}: {w.late} line(s) reached Loki after the overlap window and were not counted; "
        "raise overlap_s" for w in plan.windows if w.late
    ]
    truncated += [f"{fp}: {t}" for fp, f in findings.items() for t in f.truncated]
    window_errors = [f"{w.environment}: {w.error}" for w in plan.windows if w.error]
    if plan.max_incidents is not None and len(plan.incidents) > plan.max_incidents:
        truncated.append(f"{len(plan.incidents) - plan.max_incidents} incident(s) left pending by max-incidents")
    return RunReport(
        run_id=plan.run_id, trigger=plan.trigger, started_at=plan.created_at, finished_at=started_at_clock.now(),
        dry_run=dry_run, windows=plan.windows, incidents=tuple(published), durations_s=dict(timings.seconds),
        tokens_used=sum(f.tokens_used for f in findings.values()), truncated=tuple(truncated),
        errors=tuple([*window_errors, *errors]), notifications=tuple(notifications),
    )  # fmt: skip


def plan_preview(plan: Plan) -> RunReport:
    """A report-shaped view of a plan, for printing it before anything is published."""
    incidents = tuple(
        PublishedIncident(
            fingerprint=p.incident.fingerprint,
            service=p.incident.service,
            environment=p.incident.environment,
            title=p.incident.title,
            status=p.status,
            count=p.incident.count,
            issue_url=p.issue_url,
            issue_number=p.issue_number,
        )
        for p in plan.incidents
    )
    return RunReport(
        run_id=plan.run_id, trigger=plan.trigger, started_at=plan.created_at, finished_at=plan.created_at,
        windows=plan.windows, incidents=incidents,
        errors=tuple(f"{w.environment}: {w.error}" for w in plan.windows if w.error),
    )  # fmt: skip
