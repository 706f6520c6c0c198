"""The real-world corpus shipped the way many clusters ship logs: one Loki entry per line (no multiline
stage), polled with the default line filter, so only the lines that say `error`, `exception`, `panic`…
come back, and the frames must be read around them (`rejoining.py`). Every eighth case, through the real
`plan` + `investigate`: a regression floor. The whole corpus shipped this way is measured by `make bench`
(`corpus_split`: 79 % of 656 cases name a fixed file first; 87 % whole); before rejoining, 4 %."""

from __future__ import annotations

import pytest

from tests.support.corpus import Outcome, by_ecosystem, load_cases, run_corpus, scratch, summary, table

pytestmark = [pytest.mark.timeout(600), pytest.mark.heavy]

CASES = load_cases()[::8]
# measured: 65 of 82 cases name a fixed file first; one case's worth below. Every fourth case until 656 cases
# (135 of 164 then, whole 146); every eighth halves this test's share of the suite's time, which the corpus runs
# dominate, and the bench measures all of it. Some plan no incident: their trace follows the WARN/INFO record it
# was logged with, and so is no error (whole, the corpus pushes each with `level="error"`). Each retired held-out
# set shifts which cases are sampled, and so the figure (every fourth: 68 of 80 on 320 cases, 68 of 87 on 348, 63
# of 87 on 345, 74 of 94 on 373, each the same on the engine before the set's rules; 80 of 101 on 403 with
# held-out 10, 75 of 100 on 399 with 14, 76 of 100 on 397 with 15,
# 83 of 114 on 453 with all three; 91 of 121 on 481 with held-out 16, the same on the engine before its rules;
# 97 of 120 on 478 with held-out 17, 96 before its rules; 103 of 127 on 506 with both and the printed-callee rule;
# 100 of 133 on 531 with held-out 18, the same on the engine before its rules: the sample's new cases are harder
# whole too, 113 of 133; 115 of 139 on 556 with held-out 18 and 19; 119 of 144 on 576 with held-out 21, the
# sample shifted again; 122 of 149 on 596 with held-out 22 or 23 alone (the same on the engine before either's
# rules), 115 of 149 with held-out 24 alone; 130 of 159 on 636 with all three; 135 of 164 on 656 with held-out 25,
# the sample shifted again).
FLOOR = 0.780


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> list[Outcome]:
    with scratch(tmp_path_factory.mktemp("split")) as work:
        return run_corpus(CASES, work, split=True)


def test_split_traces_are_located_nearly_as_well_as_whole_ones(outcomes: list[Outcome]) -> None:
    overall = by_ecosystem(outcomes)["all"]
    assert overall.file_top1 >= FLOOR, f"\n{summary(by_ecosystem(outcomes))}\n\n{table(outcomes)}"

