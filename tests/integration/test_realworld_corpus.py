"""Issue 11: on real tracebacks pasted into public GitHub issues (fixes known), the primary location
names a file and a function the fix changed. Runs the real `plan` + `investigate` stages over every
case in `tests/fixtures/realworld/`; see `tests/support/corpus.py` for how a case becomes a repo,
a Loki line and a service."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable

import pytest

from error_autopilot.incidents.stacktrace import parse_stacktrace
from error_autopilot.investigation.stackmap import rank
from tests.support.corpus import CORPUS, Case, Outcome, by_ecosystem, load_cases, run_corpus, scratch, summary, table
from tests.support.session import shared_once

# One fixture runs every case through plan + investigate (~40 s idle for 150 cases); on a runner shared
# with other jobs it has taken over the suite's default 120 s, which measures the machine, not the engine.
pytestmark = [pytest.mark.timeout(600), pytest.mark.heavy]

CASES = load_cases()
TARGETS = {"file_top1": 0.90, "function_top1": 0.75, "file_top3": 0.95}  # issue 11's "done when"
# What the engine reaches today (see the README and `python -m benchmarks.corpus`: 572, 509 and 618 of 656
# cases), one case's worth below the measured figures so that a new hard case does not flip the suite, a real
# regression does.
FLOORS = {"file_top1": 0.870, "function_top1": 0.774, "file_top3": 0.940}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> list[Outcome]:
    # Once per session: each xdist worker that took one of these tests ran the whole corpus again.
    with shared_once(tmp_path_factory, worker_id, "realworld-corpus") as shared:
        record = shared / "realworld-outcomes.pickle"
        if not record.exists():
            with scratch(shared) as work:
                record.write_bytes(pickle.dumps(run_corpus(CASES, work)))
        outcomes: list[Outcome] = pickle.loads(record.read_bytes())
        return outcomes


def test_the_corpus_is_there() -> None:
    assert len(CASES) >= 20, f"only {len(CASES)} cases under tests/fixtures/realworld"
    assert len({c.id for c in CASES}) == len(CASES)


def test_every_case_yields_a_location_or_says_why_not(outcomes: list[Outcome]) -> None:
    silent = [o for o in outcomes if not o.answered]
    assert not silent, "no location and no reason:\n" + table(silent)
    wrong = [o for o in outcomes if o.case.expect_no_location and not o.no_location_ok]
    assert not wrong, "a location where the trace has no frame of the repository:\n" + table(wrong)


def _report(outcomes: list[Outcome]) -> str:
    return f"\n{summary(by_ecosystem(outcomes))}\n\n{table(outcomes)}"


def test_primary_location_holds_its_floor(outcomes: list[Outcome]) -> None:
    overall = by_ecosystem(outcomes)["all"]
    for name, floor in FLOORS.items():
        assert getattr(overall, name) >= floor, f"{name} below {floor:.0%}" + _report(outcomes)


@pytest.mark.xfail(
    strict=True,
    reason="issue 11's file top-1 and top-three targets are not met on the tuning corpus (87.2 %, 572 of 656; 94.2 %, "
    "618 of 656; function 77.6 % is): the misses left are fixes off the stack or up it with no documented signal, "
    "and rules that moved the primary for them trailed the innermost own frame on traces from other repositories "
    "(tests/fixtures/realworld/README.md, 'Classes that still fail')",
)
def test_primary_location_meets_the_issue_targets(outcomes: list[Outcome]) -> None:
    overall = by_ecosystem(outcomes)["all"]
    for name, target in TARGETS.items():
        assert getattr(overall, name) >= target, f"{name} below {target:.0%}" + _report(outcomes)


def test_ranking_beats_the_innermost_own_frame(outcomes: list[Outcome]) -> None:
    overall = by_ecosystem(outcomes)["all"]
    assert overall.file_top1 >= overall.baseline_file_top1 + 0.05, _report(outcomes)


def test_findings_explain_every_candidate(outcomes: list[Outcome]) -> None:
    for o in outcomes:
        if o.finding is None or o.finding.primary_location is None:
            continue
        assert o.finding.evidence_chain[0] == o.finding.primary_location
        assert all(loc.reason for loc in o.finding.evidence_chain), o.case.id
        assert o.finding.frame_notes, o.case.id


def test_every_case_folder_is_complete_and_its_truth_is_in_its_tree() -> None:
    folders = sorted(p for p in CORPUS.glob("*/*") if p.is_dir())
    assert sorted(f.name for f in folders) == sorted(c.folder.name for c in CASES), "a case folder lacks a file"
    for case in CASES:
        assert case.truth_files <= set(case.files) or case.expect_no_location, case.id
        assert set(case.symlinks) <= set(case.files), f"{case.id}: a symbolic link not in files.txt"


SHAPES: dict[str, Callable[[str], str]] = {
    "pm2": lambda t: "\n".join("3|app  | " + line for line in t.splitlines()),
    "compose": lambda t: "\n".join("web_1  | " + line for line in t.splitlines()),
    "syslog": lambda t: "\n".join(f"May 13 15:06:{n % 60:02d} host app[7]: {x}" for n, x in enumerate(t.splitlines())),
    "cri": lambda t: "\n".join(f"2024-05-13T15:06:38.{n:03d}Z stderr F {x}" for n, x in enumerate(t.splitlines())),
    "log-line-above": lambda t: "2024-05-13 15:06:38,123 ERROR [main] app.Worker - request failed\n" + t,
    "crlf": lambda t: t.replace("\n", "\r\n"),
    "indented": lambda t: "\n".join("    " + line for line in t.splitlines()),
    "json-field": lambda t: json.dumps({"level": "error", "msg": "request failed", "details": t}),
}  # fmt: skip


Answer = tuple[str, tuple[tuple[str, str], ...]] | None  # the exception's type and the first three candidates


def _answer(case: Case, text: str) -> Answer:
    stack = parse_stacktrace(text, packages=case.packages, source_roots=case.source_roots)
    if stack is None:
        return None
    ranking = rank(stack, case.files, packages=case.packages, source_roots=case.source_roots)
    return stack.primary.type, tuple((c.path, c.function) for c in ranking.candidates[:3])


@pytest.fixture(scope="module")
def plain_answers() -> dict[str, Answer]:
    # Each shape compares against the answer for the trace as pasted: computed once, not once per shape.
    return {c.id: _answer(c, c.trace) for c in CASES}


@pytest.mark.parametrize("shape", SHAPES)
def test_the_answer_survives_how_the_line_was_shipped(shape: str, plain_answers: dict[str, Answer]) -> None:
    """The same trace behind a process manager's, a log shipper's or a container runtime's prefix, a
    log line above it, CRLF, indentation or a JSON field: the same exception and candidates."""
    changed = [c.id for c in CASES if _answer(c, SHAPES[shape](c.trace)) != plain_answers[c.id]]
    assert not changed, f"{shape} changed the answer for {changed}"
