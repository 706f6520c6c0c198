"""The issue body as Markdown (pure): the answer first, then the evidence, then how it was found.

The first screen answers what broke, where (a permalink at the deployed commit), since when and how
often, who is the culprit, and how far to trust that; then the newest occurrence with its stack, the
code, the timeline, the trace path and the suspect commits. Grouping templates (`<int>`, `<quoted>`)
appear only in "How this was found". Untrusted text goes through `untrusted.Untrusted`. Bodies stay
under GitHub's 65,536-character limit by trimming evidence, never the answer, and say what was trimmed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from error_autopilot.config.service_map import GrafanaLinks
from error_autopilot.domain.decisions import Decision
from error_autopilot.domain.findings import CodeLocation, Finding
from error_autopilot.domain.incidents import PlannedIncident
from error_autopilot.investigation.sanitize import Redactor
from error_autopilot.ports import RenderedIssue
from error_autopilot.sinks.comments import (
    crosslink_fingerprint,
    environments,
    label,
    render_crosslink,
    render_material_comment,
    render_pr_body,
    render_regression_comment,
    when,
)
from error_autopilot.sinks.headline import issue_title
from error_autopilot.sinks.markers import BODY_LIMIT, MARKER, NO_EVIDENCE, merge_body, parse_marker, section
from error_autopilot.sinks.occurrence import explore, first_version, latest, others, timeline, trace_url, version_link
from error_autopilot.sinks.untrusted import Untrusted, linked

# The issue sink's public face: the body is built here; comments, markers and escaping live next door.
__all__ = [
    "BODY_LIMIT", "MARKER", "RelatedIssue", "crosslink_fingerprint", "merge_body", "parse_marker", "render_crosslink",
    "render_issue", "render_material_comment", "render_pr_body", "render_regression_comment",
]  # fmt: skip


class RelatedIssue(NamedTuple):
    """Another incident sharing this one's culprit or a trace, with its issue when published."""

    relation: str  # "symptom: order-service logs this failure" (service names come from logs: escaped)
    title: str  # untrusted
    url: str | None


# ── the answer ──────────────────────────────────────────────────────────────────────────────────


def _where(f: Finding | None, t: Untrusted) -> str:
    if f is None:
        return "not established: no investigation result this run"
    loc = f.primary_location
    if loc is None:
        return f"not established in **{t.inline(f.culprit_service, 60)}**'s code (see “Not established”)"
    where = linked(t.span(f"{loc.path}:{loc.line}" if loc.line else loc.path, 200), loc.permalink)
    if loc.function:
        where += f" in {t.span(loc.function, 80)}"
    commit = f.deployed_commit or loc.commit
    return where + f" · **{t.inline(f.culprit_service, 60)}** at {t.span(commit[:12], 12)}"


def _often(p: PlannedIncident, f: Finding | None, t: Untrusted) -> str:
    i = p.incident
    span = f"{when(i.first_seen)} → {when(i.last_seen)}" if i.first_seen != i.last_seen else when(i.first_seen)
    text = f"{i.count} time(s), {span}, in {', '.join(t.inline(e, 40) for e in environments(p))}"
    if p.previous_count:
        text += f" (previous window: {p.previous_count})"
    if first := first_version(p):
        text += f"; first seen on version {version_link(first, p, f, t)}"
        if len(i.versions) > 1:
            text += f", {len(i.versions)} versions since"
    return section("often", text)


def _what(p: PlannedIncident, t: Untrusted) -> str:
    i = p.incident
    text = t.inline(issue_title(i, t), 300)
    varying = [v for v in i.variables if v.distinct > 1]
    if varying:
        text += " (" + "; ".join(f"{t.span(v.name, 30)} took {v.distinct}{'+' if v.capped else ''} distinct values"
                                 for v in varying[:3]) + ")"  # fmt: skip
    return text


def _culprit(p: PlannedIncident, f: Finding, t: Untrusted) -> str:
    if f.culprit_service == p.incident.service and f.trace is None:
        return f"**{t.inline(f.culprit_service, 60)}**, which logged it; no trace shows another service"
    text = f"**{t.inline(f.culprit_service, 60)}** threw it"
    if f.trace and f.trace.culprit_span_id:
        text += f" (span {t.span(f.trace.culprit_span_id, 20)} of trace {t.span(f.trace.trace_id, 40)})"
    if f.culprit_service != p.incident.service:
        text += f"; **{t.inline(p.incident.service, 60)}** only logged it"
    return text


def _change(p: PlannedIncident, f: Finding, t: Untrusted) -> str | None:
    if not f.suspects:
        return None
    s = f.suspects[0]
    text = (f"{linked(t.span(s.sha[:8], 8), s.url)} {t.inline(s.summary, 100)} — {t.inline(s.author, 40)}, "
            f"{s.date[:10]}, {t.inline(s.reason, 60)}")  # fmt: skip
    first = first_version(p)
    if first and re.fullmatch(r"[0-9a-f]{7,40}", first) and (s.sha.startswith(first) or first.startswith(s.sha)):
        text += " — **introduced in** it: the error first appeared on the version built from it"
    return text


def _caveats(f: Finding | None, t: Untrusted) -> str | None:
    if f is None:
        return "no investigation result this run: the location, the culprit and the cause are not established"
    notes = [t.inline(u, 200) for u in f.unknowns[:4]]
    if len(f.unknowns) > 4:
        notes.append(f"and {len(f.unknowns) - 4} more (see How this was found)")
    if f.primary_location and 0 < f.confidence < 0.5:
        notes.append(f"the location is a guess (confidence {f.confidence:.0%})")
    return "; ".join(notes) or None


def _why_no_pr(decision: Decision | None, t: Untrusted) -> str | None:
    if decision is None or decision.action != "issue":
        return None
    refused = decision.refused_by
    if not refused:
        return None
    first = refused[0]
    more = f" (and {len(refused) - 1} more rule(s), listed below)" if len(refused) > 1 else ""
    return f"rule “{t.inline(first.rule, 60)}” — {t.inline(first.detail, 160)}{more}"


def _answer(p: PlannedIncident, f: Finding | None, t: Untrusted, decision: Decision | None,
            related: Sequence[RelatedIssue]) -> list[str]:  # fmt: skip
    out = ["> **Regression**: this error had stopped and is back.", ""] if p.status == "regressed" else []
    facts: list[tuple[str, str | None]] = [("What", _what(p, t)), ("Where", _where(f, t)),
                                           ("How often", _often(p, f, t))]  # fmt: skip
    if f is not None:
        facts += [("Culprit", _culprit(p, f, t)), ("Likely change", _change(p, f, t))]
    caveats = _caveats(f, t)
    facts += [("⚠️ Not established", caveats), ("Why no draft PR", _why_no_pr(decision, t))]
    for r in related[:5]:
        facts.append(("Related", f"{t.inline(r.relation, 120)}: {linked(t.inline(r.title, 120), r.url)}"))
    out += [f"- **{name}:** {text}" for name, text in facts if text]
    return [*out, ""]


# ── location (the stack engine's candidates) ────────────────────────────────────────────────────


def _snippet(f: Finding, t: Untrusted) -> list[str]:
    if not (f.primary_location and f.snippet):
        return []
    loc, snip = f.primary_location, f.snippet
    numbered = "\n".join(f"{'→' if n == loc.line else ' '} {n:>4}  {line[:300]}"
                         for n, line in enumerate(snip.lines[:40], start=snip.start_line))  # fmt: skip
    return [f"### Where: {linked(t.span(loc.path, 200), loc.permalink)} at "
            f"{t.span((f.deployed_commit or loc.commit)[:12], 12)}",
            f"Commit chosen from: {t.inline(f.commit_source, 120) or 'unknown'}.", "",
            t.code(numbered), ""]  # fmt: skip


def _candidate(loc: CodeLocation, t: Untrusted) -> str:
    label_ = linked(t.span(f"{loc.path}:{loc.line}" if loc.line else loc.path, 200), loc.permalink)
    text = label_ + (f" {t.span(loc.function, 80)}" if loc.function else "")
    return text + (f" — {t.inline(loc.reason, 200)}" if loc.reason else "")  # why it ranks where it does


def _candidates(f: Finding, t: Untrusted) -> list[str]:
    """The evidence chain as a ranked list of candidate locations, most likely first, each with why;
    then, folded, how every stack frame was read (own code or library, which file)."""
    out: list[str] = []
    if len(f.evidence_chain) >= 2 or any(loc.reason for loc in f.evidence_chain):
        out += ["### Candidate locations (most likely first)", ""]
        out += [f"{n}. {_candidate(loc, t)}" for n, loc in enumerate(f.evidence_chain[:30], start=1)]
        if len(f.evidence_chain) > 30:
            out.append(f"- … {len(f.evidence_chain) - 30} more")
        out.append("")
    if f.frame_notes:
        notes = [f"- {t.span(note, 300)}" for note in f.frame_notes[:30]]
        more = [f"- … {len(f.frame_notes) - 30} more frame(s)"] if len(f.frame_notes) > 30 else []
        out += ["<details><summary>How each stack frame was read</summary>", "", *notes, *more, "", "</details>", ""]
    return out


# ── pictures ────────────────────────────────────────────────────────────────────────────────────


def _trace(f: Finding, t: Untrusted) -> list[str]:
    tr = f.trace
    if tr is None or not tr.path_edges:
        return []
    edges = tr.path_edges[:30]
    ids: dict[str, str] = {}
    lines = ["### Failing trace path", "", "```mermaid", "flowchart LR"]
    for parent, child, status in edges:
        a, b = (ids.setdefault(x, f"n{len(ids)}") for x in (parent, child))
        arrow = "-- ERROR -->" if status == "ERROR" else "-->"
        lines.append(f'  {a}["{t.mermaid(parent)}"] {arrow} {b}["{t.mermaid(child)}"]')
    node = ids.get(f"{tr.culprit_service}:{tr.culprit_operation}") or ids[edges[-1][1]]
    lines += [f"  style {node} fill:#f66,stroke:#900,color:#fff", "```"]
    lines.append(
        f"Trace {t.span(tr.trace_id, 40)}, culprit span {t.span(tr.culprit_span_id, 20)}"
        + (f": {t.inline(tr.culprit_status_message, 150)}" if tr.culprit_status_message else "")
        + "."
    )
    return [*lines, ""]


# ── the rest of the evidence ────────────────────────────────────────────────────────────────────


def _suspects(f: Finding, t: Untrusted) -> list[str]:
    if not f.suspects:
        return []
    out = ["### Suspect commits", "", "| commit | when | author | change | why |", "|---|---|---|---|---|"]
    for s in f.suspects[:10]:
        out.append(f"| {linked(t.span(s.sha[:8], 8, cell=True), s.url)} | {s.date[:10]} | {t.inline(s.author, 40)} "
                   f"| {t.inline(s.summary, 90)} | {t.inline(s.reason, 60)} |")  # fmt: skip
    return [*out, ""]


def _analysis(f: Finding, t: Untrusted, decision: Decision | None) -> list[str]:
    out: list[str] = []
    if f.analysis:
        a = f.analysis
        out += ["### Analysis (Claude, checked against the evidence)", "", t.inline(a.root_cause, 2000), "",
                f"Confidence {a.confidence:.0%}; citations: "
                + (", ".join(t.span(c, 80) for c in a.citations[:20]) or "none"), ""]  # fmt: skip
    if decision and decision.action == "issue" and len(decision.refused_by) > 1:
        out += ["**Auto-fix rules that said no:**", ""]
        out += [f"- {t.inline(r.rule, 60)} — {t.inline(r.detail, 160)}" for r in decision.refused_by[:15]]
        out.append("")
    return out


def _occurrences(p: PlannedIncident, t: Untrusted) -> list[str]:
    i = p.incident
    rows = ["### Occurrences", "", "| | |", "|---|---|", f"| count (this run) | {i.count} |"]
    if p.previous_count:
        rows.append(f"| count (previous window) | {p.previous_count} |")
    rows += [f"| first seen | {when(i.first_seen)} |", f"| last seen | {when(i.last_seen)} |",
             f"| environments | {', '.join(t.inline(e, 40) for e in environments(p))} |"]  # fmt: skip
    if i.trace_ids:
        rows.append(f"| recent traces | {', '.join(t.span(x, 40, cell=True) for x in i.trace_ids[-5:])} |")
    if i.versions:
        rows.append(f"| versions | {', '.join(t.span(v, 40, cell=True) for v in i.versions[-5:])} |")
    return [section("occurrences", "\n" + "\n".join(rows) + "\n"), ""]


def _links(p: PlannedIncident, grafana: GrafanaLinks | None, selector: str | None) -> list[str]:
    if grafana is None:
        return []
    i = p.incident
    links = []
    if selector:
        expr = selector
        if i.exception_type:  # narrow to this error; LogQL string escaping
            short = i.exception_type.rsplit(".", 1)[-1]
            expr += ' |= "' + short.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if url := explore(grafana, "loki", grafana.loki_datasource_uid, {"expr": expr}, i.first_seen, i.last_seen):
            links.append(f"[Logs in Grafana Explore]({url})")
    for trace_id in i.trace_ids[-2:]:
        if url := trace_url(p, grafana, trace_id):
            links.append(f"[Trace `{re.sub(r'[^0-9a-f]', '', trace_id)[:8]}`]({url})")
    return ["### Links", "", " · ".join(links), ""] if links else []


def _footer(p: PlannedIncident, f: Finding | None, t: Untrusted, tool_version: str, truncated: Sequence[str],
            run_url: str | None) -> list[str]:  # fmt: skip
    i = p.incident
    out = ["---", "<details><summary>How this was found</summary>", "",
           f"Grouped as “{t.inline(i.title, 200)}”: fingerprint `{i.fingerprint}`, algorithm v{i.algorithm}.",
           ""]  # fmt: skip
    if i.variables:
        out += [f"- {t.span(v.name, 30)} ({t.span(f'<{v.kind}>', 20)}): {v.distinct}{'+' if v.capped else ''} "
                "distinct value(s) this window" for v in i.variables] + [""]  # fmt: skip
    if i.fingerprint_parts:
        out += ["| part | value | counts | why |", "|---|---|---|---|"]
        out += [f"| {t.inline(part.name, 20)} | {t.span(part.value, 80, cell=True)} "
                f"| {'yes' if part.contributes else 'no'} | {t.inline(part.hint, 60)} |"
                for part in i.fingerprint_parts[:20]]  # fmt: skip
        out.append("")
    if f and f.deployed_commit:
        source = t.inline(f.commit_source, 120) or "source unknown"
        out += [f"Code read at {t.span(f.deployed_commit[:12], 12)} ({source}).", ""]
    if f and f.classification_rule:
        out += [f"Classified {t.inline(f.error_class, 30)} by {t.inline(f.classification_rule, 120)}.", ""]
    if f and len(f.unknowns) > 4:
        out += ["Not established: " + "; ".join(t.inline(u, 200) for u in f.unknowns[:10]) + ".", ""]
    if truncated:
        more = f"; and {len(truncated) - 20} more" if len(truncated) > 20 else ""
        out += ["Truncated: " + "; ".join(t.inline(x, 200) for x in truncated[:20]) + more + ".", ""]
    run = f" · {linked('run', run_url)}" if run_url else ""
    out += [f"error-autopilot {t.inline(tool_version, 40)} · LLM tokens: {f.tokens_used if f else 0:,}{run}", "",
            "</details>", ""]  # fmt: skip
    if f is None:
        out.append(NO_EVIDENCE)
    return [*out, MARKER.format(fp=i.fingerprint)]


class _Trim(NamedTuple):
    others: bool
    raw: bool
    stack: bool
    snippet: bool
    note: str


# What to drop, in order, when the body is too long: evidence only, never the answer.
_TRIMS = (
    _Trim(True, True, True, True, ""),
    _Trim(False, True, True, True, "other samples left out"),
    _Trim(False, False, True, True, "other samples and the raw log line left out"),
    _Trim(False, False, False, True, "other samples, the raw log line, the stacks and the candidates left out"),
    _Trim(
        False, False, False, False, "other samples, the raw log line, the stacks, the candidates and the code left out"
    ),
)


def render_issue(
    planned: PlannedIncident, finding: Finding | None, *, grafana: GrafanaLinks | None, loki_selector: str | None,
    redactor: Redactor, tool_version: str, truncated: Sequence[str] = (), run_url: str | None = None,
    decision: Decision | None = None, related: Sequence[RelatedIssue] = (),
) -> RenderedIssue:  # fmt: skip
    """The issue: title, body (≤ BODY_LIMIT, trimming evidence, never the answer) and labels."""
    t = Untrusted(redactor)
    i = planned.incident
    head = _answer(planned, finding, t, decision, related)
    tail = [*_occurrences(planned, t), *_links(planned, grafana, loki_selector)]
    body = ""
    for trim in _TRIMS:
        notes = [f"{trim.note} to fit GitHub's size limit"] if trim.note else []
        evidence = latest(planned, finding, t, grafana, stack=trim.stack, raw=trim.raw)
        evidence += others(planned, t) if trim.others else []
        if finding:
            evidence += [
                *(_snippet(finding, t) if trim.snippet else []),
                *(_candidates(finding, t) if trim.stack else []),
            ]
        if chart := timeline(planned, finding, t):  # a live section: an update without evidence redraws it
            evidence += [section("timeline", "\n" + "\n".join(chart).rstrip() + "\n"), ""]
        if finding:
            evidence += [*_trace(finding, t), *_suspects(finding, t), *_analysis(finding, t, decision)]
        footer = _footer(planned, finding, t, tool_version, [*notes, *truncated], run_url)
        body = "\n".join([*head, *evidence, *tail, *footer])
        if len(body) <= BODY_LIMIT:
            break
    else:
        footer = _footer(planned, finding, t, tool_version, ["evidence left out to fit", *truncated], run_url)
        body = "\n".join([*head, *_occurrences(planned, t), *footer])
    return RenderedIssue(title=issue_title(i, t), body=body, labels=_labels(planned, finding, t),
                         fingerprint=i.fingerprint)  # fmt: skip


def _labels(planned: PlannedIncident, finding: Finding | None, t: Untrusted) -> tuple[str, ...]:
    i = planned.incident
    labels = ["error-autopilot", f"service:{i.service}", *(f"env:{e}" for e in environments(planned))]
    if finding and finding.error_class != "unknown":
        labels.append(finding.error_class)
    if planned.status == "regressed":
        labels.append("regressed")
    return tuple(dict.fromkeys(label(x, t) for x in labels))
