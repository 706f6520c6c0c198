"""The failing path of a trace (pure): which service really threw, and how the request got there.

Span text (names, status messages, exception messages and stack traces) is written by the traced
services like log lines are, so it is redacted here, before it reaches a finding or an incident."""

from __future__ import annotations

import itertools
from collections import defaultdict

from error_autopilot.config.service_map import ServiceMap
from error_autopilot.domain.events import ErrorEvent
from error_autopilot.domain.findings import TraceSummary
from error_autopilot.domain.incidents import Incident
from error_autopilot.domain.traces import Span, Trace
from error_autopilot.incidents.group import IncidentGrouper
from error_autopilot.incidents.stacktrace import parse_stacktrace
from error_autopilot.redaction import redactor_for


def _redacted(text: str | None) -> str | None:
    return redactor_for().redact(text) if text else None


def _exception(span: Span) -> tuple[str | None, str | None, str | None]:
    for event in span.events:
        if event.name == "exception":
            a = event.attributes
            return (str(a.get("exception.type") or "") or None, _redacted(str(a.get("exception.message") or "")),
                    _redacted(str(a.get("exception.stacktrace") or "")))  # fmt: skip
    return None, None, None


def exception_stacktrace(trace: Trace, span_id: str | None) -> str | None:
    """The `exception.stacktrace` recorded on a span, if any."""
    span = next((s for s in trace.spans if s.span_id == span_id), None)
    return _exception(span)[2] if span else None


def summarise(trace: Trace) -> TraceSummary:
    """The deepest failed span whose own children did not fail, and the path root → culprit.

    Iterative (a 50,000-span trace is fine); missing parents become extra roots; cycles are cut."""
    if trace.status in ("not_found", "unavailable") or not trace.spans:
        return TraceSummary(trace_id=trace.trace_id, status=trace.status, note=trace.message)
    by_id = {s.span_id: s for s in trace.spans}
    children: dict[str, list[Span]] = defaultdict(list)
    for span in trace.spans:
        if span.parent_id and span.parent_id in by_id and span.parent_id != span.span_id:
            children[span.parent_id].append(span)
    failed = [s for s in trace.spans if s.failed]
    # in a cycle of failed spans every one has a failed child: then any failed span may be the culprit
    leaves = [s for s in failed if not any(c.failed for c in children.get(s.span_id, []))] or failed
    depth: dict[str, int] = {}

    def depth_of(span: Span) -> int:
        """Spans from the root down to `span`, memoised so a long chain with many failed leaves stays linear."""
        walk: list[Span] = []
        seen: set[str] = set()
        node: Span | None = span
        while node is not None and node.span_id not in depth and node.span_id not in seen:
            walk.append(node)
            seen.add(node.span_id)
            node = by_id.get(node.parent_id) if node.parent_id else None
        base = depth[node.span_id] if node is not None and node.span_id in depth else 0
        for step in reversed(walk):
            base += 1
            depth[step.span_id] = base
        return depth[span.span_id]

    def path(span: Span) -> list[Span]:
        chain, seen = [span], {span.span_id}
        while chain[-1].parent_id in by_id and chain[-1].parent_id not in seen:
            parent = by_id[chain[-1].parent_id]
            seen.add(parent.span_id)
            chain.append(parent)
        return chain[::-1]

    if not leaves:
        return TraceSummary(trace_id=trace.trace_id, status=trace.status, capped=trace.capped,
                            note="no span in the trace failed")  # fmt: skip
    culprit = max(leaves, key=lambda s: (depth_of(s), s.start_ns))
    chain = path(culprit)
    exc_type, exc_message, _ = _exception(culprit)
    edges = tuple(
        (f"{a.service}:{_redacted(a.name)}", f"{b.service}:{_redacted(b.name)}", "ERROR" if b.failed else b.status_code)
        for a, b in itertools.pairwise(chain)
    )
    note = f"{trace.total_spans} spans, kept {len(trace.spans)}" if trace.capped else trace.message
    return TraceSummary(
        trace_id=trace.trace_id, status=trace.status, culprit_service=culprit.service,
        culprit_span_id=culprit.span_id, culprit_operation=_redacted(culprit.name),
        culprit_status_message=_redacted(culprit.status_message), exception_type=exc_type,
        exception_message=exc_message,
        error_path=tuple(s.span_id for s in chain),
        services_on_error_path=tuple(dict.fromkeys(s.service for s in chain)),
        path_edges=edges, capped=trace.capped, note=note,
    )  # fmt: skip


def deployed_version(trace: Trace, service: str) -> str | None:
    """The version the culprit service reported in its resource attributes."""
    keys = ("vcs.revision", "vcs.ref.head.revision", "git.commit.sha", "service.version")
    for span in trace.spans:
        if span.service == service:
            for key in keys:
                if span.resource.get(key):
                    return str(span.resource[key])
    return None


def incident_from_trace(trace: Trace, environment: str, smap: ServiceMap) -> Incident | None:
    """An incident built from a trace alone (a dispatched trace id the log poll did not see)."""
    summary = summarise(trace)
    if not summary.culprit_service:
        return None
    service = smap.resolve_service(summary.culprit_service) or summary.culprit_service
    config = smap.services.get(service)
    stacktrace = exception_stacktrace(trace, summary.culprit_span_id) or ""
    span = next(s for s in trace.spans if s.span_id == summary.culprit_span_id)
    message = summary.exception_message or summary.culprit_status_message or summary.culprit_operation or "failed span"
    event = ErrorEvent(
        line_id=f"span:{span.span_id}", ts_ns=span.start_ns, environment=environment, service=service,
        message=message, exception_type=summary.exception_type, exception_message=summary.exception_message,
        stack=parse_stacktrace(stacktrace, packages=config.packages if config else (),
                               source_roots=config.source_roots if config else ()),
        trace_id=trace.trace_id, span_id=span.span_id, version=deployed_version(trace, summary.culprit_service),
        line=f"{span.service} {summary.culprit_operation}: {message}", format="trace",
    )  # fmt: skip
    grouper = IncidentGrouper()
    grouper.add(event)
    return grouper.incidents()[0]
