"""The bridge's state file: the getUpdates offset, a dispatch journal and the coalescing clock.

Crash safety (what a SIGKILL at any instant costs):
- The offset is saved after a whole batch is handled, so updates of an unfinished batch come back
  after a restart — none is lost.
- Each dispatch is journaled (`"<update_id>:<key>"`) right after GitHub's 204, before anything else,
  so a replayed update is not dispatched again. The one window left is between the 204 and the
  journal write (microseconds); a kill there dispatches that alert twice. We choose this side —
  at least once — because a duplicate run is harmless (issues are deduplicated by fingerprint and
  the workflow's concurrency group folds it), while a lost alert costs latency until the next poll.
- Every write is atomic (temp file + fsync + os.replace): the file is always the old or the new one.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from error_autopilot.domain.errors import BridgeError


class BridgeState(BaseModel):
    """What survives a restart."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    offset: int | None = None  # next getUpdates offset (max confirmed update_id + 1)
    journal: tuple[str, ...] = ()  # "<update_id>:<env>/<service>" dispatched in the current batch
    recent: dict[str, float] = {}  # "<env>/<service>" → unix time of its last dispatch (coalescing)

    def done(self, update_id: int, key: str) -> bool:
        """Was this update's dispatch for `key` already sent?"""
        return f"{update_id}:{key}" in self.journal


def load_state(path: Path) -> BridgeState:
    """The saved state, or a fresh one when the file does not exist yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return BridgeState()
    except OSError as e:
        raise BridgeError(f"cannot read the bridge state {path}: {e}") from e
    try:
        return BridgeState.model_validate(json.loads(text))
    except (json.JSONDecodeError, ValidationError) as e:
        raise BridgeError(
            f"bridge state {path} is unreadable: {e}",
            hint="move it aside to start over; Telegram re-sends updates that were not confirmed (≤ 24 h)",
        ) from e


def save_state(path: Path, state: BridgeState) -> None:
    """Write atomically: a crash leaves either the previous file or this one, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(state.model_dump_json(indent=1))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise BridgeError(f"cannot write the bridge state {path}: {e}") from e
