"""The investigator's answer: its schema (the submit_analysis tool) and its validation into AgentAnalysis.

The model may say anything; only what it can back with evidence survives. A citation counts when
it names a log line id or span id of this incident, or an existing line of a file in a checkout
(`path:line` at the deployed commit). Claims without a valid citation are dropped; an analysis
with no valid citation at all gets confidence 0 and the note "unsure".
"""

from __future__ import annotations

import re
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from error_autopilot.domain.findings import AgentAnalysis
from error_autopilot.investigation.sanitize import Redactor, sanitize
from error_autopilot.investigation.tools import Evidence, ToolBox

FixKind = Literal["null-check", "validation", "typo", "config", "other", "none"]
_LOCATION = re.compile(r"^(?P<path>[^\s:]+):(?P<line>\d{1,7})(?:-\d{1,7})?$")
MAX_CITATIONS = 30


class Claim(BaseModel):
    """A supporting statement and the evidence behind it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = Field(min_length=1, max_length=2000)
    citations: list[str] = Field(default_factory=list, max_length=MAX_CITATIONS)


class AnalysisAnswer(BaseModel):
    """What the model must submit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    root_cause: str = Field(min_length=1, max_length=4000)
    citations: list[str] = Field(max_length=MAX_CITATIONS)
    claims: list[Claim] = Field(default_factory=list, max_length=20)
    confidence: float = Field(ge=0, le=1)
    fix_kind: FixKind
    patch: str | None = Field(None, max_length=200_000)


_CITATIONS_SCHEMA = {
    "type": "array", "maxItems": MAX_CITATIONS, "items": {"type": "string"},
    "description": "Evidence: log:<line_id>, span:<span_id>, or path/to/file.ext:<line> in a checked-out repository",
}  # fmt: skip

SUBMIT_TOOL: dict[str, Any] = {
    "name": "submit_analysis",
    "description": (
        "Submit your final analysis. Every statement must cite evidence you have seen: log:<line_id>, "
        "span:<span_id> or <path>:<line> of a file in the repository. Uncited claims are discarded; an "
        "analysis without a valid citation is marked unsure. Propose a patch only for a small, obvious fix."
    ),
    "input_schema": {
        "type": "object",
        "properties": {
            "root_cause": {"type": "string", "description": "The root cause in a few sentences"},
            "citations": _CITATIONS_SCHEMA,
            "claims": {
                "type": "array",
                "maxItems": 20,
                "description": "Supporting statements, each with its citations",
                "items": {
                    "type": "object",
                    "properties": {"text": {"type": "string"}, "citations": _CITATIONS_SCHEMA},
                    "required": ["text", "citations"],
                    "additionalProperties": False,
                },
            },
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "fix_kind": {"type": "string", "enum": list(get_args(FixKind))},
            "patch": {"type": ["string", "null"], "description": "Unified diff (git format, a/ b/ paths) or null"},
        },
        "required": ["root_cause", "citations", "confidence", "fix_kind"],
        "additionalProperties": False,
    },
}


def valid_citation(citation: str, toolbox: ToolBox, evidence: Evidence) -> str | None:
    """The normalised citation when it names real evidence, else None (the model cannot invent any)."""
    c = citation.strip()
    kind, _, ident = c.partition(":")
    if (kind in ("log", "line") and ident in evidence.line_ids) or c in evidence.line_ids:
        return f"log:{ident if kind in ('log', 'line') else c}"
    if (kind == "span" and ident.lower() in evidence.span_ids) or c.lower() in evidence.span_ids:
        return f"span:{ident.lower() if kind == 'span' else c.lower()}"
    match = _LOCATION.match(c)
    if match:
        return toolbox.existing_line(match.group("path"), int(match.group("line")))
    return None


def _valid(citations: list[str], toolbox: ToolBox, evidence: Evidence) -> list[str]:
    out = [v for v in (valid_citation(c, toolbox, evidence) for c in citations) if v]
    return list(dict.fromkeys(out))


def to_analysis(
    answer: AnalysisAnswer, toolbox: ToolBox, evidence: Evidence, redactor: Redactor, tokens_used: int
) -> AgentAnalysis:
    """Keep what the evidence supports; the text is sanitized because it will be published."""
    root_citations = _valid(answer.citations, toolbox, evidence)
    kept: list[tuple[str, list[str]]] = []
    for claim in answer.claims:
        cited = _valid(claim.citations, toolbox, evidence)
        if cited:
            kept.append((sanitize(claim.text, redactor), cited))
    dropped = len(answer.claims) - len(kept)
    citations = list(dict.fromkeys([*root_citations, *(c for _, cs in kept for c in cs)]))
    notes = []
    invalid = len(answer.citations) - len(root_citations)
    if invalid > 0:
        notes.append(f"{invalid} citation(s) ignored: not found in the evidence or the checkout")
    if dropped:
        notes.append(f"{dropped} claim(s) dropped for lack of a valid citation")
    confidence = answer.confidence
    if not citations:
        confidence = 0.0
        notes.insert(0, "unsure: no citation could be verified")
    root_cause = sanitize(answer.root_cause, redactor)
    if kept:
        root_cause += "\n\n" + "\n".join(f"- {text} ({', '.join(cs)})" for text, cs in kept)
    patch = answer.patch if answer.fix_kind != "none" and answer.patch and answer.patch.strip() else None
    if patch and redactor.findings(patch):
        notes.append(f"patch discarded: it contains secret-like text ({', '.join(redactor.findings(patch))})")
        patch = None
    return AgentAnalysis(
        root_cause=root_cause, citations=tuple(citations), confidence=confidence, fix_kind=answer.fix_kind,
        patch=patch, tokens_used=tokens_used, dropped_claims=dropped, note="; ".join(notes),
    )  # fmt: skip
