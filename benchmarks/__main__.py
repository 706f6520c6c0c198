"""`make bench`: every figure is a ratio against a baseline measured in the same run."""

from __future__ import annotations

import argparse
import json
import os
import sys

from benchmarks import blame, corpus, investigation, memory, redaction, startup, throughput, tokens


def main() -> int:
    """Run the benchmarks and print their figures as JSON (and a short table)."""
    parser = argparse.ArgumentParser(prog="benchmarks")
    parser.add_argument(
        "--lines", type=int, default=int(os.environ.get("BENCH_LINES", "1000000")),
        help="the large size of the ingest runs (also BENCH_LINES); 100k and 10k lines are always run",
    )  # fmt: skip
    args = parser.parse_args()
    figures = {
        **throughput.figures(args.lines),
        "state": memory.state_size(args.lines),
        "tokens": tokens.run(),
        "investigation": investigation.run(),
        "redaction": redaction.run(),
        "corpus": corpus.run(),
        "corpus_split": corpus.run(split=True),
        **{f"corpus_{name}": corpus.run(root) for name, root in corpus.held_out().items()},
        "startup": startup.run(),
        "blame": blame.run(),
    }
    t, m, k, i = figures["throughput"], figures["memory"], figures["tokens"], figures["investigation"]
    r, c = figures["redaction"], figures["corpus"]
    s, b = figures["startup"], figures["blame"]
    held = {name: figures[f"corpus_{name}"] for name in corpus.held_out()}
    g = r["generated"]
    sizes, mem = t["sizes"], m["peak_mib"]
    d = m["distinct"]
    st = figures["state"]
    sys.stdout.write(
        "plan CPU vs floor (httpx + json.loads paging the same query), fresh processes:\n"
        + "".join(f"  {n:>9,} lines: plan {f['plan_cpu_s']:.2f}s vs floor {f['floor_cpu_s']:.2f}s → "
                  f"{f['ratio_plan_vs_floor']:.2f}× ({f['incidents']} incidents, plan.json {f['plan_json_mb']} MB)\n"
                  for n, f in sizes.items())
        + f"  (a plan reading no line costs {t['plan_empty_cpu_s']:.2f}s: start-up and imports)\n"
        f"memory:     peak RSS " + ", ".join(f"{mib:.0f} MiB at {n:,}" for n, mib in mem.items())
        + f" lines (an empty python process measures {m['method_floor_mib']:.0f} MiB)\n"
        f"distinct:   {d['lines']:,} lines of 10 vs 10,000 bugs: CPU {d['10']['plan_cpu_s']:.1f}s vs "
        f"{d['10000']['plan_cpu_s']:.1f}s ({d['ratio_cpu']:.2f}×, medians of {d['rounds']} alternated runs; each run "
        f"{', '.join(f'{x:.2f}×' for x in d['ratio_cpu_runs'])}), peak {d['10']['plan_peak_mib']:.0f} vs "
        f"{d['10000']['plan_peak_mib']:.0f} MiB ({d['ratio_peak']:.2f}×), plan.json {d['10']['plan_json_mb']} vs "
        f"{d['10000']['plan_json_mb']} MB ({d['10000']['dropped_by_max_pending']} incident(s) dropped by max_pending)\n"
        f"state:      {st['uncapped']['pending']:,} pending incidents: state.json {st['uncapped']['state_json_mb']} MB "
        f"(schema 3 layout {st['uncapped']['schema_3_layout_mb']} MB), plan.json {st['uncapped']['plan_json_mb']} MB; "
        f"at the default max_pending ({st['max_pending_default']:,}) {st['default_cap']['state_json_mb']} MB / "
        f"{st['default_cap']['plan_json_mb']} MB\n"
        f"tokens:     {k['agent_tokens']:,} per incident with tools vs {k['baseline_tokens']:,} pasting all evidence "
        f"→ {k['ratio_vs_paste_all']:.2f}×\n"
        f"investigate: {i['incidents']} incidents, Tempo {i['tempo_latency_s'] * 1000:.0f} ms/trace: "
        f"{i['pooled_s']:.2f}s pooled ({i['workers']} workers) vs {i['sequential_s']:.2f}s sequential "
        f"→ {i['speedup_pooled']:.2f}× faster; Tempo refusing {i['tempo_refused_s']:.2f}s vs absent "
        f"{i['tempo_absent_s']:.2f}s → {i['ratio_refused_vs_absent']:.2f}×\n"
        f"redaction:  recall {g['recall']:.1%} of {g['secrets']} secrets in {g['formats']} formats, look-alikes kept "
        f"{g['look_alikes_kept']:.1%} of {g['look_alikes']} (false positives {g['false_positive_rate']:.1%}) "
        f"over plan, state and issue; hand-written corpus {r['corpus']['recall']:.1%} / "
        f"{r['corpus']['look_alikes_kept']:.1%}; "
        f"{r['redact_us_per_line']:.0f} µs per line\n"
        f"locations: {c['by_ecosystem']['all']['file_top1']:.0%} file top-1 vs "
        f"{c['by_ecosystem']['all']['baseline_file_top1']:.0%} innermost own frame on {c['cases']} real traces "
        f"→ {c['ratio_file_top1_vs_baseline']}× the baseline\n{c['table']}\n"
        f"split:      the same traces shipped one line per entry (no multiline stage, default line filter): "
        f"{figures['corpus_split']['by_ecosystem']['all']['file_top1']:.0%} file top-1 once rejoined\n"
        f"{figures['corpus_split'].pop('table')}\n"
        f"startup:    --version {s['version_s']:.2f}s, --help {s['help_s']:.2f}s, check {s['check_s']:.2f}s vs "
        f"python -c pass {s['python_pass_s']:.3f}s (best of {startup.ROUNDS}) → {s['ratio_version_vs_python']:.0f}×, "
        f"{s['ratio_help_vs_python']:.0f}×, {s['ratio_check_vs_python']:.0f}×; target --version < "
        f"{s['target_version_s']}s: {'met' if s['meets_target'] else 'MISSED'}\n"
        f"blame:      first blame on {b['commits']:,} commits ({b['file_versions']} versions of the file): partial "
        f"clone + one-request history {b['batched_blame_s']:.2f}s vs full clone {b['full_blame_s']:.2f}s → "
        f"{b['ratio_batched_vs_full']:.2f}× (floor ≤ {b['floor_ratio']:.0f}×: "
        f"{'met' if b['meets_floor'] else 'MISSED'}); vs a full clone with the same commit graph "
        f"{b['full_indexed_blame_s']:.2f}s → {b['ratio_batched_vs_full_indexed']:.1f}×; fetching on demand "
        f"{b['naive_blame_s']:.1f}s → {b['ratio_naive_vs_full']:.0f}×\n"
    )
    if not held:
        sys.stdout.write(corpus.NO_HELD_OUT + "\n")
    for name, h in held.items():
        sys.stdout.write(
            f"{corpus.HELD_OUT_LABELS[name]}: {h['by_ecosystem']['all']['file_top1']:.0%} file top-1 vs "
            f"{h['by_ecosystem']['all']['baseline_file_top1']:.0%} on {h['cases']} traces\n{h.pop('table')}\n"
        )
    del c["table"]
    sys.stdout.write(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
