"""A complete world for end-to-end tests: the demo services' git repos, a Loki and a Tempo on
loopback holding their logs and traces, and a service map pointing at all of it."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from error_autopilot.demo.httpserver import LoopbackServer
from error_autopilot.demo.loki_server import LokiServer
from error_autopilot.demo.scenario import DemoRepo, DemoTelemetry, build_repos, build_telemetry, service_map
from error_autopilot.demo.tempo_server import TempoServer


@dataclass
class World:
    """Handles on everything a test may assert against."""

    root: Path
    loki: LoopbackServer
    tempo: LoopbackServer
    repos: dict[str, DemoRepo]
    telemetry: DemoTelemetry
    config: Path  # service-map.json
    ops_remote: Path  # bare repo of the repository the action runs in (holds the state branch)

    def service_map(self) -> dict[str, object]:
        """The map as JSON data."""
        data: dict[str, object] = json.loads(self.config.read_text())
        return data


def git(cwd: Path, *args: str) -> str:
    """Run git and return stdout."""
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@contextmanager
def demo_world(root: Path) -> Iterator[World]:
    """Start the servers, push the data, build the repos."""
    with LoopbackServer(LokiServer()) as loki, LoopbackServer(TempoServer()) as tempo:
        repos = build_repos(root, int(time.time()))
        telemetry = build_telemetry(root, repos, time.time_ns())
        # One client for every push: each `httpx.post` builds a client, and its TLS context loads the CA
        # bundle (~25 ms of CPU) even for plain HTTP; per trace, that was most of a world's setup.
        with httpx.Client() as client:
            client.post(f"{loki.url}/loki/api/v1/push", json=telemetry.loki_push).raise_for_status()
            for trace in telemetry.otlp_traces:
                client.post(f"{tempo.url}/v1/traces", json=trace).raise_for_status()
        config = root / "service-map.json"
        config.write_text(json.dumps(service_map(loki.url, tempo.url, repos), indent=2))
        ops_remote = root / "ops.git"
        git(root, "init", "-q", "--bare", str(ops_remote))
        yield World(root, loki, tempo, repos, telemetry, config, ops_remote)


def checked_out(world: World, tmp: Path) -> Path:
    """The repository a workflow checked out: service-map.json at its root, origin = the ops remote."""
    work = tmp / "checkout"
    git(tmp, "clone", "-q", str(world.ops_remote), str(work))
    shutil.copy(world.config, work / "service-map.json")
    git(work, "add", "service-map.json")
    git(work, "commit", "-q", "-m", "service map")
    git(work, "push", "-q", "origin", "HEAD:main")
    return work
