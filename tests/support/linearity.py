"""Whether a text function stays linear on a hostile megabyte line, measured in this process's CPU time
(other processes on a shared runner do not count)."""

from __future__ import annotations

import time
from collections.abc import Callable

SMALL, LARGE = 64 * 1024, 1024 * 1024  # 16× the text: linear costs ~16× the time; quadratic would cost ~256×
MAX_LARGE_S = 10.0
RATIO = 60  # allowed large/small ratio: linear with a wide margin for noise, far below quadratic
RUNS = 3


def _cpu(work: Callable[[str], object], text: str) -> float:
    started = time.process_time()
    work(text)
    return time.process_time() - started


def linear_bound(small: float) -> float:
    """What the 1 MB run may cost when the 64 KB run cost `small` seconds."""
    return min(MAX_LARGE_S, max(small, 0.005) * RATIO)


def costs(work: Callable[[str], object], unit: str) -> tuple[float, float]:
    """(64 KB, 1 MB) CPU seconds of `work` on `unit` repeated. The 64 KB figure is the best of RUNS (the
    strictest bound); the 1 MB one is the first run within that bound, else the best of RUNS, so the
    verdict is best-of-RUNS's while a linear function pays for one megabyte, not RUNS of them."""
    small = min(_cpu(work, (unit * (SMALL // len(unit) + 1))[:SMALL]) for _ in range(RUNS))
    text = (unit * (LARGE // len(unit) + 1))[:LARGE]
    large = float("inf")
    for _ in range(RUNS):
        large = min(large, _cpu(work, text))
        if large < linear_bound(small):
            break
    return small, large
