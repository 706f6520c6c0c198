"""plan → investigate → publish, over ports only (no SDK imports).

No error lost: `plan` never writes state. `publish` first records the whole plan in state (every
incident pending, with its payload, and the cursor moved past the lines it counted), then
publishes incident by incident and clears their pending flags in one commit at the end. A run
killed anywhere is repaired by the next one: either the cursor did not move (the lines are read
again), or the incident is pending in state and is published again — found by its marker, so never
twice. An incident the run deadline left uninvestigated simply stays pending the same way.
"""

from __future__ import annotations

import functools
import gc
import logging
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from error_autopilot import selection
from error_autopilot.config.service_map import ServiceMap
from error_autopilot.domain.errors import AnalystError, AutopilotError, SourceError
from error_autopilot.domain.events import LogEntry
from error_autopilot.domain.findings import Finding
from error_autopilot.domain.incidents import Incident, Plan, PlannedIncident, PollWindow
from error_autopilot.domain.report import PublishedIncident, RunReport
from error_autopilot.incidents.ingest import Admission, Ingest
from error_autopilot.overlap import Overlap, late_lines
from error_autopilot.ports import Clock, EventSource, PollStats, StateStore
from error_autopilot.rejoining import Rejoiner
from error_autopilot.resilience import Deadline
from error_autopilot.state import bounded, ledger
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
    max_pending: int | None = None  # incidents past it are dropped (`selection.choose`), None: none are


def new_run_id(clock: Clock) -> str:
    """A sortable, unique run id."""
    return f"{clock.now():%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def _window(env: str, state: State, smap: ServiceMap, now_ns: int, request: PlanRequest) -> ledger.PollStart:
    config = smap.environments[env]
    return ledger.poll_window(
        state, env, now_ns=now_ns, overlap_s=config.overlap_s,
        initial_lookback_s=config.initial_lookback_s, since_s=request.since_s,
    )  # fmt: skip


def _poll_environment(
    env: str, source: EventSource, state: State, window: ledger.PollStart, smap: ServiceMap, ingest: Ingest,
    request: PlanRequest, now_ns: int, lean: Callable[[int], None],
) -> PollWindow:  # fmt: skip
    stats = PollStats()
    counts = {"counted": 0, "not an error": 0, "replayed": 0}
    duplicates = 0
    error: str | None = None
    overlap = Overlap(window, smap.environments[env].overlap_s)
    rejoiner = Rejoiner(source, smap.environments[env].loki.rejoin_queries)
    admission = Admission(request.services, window.replay_before_ns, state.incidents)

    def take(entries: list[LogEntry]) -> None:
        for entry in entries:
            taken = ingest.take(entry, env, admission)
            if taken in counts:
                counts[taken] += 1

    try:
        for page in source.pages(window.start_ns, now_ns, stats):
            if not page:
                continue
            fresh = overlap.fresh(page)
            duplicates += len(page) - len(fresh)
            take(rejoiner.page(fresh))
            lean(min(page[-1].ts_ns, rejoiner.held_from_ns - 1))
    except SourceError as e:
        log.error("polling %s failed: %s", env, e)
        error = str(e)
    finally:
        take(rejoiner.flush())  # the lines held back for a trace the next page might have continued
    events, skipped = counts["counted"], counts["not an error"]
    duplicates += counts["replayed"]  # a --since re-read line older than the cursor: it counts only toward new bugs
    return PollWindow(
        environment=env, start_ns=window.start_ns, end_ns=now_ns, lines=stats.lines, events=events,
        skipped=skipped, duplicates=duplicates, pages=stats.pages, truncated=stats.truncated,
        truncated_reason=stats.truncated_reason, last_ts_ns=stats.last_ts_ns, error=error,
        tail_line_ids=overlap.tail_keys(), minute_counts=overlap.minute_counts,
        late=0 if error else late_lines(env, source, state, window.start_ns),
        rejoined=rejoiner.stats.traces, rejoined_lines=rejoiner.stats.pieces, rejoin_note=rejoiner.note,
    )  # fmt: skip


YOUNG_PASS_EVERY = 500_000  # allocations between the garbage collector's young passes while polling (default 700)


@contextmanager
def _collector_set_for_polling() -> Iterator[None]:
    """Keep what exists before polling (imported modules, config, clients, state) out of the garbage
    collector's passes while lines are read: a storm's short-lived objects set off many collections, and
    each full one would walk all of that again (some 6% of a plan's CPU at 200,000 lines).

    And pass over young objects only every `YOUNG_PASS_EVERY` allocations: a decoded page and the lines
    queued for counting live for thousands of allocations, so passes every 700 only move them into older
    generations, whose passes walk them again (some 10% of a plan's CPU at 200,000 lines), and the oldest
    generation's growth sets off full collections that walk every incident counted so far (with ten
    thousand bugs, millions of objects: some 40% of the plan's CPU). Lines are freed by reference
    counting; the few cycles wait a little longer. A storm's pages and queued lines never come near
    `YOUNG_PASS_EVERY` (at 100,000, ten thousand bugs' shapes and incidents set off four passes that walked
    them all, 0.36 s of a 1M-line plan, and the middle passes after polling walked them again).

    What polling made and kept is then put in the oldest generation as it stands, not by the young and
    middle passes that would find it all alive after polling (ten thousand bugs: some 0.4 s)."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(thresholds[0], YOUNG_PASS_EVERY), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.freeze()  # every generation into the permanent one, which `unfreeze` puts in the oldest
        gc.unfreeze()


def plan(
    request: PlanRequest, *, smap: ServiceMap, sources: Mapping[str, EventSource], store: StateStore, clock: Clock
) -> Plan:
    """Poll every requested environment from its cursor and group what was found into incidents."""
    state = store.load()
    now = clock.now()
    now_ns = int(now.timestamp()) * 1_000_000_000 + now.microsecond * 1_000
    ingest = Ingest(smap)
    cap = request.max_incidents
    starts = [_window(env, state, smap, now_ns, request) for env in request.environments]
    finder = selection.LeanFinder(ingest, state, cap, request.services, request.max_pending)
    windows = []
    with _collector_set_for_polling():
        for n, (env, window) in enumerate(zip(request.environments, starts, strict=True)):
            later = min((w.start_ns for w in starts[n + 1 :]), default=now_ns)
            read = functools.partial(finder.page_read, later_ns=later)
            windows.append(_poll_environment(env, sources[env], state, window, smap, ingest, request, now_ns, read))
        # only the incidents this run publishes are built with their sample lines: parsing and redacting
        # those again is most of what building an incident costs, and ten thousand bugs would pay it for all;
        # those past max_pending are not built at all
        chosen = selection.choose(state, ingest.grouper.first_seen(), cap, request.max_pending, request.services)
        occurrences = ingest.grouper.drop(chosen.dropped)
        occurrences += sum(_pending_count(state, fp) for fp in chosen.dropped_pending)
        fresh = ingest.incidents(chosen.full)
    planned = ledger.plan_incidents(state, fresh, chosen.full, frozenset(chosen.dropped_pending))
    if request.services:
        planned = [p for p in planned if p.incident.service in request.services]
    return Plan(
        run_id=new_run_id(clock), created_at=now, windows=tuple(windows),
        incidents=tuple(selection.in_publish_order(planned)),
        trigger=request.trigger, max_incidents=request.max_incidents, based_on_run=state.runs.last_run_id,
        max_pending=request.max_pending, dropped=len(chosen.dropped), dropped_occurrences=occurrences,
        dropped_pending=chosen.dropped_pending,
    )  # fmt: skip


def _pending_count(state: State, fingerprint: str) -> int:
    payload = state.incidents[fingerprint].pending_incident
    return payload.count if payload is not None else 0


InvestigateFn = Callable[[PlannedIncident], Finding]


@dataclass(frozen=True)
class Investigation:
    """What the investigate stage produced: findings in plan order, and what it left for the next run."""

    findings: list[Finding]
    deferred: list[str] = field(default_factory=list)  # fingerprints not started: the run deadline neared


def _investigate_one(planned: PlannedIncident, investigate_one: InvestigateFn) -> Finding:
    try:
        return investigate_one(planned)
    except (AutopilotError, AnalystError) as e:
        log.error("investigating %s failed: %s", planned.incident.fingerprint, e)
        return Finding(
            fingerprint=planned.incident.fingerprint, symptom_service=planned.incident.service,
            culprit_service=planned.incident.service, unknowns=(f"investigation failed: {e.message}",),
        )  # fmt: skip


def investigate(
    plan: Plan, investigate_one: InvestigateFn, *, only: str | None = None, workers: int = 1,
    deadline: Deadline | None = None, margin_s: float = 0.0,
) -> Investigation:  # fmt: skip
    """A finding per incident the plan selected, those that `publish` handles (or the one named by `only`,
    for a matrix job), `workers` at a time (the work waits on Tempo, git and the LLM). One failing incident
    never stops the others: its finding says what went wrong. Once less than `margin_s` is left before
    `deadline`, no incident is started: those are returned as deferred, to stay pending for the next run."""
    todo = [
        p for p in plan.selected
        # an open draft PR made from the same evidence needs no new analysis
        if p.status != "muted" and not p.analysis_current and (not only or p.incident.fingerprint == only)
    ]  # fmt: skip

    def task(planned: PlannedIncident) -> Finding | None:
        if deadline is not None and deadline.near(margin_s):
            return None
        return _investigate_one(planned, investigate_one)

    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="investigate")
    try:
        results = list(pool.map(task, todo))  # map keeps the plan's order whatever finishes first
    except BaseException:  # Ctrl-C or a bug: start nothing more (the running ones end with their budget)
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    deferred = [p.incident.fingerprint for p, r in zip(todo, results, strict=True) if r is None]
    if deferred:
        log.warning("run deadline near: %d incident(s) left pending for the next run", len(deferred))
    return Investigation([r for r in results if r is not None], deferred)


PublishFn = Callable[[PlannedIncident, Finding | None, int], PublishedIncident]


def publish(
    plan: Plan, findings: Mapping[str, Finding], publish_one: PublishFn, *, store: StateStore | None,
    dry_run: bool, deferred: Collection[str] = (),
) -> tuple[list[PublishedIncident], list[str]]:  # fmt: skip
    """Record the plan in state, then publish the incidents it selected one by one (oldest first: pending
    ones from earlier runs come before new ones), then record what was published in one state commit.
    Incidents in `deferred`, and those the plan left lean (past `max_incidents`), are not published: they
    stay pending for a later run.

    Returns what was published and the errors met; an incident that failed stays pending. A run killed
    before the last commit is safe: its incidents are still pending, and publishing them again finds each
    issue by its marker and updates it."""
    errors: list[str] = []
    if store is not None and not dry_run:
        state = store.update(lambda s: ledger.record_plan(s, plan), f"plan {plan.run_id}")
        if state.runs.last_run_id != plan.run_id:  # a re-run of an old publish job: already counted
            return [], [ledger.stale_plan_message(state, plan)]
        queue = ledger.publish_queue(state, plan)
    else:
        queue = list(plan.selected)
    queue = [p for p in queue if p.incident.fingerprint not in deferred]
    published: list[PublishedIncident] = []
    prs = 0
    try:
        for planned in queue:
            outcome = _publish_one(planned, findings.get(planned.incident.fingerprint), publish_one, prs, errors)
            published.append(outcome)
            prs += bool(outcome.pr_url)
    finally:  # whatever stopped the loop, what did get published is recorded
        done = [o for o in published if o.issue_action != "failed"]
        if store is not None and not dry_run and done:
            # what each outcome counts: the payload state holds for it (its sample lines are not kept)
            payloads = {p.incident.fingerprint: bounded.storable(p.incident) for p in queue}
            store.update(
                functools.partial(
                    _record_all, outcomes=done, payloads=payloads, findings=findings, now=plan.created_at
                ),
                f"published {len(done)} incident(s) of {plan.run_id}",
            )
    return published, errors


def _publish_one(
    planned: PlannedIncident, finding: Finding | None, publish_one: PublishFn, prs: int, errors: list[str]
) -> PublishedIncident:
    fp = planned.incident.fingerprint
    try:
        return publish_one(planned, finding, prs)
    except AutopilotError as e:
        log.error("publishing %s failed: %s", fp, e)
        errors.append(f"{planned.incident.service} {fp}: {e.message}")
        return PublishedIncident(
            fingerprint=fp, service=planned.incident.service, environment=planned.incident.environment,
            title=planned.incident.title, status="pending", count=planned.incident.count,
            issue_action="failed", error=e.message,
        )  # fmt: skip


def _record_all(
    state: State, *, outcomes: Sequence[PublishedIncident], payloads: Mapping[str, Incident],
    findings: Mapping[str, Finding], now: datetime,
) -> State:  # fmt: skip
    for outcome in outcomes:
        finding = findings.get(outcome.fingerprint)
        tokens = finding.tokens_used if finding else 0
        published = payloads[outcome.fingerprint]
        state = ledger.record_published(state, outcome=outcome, published=published, tokens=tokens, now=now)
    return state


def build_report(
    plan: Plan, published: Sequence[PublishedIncident], *, errors: Sequence[str], findings: Mapping[str, Finding],
    started_at_clock: Clock, timings: Timings, dry_run: bool, notifications: Sequence[str] = (),
    deferred: Sequence[str] = (), outages: Sequence[str] = (),
) -> RunReport:  # fmt: skip
    """The run report, with everything that was cut short said out loud: `deferred` fingerprints the
    run deadline left pending, `outages` the dependencies found unavailable (one line each)."""
    truncated = [f"{w.environment}: {w.truncated_reason}" for w in plan.windows if w.truncated]
    if deferred:
        truncated.append(
            f"{len(deferred)} incident(s) left pending for the next run: the run deadline neared before "
            "they were investigated"
        )
    truncated += [
        f"{w.environment}: {w.late} line(s) reached Loki after the overlap window and were not counted; "
        "raise overlap_s" for w in plan.windows if w.late
    ]
    truncated += [f"{fp}: {t}" for fp, f in findings.items() for t in f.truncated]
    window_errors = [f"{w.environment}: {w.error}" for w in plan.windows if w.error]
    if plan.left_pending:
        truncated.append(f"{plan.left_pending} incident(s) left pending for later runs by max-incidents "
                         f"({plan.max_incidents} per run), oldest first")  # fmt: skip
    if plan.dropped:
        truncated.append(f"{plan.dropped} incident(s) ({plan.dropped_occurrences:,} occurrence(s)) dropped, not "
                         f"published: at most {plan.max_pending} wait in state (policy.max_pending); the newest "
                         "were left out and are planned again when they recur")  # fmt: skip
    return RunReport(
        run_id=plan.run_id, trigger=plan.trigger, started_at=plan.created_at, finished_at=started_at_clock.now(),
        dry_run=dry_run, windows=plan.windows, incidents=tuple(published), durations_s=dict(timings.seconds),
        tokens_used=sum(f.tokens_used for f in findings.values()), truncated=tuple(truncated),
        errors=tuple([*outages, *window_errors, *errors]), notifications=tuple(notifications),
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
