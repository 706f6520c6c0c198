"""Issue 11's figures on the real-world corpus: primary location vs the innermost-own-frame baseline,
both measured in the same run over every case in `tests/fixtures/realworld/`, and apart on the
held-out sets nobody tuned on."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from tests.support.corpus import by_ecosystem, load_cases, run_corpus, scratch, summary, table

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
# Every held-out set once read is retired into the corpus (tests/fixtures/realworld/README.md keeps its
# first measurement); the next one is listed here when it lands, so an unfinished folder is never scored.
HELD_OUT_SETS: dict[str, Path] = {
    "held_out_20": FIXTURES / "realworld-holdout20",
    "held_out_26": FIXTURES / "realworld-holdout26",
    "held_out_27": FIXTURES / "realworld-holdout27",
    "held_out_28": FIXTURES / "realworld-holdout28",
}
HELD_OUT_LABELS = {name: "held out (never tuned on)" for name in HELD_OUT_SETS}
NO_HELD_OUT = "no held-out set: every real-world case has been read and lives in the tuning corpus"


def held_out() -> dict[str, Path]:
    """The held-out sets present in this checkout, by report name (`held_out` is the one never read);
    empty when there is none."""
    return {name: root for name, root in HELD_OUT_SETS.items() if any(root.glob("*/*/case.json"))}


def run(root: Path | None = None, *, misses: bool = False, split: bool = False) -> dict[str, Any]:
    """Run the real plan + investigate over the corpus (or the held-out set at `root`); rates per
    ecosystem and overall, and with `misses` one row per case that misses a figure (`misses_table`).
    `split`: each trace shipped one entry per line, as a shipper without a multiline stage sends it,
    under the default line filter (the traces are rejoined from Loki)."""
    cases = load_cases(root) if root is not None else load_cases()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as fallback, scratch(Path(fallback)) as work:
        outcomes = run_corpus(cases, work, split=split)
    groups = by_ecosystem(outcomes)
    overall = groups["all"]
    report: dict[str, Any] = {
        "cases": overall.cases,
        "seconds": round(time.perf_counter() - started, 1),
        "by_ecosystem": {
            name: {
                "cases": s.cases,
                "file_top1": round(s.file_top1, 4),
                "function_top1": round(s.function_top1, 4),
                "file_top3": round(s.file_top3, 4),
                "baseline_file_top1": round(s.baseline_file_top1, 4),
            }
            for name, s in groups.items()
        },
        "ratio_file_top1_vs_baseline": round(overall.file_top1 / overall.baseline_file_top1, 2)
        if overall.baseline_file_top1
        else None,
        "table": summary(groups),
    }
    missed = [o for o in outcomes if not (o.file_top1 and o.function_top1 and o.file_top3)]
    if misses and missed:
        report["misses_table"] = table(missed)
    return report


if __name__ == "__main__":  # `python -m benchmarks.corpus [--misses]`: only these figures, in seconds
    import argparse
    import json
    import sys

    parser = argparse.ArgumentParser(prog="benchmarks.corpus")
    parser.add_argument("--misses", action="store_true", help="also list the corpus cases that miss a figure")
    args = parser.parse_args()
    report = {"corpus": run(misses=args.misses)}
    sys.stdout.write(report["corpus"].pop("table") + "\n")
    if "misses_table" in report["corpus"]:
        sys.stdout.write("\ncases that miss a figure (✓/✗: file@1 func@1 file@3 base@1):\n")
        sys.stdout.write(report["corpus"].pop("misses_table") + "\n")
    if not held_out():
        sys.stdout.write(f"\n{NO_HELD_OUT}\n")
    for name, root in held_out().items():
        report[name] = run(root)
        sys.stdout.write(f"\n{HELD_OUT_LABELS[name]}, {root.name}:\n" + report[name].pop("table") + "\n")
    sys.stdout.write(json.dumps(report, indent=2) + "\n")
