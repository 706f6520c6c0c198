"""LLM tokens per incident: the tool-using agent against a baseline prompt that pastes all evidence
(every sample line, the whole repository) in one go — both on the demo's user-service incident.

The fake Messages API counts input tokens as request bytes / 4 (the usual rule of thumb), so both
sides are measured with the same ruler in the same run."""

from __future__ import annotations

import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anthropic
from tests.support.fakes.anthropic import FakeAnthropic, Reply

from error_autopilot.demo.scenario import build_repos
from error_autopilot.domain.findings import CodeLocation, Finding
from error_autopilot.domain.incidents import Incident, PlannedIncident, SampleLine
from error_autopilot.incidents.stacktrace import parse_stacktrace
from error_autopilot.investigation.agent import ClaudeAnalyst
from error_autopilot.investigation.prompt import SYSTEM_PROMPT
from error_autopilot.investigation.sanitize import Redactor
from error_autopilot.ports import Budget, CheckedOut

STACK = (
    "java.lang.NullPointerException\n"
    "\tat com.acme.user.UserService.displayName(UserService.kt:12)\n"
    "\tat com.acme.user.UserController.get(UserController.kt:13)"
)
PATH = "src/main/kotlin/com/acme/user/UserService.kt"


def _measured(reply: Reply) -> Any:
    def answer(body: dict[str, Any]) -> Reply:
        reply.usage = {"input_tokens": len(json.dumps(body)) // 4, "output_tokens": len(json.dumps(reply.content)) // 4}
        return reply

    return answer


def _incident() -> PlannedIncident:
    now = datetime.now(UTC)
    samples = tuple(
        SampleLine(line_id=f"{i:024x}", ts_ns=i, text=f'{{"level":"ERROR","message":"GET /users/{1000 + i}"}}\n{STACK}')
        for i in range(5)
    )
    incident = Incident(
        fingerprint="0123456789abcdef", service="user-service", environment="prod", environments=("prod",),
        exception_type="java.lang.NullPointerException", title="NullPointerException in user-service", count=41,
        first_seen=now, last_seen=now, sample=samples,
        stack=parse_stacktrace(STACK, packages=["com.acme.user"]),
    )  # fmt: skip
    return PlannedIncident(incident=incident, status="new")


def run() -> dict[str, float]:
    """Agent tokens vs paste-everything tokens for one incident."""
    with tempfile.TemporaryDirectory() as tmp, FakeAnthropic() as fake:
        repo = build_repos(Path(tmp), int(time.time()))["user-service"]
        root = Path(tmp) / "work" / "user-service"
        planned = _incident()
        finding = Finding(
            fingerprint=planned.incident.fingerprint, symptom_service="user-service", culprit_service="user-service",
            deployed_commit=repo.head,
            primary_location=CodeLocation(repo="user-service", commit=repo.head, path=PATH, line=12),
        )  # fmt: skip
        answer = {
            "root_cause": "displayName dereferences nickname with !! although the column is nullable",
            "citations": [f"{PATH}:12", f"log:{planned.incident.sample[0].line_id}"],
            "confidence": 0.9, "fix_kind": "null-check", "patch": None,
        }  # fmt: skip
        fake.script(
            _measured(Reply([{"type": "tool_use", "name": "read_file", "input": {"path": PATH}}], "tool_use")),
            _measured(Reply([{"type": "tool_use", "name": "submit_analysis", "input": answer}], "tool_use")),
        )
        client = anthropic.Anthropic(api_key="bench", base_url=fake.url, max_retries=0)
        budget = Budget(tokens=60_000, turns=8, seconds=60)
        checkout = CheckedOut(repo="user-service", path=root, commit=repo.head, ref_source="bench")
        analysis = ClaudeAnalyst(client, model="claude-bench", redactor=Redactor()).analyse(
            planned, finding, [checkout], budget
        )
        assert analysis is not None and analysis.citations, "the scripted analysis must validate"
        files = "\n".join(f"--- {p.relative_to(root)}\n{p.read_text()}" for p in sorted(root.rglob("*"))
                          if p.is_file() and ".git" not in p.parts)  # fmt: skip
        per_line = sum(len(s.text) for s in planned.incident.sample) / len(planned.incident.sample)
        baseline = int(len(SYSTEM_PROMPT) + len(files) + per_line * planned.incident.count) // 4
        return {
            "agent_tokens": budget.spent_tokens,
            "baseline_tokens": baseline,
            "ratio_vs_paste_all": budget.spent_tokens / baseline,
            "agent_requests": len(fake.bodies),
        }
