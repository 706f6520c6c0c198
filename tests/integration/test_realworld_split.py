"""The real-world corpus shipped the way many clusters ship logs: one Loki entry per line (no multiline
stage), polled with the default line filter, so only the lines that say `error`, `exception`, `panic`…
come back, and the frames must be read around them (`rejoining.py`). Every fourth case, through the real
`plan` + `investigate`; before rejoining, 4 % of the whole corpus got the fixed file (80 % now, 88 % whole)."""

from __future__ import annotations

import pytest

from tests.support.corpus import Outcome, by_ecosystem, load_cases, run_corpus, scratch, summary, table

pytestmark = pytest.mark.timeout(600)

CASES = load_cases()[::4]
# measured: 63 of 87 cases name a fixed file first (whole traces: 73 of 87); one case's worth below. Some plan no
# incident: their trace follows the WARN/INFO record it was logged with, and so is no error (whole, the corpus
# pushes each with `level="error"`). Held-out set 13's 25 cases joined the corpus and moved which cases are every
# fourth: the sample of 320 (68 of 80 split, 71 of 80 whole) is gone; main's engine scores the new sample the same
# 63 of 87, so the lower floor is the sample's, not a regression. Ten of its cases located whole are lost split
# (jackett-7444, ebpf_exporter-479, arrgo-46, seata-3677, slack-plugin-8, openhab-core-3192, traccar-4173,
# homebridge-weather-plus-256, celery-1702, synapse-5789).
FLOOR = 0.712


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> list[Outcome]:
    with scratch(tmp_path_factory.mktemp("split")) as work:
        return run_corpus(CASES, work, split=True)


def test_split_traces_are_located_nearly_as_well_as_whole_ones(outcomes: list[Outcome]) -> None:
    overall = by_ecosystem(outcomes)["all"]
    assert overall.file_top1 >= FLOOR, f"\n{summary(by_ecosystem(outcomes))}\n\n{table(outcomes)}"

