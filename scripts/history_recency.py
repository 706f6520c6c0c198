"""Gather git-history facts for the real-world corpus's top candidate files (issue 11, "Git history as
a ranking signal"): per case, the first five distinct files of the engine's ranked candidates and, for
each, when it last changed before the issue was filed, how often it changed in the 30/90/365 days
before, every commit date of the two years before the fix, and when the candidate's line last changed
at the fix's parent. Facts only (paths, dates, counts, commit ids).

Cases: every case whose fixed file is on the ranked list but not first (the 22 "up the stack" and the
others), and the cases right today whose first three candidates
name two files or more (all, or a seeded sample with --sample). Reads the bare mirrors under
`/work/.mirror/<Owner>+<repo>/repo` (fetch each first); a missing mirror or commit is written as
missing, never guessed. Usage:

    PYTHONPATH=src:. .venv/bin/python -m scripts.history_recency [--sample N] [--seed S] [--out TSV]
"""

from __future__ import annotations

import argparse
import random
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tests.support.corpus import CORPUS, Case, Outcome, load_cases, run_corpus, scratch

from error_autopilot.domain.findings import CodeLocation

MIRRORS = Path("/work/.mirror")
OUT = CORPUS / "history" / "recency.tsv"
TOP = 5
DAY = 86400
HISTORY_DAYS = 730  # commit dates kept per file: two years before the fix, and the last change before that
MAX_DATES = 200
MAX_BOUND_GAP_DAYS = 180  # an issue-number bound further before the fix than this is set aside (see bound)
# The corpus README's "fix is up the stack with no documented signal" class (22 cases on 453).
UPSTACK = frozenset({
    "justarchinet-archisteamfarm-3029", "sonarr-sonarr-7240", "stevencohn-onemore-2363", "matrix-org-synapse-9455",
    "archivebox-archivebox-139", "lidarr-lidarr-260", "luckperms-luckperms-252", "essentialsx-essentials-1229",
    "npgsql-npgsql-2406", "booksaw-betterteams-412", "utarwyn-endercontainers-23", "fbegyn-tc_exporter-13",
    "fonttools-fontbakery-1323", "tendermint-tendermint-5540", "int128-argocd-commenter-613",
    "django-commons-django-tasks-scheduler-62", "flexget-flexget-1650", "datadog-dd-trace-dotnet-376",
    "zemke-tippspiel2-23", "ory-kratos-1794", "nminaya-grammar-nazi-bot-63", "hangoutsbot-hangoutsbot-663",
})  # fmt: skip
# Misses with the fixed file on the list whose class is another: two inlined Go frames' callers and one
# version skew ("other"); the rest are fixes whose function is off the stack ("onlist").
OTHER_CLASS = frozenset({"grafana-loki-249", "leukipp-cortile-25", "baomidou-mybatis-plus-3464"})
# Forms of a reference to an issue or pull request number in a commit message: a squash merge's
# "(#N)", a merge commit's "pull request #N", and "fixes/closes/resolves #N".
_REF = re.compile(
    r"(?:\(#(\d+)\)|pull request #(\d+)|(?:fix|fixe[sd]|close[sd]?|resolve[sd]?)\s+#(\d+))", re.IGNORECASE
)
COLUMNS = ("case", "ecosystem", "group", "repo", "issue_number", "fix_commit", "parent_commit", "parent_present",
           "fix_author_date", "issue_date_bound", "bound_commit", "reference_date", "reference_source", "rank",
           "path", "line", "fixed", "last_before_ref", "last_before_ref_date", "age_days", "commits_30d",
           "commits_90d", "commits_365d", "last_before_parent", "last_before_parent_date", "blame_commit",
           "blame_date", "commit_dates", "note")  # fmt: skip


@dataclass(frozen=True)
class Mirror:
    """One fetched bare repository."""

    git_dir: Path

    def run(self, *args: str, timeout: float = 120.0) -> str | None:
        """`git <args>` in the mirror; None when git fails or times out."""
        try:
            done = subprocess.run(["git", "--git-dir", str(self.git_dir), *args], capture_output=True,
                                  timeout=timeout, check=False)  # fmt: skip
        except subprocess.TimeoutExpired:
            return None
        return done.stdout.decode(errors="replace") if done.returncode == 0 else None

    def has_commit(self, sha: str) -> bool:
        """The snapshot holds this commit."""
        return self.run("cat-file", "-e", f"{sha}^{{commit}}") is not None


def mirror_for(repo: str) -> Mirror | None:
    """The fetched mirror of `owner/name` (case-insensitive), or None when it was not fetched."""
    wanted = repo.replace("/", "+").lower()
    for folder in MIRRORS.iterdir() if MIRRORS.is_dir() else ():
        if folder.name.lower() == wanted:
            for git_dir in (folder / "repo", folder / "repo" / ".git"):
                if (git_dir / "HEAD").is_file():
                    return Mirror(git_dir)
    return None


def iso(ts: int | None) -> str:
    """A Unix time as an ISO date-time (UTC); empty for none."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if ts is not None else ""


def issue_number(case: Case) -> int | None:
    """The number of the issue or pull request holding the trace, when it is in the case's repository."""
    url = str(case.data.get("issue_url", ""))
    match = re.search(r"github\.com/([^/]+/[^/]+)/(?:issues|pull)/(\d+)", url)
    if not match or match.group(1).lower() != str(case.data["repo"]).lower():
        return None
    return int(match.group(2))


def issue_date_bound(mirror: Mirror, number: int) -> tuple[int | None, str]:
    """An upper bound on when issue `number` was opened: the earliest commit (committer date) whose
    subject refers to a higher number of the same repository, as a number is given out only after
    every lower one. Subjects only, and numbers at most twice as high: bodies and far numbers carry
    other projects' references and typos. Returns the bound and that commit."""
    log = mirror.run("log", "--all", "--format=%H%x00%ct%x00%s%x1e", timeout=300.0)
    best: tuple[int | None, str] = (None, "")
    for record in (log or "").split("\x1e"):
        parts = record.strip("\n").split("\x00")
        if len(parts) != 3:
            continue
        sha, ts, body = parts[0], int(parts[1]), parts[2]
        refs = [int(n) for groups in _REF.findall(body) for n in groups if n]
        if any(number < n <= 2 * number + 100 for n in refs) and (best[0] is None or ts < best[0]):
            best = (ts, sha)
    return best


def file_facts(mirror: Mirror, parent: str, ref: int, upto: int, path: str, line: int | None) -> dict[str, str]:
    """History facts of one candidate file along the parent's history: as of `ref` (the issue's date as
    estimated, Unix time), and every commit date up to `upto` (the fix) within two years, so another
    reference date can be evaluated without the mirror."""
    facts: dict[str, str] = {}
    dates = mirror.run("log", "--format=%H %ct", parent, "--", path)
    commits = [(sha, int(ts)) for sha, ts in (row.split() for row in (dates or "").splitlines())]
    before = [(sha, ts) for sha, ts in commits if ts <= ref]
    if before:
        facts["last_before_ref"], last = before[0]
        facts["last_before_ref_date"] = iso(last)
        facts["age_days"] = f"{(ref - last) / DAY:.1f}"
    for days in (30, 90, 365):
        facts[f"commits_{days}d"] = str(sum(1 for _, ts in before if ref - ts <= days * DAY))
    if commits:
        facts["last_before_parent"], facts["last_before_parent_date"] = commits[0][0], iso(commits[0][1])
    recent = [ts for _, ts in commits if upto - HISTORY_DAYS * DAY <= ts <= upto]
    older = [ts for _, ts in commits if ts < upto - HISTORY_DAYS * DAY][:1]  # the last change before the window
    facts["commit_dates"] = ",".join(iso(ts)[:10] for ts in (recent + older)[:MAX_DATES])
    if line:
        blame = mirror.run("blame", "--porcelain", "-L", f"{line},{line}", parent, "--", path)
        if blame:
            sha = blame.split()[0]
            stamp = re.search(r"^committer-time (\d+)$", blame, re.MULTILINE)
            facts["blame_commit"], facts["blame_date"] = sha, iso(int(stamp.group(1))) if stamp else ""
        else:
            facts["note"] = "line not blamed at parent (past the end, or the file is absent there)"
    elif not commits:
        facts["note"] = "no commit touches the path in the parent's history"
    return facts


def select(outcomes: list[Outcome], sample: int, seed: int) -> list[tuple[Outcome, str]]:
    """The misses with a fixed file on the list (up-stack or other), then the right cases whose first three
    candidates name two files or more: all of them, or a seeded sample of `sample` when it is positive."""
    onlist = [o for o in outcomes if not o.file_top1 and not o.case.expect_no_location
              and o.case.truth_files.intersection(o.ranked)]  # fmt: skip
    eligible = sorted((o for o in outcomes if o.file_top1 and not o.case.expect_no_location
                       and len(set(o.ranked[:3])) >= 2), key=lambda o: o.case.id)  # fmt: skip
    if 0 < sample < len(eligible):
        eligible = random.Random(seed).sample(eligible, sample)  # noqa: S311 - a reproducible draw
    misses = [(o, "upstack" if o.case.id in UPSTACK else "other" if o.case.id in OTHER_CLASS else "onlist")
              for o in onlist]  # fmt: skip
    return misses + [(o, "right") for o in sorted(eligible, key=lambda o: o.case.id)]


def rows_for(outcome: Outcome, group: str) -> list[dict[str, str]]:
    """The TSV rows of one case: one per file of the first five the ranked candidates name."""
    case = outcome.case
    base = {"case": case.id, "ecosystem": case.ecosystem, "group": group, "repo": str(case.data["repo"]),
            "fix_commit": str(case.data.get("fix_commit", "")),
            "parent_commit": str(case.data.get("parent_commit", ""))}  # fmt: skip
    number = issue_number(case)
    base["issue_number"] = str(number or "")
    mirror = mirror_for(base["repo"])
    firsts: dict[str, CodeLocation] = {}
    for location in outcome.finding.evidence_chain if outcome.finding else ():
        firsts.setdefault(location.path, location)  # a file's rank is its first candidate's
    top = list(firsts.values())[:TOP]
    cands = [{"rank": str(i + 1), "path": c.path, "line": str(c.line or ""),
              "fixed": "1" if c.path in case.truth_files else "0"} for i, c in enumerate(top)]  # fmt: skip
    if mirror is None or not mirror.has_commit(base["parent_commit"]):
        base["parent_present"] = "0"
        note = "mirror not fetched" if mirror is None else "parent commit missing from the snapshot"
        return [{**base, **c, "note": note} for c in cands]
    base["parent_present"] = "1"
    parent_ts = int((mirror.run("log", "-1", "--format=%ct", base["parent_commit"]) or "0").strip())
    fix_ts = parent_ts
    if mirror.has_commit(base["fix_commit"]):
        fix_ts = int((mirror.run("log", "-1", "--format=%at", base["fix_commit"]) or "0").strip() or parent_ts)
        base["fix_author_date"] = iso(fix_ts)
    bound, bound_sha = issue_date_bound(mirror, number) if number else (None, "")
    base["issue_date_bound"], base["bound_commit"] = iso(bound), bound_sha
    ref, source = min((fix_ts, "fix"), (parent_ts, "parent"))
    if bound is not None and bound < ref:
        # An older bound than this most likely comes from history the repository inherited (a fork)
        # or ported (numbers of a sibling project), not from its own numbering.
        plausible = ref - bound <= MAX_BOUND_GAP_DAYS * DAY
        aside = f"{source} (bound {int((ref - bound) / DAY)} d earlier set aside)"
        ref, source = (bound, "bound") if plausible else (ref, aside)
    base["reference_date"], base["reference_source"] = iso(ref), source
    return [{**base, **c, **file_facts(mirror, base["parent_commit"], ref, max(fix_ts, parent_ts), c["path"],
                                       int(c["line"] or 0) or None)} for c in cands]  # fmt: skip


def main(argv: list[str]) -> int:
    """Run the engine over the corpus, select the cases, and write one TSV row per candidate."""
    parser = argparse.ArgumentParser(prog="scripts.history_recency")
    parser.add_argument("--sample", type=int, default=0, help="right cases drawn (0: every one)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--list", action="store_true", help="only print the selected cases and their repositories")
    args = parser.parse_args(argv)
    cases = load_cases()
    with tempfile.TemporaryDirectory() as fallback, scratch(Path(fallback)) as work:
        outcomes = run_corpus(cases, work)
    chosen = select(outcomes, args.sample, args.seed)
    if args.list:
        for outcome, group in chosen:
            sys.stdout.write(f"{group}\t{outcome.case.id}\t{outcome.case.data['repo']}\n")
        return 0
    rows = [row for outcome, group in chosen for row in rows_for(outcome, group)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    lines = ["\t".join(COLUMNS)] + ["\t".join(row.get(c, "") for c in COLUMNS) for row in rows]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    sys.stdout.write(f"{len(chosen)} cases, {len(rows)} rows → {args.out}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
