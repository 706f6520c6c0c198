"""Issue 11's figures on the real-world corpus: primary location vs the innermost-own-frame baseline,
both measured in the same run over every case in `tests/fixtures/realworld/`, and, when it exists,
over the held-out set in `tests/fixtures/realworld-holdout2/` (same layout, never tuned on)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from tests.support.corpus import by_ecosystem, load_cases, run_corpus, scratch, summary

HOLDOUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "realworld-holdout2"


def run(root: Path | None = None) -> dict[str, Any]:
    """Run the real plan + investigate over the corpus (or the held-out set at `root`); rates per
    ecosystem and overall."""
    cases = load_cases(root) if root is not None else load_cases()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as fallback, scratch(Path(fallback)) as work:
        outcomes = run_corpus(cases, work)
    groups = by_ecosystem(outcomes)
    overall = groups["all"]
    return {
        "cases": overall.cases,
        "seconds": round(time.perf_counter() - started, 1),
        "by_ecosystem": {
            name: {
                "cases": s.cases,
                "file_top1": round(s.file_top1, 3),
                "function_top1": round(s.function_top1, 3),
                "file_top3": round(s.file_top3, 3),
                "baseline_file_top1": round(s.baseline_file_top1, 3),
            }
            for name, s in groups.items()
        },
        "ratio_file_top1_vs_baseline": round(overall.file_top1 / overall.baseline_file_top1, 2)
        if overall.baseline_file_top1
        else None,
        "table": summary(groups),
    }


def run_held_out() -> dict[str, Any] | None:
    """The same figures on the held-out set; None while `tests/fixtures/realworld-holdout2/` is absent."""
    return run(HOLDOUT) if load_cases(HOLDOUT) else None


if __name__ == "__main__":  # `python -m benchmarks.corpus`: only these figures, in seconds
    import json
    import sys

    figures = run()
    report: dict[str, Any] = {"corpus": figures}
    text = figures.pop("table")
    if (held_out := run_held_out()) is not None:
        report["held_out"] = held_out
        text += "\n\nheld out (never tuned on):\n" + held_out.pop("table")
    sys.stdout.write(text + "\n")
    sys.stdout.write(json.dumps(report, indent=2) + "\n")
