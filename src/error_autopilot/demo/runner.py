"""`error-autopilot demo`: the whole pipeline on bundled data, on loopback, with no keys.

Starts a Loki- and a Tempo-compatible server on 127.0.0.1, pushes the demo world's logs and traces,
builds the services' git repositories, then runs the real `run` command twice against them with
the local sink: the first run finds and files the incidents, the second proves that replaying the
same data files nothing new.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import time
from pathlib import Path

import httpx

from error_autopilot.commands import RunOptions, execute_run, load_run_context
from error_autopilot.config.settings import Settings
from error_autopilot.demo.httpserver import LoopbackServer
from error_autopilot.demo.loki_server import LokiServer
from error_autopilot.demo.scenario import build_repos, build_telemetry, service_map
from error_autopilot.demo.tempo_server import TempoServer
from error_autopilot.sinks.job_summary import render_table

log = logging.getLogger(__name__)


def _state_repo(root: Path) -> Path:
    """A bare repository standing in for the repo the action runs in (holds the state branch)."""
    remote = root / "ops.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True, capture_output=True)
    return remote


def run_demo(out: Path) -> int:
    """Run the demo; drafts land in OUT/drafts. Returns the exit code."""
    out = out.resolve()
    if out.exists():
        shutil.rmtree(out)
    world = out / "world"
    world.mkdir(parents=True)
    now_s = int(time.time())
    with LoopbackServer(LokiServer()) as loki, LoopbackServer(TempoServer()) as tempo:
        repos = build_repos(world, now_s)
        telemetry = build_telemetry(world, repos, time.time_ns())
        httpx.post(f"{loki.url}/loki/api/v1/push", json=telemetry.loki_push, timeout=30).raise_for_status()
        for trace in telemetry.otlp_traces:
            httpx.post(f"{tempo.url}/v1/traces", json=trace, timeout=30).raise_for_status()
        config = out / "service-map.json"
        config.write_text(json.dumps(service_map(loki.url, tempo.url, repos), indent=2))
        print(f"Demo world: {len(repos)} services with git history, {telemetry.lines} log lines in a local Loki,")
        print(f"{len(telemetry.otlp_traces)} traces in a local Tempo (both on 127.0.0.1, no network, no keys).\n")
        settings = Settings(config=config, work_dir=out / "work", cache_dir=out / "cache")
        options = RunOptions(state_repo=str(_state_repo(world)), sink="local", out=out / "drafts", trigger="demo")
        ctx = load_run_context(settings)
        summaries = []
        for n, attempt in enumerate(("First run", "Second run over the same data"), start=1):
            report = execute_run(ctx, options)
            # each run writes work/summary.md; keep each one, so the first run's findings stay readable
            summaries.append(shutil.copyfile(out / "work" / "summary.md", out / "work" / f"summary-run-{n}.md"))
            print(f"── {attempt} " + "─" * (60 - len(attempt)))
            print(render_table(report))
            print()
    drafts = out / "drafts"
    print(f"Drafts (issues as Markdown, PRs as .patch): {drafts}")
    for issue in sorted((drafts / "issues").glob("*.md"))[:5]:
        print(f"  {issue}")
    print(f"Run report: {out / 'work' / 'report.json'}")
    print("Job summaries as GitHub would show them, one per run:")
    for summary in summaries:
        print(f"  {summary}")
    return 0
