"""What a plan needs besides its Loki in tests: a clock on wall time and an empty state branch."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from error_autopilot.state.store import GitStateStore, ReadOnlyStateStore


class WallClock:
    """The real time, for plans whose windows end now."""

    def now(self) -> datetime:
        return datetime.now(UTC)


def empty_state_store(folder: Path) -> ReadOnlyStateStore:
    """A read-only store on a fresh bare repository in `folder` (real git, no state branch yet)."""
    ops = folder / "ops.git"
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "init", "-q", "--bare", str(ops)], check=True, env=env)
    return ReadOnlyStateStore(GitStateStore(str(ops), branch="state", work_dir=folder / "state"))
