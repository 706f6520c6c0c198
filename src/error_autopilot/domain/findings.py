"""What investigation found about one incident."""

from __future__ import annotations

from typing import Literal

from error_autopilot.domain.base import Frozen

FINDING_SCHEMA_VERSION = 1

ErrorClass = Literal[
    "null-dereference", "missing-key", "validation", "type", "config",
    "timeout-network", "resource", "unknown",
]  # fmt: skip


class CodeLocation(Frozen):
    """A place in a repository at an exact commit."""

    repo: str  # owner/name or git URL
    commit: str  # full sha
    path: str  # repository-relative, posix
    line: int | None = None
    function: str | None = None
    permalink: str | None = None  # https://github.com/o/r/blob/<sha>/<path>#L<line>, when known
    reason: str = ""  # why this place was ranked where it is (own code, path match, innermost frame…)


class CodeSnippet(Frozen):
    """Lines around a location, as evidence."""

    location: CodeLocation
    start_line: int
    lines: tuple[str, ...]


class SuspectCommit(Frozen):
    """A commit that touched the failing lines or files recently."""

    sha: str
    author: str
    date: str  # ISO 8601
    summary: str
    pr_number: int | None = None
    reason: str  # "blame of line 42" / "recent change to OrderService.java"
    url: str | None = None


class TraceSummary(Frozen):
    """The failing path of a trace, small enough to render and prompt."""

    trace_id: str
    status: str  # found | not_found | partial | unavailable
    culprit_service: str | None = None
    culprit_span_id: str | None = None
    culprit_operation: str | None = None
    culprit_status_message: str | None = None
    exception_type: str | None = None
    exception_message: str | None = None
    error_path: tuple[str, ...] = ()  # span ids root → culprit
    services_on_error_path: tuple[str, ...] = ()
    path_edges: tuple[tuple[str, str, str], ...] = ()  # (parent service:op, child service:op, status)
    capped: bool = False
    note: str = ""


class AgentAnalysis(Frozen):
    """The LLM's validated contribution (issue: Claude investigator)."""

    root_cause: str
    citations: tuple[str, ...]
    confidence: float
    fix_kind: str | None = None
    patch: str | None = None  # unified diff, validated separately
    tokens_used: int = 0
    dropped_claims: int = 0
    note: str = ""


class PatchVerdict(Frozen):
    """What checking a proposed patch against the deployed commit showed (done in code, not by the model)."""

    applies: bool
    files: tuple[str, ...] = ()
    changed_lines: int = 0
    inside_repo: bool = True
    binary: bool = False
    test_passed: bool | None = None  # None: the service has no test_command
    test_output_tail: str = ""
    problems: tuple[str, ...] = ()


class Finding(Frozen):
    """Everything known about an incident after investigation."""

    schema_version: Literal[1] = 1
    fingerprint: str
    symptom_service: str  # the service that logged
    culprit_service: str  # the service that threw (from the trace when known)
    culprit_repo: str | None = None
    deployed_commit: str | None = None
    commit_source: str = ""  # "service.version resource attribute" / "branch head (version unknown)"
    primary_location: CodeLocation | None = None
    evidence_chain: tuple[CodeLocation, ...] = ()  # ranked candidate locations, primary first
    frame_notes: tuple[str, ...] = ()  # per stack frame: why own code or library, which file it maps to
    snippet: CodeSnippet | None = None
    suspects: tuple[SuspectCommit, ...] = ()
    error_class: ErrorClass = "unknown"
    classification_rule: str = ""
    confidence: float = 0.0
    trace: TraceSummary | None = None
    unknowns: tuple[str, ...] = ()  # what we could not establish, in plain words
    analysis: AgentAnalysis | None = None
    patch_check: PatchVerdict | None = None
    tokens_used: int = 0
    truncated: tuple[str, ...] = ()  # what was cut short (spans capped, budget hit...)
