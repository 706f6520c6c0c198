"""Issue 15's memory figures: peak RSS of `error-autopilot plan` at several sizes, and 10 against 10,000
distinct bugs in the same number of lines (time, peak RSS, plan.json size).

Every figure is one fresh process's own peak, as `/usr/bin/time` reports it (see benchmarks/ingest.py);
`python -c pass` measured the same way shows how low the method can see."""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import ingest
from error_autopilot import selection
from error_autopilot.config.service_map import Policy
from error_autopilot.state import ledger
from error_autopilot.state.model import State, state_json
from error_autopilot.workfiles import plan_json, read_plan


def method_floor() -> float:
    """Peak RSS of an empty Python process, measured as every other figure is."""
    with tempfile.TemporaryDirectory() as tmp:
        return round(ingest.measure([sys.executable, "-c", "pass"], Path(tmp)).peak_mib, 1)


def peaks(sizes: tuple[int, ...], known: dict[int, float], bugs: int = 8) -> dict[int, float]:
    """Peak RSS of a plan over each size (taken from `known` when the throughput run measured it)."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for lines in sizes:
            if lines not in known:
                with ingest.storm(lines, bugs) as url:
                    measured, _ = ingest.plan(url, Path(tmp) / f"plan-{lines}")
                known[lines] = round(measured.peak_mib, 1)
            out[lines] = known[lines]
    return out


def distinct(lines: int, few: int = 10, many: int = 10_000, rounds: int = 3) -> dict[str, Any]:
    """The same number of lines spread over `few` and over `many` bugs, `rounds` times alternated: one run's
    CPU varies by some ±10 % on an idle machine, more than the margin this ratio is judged by, so the figures of
    each are their runs' medians, and every run's ratio is kept to show the spread."""
    figures: dict[str, Any] = {"lines": lines, "rounds": rounds}
    runs: dict[int, list[dict[str, Any]]] = {few: [], many: []}
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(rounds):
            for bugs in (few, many):
                with ingest.storm(lines, bugs) as url:
                    measured, plan_json = ingest.plan(url, Path(tmp) / f"bugs-{bugs}-{n}")
                read, incidents, _ = ingest.counted(plan_json)
                assert read == lines, (read, lines)
                runs[bugs].append({
                    "incidents": incidents,
                    "plan_cpu_s": measured.cpu_s,
                    "plan_peak_mib": round(measured.peak_mib, 1),
                    "plan_json_mb": round(plan_json.stat().st_size / 1e6, 2),
                    "dropped_by_max_pending": read_plan(plan_json).dropped,
                })  # fmt: skip
    for bugs, measured_runs in runs.items():
        figures[str(bugs)] = {
            **measured_runs[-1],
            "plan_cpu_s": statistics.median(r["plan_cpu_s"] for r in measured_runs),
            "plan_peak_mib": statistics.median(r["plan_peak_mib"] for r in measured_runs),
            "plan_cpu_s_runs": [r["plan_cpu_s"] for r in measured_runs],
        }
    a, b = figures[str(few)], figures[str(many)]
    figures["ratio_cpu"] = round(b["plan_cpu_s"] / a["plan_cpu_s"], 2)
    figures["ratio_peak"] = round(b["plan_peak_mib"] / a["plan_peak_mib"], 2)
    pairs = zip(runs[few], runs[many], strict=True)
    figures["ratio_cpu_runs"] = [round(y["plan_cpu_s"] / x["plan_cpu_s"], 2) for x, y in pairs]
    return figures


def state_size(lines: int, bugs: int = 10_000) -> dict[str, Any]:
    """state.json once a storm of `bugs` distinct bugs is recorded (every incident past max_incidents waits
    in it, pending), from one plan made with no pending cap: in schema 4 as written now, in schema 3's
    layout (indented objects; its overlap ids were 24 hex digits, here already 16, so it is understated),
    and with the default `policy.max_pending` applied to the same plan, as a run does."""
    with tempfile.TemporaryDirectory() as tmp:
        with ingest.storm(lines, bugs) as url:
            _, path = ingest.plan(url, Path(tmp) / "state", policy={"max_pending": 10**9})
        plan = read_plan(path)
    default = Policy().max_pending
    capped = selection.cap_pending(plan, default)
    figures: dict[str, Any] = {"lines": lines, "bugs": bugs, "max_pending_default": default}
    for name, one in (("uncapped", plan), ("default_cap", capped)):
        state = ledger.record_plan(State(), one)
        figures[name] = {
            "pending": sum(r.pending for r in state.incidents.values()),
            "plan_json_mb": round(len(plan_json(one)) / 1e6, 2),
            "state_json_mb": round(len(state_json(state)) / 1e6, 2),
            "schema_3_layout_mb": round(len(json.dumps(state.model_dump(mode="json"), indent=1)) / 1e6, 2),
        }
    figures["dropped"] = capped.dropped
    return figures
