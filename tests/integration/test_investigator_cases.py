"""Investigator on the demo world: real Loki/Tempo fakes on loopback, real git repos, no LLM."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from error_autopilot.config.service_map import ServiceMap, load_service_map
from error_autopilot.demo.httpserver import LoopbackServer
from error_autopilot.demo.tempo_server import TempoServer
from error_autopilot.domain.findings import Finding
from error_autopilot.domain.incidents import Incident, PlannedIncident
from error_autopilot.incidents.events import parse_entry
from error_autopilot.incidents.group import IncidentGrouper
from error_autopilot.investigation.checkout import GitWorkspace
from error_autopilot.investigation.investigator import Investigator
from error_autopilot.ports import PollStats
from error_autopilot.sources.http import build_client
from error_autopilot.sources.loki import LokiSource
from error_autopilot.sources.tempo import TempoSource
from tests.support.world import World, demo_world

USER_KT = "src/main/kotlin/com/acme/user/UserService.kt"
INVOICE_PY = "billing/invoice.py"
UNKNOWN_TRACE = "0123456789abcdef0123456789abcdef"


@dataclass
class Setup:
    world: World
    smap: ServiceMap
    incidents: dict[str, list[Incident]]  # environment → incidents from its Loki
    investigator: Investigator


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("world")
    with demo_world(root) as world:
        smap = load_service_map(world.config)
        incidents: dict[str, list[Incident]] = {}
        traces: dict[str, TempoSource] = {}
        for name, env in smap.environments.items():
            grouper = IncidentGrouper()
            with build_client(env.loki.url, org_id=None) as client:
                source = LokiSource(client, env.loki)
                now = time.time_ns()
                for entry in source.poll(now - 2 * 3600 * 10**9, now + 10**9, PollStats()):
                    if (event := parse_entry(entry, name, smap)) is not None:
                        grouper.add(event)
            incidents[name] = grouper.incidents()
            assert env.tempo is not None
            traces[name] = TempoSource(build_client(env.tempo.url, org_id=None))
        investigator = Investigator(smap, traces, GitWorkspace(root / "cache"))
        yield Setup(world, smap, incidents, investigator)
        assert world.loki.unexpected == [] and world.tempo.unexpected == []


def pick(setup: Setup, env: str, service: str, needle: str) -> Incident:
    found = [i for i in setup.incidents[env] if i.service == service and needle in i.title]
    assert len(found) == 1, [i.title for i in setup.incidents[env]]
    return found[0]


def investigate(setup: Setup, incident: Incident) -> Finding:
    return setup.investigator.investigate(PlannedIncident(incident=incident, status="new"))


# (environment, service that logged, title fragment, expected culprit, path, function, first suspect)
CASES = [
    ("prod", "order-service", "UserServiceException", "user-service", USER_KT, "displayName",
     "Show nickname in display name (#42)"),
    ("prod", "user-service", "NullPointerException", "user-service", USER_KT, "displayName",
     "Show nickname in display name (#42)"),
    ("staging", "order-service", "UserServiceException", "user-service", USER_KT, "displayName",
     "Show nickname in display name (#42)"),
    ("staging", "billing-service", "KeyError", "billing-service", INVOICE_PY, "invoice_total",
     "Support multi-currency invoices (#17)"),
]  # fmt: skip


@pytest.mark.parametrize(("env", "service", "needle", "culprit", "path", "function", "suspect"), CASES)
def test_culprit_location_and_suspect(
    setup: Setup, env: str, service: str, needle: str, culprit: str, path: str, function: str, suspect: str
) -> None:
    finding = investigate(setup, pick(setup, env, service, needle))
    location = finding.primary_location
    assert finding.symptom_service == service
    assert finding.culprit_service == culprit
    assert location is not None
    assert (location.path, location.function) == (path, function)
    assert finding.deployed_commit == setup.world.repos[culprit].head
    assert finding.suspects[0].summary == suspect
    assert finding.snippet is not None and finding.snippet.location == location
    if culprit == "user-service":
        assert location.line == 12
        assert finding.error_class == "null-dereference"
        assert finding.trace is not None and finding.trace.culprit_service == "user-service"
    if culprit != service:
        assert any("the trace at user-service" in u for u in finding.unknowns)


def test_unknown_trace_still_gives_a_finding(setup: Setup) -> None:
    incident = pick(setup, "prod", "order-service", "UserServiceException")
    finding = investigate(setup, incident.model_copy(update={"trace_ids": (UNKNOWN_TRACE,)}))
    assert finding.culprit_service == "order-service"
    assert any(UNKNOWN_TRACE in u and "not found" in u for u in finding.unknowns), finding.unknowns
    assert finding.primary_location is not None
    assert finding.primary_location.path == "src/main/java/com/acme/order/UserClient.java"
    assert finding.primary_location.function == "getUser"


def test_logfmt_timeout_without_stack(setup: Setup) -> None:
    incident = pick(setup, "staging", "order-service", "Payment gateway timeout")
    finding = investigate(setup, incident)
    assert finding.culprit_service == "order-service"
    assert finding.error_class == "timeout-network"
    assert finding.primary_location is None
    assert any(u.startswith("no stack trace:") for u in finding.unknowns), finding.unknowns
    assert any("not found" in u for u in finding.unknowns)  # its traceparent was never sent to Tempo


def test_unmapped_service_is_an_unknown(setup: Setup) -> None:
    incident = pick(setup, "prod", "user-service", "NullPointerException")
    ghost = incident.model_copy(update={"service": "ghost-service", "trace_ids": ()})
    finding = investigate(setup, ghost)
    assert finding.culprit_service == "ghost-service"
    assert finding.culprit_repo is None and finding.primary_location is None
    assert "ghost-service is not in the service map: no code to look at" in finding.unknowns
    assert "no trace: the logs carry no trace id" in finding.unknowns


def test_tempo_refusing_is_an_unknown(setup: Setup, tmp_path: Path) -> None:
    incident = pick(setup, "prod", "order-service", "UserServiceException")
    with LoopbackServer(TempoServer(tenant_required=True)) as tempo:
        investigator = Investigator(
            setup.smap, {"prod": TempoSource(build_client(tempo.url, org_id=None))}, GitWorkspace(tmp_path / "c")
        )
        finding = investigator.investigate(PlannedIncident(incident=incident, status="new"))
    assert any("Tempo refused the request" in u and "no org id" in u for u in finding.unknowns)
    assert finding.culprit_service == "order-service"


def test_unclonable_repo_is_an_unknown(setup: Setup, tmp_path: Path) -> None:
    data = setup.smap.model_dump(by_alias=True)
    data["services"]["billing-service"]["repo"] = str(tmp_path / "no-such-repo.git")
    smap = ServiceMap.model_validate(data)
    investigator = Investigator(smap, {}, GitWorkspace(tmp_path / "c"))
    finding = investigator.investigate(
        PlannedIncident(incident=pick(setup, "staging", "billing-service", "KeyError"), status="new")
    )
    assert finding.primary_location is None
    assert any(u.startswith("could not check out") for u in finding.unknowns)
    assert "no trace: no Tempo configured" in finding.unknowns


def test_location_accuracy_figure(setup: Setup) -> None:
    """How often the primary location is the right file and function over every case (printed with -s).

    Self-contained, so that it holds whichever worker runs it and in whatever order."""
    expected = [(pick(setup, env, service, needle), (path, function))
                for env, service, needle, _, path, function, _ in CASES]  # fmt: skip
    untraced = pick(setup, "prod", "order-service", "UserServiceException")
    expected.append((untraced.model_copy(update={"trace_ids": (UNKNOWN_TRACE,)}),
                     ("src/main/java/com/acme/order/UserClient.java", "getUser")))  # fmt: skip
    right = []
    for incident, place in expected:
        location = investigate(setup, incident).primary_location
        right.append(location is not None and (location.path, location.function) == place)
    print(f"\nprimary location right (file+function): {sum(right)}/{len(right)}")
    assert len(right) == len(CASES) + 1 and all(right)
