"""The Claude investigator: a bounded tool-use loop that refines the deterministic finding.

Safety is in code, not in the prompt: logs and traces are sanitized (cleaned + redacted) and fenced
as untrusted data; the tools are read-only and confined (tools.py); the answer is validated —
citations must name a real log line, span or existing file line, or they are dropped — and the
patch is checked and judged later by patchcheck.py and decisions/policy.py. The loop stops at the
turn, token and wall-time budget; on its last turn tools are withheld (`tool_choice: none`).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import anthropic
from pydantic import ValidationError

from error_autopilot.domain.errors import AnalystError
from error_autopilot.domain.findings import AgentAnalysis, Finding
from error_autopilot.domain.incidents import PlannedIncident, SampleLine
from error_autopilot.investigation.answer import SUBMIT_TOOL, AnalysisAnswer, to_analysis
from error_autopilot.investigation.prompt import SYSTEM_PROMPT, fence, incident_prompt
from error_autopilot.investigation.sanitize import Redactor, sanitize
from error_autopilot.investigation.tools import Evidence, ToolBox
from error_autopilot.ports import Budget, CheckedOut
from error_autopilot.resilience import Breaker

log = logging.getLogger(__name__)

MAX_OUTPUT_TOKENS = 4096
MAX_SAMPLES = 20
SAMPLE_CHARS = 2000
_JSON_BLOCK = re.compile(r"```(?:json)?\s*(\{[\s\S]*?\})\s*```")
_CACHE = {"type": "ephemeral"}


def build_evidence(planned: PlannedIncident, finding: Finding, redactor: Redactor) -> Evidence:
    """The incident's log samples and trace summary, sanitized once for prompts and tools alike."""
    samples = tuple(
        SampleLine(
            line_id=s.line_id, ts_ns=s.ts_ns, text=sanitize(s.text, redactor)[:SAMPLE_CHARS], trace_id=s.trace_id
        )
        for s in planned.incident.sample[:MAX_SAMPLES]
    )
    trace = finding.trace
    if trace is not None:
        fields = ("culprit_operation", "culprit_status_message", "exception_type", "exception_message")
        trace = trace.model_copy(
            update={f: sanitize(v, redactor)[:SAMPLE_CHARS] for f in fields if (v := getattr(trace, f))}
            | {"path_edges": tuple(tuple(sanitize(x, redactor) for x in e) for e in trace.path_edges)}
        )
    return Evidence(log_samples=samples, trace=trace)


def _tokens(usage: Any) -> int:
    return sum(int(getattr(usage, k, 0) or 0) for k in ("input_tokens", "output_tokens",
               "cache_creation_input_tokens", "cache_read_input_tokens"))  # fmt: skip


def _answer_from_text(text: str) -> AnalysisAnswer:
    """The JSON answer in a reply's text (a ```json block, else the outermost braces)."""
    match = _JSON_BLOCK.search(text)
    raw = match.group(1) if match else text[text.find("{") : text.rfind("}") + 1]
    if not raw:
        raise ValueError("no JSON object found in the reply")
    return AnalysisAnswer.model_validate(json.loads(raw))


def _problem(e: Exception) -> str:
    if isinstance(e, ValidationError):
        return "; ".join(f"{'.'.join(map(str, x['loc'])) or 'answer'}: {x['msg']}" for x in e.errors()[:10])
    return str(e)[:500]


class ClaudeAnalyst:
    """ports.Analyst over the Anthropic Messages API with read-only, confined tools."""

    def __init__(
        self,
        client: anthropic.Anthropic,
        *,
        model: str,
        redactor: Redactor,
        clock: Callable[[], float] = time.monotonic,
        breaker: Breaker | None = None,
    ) -> None:
        self._client = client
        self._breaker = breaker
        self._model = model
        self._redactor = redactor
        self._clock = clock

    def analyse(
        self, planned: PlannedIncident, finding: Finding, checkouts: Sequence[CheckedOut], budget: Budget
    ) -> AgentAnalysis | None:
        """Run the loop within `budget`; None when no valid answer came back (the notes say why).

        Raises AnalystError (with the SDK error as __cause__) when the API refuses or fails, and at once
        when an earlier incident of this run found the API unavailable."""
        if self._breaker is not None and (cause := self._breaker.skip()) is not None:
            raise AnalystError(f"Claude API skipped: unavailable earlier in this run ({cause})")
        started = self._clock()
        evidence = build_evidence(planned, finding, self._redactor)
        toolbox = ToolBox({c.repo: c.path for c in checkouts}, evidence)
        tools = [*toolbox.definitions(), SUBMIT_TOOL]
        tools[-1] = {**tools[-1], "cache_control": _CACHE}
        system = [{"type": "text", "text": SYSTEM_PROMPT, "cache_control": _CACHE}]
        first = incident_prompt(planned, finding, evidence, checkouts, self._redactor)
        messages: list[dict[str, Any]] = [{"role": "user", "content": [{"type": "text", "text": first}]}]
        used, last_turn_tokens, turn = 0, 0, 0
        while True:
            elapsed = self._clock() - started
            remaining = budget.tokens - budget.spent_tokens
            stop = self._stop_reason(turn, budget, remaining, elapsed)
            if stop:
                budget.notes.append(f"analysis stopped without an answer: {stop}")
                return None
            final = turn + 1 >= budget.turns or remaining < 2 * last_turn_tokens or elapsed > 0.75 * budget.seconds
            if final:
                messages[-1]["content"].append({"type": "text", "text": (
                    "This is your last turn: tools are no longer available. Reply now with the analysis as "
                    "one JSON object in a ```json block, with the fields of submit_analysis.")})  # fmt: skip
            response = self._call(system, tools, messages, final, remaining, budget.seconds - elapsed)
            turn += 1
            last_turn_tokens = _tokens(response.usage)
            used += last_turn_tokens
            budget.spent_tokens += last_turn_tokens
            blocks = [b.model_dump(include={"type", "text", "id", "name", "input"}) for b in response.content
                      if b.type in ("text", "tool_use")]  # fmt: skip
            messages.append({"role": "assistant", "content": blocks or [{"type": "text", "text": "(empty)"}]})
            outcome = self._handle(blocks, final, toolbox, evidence, used)
            if isinstance(outcome, AgentAnalysis):
                if final and turn < budget.turns:
                    budget.notes.append("analysis finished on its last turn: the token or time budget ran low")
                return outcome
            if final:
                budget.notes.append(
                    f"analysis gave no valid answer on its last turn: {outcome[0].get('text', '')}"[:300]
                )
                return None
            messages.append({"role": "user", "content": outcome})

    @staticmethod
    def _stop_reason(turn: int, budget: Budget, remaining: int, elapsed: float) -> str | None:
        if turn >= budget.turns:
            return f"turn budget ({budget.turns}) reached"
        if remaining <= 0:
            return f"token budget ({budget.tokens}) exhausted"
        if elapsed >= budget.seconds:
            return f"time budget ({budget.seconds:.0f}s) exhausted"
        return None

    def _call(
        self, system: list[dict[str, Any]], tools: list[dict[str, Any]], messages: list[dict[str, Any]],
        final: bool, remaining_tokens: int, seconds_left: float,
    ) -> anthropic.types.Message:  # fmt: skip
        # Tools stay defined on the last turn (the API refuses tool_use/tool_result history without them,
        # and the cached prefix survives); tool_choice none is what takes them away from the model.
        try:
            request: dict[str, Any] = {
                "model": self._model, "max_tokens": max(1, min(MAX_OUTPUT_TOKENS, remaining_tokens)),
                "system": system, "tools": tools, "messages": messages,
                "tool_choice": {"type": "none"} if final else {"type": "auto"}, "timeout": max(1.0, seconds_left),
            }  # fmt: skip
            message: anthropic.types.Message = self._client.messages.create(**request)
            return message
        except anthropic.APIStatusError as e:
            kind = e.body.get("error", {}).get("type", "error") if isinstance(e.body, dict) else "error"
            error = AnalystError(
                f"Claude API answered {e.status_code} {kind}", hint="the deterministic finding is published anyway"
            )
            if e.status_code >= 500 and self._breaker is not None:  # after the SDK's own retries
                self._breaker.trip(error.message)
            raise error from e
        except anthropic.APIError as e:
            error = AnalystError(f"Claude API unreachable: {type(e).__name__}")
            if isinstance(e, anthropic.APIConnectionError) and self._breaker is not None:
                self._breaker.trip(error.message)
            raise error from e

    def _handle(
        self, blocks: list[dict[str, Any]], final: bool, toolbox: ToolBox, evidence: Evidence, used: int
    ) -> AgentAnalysis | list[dict[str, Any]]:
        """The validated analysis, or the next user turn's content (tool results / a correction)."""
        calls = [b for b in blocks if b["type"] == "tool_use"]
        if final or not calls:
            text = "\n".join(b.get("text", "") for b in blocks if b["type"] == "text")
            try:
                return to_analysis(_answer_from_text(text), toolbox, evidence, self._redactor, used)
            except (ValueError, ValidationError) as e:
                problem = f"your reply is not a valid analysis ({_problem(e)}); call submit_analysis"
                return [{"type": "text", "text": problem}]
        results: list[dict[str, Any]] = []
        for call in calls:
            if call["name"] == SUBMIT_TOOL["name"]:
                try:
                    return to_analysis(AnalysisAnswer.model_validate(call["input"]), toolbox, evidence,
                                       self._redactor, used)  # fmt: skip
                except ValidationError as e:
                    results.append(_result(call["id"], f"invalid analysis: {_problem(e)}", True))
                continue
            result = toolbox.call(call["name"], call.get("input") or {})
            log.debug("tool %s → %s", call["name"], result.status)
            content = fence(f"tool {call['name']} ({result.status})", sanitize(result.content, self._redactor))
            results.append(_result(call["id"], content, result.status == "error"))
        return results


def _result(tool_use_id: str, content: str, is_error: bool) -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": tool_use_id, "content": content, "is_error": is_error}
