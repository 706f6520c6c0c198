"""Per-run resilience: circuit breakers for dependencies and the run deadline (stdlib only).

A dependency that is *unavailable* (connection refused, DNS failure, timeouts or 5xx after the
retries) stays unavailable for the rest of the run: the first verdict opens its breaker, and every
later call skips it at once instead of spending its own retries. A "not found" is an answer, not an
outage, and never opens a breaker. Breakers live for one run; app.py creates them and hands each
adapter its own, so nothing here is global.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


class Breaker:
    """One dependency's breaker (e.g. "Tempo (prod)"): closed until the first unavailable verdict."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._cause: str | None = None
        self._skipped = 0
        self._lock = threading.Lock()

    @property
    def cause(self) -> str | None:
        """Why the dependency was declared unavailable, or None while it is healthy."""
        return self._cause

    @property
    def is_open(self) -> bool:
        """True once the dependency was declared unavailable for this run."""
        return self._cause is not None

    @property
    def skipped(self) -> int:
        """Calls skipped because the breaker was open."""
        return self._skipped

    def trip(self, cause: str) -> None:
        """Declare the dependency unavailable for the rest of the run; the first cause is kept."""
        with self._lock:
            if self._cause is None:
                self._cause = cause

    def skip(self) -> str | None:
        """The cause to report instead of calling, when open (and count the skip); None when closed."""
        with self._lock:
            if self._cause is None:
                return None
            self._skipped += 1
            return self._cause

    def describe(self) -> str:
        """One line for the run report: what was down, why, and what it cost."""
        later = f"; {self._skipped} later call(s) skipped" if self._skipped else ""
        return f"{self.name} unavailable, skipped for the rest of the run: {self._cause}{later}"


class Breakers:
    """The run's breakers by dependency name, created on first use (thread-safe)."""

    def __init__(self) -> None:
        self._by_name: dict[str, Breaker] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Breaker:
        """The breaker for `name` (one per dependency per run)."""
        with self._lock:
            if name not in self._by_name:
                self._by_name[name] = Breaker(name)
            return self._by_name[name]

    def open(self) -> list[Breaker]:
        """The breakers that tripped, in the order their dependencies were first used."""
        with self._lock:
            return [b for b in self._by_name.values() if b.is_open]


@dataclass
class Deadline:
    """The run's wall-clock limit. `clock` returns seconds (monotonic in production, fake in tests)."""

    seconds: float
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    started: float = field(default=-1.0)

    def __post_init__(self) -> None:
        if self.started < 0:
            self.started = self.clock()

    def remaining(self) -> float:
        """Seconds left (negative once passed)."""
        return self.seconds - (self.clock() - self.started)

    def near(self, margin_s: float) -> bool:
        """True when less than `margin_s` is left: time to stop starting new work."""
        return self.remaining() < margin_s
