"""`make bench`: every figure is a ratio against a baseline measured in the same run."""

from __future__ import annotations

import argparse
import json
import sys

from benchmarks import corpus, investigation, memory, redaction, throughput, tokens


def main() -> int:
    """Run the benchmarks and print their figures as JSON (and a short table)."""
    parser = argparse.ArgumentParser(prog="benchmarks")
    parser.add_argument("--lines", type=int, default=100_000, help="lines for the throughput run")
    parser.add_argument("--memory-lines", type=int, default=1_000_000, help="lines for the memory run")
    args = parser.parse_args()
    figures = {
        "throughput": throughput.run(args.lines),
        "memory": memory.run(args.memory_lines),
        "tokens": tokens.run(),
        "investigation": investigation.run(),
        "redaction": redaction.run(),
        "corpus": corpus.run(),
    }
    if (held_out := corpus.run_held_out()) is not None:
        figures["corpus_held_out"] = held_out
    t, m, k, i = figures["throughput"], figures["memory"], figures["tokens"], figures["investigation"]
    r, c, h = figures["redaction"], figures["corpus"], figures.get("corpus_held_out")
    g = r["generated"]
    sys.stdout.write(
        f"throughput: {t['pipeline_lines_per_s']:,.0f} lines/s parse+fingerprint+group vs "
        f"{t['decode_lines_per_s']:,.0f} lines/s json.loads → {t['ratio_pipeline_vs_decode']:.2f}× the decode time\n"
        f"memory:     {m['peak_rss_mib']:.0f} MiB peak for {m['lines']:,} lines vs "
        f"{m['baseline_peak_rss_mib']:.0f} MiB "
        f"for {m['baseline_lines']:,} → {m['ratio_vs_tenth']:.2f}×\n"
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
        + (
            f"held out (never tuned on): {h['by_ecosystem']['all']['file_top1']:.0%} file top-1 vs "
            f"{h['by_ecosystem']['all']['baseline_file_top1']:.0%} on {h['cases']} traces\n{h.pop('table')}\n"
            if h is not None
            else "held out: no set in tests/fixtures/realworld-holdout2/\n"
        )
    )
    del c["table"]
    sys.stdout.write(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
