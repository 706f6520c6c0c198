"""Issue 15's CPU figure: the real `error-autopilot plan` against its floor, a plain client paging through
the same query with httpx and json.loads (benchmarks/floor.py), both in fresh processes in the same run
over the same storm (benchmarks/storm.py: the storm's eight bugs, ids and timestamps varying per line)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from benchmarks import ingest


def run(sizes: tuple[int, ...], bugs: int = 8) -> dict[str, Any]:
    """Plan and floor CPU per size; the plan runs' measurements are kept for the memory figures."""
    figures: dict[str, Any] = {"bugs": bugs, "sizes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        with ingest.storm(0, bugs) as url:  # what a plan costs before it reads a line: start-up and imports
            empty, _ = ingest.plan(url, Path(tmp) / "empty")
        figures["plan_empty_cpu_s"] = empty.cpu_s
        figures["plan_empty_peak_mib"] = round(empty.peak_mib, 1)
        for lines in sizes:
            with ingest.storm(lines, bugs) as url:
                floor = ingest.floor(url, Path(tmp))
                measured, plan_json = ingest.plan(url, Path(tmp) / f"plan-{lines}")
            read, incidents, truncated = ingest.counted(plan_json)
            assert read == lines and int(floor.output) == lines and not truncated, (read, floor.output, truncated)
            figures["sizes"][lines] = {
                "incidents": incidents,
                "floor_cpu_s": floor.cpu_s,
                "plan_cpu_s": measured.cpu_s,
                "plan_wall_s": measured.wall_s,
                "ratio_plan_vs_floor": round(measured.cpu_s / floor.cpu_s, 2),
                "plan_peak_mib": round(measured.peak_mib, 1),
                "plan_json_mb": round(plan_json.stat().st_size / 1e6, 2),
            }
    return figures



def figures(large: int) -> dict[str, Any]:
    """Every ingest figure of issue 15: CPU against the floor at 100k and `large` lines, peak RSS at 10k,
    100k and `large`, and `large` lines of 10 against 10,000 distinct bugs."""
    from benchmarks import memory  # noqa: PLC0415 - memory's figures reuse this module's runs

    runs = run((100_000, large))
    known = {n: f["plan_peak_mib"] for n, f in runs["sizes"].items()}
    peaks = memory.peaks((10_000, 100_000, large), known)
    return {
        "throughput": runs,
        "memory": {"method_floor_mib": memory.method_floor(), "peak_mib": peaks, "distinct": memory.distinct(large)},
    }


if __name__ == "__main__":  # `python -m benchmarks.throughput [LINES]`: only the ingest figures
    import json
    import sys

    sys.stdout.write(json.dumps(figures(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000), indent=2) + "\n")
