"""Investigation runs several incidents at once: results keep the plan's order, and the LLM token
budget of the run stays exact however the incidents interleave (reserve, then settle)."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from error_autopilot import app, pipeline
from error_autopilot.config.settings import Settings
from error_autopilot.demo.scenario import build_repos
from error_autopilot.domain.findings import Finding
from error_autopilot.domain.incidents import Incident, Plan, PlannedIncident
from tests.support.fakes.anthropic import FakeAnthropic, Reply, text

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _plan(n: int, service: str = "billing-service", version: str | None = None) -> Plan:
    incidents = tuple(
        PlannedIncident(incident=Incident(
            fingerprint=f"{i:016x}", service=service, environment="prod", title=f"InvoiceError{i}: boom", count=1,
            first_seen=NOW, last_seen=NOW, versions=(version,) if version else (),
        ), status="new")
        for i in range(n)
    )  # fmt: skip
    return Plan(run_id="r1", created_at=NOW, windows=(), incidents=incidents)


def test_pooled_results_keep_the_plan_order_and_overlap() -> None:
    plan = _plan(8)
    running, peak, lock = [0], [0], threading.Lock()

    def slow(planned: PlannedIncident) -> Finding:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05 * (8 - int(planned.incident.fingerprint, 16)))  # the first incident finishes last
        with lock:
            running[0] -= 1
        fp = planned.incident.fingerprint
        return Finding(fingerprint=fp, symptom_service="billing-service", culprit_service="billing-service")

    done = pipeline.investigate(plan, slow, workers=4)
    assert [f.fingerprint for f in done.findings] == [p.incident.fingerprint for p in plan.incidents]
    assert done.deferred == [] and peak[0] == 4


def _answer(body: dict[str, Any]) -> Reply:
    time.sleep(0.2)  # long enough for every worker to be inside its analysis at once
    answer = {"root_cause": "invoice_total reads a key the payload may lack", "citations": [], "confidence": 0.5,
              "fix_kind": "none", "patch": None}  # fmt: skip
    return text(f"```json\n{json.dumps(answer)}\n```", input_tokens=150, output_tokens=50)  # one turn: no tools


@pytest.mark.parametrize("workers", [1, 4])
def test_token_budget_of_the_run_is_never_overspent(tmp_path: Path, workers: int) -> None:
    repo = build_repos(tmp_path / "repos", int(time.time()))["billing-service"]
    config = tmp_path / "map.json"
    config.write_text(json.dumps({
        "environments": {"prod": {"loki": {"url": "http://127.0.0.1:9", "selector": '{env="prod"}'}}},
        "services": {"billing-service": {"repo": str(repo.remote), "packages": ["billing"]}},
        "policy": {"budget": {"tokens_per_incident": 400, "tokens_per_run": 1000, "turns_per_incident": 1}},
    }))  # fmt: skip
    with FakeAnthropic() as fake:
        fake.script(*[_answer] * 8)
        settings = Settings(config=config, work_dir=tmp_path / "work", anthropic_api_key="test",  # type: ignore[arg-type]
                            anthropic_base_url=fake.url, anthropic_model="claude-test",
                            investigate_workers=workers)  # fmt: skip
        ctx = app.load_context(settings)
        done = pipeline.investigate(_plan(8, version=repo.head), app.investigator(ctx), workers=workers)
        calls = len(fake.bodies)
    spent = sum(f.tokens_used for f in done.findings)
    analysed = [f for f in done.findings if f.tokens_used]
    skipped = [f for f in done.findings if any("budget is used up" in t for t in f.truncated)]
    assert spent <= 1000, f"{spent} tokens spent with a run budget of 1000"
    assert len(analysed) == calls >= 3 and all(f.tokens_used == 200 for f in analysed)
    assert len(analysed) + len(skipped) == 8
    assert fake.violations == []
