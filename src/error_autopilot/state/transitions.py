"""An incident's life after its issue is filed, as pure State → State steps (no I/O).

What people do on GitHub is folded in first (`apply_issue_changes`): closed as completed → watched
for a regression, closed as not planned → muted, reopened → tracked again. Then what the logs say
about deployed versions (`observe_deployments`), which of them carry the fix (`record_containment`),
and when a fixed version has served long enough to call the fix verified (`due_verifications`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from error_autopilot.domain.incidents import Incident
from error_autopilot.domain.report import LifecycleEvent
from error_autopilot.ports import IssueChange
from error_autopilot.state.model import Deployment, Fix, IncidentRecord, State, Verification


def deployment_key(environment: str, service: str, version: str) -> str:
    """The key of one deployed version in `State.deployments`."""
    return f"{environment}/{service}/{version}"


Kind = Literal["fixed", "verified", "muted", "reopened", "closed"]


def _event(kind: Kind, record: IncidentRecord, detail: str) -> LifecycleEvent:
    return LifecycleEvent(
        kind=kind,        fingerprint=record.fingerprint, service=record.service, title=record.title,
        issue_url=record.issue.url if record.issue else None, detail=detail,
    )  # fmt: skip


def records_by_issue(state: State, repo: str) -> dict[int, IncidentRecord]:
    """The incidents whose issue lives in `repo`, by issue number."""
    return {r.issue.number: r for r in state.incidents.values() if r.issue is not None and r.issue.repo == repo}


def newly_closed(state: State, repo: str, changes: Sequence[IssueChange]) -> list[IncidentRecord]:
    """Incidents whose issue a person closed as completed since the last sync: their fix is looked up."""
    records = records_by_issue(state, repo)
    return [
        records[c.number] for c in changes
        if c.number in records and c.state == "closed" and c.state_reason != "not_planned"
        and (records[c.number].issue.state == "open" or records[c.number].fix is None)  # type: ignore[union-attr]
    ]  # fmt: skip


def apply_issue_changes(
    state: State, repo: str, changes: Sequence[IssueChange], fixes: Mapping[int, Fix], *, now: datetime
) -> tuple[State, list[LifecycleEvent]]:
    """Fold one repository's listing of changed issues into state; `fixes` by issue number."""
    records = records_by_issue(state, repo)
    incidents = dict(state.incidents)
    events: list[LifecycleEvent] = []
    for change in changes:
        record = records.get(change.number)
        if record is None or record.issue is None:
            continue
        was = record.issue
        if change.state == "open":
            if was.state == "closed":  # reopened by a person (our own reopen is recorded at publish)
                issue = was.model_copy(update={"state": "open", "state_reason": "reopened"})
                incidents[record.fingerprint] = record.model_copy(
                    update={"issue": issue, "muted": False, "resolved_at": None}
                )
                events.append(_event("reopened", record, "reopened by a person: tracked again"))
            continue
        issue = was.model_copy(update={"state": "closed", "state_reason": change.state_reason or "completed"})
        update: dict[str, object] = {"issue": issue, "resolved_at": change.closed_at or now}
        if change.state_reason == "not_planned":
            update["muted"] = True
            if not record.muted:
                events.append(_event("muted", record, "closed as not planned: counted silently from now on"))
        else:
            update["muted"] = False
            fix = fixes.get(change.number)
            if fix is not None and (record.fix is None or record.fix.commit != fix.commit):
                update |= {"fix": fix, "verified": None}
                events.append(_event("fixed", record, f"fix {fix.commit[:12]} ({fix.source})"))
            elif was.state == "open":
                events.append(_event("closed", record, "closed without a fix commit: watched for a regression"))
        incidents[record.fingerprint] = record.model_copy(update=update)
    # moved only when something was listed: an unchanged repository then costs no state commit
    synced = {**state.synced, repo: now} if changes or repo not in state.synced else state.synced
    return state.model_copy(update={"incidents": incidents, "synced": synced}), events


def _minute(minute: int) -> datetime:
    return datetime.fromtimestamp(minute * 60, tz=UTC)


DEPLOYMENTS_KEPT = timedelta(days=30)  # a version not seen for this long is no longer deployed


def observe_deployments(state: State, incidents: Iterable[Incident]) -> State:
    """Versions seen running, per environment and service, from the incidents' per-minute timelines.
    Versions not seen for `DEPLOYMENTS_KEPT` before the newest sighting are forgotten."""
    deployments = dict(state.deployments)
    for incident in incidents:
        for point in incident.timeline:
            if not point.version:
                continue
            key = deployment_key(point.environment, incident.service, point.version)
            at = _minute(point.minute)
            known = deployments.get(key)
            if known is None:
                deployments[key] = Deployment(environment=point.environment, service=incident.service,
                                              version=point.version, first_seen=at, last_seen=at)  # fmt: skip
            elif at < known.first_seen or at > known.last_seen:
                deployments[key] = known.model_copy(
                    update={"first_seen": min(known.first_seen, at), "last_seen": max(known.last_seen, at)}
                )
    if deployments:
        horizon = max(d.last_seen for d in deployments.values()) - DEPLOYMENTS_KEPT
        deployments = {k: d for k, d in deployments.items() if d.last_seen >= horizon}
    return state.model_copy(update={"deployments": deployments})


def unchecked_versions(state: State) -> list[tuple[str, str]]:
    """(fingerprint, version) pairs still to test for the fix: fixed incidents × their service's versions."""
    out: list[tuple[str, str]] = []
    for record in state.incidents.values():
        if record.fix is None:
            continue
        versions = {d.version for d in state.deployments.values() if d.service == record.service}
        if record.pending_incident is not None:
            versions |= set(record.pending_incident.versions)
        out += [(record.fingerprint, v) for v in sorted(versions - set(record.fix.in_versions))]
    return out


def record_containment(state: State, found: Mapping[tuple[str, str], bool]) -> State:
    """Remember which versions contain each incident's fix ((fingerprint, version) → contains)."""
    incidents = dict(state.incidents)
    for (fp, version), contains in found.items():
        record = incidents.get(fp)
        if record is None or record.fix is None:
            continue
        fix = record.fix.model_copy(update={"in_versions": {**record.fix.in_versions, version: contains}})
        incidents[fp] = record.model_copy(update={"fix": fix})
    return state.model_copy(update={"incidents": incidents})


@dataclass(frozen=True)
class DueVerification:
    """A fixed incident whose fixed version has served the quiet period without it."""

    fingerprint: str
    deployment: Deployment


def due_verifications(
    state: State, *, now: datetime, quiet: timedelta, read_until: Mapping[str, datetime]
) -> list[DueVerification]:
    """Fixed, not yet verified incidents with a version containing the fix first seen at least `quiet`
    ago, in an environment whose logs were read through that whole period (`read_until` per
    environment): a quiet period we did not read is not evidence."""
    due: list[DueVerification] = []
    for record in state.incidents.values():
        fix = record.fix
        closed = record.issue is not None and record.issue.state == "closed"
        if fix is None or record.verified is not None or not closed or record.muted:
            continue
        fixed = [
            d for d in state.deployments.values()
            if d.service == record.service and fix.in_versions.get(d.version)
            and now - d.first_seen >= quiet and read_until.get(d.environment, d.first_seen) >= d.first_seen + quiet
        ]  # fmt: skip
        if fixed:
            due.append(DueVerification(record.fingerprint, min(fixed, key=lambda d: d.first_seen)))
    return due


def mark_verified(state: State, fingerprint: str, deployment: Deployment, now: datetime) -> State:
    """Record that the verification comment was posted (it is posted once)."""
    record = state.incidents.get(fingerprint)
    if record is None:
        return state
    verified = Verification(version=deployment.version, environment=deployment.environment, at=now)
    return state.model_copy(
        update={"incidents": {**state.incidents, fingerprint: record.model_copy(update={"verified": verified})}}
    )


def remember_labels(state: State, labels: Mapping[str, tuple[str, ...]]) -> State:
    """Labels known to exist per repository, merged into what state already knew."""
    merged = dict(state.labels)
    for repo, names in labels.items():
        merged[repo] = tuple(sorted({*merged.get(repo, ()), *names}))
    return state.model_copy(update={"labels": merged})


def introduced_in(state: State, incident: Incident) -> tuple[str | None, str | None]:
    """(first version it appeared in, the version seen in that environment and service just before it)."""
    points = sorted((p for p in incident.timeline if p.version), key=lambda p: p.minute)
    if not points:
        return None, None
    first = points[0]
    started = state.deployments.get(deployment_key(first.environment, incident.service, first.version))
    since = started.first_seen if started else _minute(first.minute)
    earlier = [
        d for d in state.deployments.values()
        if d.environment == first.environment and d.service == incident.service
        and d.version != first.version and d.first_seen < since
    ]  # fmt: skip
    previous = max(earlier, key=lambda d: d.first_seen).version if earlier else None
    return first.version, previous
