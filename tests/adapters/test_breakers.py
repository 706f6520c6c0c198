"""Each adapter's breaker against real loopback: the first "unavailable" verdict opens it, later calls
skip the dependency at once with the first cause, and a "not found" never opens it."""

from __future__ import annotations

import socket
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import anthropic
import github
import httpx
import pytest

from error_autopilot.demo.httpserver import LoopbackServer, Request, Response
from error_autopilot.domain.errors import AnalystError, SinkError, WorkspaceError
from error_autopilot.domain.findings import Finding
from error_autopilot.domain.incidents import Incident, PlannedIncident
from error_autopilot.domain.report import PublishedIncident, RunReport
from error_autopilot.investigation.agent import ClaudeAnalyst
from error_autopilot.investigation.checkout import GitWorkspace
from error_autopilot.investigation.sanitize import Redactor
from error_autopilot.ports import Budget, CheckedOut
from error_autopilot.resilience import Breaker, Breakers, Deadline
from error_autopilot.sinks.github_issues import GitHubIssueTracker
from error_autopilot.sinks.telegram import TelegramNotifier
from error_autopilot.sources.http import RetryPolicy, build_client
from error_autopilot.sources.tempo import TempoSource

TRACE = "0af7651916cd43dd8448eb211c80319c"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


class Counting:
    """A loopback app answering every request with one status, counting them."""

    def __init__(self, status: int, body: str = "") -> None:
        self.status, self.body, self.requests = status, body, 0

    def __call__(self, req: Request) -> Response:
        self.requests += 1
        return Response.text(self.body, self.status)


def test_breaker_keeps_the_first_cause_and_counts_skips() -> None:
    breakers = Breakers()
    tempo = breakers.get("Tempo (prod)")
    assert breakers.get("Tempo (prod)") is tempo and tempo.skip() is None and not tempo.is_open
    tempo.trip("ConnectError: refused")
    tempo.trip("a later, different cause")
    assert tempo.skip() == tempo.skip() == "ConnectError: refused"
    assert breakers.open() == [tempo] and breakers.get("Claude API").is_open is False
    assert tempo.describe() == (
        "Tempo (prod) unavailable, skipped for the rest of the run: ConnectError: refused; 2 later call(s) skipped"
    )


def test_deadline_is_near_once_less_than_the_margin_is_left() -> None:
    now = [100.0]
    deadline = Deadline(60, clock=lambda: now[0])
    assert not deadline.near(10) and deadline.remaining() == 60
    now[0] = 151.0
    assert deadline.near(10) and deadline.remaining() == pytest.approx(9)


def test_tempo_refusing_connections_is_one_attempt_then_skipped() -> None:
    breaker = Breaker("Tempo (prod)")
    with build_client(f"http://127.0.0.1:{closed_port()}", org_id=None) as client:
        source = TempoSource(client, breaker=breaker)
        started = time.monotonic()
        first = source.get_trace(TRACE)
        second = source.get_trace("1" * 32)
        elapsed = time.monotonic() - started
    assert first.status == second.status == "unavailable"
    assert "ConnectError" in first.message and "after 1 attempt(s)" in first.message
    assert "skipped after an earlier failure" in second.message and breaker.skipped == 1
    assert elapsed < 5, "a refused connection is a verdict, not a wait"


def test_tempo_5xx_after_retries_opens_the_breaker_and_404_does_not() -> None:
    sleeps: list[float] = []
    policy = RetryPolicy(deadline_s=30, max_attempts=3, sleep=sleeps.append)
    failing, missing = Counting(503, "overloaded"), Counting(404)
    with LoopbackServer(failing) as down, LoopbackServer(missing) as empty:
        gone, fine = Breaker("Tempo (prod)"), Breaker("Tempo (dev)")
        with build_client(down.url, org_id=None) as a, build_client(empty.url, org_id=None) as b:
            assert TempoSource(a, policy=policy, breaker=gone).get_trace(TRACE).status == "unavailable"
            assert failing.requests == 3 and len(sleeps) == 2  # retries stay for what may be transient
            assert TempoSource(a, policy=policy, breaker=gone).get_trace(TRACE).status == "unavailable"
            assert failing.requests == 3, "an open breaker sends nothing"
            for _ in range(2):
                assert TempoSource(b, policy=policy, breaker=fine).get_trace(TRACE).status == "not_found"
    assert gone.is_open and "HTTP 503" in (gone.cause or "")
    assert not fine.is_open and missing.requests == 4  # v2 then v1, twice: not found is an answer


def test_unreachable_git_host_is_skipped_and_a_missing_repo_is_not(tmp_path: Path) -> None:
    breakers = Breakers()
    ws = GitWorkspace(tmp_path / "cache", breakers=breakers)
    host = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(WorkspaceError, match="cannot clone"):
        ws.checkout(f"{host}/acme/a.git", None, "main", None)
    with pytest.raises(WorkspaceError, match=r"git host 127\.0\.0\.1 skipped: unavailable earlier in this run"):
        ws.checkout(f"{host}/acme/b.git", None, "main", None)
    assert not (tmp_path / "cache" / "acme_b.git").exists()
    with LoopbackServer(Counting(404, "Repository not found.\n")) as server:
        other = Breakers()
        ws = GitWorkspace(tmp_path / "cache2", breakers=other)
        for name in ("a", "b"):
            with pytest.raises(WorkspaceError, match="cannot clone"):
                ws.checkout(f"{server.url}/acme/{name}.git", None, "main", None)
    assert other.open() == []


def test_github_api_unreachable_is_one_error_then_skipped() -> None:
    breaker = Breaker("GitHub API")
    gh = github.Github(base_url=f"http://127.0.0.1:{closed_port()}", auth=github.Auth.Token("t"), retry=None)
    tracker = GitHubIssueTracker(gh, retry_sleep=lambda _: None, breaker=breaker)
    with pytest.raises(SinkError, match="GitHub API unreachable"):
        tracker.find("acme/app", "0123456789abcdef")
    with pytest.raises(SinkError, match="GitHub API skipped: unavailable earlier in this run"):
        tracker.find("acme/app", "fedcba9876543210")
    assert breaker.skipped == 1


def test_claude_api_unreachable_is_one_error_then_skipped(tmp_path: Path) -> None:
    breaker = Breaker("Claude API")
    client = anthropic.Anthropic(api_key="test", base_url=f"http://127.0.0.1:{closed_port()}", max_retries=0)
    analyst = ClaudeAnalyst(client, model="claude-test", redactor=Redactor(), breaker=breaker)
    incident = Incident(fingerprint="0123456789abcdef", service="orders", environment="prod", title="KeyError: 'id'",
                        count=1, first_seen=NOW, last_seen=NOW)  # fmt: skip
    planned = PlannedIncident(incident=incident, status="new")
    finding = Finding(fingerprint="0123456789abcdef", symptom_service="orders", culprit_service="orders")
    subprocess.run(["git", "init", "-q", str(tmp_path / "repo")], check=True)
    checkout = CheckedOut(repo="acme/orders", path=tmp_path / "repo", commit="0" * 40, ref_source="test")
    with pytest.raises(AnalystError, match="unreachable"):
        analyst.analyse(planned, finding, [checkout], Budget(tokens=10_000, turns=3, seconds=30))
    with pytest.raises(AnalystError, match="skipped: unavailable earlier in this run"):
        analyst.analyse(planned, finding, [checkout], Budget(tokens=10_000, turns=3, seconds=30))
    assert breaker.is_open and breaker.skipped == 1


def test_telegram_unreachable_is_reported_once_then_skipped() -> None:
    breaker = Breaker("Telegram")
    client = httpx.Client(base_url=f"http://127.0.0.1:{closed_port()}/botTOKEN")
    notifier = TelegramNotifier(client, chats={"prod": "-100", "dev": "-200"}, silent_hours=None, redactor=Redactor(),
                                sleep=lambda _: None, breaker=breaker)  # fmt: skip
    news = [PublishedIncident(fingerprint=f"{n:016x}", service="orders", environment=env, title="boom", status="new",
                              count=1) for n, env in enumerate(("dev", "prod"))]  # fmt: skip
    lines = notifier.notify(RunReport(run_id="r", trigger="schedule", started_at=NOW, finished_at=NOW,
                                      incidents=tuple(news)))  # fmt: skip
    assert "failed" in lines[0] and "ConnectError" in lines[0]
    assert "skipped: Telegram unavailable earlier in this run" in lines[1]


def test_retries_never_outlast_the_run_deadline() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    failing = Counting(503, "overloaded")
    with LoopbackServer(failing) as server, build_client(server.url, org_id=None, timeout_s=30) as client:
        alone = RetryPolicy(deadline_s=60, max_attempts=20, base_delay_s=1, sleep=sleep, clock=lambda: now[0])
        assert TempoSource(client, policy=alone).get_trace(TRACE).status == "unavailable"
        unbounded, now[0] = now[0], 0.0
        run = Deadline(5, clock=lambda: now[0])
        bounded = RetryPolicy(deadline_s=60, max_attempts=20, base_delay_s=1, sleep=sleep, clock=lambda: now[0],
                              run_deadline=run)  # fmt: skip
        seen_timeouts: list[float] = []
        client.event_hooks["request"] = [lambda r: seen_timeouts.append(r.extensions["timeout"]["read"])]
        trace = TempoSource(client, policy=bounded).get_trace(TRACE)
    assert trace.status == "unavailable"
    assert unbounded > 10 and now[0] <= 5, f"slept {now[0]:.1f}s with 5s left in the run (alone: {unbounded:.1f}s)"
    assert seen_timeouts and max(seen_timeouts) <= 5, "no single wait may outlast the run"
