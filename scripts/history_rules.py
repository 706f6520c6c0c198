"""Score simple git-history ranking rules on the facts `scripts.history_recency` gathered
(`tests/fixtures/realworld/history/recency.tsv`): for each rule, the misses it would put right (a fixed
file first) and the right cases it would break, at the estimated issue date and at that date moved
7 and 30 days earlier; and the plain distributions of how long before the issue each file last changed.
Reads only the TSV. Usage:

    .venv/bin/python -m scripts.history_rules [TSV]
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

TSV = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "realworld" / "history" / "recency.tsv"
MISS_GROUPS = ("upstack", "onlist", "other")


@dataclass(frozen=True)
class Candidate:
    """One candidate file of a case, with its history."""

    rank: int
    path: str
    fixed: bool
    changes: tuple[date, ...]  # commit dates touching the file, newest first
    blame: date | None  # when the candidate's line last changed at the fix's parent

    def age(self, ref: date) -> int | None:
        """Days from the file's last change on or before `ref` to `ref`; None when it has none."""
        for day in self.changes:
            if day <= ref:
                return (ref - day).days
        return None

    def count(self, ref: date, days: int) -> int:
        """Changes in the `days` days up to `ref`."""
        return sum(1 for day in self.changes if ref - timedelta(days=days) <= day <= ref)

    def blame_age(self, ref: date) -> int | None:
        """Days from the line's last change to `ref`; None when unknown or after `ref`."""
        return (ref - self.blame).days if self.blame and self.blame <= ref else None


@dataclass(frozen=True)
class Case:
    """One gathered case."""

    id: str
    group: str
    ref: date
    candidates: tuple[Candidate, ...]


Rule = Callable[[Case, date], Candidate]


def load(path: Path) -> list[Case]:
    """The cases of the TSV whose parent commit the mirror held."""
    lines = path.read_text(encoding="utf-8").splitlines()
    head = lines[0].split("\t")
    by_case: dict[str, list[dict[str, str]]] = {}
    for line in lines[1:]:
        row = dict(zip(head, line.split("\t"), strict=True))
        by_case.setdefault(row["case"], []).append(row)
    cases = []
    for rows in by_case.values():
        first = rows[0]
        if first["parent_present"] != "1":
            continue
        cands = tuple(
            Candidate(int(r["rank"]), r["path"], r["fixed"] == "1",
                      tuple(date.fromisoformat(d) for d in r["commit_dates"].split(",") if d),
                      date.fromisoformat(r["blame_date"][:10]) if r["blame_date"] else None)
            for r in rows
        )  # fmt: skip
        cases.append(Case(first["case"], first["group"], date.fromisoformat(first["reference_date"][:10]), cands))
    return cases


def promote_recent(days: int, k: int, blame: bool = False) -> Rule:
    """When the first file did not change in the `days` days before the issue, the highest-ranked of the
    first `k` that did (its line did, with `blame`)."""

    def rule(case: Case, ref: date) -> Candidate:
        def recent(c: Candidate) -> bool:
            age = c.blame_age(ref) if blame else c.age(ref)
            return age is not None and age <= days

        top = case.candidates[0]
        if recent(top):
            return top
        return next((c for c in case.candidates[1:k] if recent(c)), top)

    return rule


def most_recent(k: int) -> Rule:
    """The most recently changed file of the first `k` (rank breaks ties; never-changed files last)."""

    def rule(case: Case, ref: date) -> Candidate:
        def key(c: Candidate) -> tuple[int, int]:
            age = c.age(ref)
            return (age if age is not None else 10**6, c.rank)

        return min(case.candidates[:k], key=key)

    return rule


def most_churn(k: int, days: int) -> Rule:
    """The file of the first `k` with the most changes in the `days` days before the issue, when it has
    strictly more than the first."""

    def rule(case: Case, ref: date) -> Candidate:
        top = case.candidates[0]
        best = max(case.candidates[:k], key=lambda c: (c.count(ref, days), -c.rank))
        return best if best.count(ref, days) > top.count(ref, days) else top

    return rule


def score(cases: Sequence[Case], rule: Rule, shift: int) -> tuple[list[str], list[str]]:
    """The misses the rule puts right and the right cases it breaks, the issue date moved `shift` days earlier."""
    won, lost = [], []
    for case in cases:
        pick = rule(case, case.ref - timedelta(days=shift))
        if case.group in MISS_GROUPS and pick.fixed:
            won.append(case.id)
        elif case.group == "right" and not pick.fixed:
            lost.append(case.id)
    return won, lost


def rules() -> dict[str, Rule]:
    """Every rule scored, by name."""
    table: dict[str, Rule] = {}
    for k in (2, 3, 5):
        for days in (1, 3, 7, 14, 30, 90):
            table[f"promote changed ≤{days} d, top {k}"] = promote_recent(days, k)
    for k in (2, 3, 5):
        for days in (7, 30, 90, 365):
            table[f"promote line blamed ≤{days} d, top {k}"] = promote_recent(days, k, blame=True)
    for k in (2, 3, 5):
        table[f"most recently changed of top {k}"] = most_recent(k)
    for k in (2, 3):
        for days in (30, 90, 365):
            table[f"most changes in {days} d of top {k}"] = most_churn(k, days)
    return table


def quartiles(values: Sequence[float]) -> str:
    """Median and quartiles, or a dash."""
    if len(values) < 4:
        return "-"
    q = statistics.quantiles(values, n=4)
    return f"{q[1]:.0f} ({q[0]:.0f}–{q[2]:.0f})"


def distributions(cases: Sequence[Case]) -> str:
    """Age of the fixed file's last change before the issue against the other candidates', per group."""
    out = ["| group | files | median age, days (quartiles) | changed ≤ 7 d | ≤ 30 d | ≤ 365 d | never before |",
           "| --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for label, groups in (("misses", MISS_GROUPS), ("right", ("right",))):
        for fixed in (True, False):
            ages = [c.age(case.ref) for case in cases if case.group in groups for c in case.candidates
                    if c.fixed == fixed]  # fmt: skip
            known = [a for a in ages if a is not None]
            n = len(ages)

            def share(limit: int, known: list[int] = known, n: int = n) -> str:
                return f"{sum(1 for a in known if a <= limit)} ({100 * sum(1 for a in known if a <= limit) / n:.0f} %)"

            name = f"{label}: {'fixed file' if fixed else 'other candidates'}"
            out.append(f"| {name} | {n} | {quartiles(known)} | {share(7)} | {share(30)} | {share(365)} | "
                       f"{n - len(known)} |")  # fmt: skip
    return "\n".join(out)


def first_is_most_recent(cases: Sequence[Case]) -> str:
    """How often the fixed file is strictly the most recently changed of the first k, per group."""
    out = []
    for label, groups in (("misses", MISS_GROUPS), ("right", ("right",))):
        for k in (2, 3):
            pool = [c for c in cases if c.group in groups and len(c.candidates) >= 2]
            hits = 0
            for case in pool:
                ages = [(c.age(case.ref), c.fixed) for c in case.candidates[:k]]
                known = [(a, f) for a, f in ages if a is not None]
                if known:
                    youngest = min(a for a, _ in known)
                    winners = [f for a, f in known if a == youngest]
                    hits += len(winners) == 1 and winners[0]
            out.append(f"{label}, top {k}: the fixed file alone is the most recently changed in {hits} of {len(pool)}")
    return "\n".join(out)


def main(argv: list[str]) -> int:
    """Print the rule table and the distributions."""
    cases = load(Path(argv[0]) if argv else TSV)
    groups = {g: sum(1 for c in cases if c.group == g) for g in ("upstack", "onlist", "other", "right")}
    sys.stdout.write(f"cases with history: {groups}\n\n")
    sys.stdout.write("| rule | won of up-stack | won of other misses | lost of right | net | net, issue −7 d | "
                     "net, issue −30 d |\n| --- | --- | --- | --- | --- | --- | --- |\n")  # fmt: skip
    for name, rule in rules().items():
        won, lost = score(cases, rule, 0)
        up = sum(1 for c in cases if c.id in won and c.group == "upstack")
        nets = [len(w) - len(lost_) for w, lost_ in (score(cases, rule, s) for s in (7, 30))]
        sys.stdout.write(f"| {name} | {up} | {len(won) - up} | {len(lost)} | {len(won) - len(lost):+d} | "
                         f"{nets[0]:+d} | {nets[1]:+d} |\n")  # fmt: skip
    sys.stdout.write("\n" + distributions(cases) + "\n\n" + first_is_most_recent(cases) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
