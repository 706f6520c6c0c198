"""What a whole test session computes once, however many xdist workers ask for it."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def shared_once(tmp_path_factory: pytest.TempPathFactory, worker_id: str, name: str) -> Iterator[Path]:
    """A folder every worker of this session shares, held under the exclusive lock `name`: the first
    worker in computes and records there while the others wait, then they read what it recorded.
    Workers share their base temp's parent, which is new for every session, so nothing is stale."""
    base = tmp_path_factory.getbasetemp()
    shared = base if worker_id == "master" else base.parent
    with (shared / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield shared
