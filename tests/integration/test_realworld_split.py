"""The real-world corpus shipped the way many clusters ship logs: one Loki entry per line (no multiline
stage), polled with the default line filter, so only the lines that say `error`, `exception`, `panic`…
come back, and the frames must be read around them (`rejoining.py`). Every fourth case, through the real
`plan` + `investigate`; before rejoining, 4 % of the whole corpus got the fixed file (78 % now, 87 % whole)."""

from __future__ import annotations

import pytest

from tests.support.corpus import Outcome, by_ecosystem, load_cases, run_corpus, scratch, summary, table

pytestmark = [pytest.mark.timeout(600), pytest.mark.heavy]

CASES = load_cases()[::4]
# measured: 75 of 100 cases name a fixed file first (whole traces: 87 of 100); one case's worth below. Some plan no
# incident: their trace follows the WARN/INFO record it was logged with, and so is no error (whole, the corpus
# pushes each with `level="error"`). Each retired held-out set shifts which cases are every fourth, and so the
# figure (68 of 80 on 320 cases, 68 of 87 on 348, 63 of 87 on 345, 74 of 94 on 373, 75 of 100 on 399, each the
# same on the engine before the set's rules). Twelve located whole are lost split (hangfire-32, jackett-7444,
# srvsurvey-257, sheer-heart-attack-19, keepalived-exporter-35, arrgo-46, seata-3677, dropwizard-2626,
# opensearchserver-1030, homebridge-tuya-web-7, kafka-node-398, celery-1702).
FLOOR = 0.74


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> list[Outcome]:
    with scratch(tmp_path_factory.mktemp("split")) as work:
        return run_corpus(CASES, work, split=True)


def test_split_traces_are_located_nearly_as_well_as_whole_ones(outcomes: list[Outcome]) -> None:
    overall = by_ecosystem(outcomes)["all"]
    assert overall.file_top1 >= FLOOR, f"\n{summary(by_ecosystem(outcomes))}\n\n{table(outcomes)}"

