"""A dependency that is down costs one verdict, not every incident's retries: with Tempo refusing
connections (a closed loopback port), of 20 incidents' trace fetches only those already under way when
the first verdict came (one per investigate worker at most) try Tempo; every later one is skipped, the
report names the outage once, with its cause, and counts the skipped calls. Counted, not timed: a shared
machine's load cannot flip it."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
from pathlib import Path

import pytest

from error_autopilot.cli import main
from error_autopilot.demo.httpserver import LoopbackServer
from error_autopilot.demo.loki_server import LokiServer
from error_autopilot.demo.scenario import DemoRepo, build_repos

pytestmark = pytest.mark.slow
NS = 1_000_000_000
INCIDENTS = 20
WORKERS = 4  # incidents investigated at once (`investigate_workers`)


def closed_port() -> int:
    """A loopback port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _push_incidents(loki: LokiServer, repo: DemoRepo) -> None:
    """20 different bugs of billing-service, each logged with a trace id."""
    now = time.time_ns()
    for i in range(INCIDENTS):
        traceback = (
            "Traceback (most recent call last):\n"
            '  File "/app/billing/api.py", line 12, in handle_create_invoice\n'
            "    total = invoice_total(payload)\n"
            f"InvoiceError{i}: invoice {i} cannot be totalled"
        )
        line = {"levelname": "ERROR", "message": f"invoice {i} failed", "exc_info": traceback,
                "otelTraceID": f"{i + 1:032x}", "service.version": repo.head}  # fmt: skip
        loki.push({"service_name": "billing-service", "env": "prod"}, now - (60 - i) * NS, json.dumps(line))


def _config(root: Path, loki_url: str, repo: DemoRepo, tempo_url: str | None) -> Path:
    env: dict[str, object] = {"loki": {"url": loki_url, "selector": '{env="prod"}'}}
    if tempo_url:
        env["tempo"] = {"url": tempo_url}
    data = {"environments": {"prod": env}, "services": {"billing-service": {"repo": str(repo.remote),
                                                                           "packages": ["billing"]}}}  # fmt: skip
    path = root / f"map-{'tempo' if tempo_url else 'none'}.json"
    path.write_text(json.dumps(data))
    return path


def _run(root: Path, name: str, config: Path) -> dict[str, object]:
    out = root / name
    state = out / "state.git"
    subprocess.run(["git", "init", "-q", "--bare", str(state)], check=True)
    code = main(["run", "--config", str(config), "--state-repo", str(state), "--sink", "local",
                 "--out", str(out / "drafts"), "--work-dir", str(out / "work")])  # fmt: skip
    assert code == 0
    report: dict[str, object] = json.loads((out / "work" / "report.json").read_text())
    return report


def test_refused_tempo_costs_one_verdict_not_every_incident(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOPILOT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("AUTOPILOT_INVESTIGATE_WORKERS", str(WORKERS))
    repo = build_repos(tmp_path / "repos", int(time.time()))["billing-service"]
    with LoopbackServer(LokiServer()) as server:
        _push_incidents(server.app, repo)  # type: ignore[arg-type]
        reports = {name: _run(tmp_path, name, _config(tmp_path, server.url, repo, tempo))
                   for name, tempo in (("absent", None), ("refused", f"http://127.0.0.1:{closed_port()}"))}  # fmt: skip
    down, without = reports["refused"], reports["absent"]
    assert len(down["incidents"]) == len(without["incidents"]) == INCIDENTS  # type: ignore[arg-type]
    outages = [e for e in down["errors"] if "Tempo" in e]  # type: ignore[union-attr]
    assert len(outages) == 1, down["errors"]
    assert "Tempo (prod) unavailable, skipped for the rest of the run" in outages[0]
    assert "ConnectError" in outages[0]
    skipped = re.search(r"; (\d+) later call\(s\) skipped", outages[0])
    assert skipped is not None and int(skipped[1]) >= INCIDENTS - WORKERS, outages[0]
    folder = tmp_path / "refused" / "work" / "findings"
    findings = [json.loads(p.read_text()) for p in folder.glob("finding-*.json")]
    assert len(findings) == INCIDENTS
    assert all(any("Tempo unavailable" in u for u in f["unknowns"]) for f in findings)
    assert all(f["primary_location"] for f in findings), "the code is still located without the trace"
