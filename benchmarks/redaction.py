"""Redaction recall and look-alikes kept, over every output built from a log line.

Each corpus line (tests/fixtures/secrets: the generated corpus and the hand-written one) goes
through parse_entry and grouping like a polled line, then into what leaves the runner: the plan
entry (plan.json), the pending payload state keeps, the rendered issue (title and body). A secret
counts as caught only when neither it nor any 12-character piece of its random part is in any of
them; a look-alike counts as kept when it is still in the plan's sample line (or, for a line that
is not an error, in the line as parsing redacts it).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from error_autopilot.config.service_map import ServiceMap
from error_autopilot.domain.events import LogEntry
from error_autopilot.domain.incidents import PlannedIncident
from error_autopilot.incidents.events import parse_entry
from error_autopilot.incidents.group import IncidentGrouper
from error_autopilot.redaction import Redactor
from error_autopilot.sinks.render import render_issue
from error_autopilot.state.bounded import storable

CORPORA = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "secrets"
SMAP = ServiceMap.model_validate(
    {
        "environments": {"prod": {"loki": {"url": "http://loki", "selector": '{env="prod"}'}}},
        "services": {"orders": {"repo": "acme/orders", "packages": ["com.acme"]}},
    }
)


def _outputs(line: str) -> tuple[str, str]:
    """(everything that leaves the runner, the sample line in the plan) for one log line."""
    event = parse_entry(LogEntry(ts_ns=1, line=line, labels={"service_name": "orders"}), "prod", SMAP)
    if event is None:  # not an error line, so never stored: judged on the redaction parsing applies
        redacted = Redactor().redact(line)
        return redacted, redacted
    grouper = IncidentGrouper()
    grouper.add(event)
    incident = grouper.incidents()[0]
    planned = PlannedIncident(incident=incident, status="new")
    issue = render_issue(planned, None, grafana=None, loki_selector=None, redactor=Redactor(), tool_version="bench")
    texts = [planned.model_dump_json(), storable(incident).model_dump_json(), issue.title, issue.body]
    return "\n".join(texts), incident.sample[0].text if incident.sample else ""


def _pieces(value: str, size: int = 12) -> set[str]:
    return {value[i : i + size] for i in range(max(1, len(value) - size + 1))}


def _score(corpus: dict[str, Any]) -> dict[str, Any]:
    positives, negatives = corpus["positives"], corpus["negatives"]
    missed = []
    for p in positives:
        out, _ = _outputs(p["line"])
        if any(n in out for n in {p["secret"], *_pieces(p.get("random", p["secret"]))}):
            missed.append(f"{p['provider']} {p['pattern']}")
    lost = [n["kind"] for n in negatives if n["value"] not in _outputs(n["line"])[1]]
    formats = {(p["provider"], p["pattern"]) for p in positives}
    return {
        "secrets": len(positives), "formats": len(formats), "look_alikes": len(negatives),
        "recall": 1 - len(missed) / len(positives), "look_alikes_kept": 1 - len(lost) / len(negatives),
        "false_positive_rate": len(lost) / len(negatives), "missed": missed, "lost": lost,
    }  # fmt: skip


def run() -> dict[str, Any]:
    """Recall and false positives per corpus, and what redaction costs per line."""
    figures: dict[str, Any] = {}
    for name in ("generated.json", "corpus.json"):
        figures[name.removesuffix(".json")] = _score(json.loads((CORPORA / name).read_text(encoding="utf-8")))
    lines = [p["line"] for p in json.loads((CORPORA / "generated.json").read_text(encoding="utf-8"))["positives"]]
    redactor = Redactor()
    started = time.perf_counter()
    for line in lines * 10:
        redactor.redact(line)
    figures["redact_us_per_line"] = (time.perf_counter() - started) / (len(lines) * 10) * 1e6
    return figures
