"""Harness for the ingest benchmarks: the real `error-autopilot plan` and a plain paging client, each
in a fresh process under `/usr/bin/time`, against a storm served by a loopback Loki in a third process.

`/usr/bin/time` is a small C program, so the peak RSS it reports is the measured process's own: a
child forked from a large Python parent would start with that parent's high-water mark.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks.storm import SERVICES
from error_autopilot.workfiles import read_plan

ROOT = Path(__file__).resolve().parent.parent
TIME = "/usr/bin/time"
PAGE = 5000
QUERY = '{deployment_environment="prod"}'


@dataclass(frozen=True)
class Measured:
    """One process: CPU seconds (user + system, children included), wall seconds, peak RSS."""

    cpu_s: float
    wall_s: float
    peak_mib: float
    output: str


@contextmanager
def storm(lines: int, bugs: int) -> Iterator[str]:
    """A storm server in its own process; yields its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.storm", "--lines", str(lines), "--bugs", str(bugs)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        yield str(json.loads(proc.stdout.readline())["url"])
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def measure(cmd: list[str], cwd: Path) -> Measured:
    """Run `cmd` under /usr/bin/time; raises when it fails."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as out:
        # the command runs in `cwd`: a relative entry (`PYTHONPATH=src:.`) would name nothing there, and the
        # venv's editable install (another checkout's code) would be measured instead of this one
        given = [str(Path(p).resolve()) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        path = os.pathsep.join([*given, str(ROOT)])
        done = subprocess.run([TIME, "-f", "%e %U %S %M", "-o", out.name, *cmd], cwd=cwd, capture_output=True,
                              text=True, check=False, env={**os.environ, "PYTHONPATH": path})  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"{cmd[:4]} failed ({done.returncode}): {done.stderr[-2000:]}")
        wall, user, system, peak_kib = out.read().split()[-4:]
    return Measured(float(user) + float(system), float(wall), int(peak_kib) / 1024, done.stdout)


def floor(url: str, cwd: Path) -> Measured:
    """The floor: page through the query with httpx and json.loads, nothing else."""
    return measure([sys.executable, "-m", "benchmarks.floor", url], cwd)


def plan(
    url: str, work: Path, page_limit: int = PAGE, max_pages: int | None = 1000, policy: dict[str, object] | None = None
) -> tuple[Measured, Path]:
    """The real `error-autopilot plan` over the storm, in a plain folder (local-mode state); returns its
    measurement and the plan.json it wrote. `policy`: the service map's, when not the default."""
    work.mkdir(parents=True, exist_ok=True)
    loki: dict[str, object] = {"url": url, "selector": QUERY, "page_limit": page_limit, "deadline_s": 3600}
    if max_pages is not None:
        loki["max_pages"] = max_pages
    config = {
        "environments": {"prod": {"loki": loki}},
        "services": {s: {"repo": f"acme/{s}", "packages": ["com.acme", "billing", "github.com/acme", "Acme"]}
                     for s in SERVICES},
        **({"policy": policy} if policy else {}),
    }  # fmt: skip
    (work / "service-map.json").write_text(json.dumps(config))
    cmd = [sys.executable, "-m", "error_autopilot", "plan", "--config", "service-map.json", "--work-dir", "out"]
    return measure(cmd, work), work / "out" / "plan.json"


def counted(plan_json: Path) -> tuple[int, int, bool]:
    """(lines read, incidents, truncated) of a plan file (read as the later stages read it: what is at its
    default is not written)."""
    plan = read_plan(plan_json)
    window = plan.windows[0]
    return window.lines, len(plan.incidents), window.truncated
