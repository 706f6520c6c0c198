"""The sync step at the start of publish: what people did to the issues, which deployed versions
carry which fix, and which fixes have held long enough to say so. Over ports only.

One listing of changed issues per repository (not a call per incident); one events call per issue
newly closed as completed, to read the commit that closed it. All the I/O happens first; the
results are applied to state in one pure mutation, so a push that races is simply re-applied.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath

from error_autopilot.config.service_map import ServiceMap
from error_autopilot.domain.errors import AutopilotError
from error_autopilot.domain.incidents import Incident, Plan, PlannedIncident
from error_autopilot.domain.report import LifecycleEvent
from error_autopilot.investigation.sanitize import Redactor
from error_autopilot.ports import History, IssueChange, IssueLifecycle, StateStore
from error_autopilot.sinks import comments
from error_autopilot.sinks.job_summary import render_digest
from error_autopilot.sinks.untrusted import Untrusted
from error_autopilot.state import transitions
from error_autopilot.state.model import Deployment, Fix, IncidentRecord, State

log = logging.getLogger(__name__)
NS = 1_000_000_000
SYNC_OVERLAP = timedelta(minutes=5)


@dataclass(frozen=True)
class Introduced:
    """Where a new incident first appeared and the commits suspected of introducing it."""

    first_version: str
    previous: str | None
    suspects: tuple[str, ...]


@dataclass
class _Found:
    """Everything the sync read, to apply to state in one pure mutation."""

    changes: dict[str, list[IssueChange]]
    fixes: dict[str, dict[int, Fix]]
    containment: dict[tuple[str, str], bool]
    introduced: dict[str, Introduced]
    verified: list[tuple[str, Deployment]]
    labels: dict[str, tuple[str, ...]]
    incidents: tuple[Incident, ...]


def _apply(state: State, found: _Found, now: datetime) -> tuple[State, list[LifecycleEvent]]:
    events: list[LifecycleEvent] = []
    for repo, changes in found.changes.items():
        state, news = transitions.apply_issue_changes(state, repo, changes, found.fixes.get(repo, {}), now=now)
        events += news
    state = transitions.observe_deployments(state, found.incidents)
    state = transitions.record_containment(state, found.containment)
    incidents = dict(state.incidents)
    for incident in found.incidents:
        intro = found.introduced.get(incident.fingerprint)
        if intro is None or incident.fingerprint in incidents:
            continue  # only a fingerprint state never saw is "introduced"
        incidents[incident.fingerprint] = IncidentRecord(
            fingerprint=incident.fingerprint, service=incident.service, title=incident.title,
            first_seen=incident.first_seen, last_seen=incident.last_seen, first_version=intro.first_version,
            introduced_after=intro.previous, suspects=intro.suspects,
        )  # fmt: skip
    state = state.model_copy(update={"incidents": incidents})
    for fingerprint, deployment in found.verified:
        state = transitions.mark_verified(state, fingerprint, deployment, now)
    return transitions.remember_labels(state, found.labels), events


def _read_until(state: State, plan: Plan) -> dict[str, datetime]:
    """How far each environment's logs have been read (the cursors, and this run's windows)."""
    ns = {env: c.ts_ns for env, c in state.cursors.items()}
    for w in plan.windows:
        if w.error is None:
            ns[w.environment] = max(ns.get(w.environment, 0), w.end_ns)
    return {env: datetime.fromtimestamp(t / NS, tz=UTC) for env, t in ns.items()}


@dataclass
class Lifecycle:
    """The sync step; `history` is None when no service repository can be read (ancestry unknown)."""

    smap: ServiceMap
    tracker: IssueLifecycle
    history: History | None
    redactor: Redactor

    def _repo_of(self, service: str) -> tuple[str, str | None] | None:
        canonical = self.smap.resolve_service(service)
        conf = self.smap.services.get(canonical) if canonical else None
        return (conf.repo, conf.tag_pattern) if conf else None

    def _fixes(self, state: State, repo: str, changes: Sequence[IssueChange], now: datetime) -> dict[int, Fix]:
        fixes: dict[int, Fix] = {}
        for record in transitions.newly_closed(state, repo, changes):
            assert record.issue is not None
            commit, source = self.tracker.fix_commit(repo, record.issue.number), "closing commit"
            if commit is None and record.pr is not None:
                commit, source = (
                    self.tracker.merge_commit(record.pr.repo, record.pr.number),
                    f"PR #{record.pr.number} merged",
                )
            if commit:
                fixes[record.issue.number] = Fix(repo=repo, commit=commit, source=source, recorded_at=now)
        return fixes

    def _contains(self, state: State) -> dict[tuple[str, str], bool]:
        found: dict[tuple[str, str], bool] = {}
        if self.history is None:
            return found
        for fp, version in transitions.unchecked_versions(state):
            record = state.incidents[fp]
            where = self._repo_of(record.service)
            if where is None or record.fix is None or not version:
                continue
            try:
                commit = self.history.commit_for(where[0], version, where[1])
                if commit is not None:  # a version git does not know stays unknown (treated as fixed)
                    found[(fp, version)] = self.history.contains(where[0], commit, record.fix.commit)
            except AutopilotError as e:
                log.warning("cannot tell whether %s contains fix %s: %s", version, record.fix.commit[:12], e)
        return found

    def _introduced(self, state: State, planned: Sequence[PlannedIncident]) -> dict[str, Introduced]:
        """Only for bugs nobody knew: not in state, and no issue found by its marker (a lost state branch)."""
        out: dict[str, Introduced] = {}
        for p in planned:
            incident = p.incident
            if incident.fingerprint in state.incidents or p.status != "new" or p.issue_number is not None:
                continue
            first, previous = transitions.introduced_in(state, incident)
            if first is None:
                continue
            out[incident.fingerprint] = Introduced(first, previous, self._suspects(incident, first, previous))
        return out

    def _suspects(self, incident: Incident, first: str, previous: str | None) -> tuple[str, ...]:
        where = self._repo_of(incident.service)
        if previous is None or where is None or self.history is None or incident.stack is None:
            return ()
        names = sorted({PurePosixPath(f.file).name for f in incident.stack.in_app_frames() if f.file})
        if not names:
            return ()
        try:
            old, new = (self.history.commit_for(where[0], v, where[1]) for v in (previous, first))
            if old is None or new is None:
                return ()
            return tuple(self.history.commits_between(where[0], old, new, [f":(glob)**/{n}" for n in names]))
        except AutopilotError as e:
            log.warning("cannot list the commits between %s and %s: %s", previous, first, e)
            return ()

    def sync(
        self, store: StateStore, plan: Plan, *, now: datetime, quiet: timedelta
    ) -> tuple[State, list[LifecycleEvent]]:
        """Read what changed, post the verifications that are due, and record it all in one commit."""
        state = store.load()
        self.tracker.remember_labels(state.labels)
        found = _Found({}, {}, {}, {}, [], {}, tuple(p.incident for p in plan.incidents))
        repos = sorted({r.issue.repo for r in state.incidents.values() if r.issue is not None})
        for repo in repos:
            try:
                last = state.synced.get(repo)  # a little overlap: GitHub's clock is not ours
                changes = self.tracker.changes_since(repo, last - SYNC_OVERLAP if last else None)
                found.changes[repo] = changes
                found.fixes[repo] = self._fixes(state, repo, changes, now)
            except AutopilotError as e:  # the next run lists the same changes again (`synced` did not move)
                log.warning("cannot read issue changes in %s: %s", repo, e)
        interim, _ = _apply(state, found, now)
        found.containment = self._contains(interim)
        found.introduced = self._introduced(interim, plan.incidents)
        interim, _ = _apply(state, found, now)
        found.verified = self._verify(interim, now=now, quiet=quiet, read_until=_read_until(state, plan))
        found.labels = self.tracker.known_labels()
        updated, events = _apply(state, found, now)
        saved = store.update(lambda s: _apply(s, found, now)[0], "lifecycle sync") if updated != state else state
        events += [_verified_event(saved.incidents[fp], d) for fp, d in found.verified if fp in saved.incidents]
        return saved, events

    def _verify(
        self, state: State, *, now: datetime, quiet: timedelta, read_until: Mapping[str, datetime]
    ) -> list[tuple[str, Deployment]]:
        posted: list[tuple[str, Deployment]] = []
        for due in transitions.due_verifications(state, now=now, quiet=quiet, read_until=read_until):
            record = state.incidents[due.fingerprint]
            if record.issue is None or record.fix is None:
                continue
            text = comments.render_verified(due.deployment.version, due.deployment.environment, record.fix.commit,
                                            quiet.total_seconds() / 3600, Untrusted(self.redactor))  # fmt: skip
            try:
                self.tracker.note(record.issue.repo, record.issue.number, text, "verified")
            except AutopilotError as e:
                log.warning("cannot post the verification of %s: %s", due.fingerprint, e)
                continue
            posted.append((due.fingerprint, due.deployment))
        return posted

    def digest(self, store: StateStore, *, now: datetime, days: int) -> str:
        """The digest section when `days` have passed since the last one (then remembered), else ""."""
        if days <= 0:
            return ""
        state = store.load()
        if state.last_digest_at is not None and now - state.last_digest_at < timedelta(days=days):
            return ""
        text = render_digest(state, now=now, days=days)
        store.update(lambda s: s.model_copy(update={"last_digest_at": now}), "digest")
        return text

    def save_labels(self, store: StateStore, state: State) -> None:
        """Remember labels created while publishing, so no later run creates them again."""
        labels = self.tracker.known_labels()
        if transitions.remember_labels(state, labels).labels != state.labels:
            store.update(functools.partial(transitions.remember_labels, labels=labels), "labels created")


def _verified_event(record: IncidentRecord, deployment: Deployment) -> LifecycleEvent:
    return LifecycleEvent(
        kind="verified", fingerprint=record.fingerprint, service=record.service, title=record.title,
        issue_url=record.issue.url if record.issue else None,
        detail=f"verified fixed in {deployment.version} ({deployment.environment})",
        environment=deployment.environment,
    )  # fmt: skip
