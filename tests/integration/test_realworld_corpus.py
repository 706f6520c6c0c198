"""Issue 11: on real tracebacks pasted into public GitHub issues (fixes known), the primary location
names a file and a function the fix changed. Runs the real `plan` + `investigate` stages over every
case in `tests/fixtures/realworld/`; see `tests/support/corpus.py` for how a case becomes a repo,
a Loki line and a service."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.corpus import Outcome, by_ecosystem, load_cases, run_corpus, scratch, summary, table

CASES = load_cases()
FILE_TOP1, FUNCTION_TOP1, FILE_TOP3 = 0.90, 0.75, 0.95


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> list[Outcome]:
    with scratch(tmp_path_factory.mktemp("corpus")) as work:
        return run_corpus(CASES, work)


def test_the_corpus_is_there() -> None:
    assert len(CASES) >= 20, f"only {len(CASES)} cases under tests/fixtures/realworld"
    assert len({c.id for c in CASES}) == len(CASES)


def test_every_case_yields_a_location_or_says_why_not(outcomes: list[Outcome]) -> None:
    silent = [o for o in outcomes if not o.answered]
    assert not silent, "no location and no reason:\n" + table(silent)
    wrong = [o for o in outcomes if o.case.expect_no_location and not o.no_location_ok]
    assert not wrong, "a location where the trace has no frame of the repository:\n" + table(wrong)


def test_primary_location_beats_the_targets(outcomes: list[Outcome]) -> None:
    overall = by_ecosystem(outcomes)["all"]
    report = f"\n{summary(by_ecosystem(outcomes))}\n\n{table(outcomes)}"
    assert overall.file_top1 >= FILE_TOP1, report
    assert overall.function_top1 >= FUNCTION_TOP1, report
    assert overall.file_top3 >= FILE_TOP3, report


def test_ranking_is_never_worse_than_the_innermost_own_frame(outcomes: list[Outcome]) -> None:
    overall = by_ecosystem(outcomes)["all"]
    assert overall.file_top1 >= overall.baseline_file_top1, f"\n{summary(by_ecosystem(outcomes))}\n\n{table(outcomes)}"


def test_findings_explain_every_candidate(outcomes: list[Outcome]) -> None:
    for o in outcomes:
        if o.finding is None or o.finding.primary_location is None:
            continue
        assert o.finding.evidence_chain[0] == o.finding.primary_location
        assert all(loc.reason for loc in o.finding.evidence_chain), o.case.id
        assert o.finding.frame_notes, o.case.id


def test_work_stays_out_of_the_fixtures(tmp_path: Path) -> None:
    before = sorted(p.name for p in (Path(__file__).parent.parent / "fixtures" / "realworld").glob("*/*"))
    assert before == sorted(c.folder.name for c in CASES)
