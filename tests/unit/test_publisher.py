"""Publishing one incident over the local tracker: where the issue goes, and the symptom cross-link."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from error_autopilot.config.service_map import parse_service_map
from error_autopilot.domain.events import LogEntry
from error_autopilot.domain.findings import Finding
from error_autopilot.domain.incidents import Incident, PlannedIncident
from error_autopilot.incidents.events import parse_entry
from error_autopilot.incidents.group import IncidentGrouper
from error_autopilot.investigation.sanitize import Redactor
from error_autopilot.publishing import Publisher
from error_autopilot.sinks.comments import crosslink_fingerprint
from error_autopilot.sinks.local import LocalChangeProposer, LocalIssueTracker

SMAP = parse_service_map({
    "environments": {"prod": {"loki": {"url": "http://loki", "selector": '{env="prod"}'}}},
    "services": {"order-service": {"repo": "acme/order-service"}, "user-service": {"repo": "acme/user-service"},
                 "local-only": {"repo": "/srv/git/local-only.git"}},
})  # fmt: skip
NOW = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)


def _planned(service: str = "order-service") -> PlannedIncident:
    incident = Incident(fingerprint="0123456789abcdef", service=service, environment="prod", title="boom", count=3,
                        first_seen=NOW, last_seen=NOW)  # fmt: skip
    return PlannedIncident(incident=incident, status="new")


def _publisher(folder: Path) -> Publisher:
    return Publisher(smap=SMAP, tracker=LocalIssueTracker(folder), proposer=LocalChangeProposer(folder),
                     redactor=Redactor(), tool_version="t", fallback_repo="acme/ops")  # fmt: skip


def _meta(folder: Path, fp: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((folder / "issues" / f"{fp}.json").read_text())
    return data


def test_the_issue_goes_to_the_culprit_and_the_symptom_repo_gets_a_pointer(tmp_path: Path) -> None:
    finding = Finding(fingerprint="0123456789abcdef", symptom_service="order-service", culprit_service="user-service")
    published = _publisher(tmp_path)(_planned(), finding, 0)
    assert published.issue_repo == "acme/user-service" and published.issue_action == "created"
    pointer = _meta(tmp_path, crosslink_fingerprint("0123456789abcdef"))
    assert pointer["repo"] == "acme/order-service" and "symptom" in pointer["labels"]  # type: ignore[operator]
    body = (tmp_path / "issues" / f"{crosslink_fingerprint('0123456789abcdef')}.md").read_text()
    assert published.issue_url in body
    again = _publisher(tmp_path)(_planned(), finding, 0)
    assert again.issue_action == "unchanged" and len(list((tmp_path / "issues").glob("*.md"))) == 2


def test_services_outside_github_file_in_the_actions_repo_without_a_pointer(tmp_path: Path) -> None:
    finding = Finding(fingerprint="0123456789abcdef", symptom_service="local-only", culprit_service="local-only")
    published = _publisher(tmp_path)(_planned("local-only"), finding, 0)
    assert published.issue_repo == "acme/ops"
    assert len(list((tmp_path / "issues").glob("*.md"))) == 1


def test_a_symptom_and_its_culprits_own_incident_link_to_each_other(tmp_path: Path) -> None:
    trace = "a4f5f8db2bb94e9bc51d2ba647b00705"
    symptom = _planned().incident.model_copy(update={"trace_ids": (trace,), "headline": "UserServiceException: 500"})
    culprit = Incident(fingerprint="fedcba9876543210", service="user-service", environment="prod", count=5,
                       title="NullPointerException", headline="NullPointerException: nickname", first_seen=NOW,
                       last_seen=NOW, trace_ids=("0" * 32, trace))  # fmt: skip
    unrelated = culprit.model_copy(update={"fingerprint": "1111111111111111", "trace_ids": ("1" * 32,)})
    publish = _publisher(tmp_path)
    publish(PlannedIncident(incident=symptom, status="new"),
            Finding(fingerprint=symptom.fingerprint, symptom_service="order-service", culprit_service="user-service"),
            0)  # fmt: skip
    for incident in (culprit, unrelated):
        own = Finding(fingerprint=incident.fingerprint, symptom_service="user-service", culprit_service="user-service")
        publish(PlannedIncident(incident=incident, status="new"), own, 0)
    bodies = {fp: (tmp_path / "issues" / f"{fp}.md").read_text() for fp in (symptom.fingerprint, culprit.fingerprint,
                                                                             unrelated.fingerprint)}  # fmt: skip
    assert ("- **Related:** where this failure starts (user-service logs the exception): NullPointerException: nickname"
            in bodies[symptom.fingerprint])  # fmt: skip
    assert (
        "- **Related:** symptom: order-service logs this failure: UserServiceException: 500"
        in bodies[culprit.fingerprint]
    )
    assert "Related" not in bodies[unrelated.fingerprint] and bodies[symptom.fingerprint].count("**Related:**") == 1


def test_a_cut_log_line_is_said_in_the_issue(tmp_path: Path) -> None:
    stack = ("java.lang.IllegalStateException: ledger closed\n\tat com.acme.order.Ledger.post(Ledger.java:42)\n"
             "\tat com.acme.order.OrderService.place(OrderService.java:7)")  # fmt: skip
    huge = stack + "\n" + "dump " * (5 * 1024 * 1024 // 5)
    grouper = IncidentGrouper()
    event = parse_entry(LogEntry(ts_ns=1, line=huge, labels={"service_name": "order-service"}), "prod", SMAP)
    assert event is not None
    grouper.add(event)
    (incident,) = grouper.incidents()
    assert "IllegalStateException" in incident.title and "{" not in incident.title
    _publisher(tmp_path)(PlannedIncident(incident=incident, status="new"), None, 0)
    body = (tmp_path / "issues" / f"{incident.fingerprint}.md").read_text()
    assert "a 5.0 MB log line was cut to 64 KB (the exception and its frames were kept)" in body
    assert len(body) < 70_000, "the issue never carries the megabytes"
