"""Fixtures every end-to-end test shares."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.world import World, demo_world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """The demo world (repos, loopback Loki and Tempo, service map), fresh for each test."""
    with demo_world(tmp_path / "world") as w:
        yield w
