"""Issue and PR bodies as Markdown (pure). The answer first, then the evidence, then links.

Everything that came from logs, traces or the model is untrusted: it is sanitised (secrets
redacted, invisible characters and HTML comments removed) and escaped, so it can neither mention
anyone, inject HTML, hide a link or image, break out of a code fence, nor forge the hidden
fingerprint marker. Bodies stay under GitHub's 65,536-character limit by trimming evidence
(samples, then the stack, then the snippet), never the summary, and say what was trimmed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import quote

from error_autopilot.config.service_map import GrafanaLinks
from error_autopilot.domain.decisions import Decision
from error_autopilot.domain.findings import Finding
from error_autopilot.domain.incidents import PlannedIncident
from error_autopilot.investigation.sanitize import Redactor, clean
from error_autopilot.ports import RenderedIssue

MARKER = "<!-- error-autopilot:fingerprint={fp} -->"
MARKER_RE = re.compile(r"<!-- error-autopilot:fingerprint=([0-9a-f]{16}) -->")
OCCURRENCES_START = "<!-- error-autopilot:occurrences:start -->"
OCCURRENCES_END = "<!-- error-autopilot:occurrences:end -->"
NO_EVIDENCE = "<!-- error-autopilot:evidence=none -->"  # rendered without a finding: must not replace one
_OCCURRENCES_RE = re.compile(re.escape(OCCURRENCES_START) + r"[\s\S]*?" + re.escape(OCCURRENCES_END))
BODY_LIMIT = 60_000  # GitHub refuses more than 65,536 characters; keep a margin
TITLE_LIMIT = 256
LABEL_LIMIT = 50  # GitHub's maximum label name length
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")  # what can make links, images, emphasis, code or table cells
_URL_SAFE = ":/?#[]@!$&'*+,;=%~-._"  # everything but what could end a Markdown link: space, <, >, (, )
_COMMENT = re.compile(r"<!--[\s\S]*?(?:-->|$)")


def parse_marker(body: str | None) -> str | None:
    """The fingerprint in an issue body's hidden marker (the last one: we always write it last)."""
    found = MARKER_RE.findall(body or "")
    return found[-1] if found else None


def merge_body(old: str | None, new: str) -> str:
    """The body to write over `old`: `new`, except that a rendering without evidence (no finding this
    run) only replaces the occurrence section of a body that has evidence, so it never erases it."""
    if not old or NO_EVIDENCE not in new or NO_EVIDENCE in old:
        return new
    before, after = _OCCURRENCES_RE.search(old), _OCCURRENCES_RE.search(new)
    if before is None or after is None or parse_marker(old) != parse_marker(new):
        return new
    return old[: before.start()] + after.group(0) + old[before.end() :]


class Untrusted:
    """Sanitise-and-escape helpers bound to one redactor."""

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self._cleaned: dict[str, str] = {}  # trimming renders the same evidence several times

    def clean(self, text: str | None) -> str:
        """Secrets redacted; invisible characters and HTML comments gone (until none is left, so
        `<!<!-- -->-- … -->` cannot reassemble a comment)."""
        if (text or "") not in self._cleaned:
            cleaned = clean(text or "")
            while (stripped := _COMMENT.sub("", cleaned)) != cleaned:
                cleaned = stripped
            self._cleaned[text or ""] = self._redactor.redact(cleaned)
        return self._cleaned[text or ""]

    def inline(self, text: str | None, limit: int = 300) -> str:
        """For a Markdown paragraph or table cell: no HTML, no mentions, no links or images, no formatting."""
        text = " ".join(self.clean(text).split())
        text = text if len(text) <= limit else text[: limit - 1] + "…"
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("@", "&#64;")
        return _MD_SPECIAL.sub(r"\\\1", text)

    def span(self, text: str | None, limit: int = 120, *, cell: bool = False) -> str:
        """An inline code span (literal on GitHub: no mention, HTML or escape is interpreted inside)."""
        text = " ".join(self.clean(text).split())
        text = text if len(text) <= limit else text[: limit - 1] + "…"
        if cell:  # GitHub splits table cells at `|` even inside code spans, unless escaped
            text = text.replace("|", "\\|")
        ticks = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
        pad = " " if text.startswith("`") or text.endswith("`") else ""
        return f"{ticks}{pad}{text}{pad}{ticks}"

    def plain(self, text: str | None, limit: int) -> str:
        """For a title or a label: one plain line, with nothing a reader could take for a mention or a tag."""
        text = " ".join(self.clean(text).split())
        return text.replace("@", "＠").replace("<", "‹").replace(">", "›")[:limit]

    def code(self, text: str | None, lang: str = "text", limit: int = 4000) -> str:
        """A fenced block whose fence is longer than any backtick run inside it."""
        body = self.clean(text)
        body = body if len(body) <= limit else body[:limit] + "\n… (cut)"
        longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
        fence = "`" * max(3, longest + 1)
        return f"{fence}{lang}\n{body}\n{fence}"


def _linked(text: str, url: str | None) -> str:
    """`text` as a link to `url` when that is a plain http(s) URL (percent-encoded so it cannot end the link)."""
    if not url or len(url) > 2000 or not re.match(r"^https?://[^\s<>]+$", url):  # a longer URL is no use
        return text
    return f"[{text}]({quote(url, safe=_URL_SAFE)})"


def _when(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%d %H:%M UTC")


def _envs(planned: PlannedIncident) -> tuple[str, ...]:
    i = planned.incident
    return i.environments or (i.environment,)


def _explore(g: GrafanaLinks, kind: str, uid: str | None, query: dict[str, str], start: datetime,
             end: datetime) -> str | None:  # fmt: skip
    if not uid:
        return None  # never guessed: no link without a configured data source
    pane = {"ea": {"datasource": uid, "queries": [{"refId": "A", "datasource": {"type": kind, "uid": uid}, **query}],
                   "range": {"from": str(int(start.timestamp() * 1000) - 300_000),
                             "to": str(int(end.timestamp() * 1000) + 300_000)}}}  # fmt: skip
    return f"{g.url.rstrip('/')}/explore?schemaVersion=1&panes={quote(json.dumps(pane, separators=(',', ':')))}"


def _mermaid_label(text: str, t: Untrusted) -> str:
    return re.sub(r"[^\w .:/{}\-]", "_", t.clean(text))[:60]  # whitelist: no quote, bracket or pipe survives


def _summary(p: PlannedIncident, f: Finding | None, t: Untrusted) -> str:
    i = p.incident
    where = ""
    if f and f.primary_location:
        loc = f.primary_location
        where = " at " + _linked(t.span(f"{loc.path}:{loc.line}" if loc.line else loc.path, 200), loc.permalink)
        if loc.function:
            where += f" in {t.span(loc.function, 80)}"
    culprit = ""
    if f:
        culprit = f" The failure starts in **{t.inline(f.culprit_service, 60)}**"
        if f.trace and f.trace.culprit_span_id:
            culprit += f" (span {t.span(f.trace.culprit_span_id, 20)} of trace {t.span(f.trace.trace_id, 40)})"
        if f.culprit_service != i.service:
            culprit += f"; **{t.inline(i.service, 60)}** only logged it"
        culprit += "."
    since = f" First seen {_when(i.first_seen)}, last seen {_when(i.last_seen)}."
    suspect = ""
    if f and f.suspects:
        s = f.suspects[0]
        suspect = (f" Most likely related change: {_linked(t.span(s.sha[:8], 8), s.url)} {t.inline(s.summary, 100)} "
                   f"({t.inline(s.author, 40)}, {s.date[:10]}; {t.inline(s.reason, 60)}).")  # fmt: skip
    envs = ", ".join(t.inline(e, 40) for e in _envs(p))
    return f"**{t.inline(i.title, 200)}** — {i.count} occurrence(s) in {envs}{where}.{culprit}{since}{suspect}"


def _occurrences(p: PlannedIncident, t: Untrusted) -> list[str]:
    i = p.incident
    rows = [OCCURRENCES_START, "### Occurrences", "", "| | |", "|---|---|", f"| count (this run) | {i.count} |"]
    if p.previous_count:
        rows.append(f"| count (previous window) | {p.previous_count} |")
    rows += [f"| first seen | {_when(i.first_seen)} |", f"| last seen | {_when(i.last_seen)} |",
             f"| environments | {', '.join(t.inline(e, 40) for e in _envs(p))} |"]  # fmt: skip
    if i.trace_ids:
        rows.append(f"| recent traces | {', '.join(t.span(x, 40, cell=True) for x in i.trace_ids[-5:])} |")
    if i.versions:
        rows.append(f"| versions | {', '.join(t.span(v, 40, cell=True) for v in i.versions[-5:])} |")
    return [*rows, OCCURRENCES_END, ""]


def _snippet(f: Finding, t: Untrusted) -> list[str]:
    if not (f.primary_location and f.snippet):
        return []
    loc, snip = f.primary_location, f.snippet
    numbered = "\n".join(f"{'→' if n == loc.line else ' '} {n:>4}  {line[:300]}"
                         for n, line in enumerate(snip.lines[:40], start=snip.start_line))  # fmt: skip
    return [f"### Where: {_linked(t.span(loc.path, 200), loc.permalink)} at "
            f"{t.span((f.deployed_commit or loc.commit)[:12], 12)}",
            f"Commit chosen from: {t.inline(f.commit_source, 120) or 'unknown'}.", "",
            t.code(numbered), ""]  # fmt: skip


def _stack(f: Finding, t: Untrusted) -> list[str]:
    out: list[str] = []
    if f.evidence_chain:
        out += ["### Why here: candidate locations, best first", ""]
        for n, loc in enumerate(f.evidence_chain[:10], start=1):
            label = _linked(t.span(f"{loc.path}:{loc.line}" if loc.line else loc.path, 200), loc.permalink)
            fn = f" {t.span(loc.function, 80)}" if loc.function else ""
            out.append(f"{n}. {label}{fn}" + (f" — {t.inline(loc.reason, 300)}" if loc.reason else ""))
        out.append("")
    if f.frame_notes:
        notes = [f"- {t.span(note, 300)}" for note in f.frame_notes[:30]]
        more = [f"- … {len(f.frame_notes) - 30} more frame(s)"] if len(f.frame_notes) > 30 else []
        out += ["<details><summary>How each stack frame was read</summary>", "", *notes, *more, "", "</details>", ""]
    return out


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
        lines.append(f'  {a}["{_mermaid_label(parent, t)}"] {arrow} {b}["{_mermaid_label(child, t)}"]')
    node = ids.get(f"{tr.culprit_service}:{tr.culprit_operation}") or ids[edges[-1][1]]
    lines += [f"  style {node} fill:#f66,stroke:#900,color:#fff", "```"]
    lines.append(
        f"Trace {t.span(tr.trace_id, 40)}, culprit span {t.span(tr.culprit_span_id, 20)}"
        + (f": {t.inline(tr.culprit_status_message, 150)}" if tr.culprit_status_message else "")
        + "."
    )
    return [*lines, ""]


def _suspects(f: Finding, t: Untrusted) -> list[str]:
    if not f.suspects:
        return []
    out = ["### Suspect commits", "", "| commit | when | author | change | why |", "|---|---|---|---|---|"]
    for s in f.suspects[:10]:
        out.append(f"| {_linked(t.span(s.sha[:8], 8, cell=True), s.url)} | {s.date[:10]} | {t.inline(s.author, 40)} "
                   f"| {t.inline(s.summary, 90)} | {t.inline(s.reason, 60)} |")  # fmt: skip
    return [*out, ""]


def _analysis(f: Finding, t: Untrusted, decision: Decision | None) -> list[str]:
    out: list[str] = []
    if f.analysis:
        a = f.analysis
        out += ["### Analysis (Claude, checked against the evidence)", "", t.inline(a.root_cause, 2000), "",
                f"Confidence {a.confidence:.0%}; citations: "
                + (", ".join(t.span(c, 80) for c in a.citations[:20]) or "none"), ""]  # fmt: skip
    if decision and decision.refused_by and f.analysis and f.analysis.patch:
        refusals = "; ".join(f"{t.inline(r.rule, 60)} — {t.inline(r.detail, 160)}" for r in decision.refused_by)
        out += [f"**No fix PR:** {refusals}", ""]
    return out


def _samples(p: PlannedIncident, t: Untrusted, limit: int) -> list[str]:  # the most recent `limit` lines
    samples = p.incident.sample[-limit:] if limit else ()
    if not samples:
        return []
    out = ["### Sample log lines", ""]
    for s in samples:
        trace = f", trace {t.span(s.trace_id, 40)}" if s.trace_id else ""
        out += [f"Line {t.span(s.line_id[:12], 12)}{trace}:", t.code(s.text, limit=1500), ""]
    return out


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
        if url := _explore(grafana, "loki", grafana.loki_datasource_uid, {"expr": expr}, i.first_seen, i.last_seen):
            links.append(f"[Logs in Grafana Explore]({url})")
    for trace_id in i.trace_ids[-2:]:
        query = {"queryType": "traceql", "query": trace_id}
        if url := _explore(grafana, "tempo", grafana.tempo_datasource_uid, query, i.first_seen, i.last_seen):
            links.append(f"[Trace `{re.sub(r'[^0-9a-f]', '', trace_id)[:8]}`]({url})")
    return ["### Links", "", " · ".join(links), ""] if links else []


def _footer(p: PlannedIncident, f: Finding | None, t: Untrusted, tool_version: str, truncated: Sequence[str],
            run_url: str | None) -> list[str]:  # fmt: skip
    i = p.incident
    out = ["---", "<details><summary>How this was found</summary>", "",
           f"Fingerprint `{i.fingerprint}`, algorithm v{i.algorithm}:", ""]  # fmt: skip
    if i.fingerprint_parts:
        out += ["| part | value | counts | why |", "|---|---|---|---|"]
        out += [f"| {t.inline(part.name, 20)} | {t.span(part.value, 80, cell=True)} "
                f"| {'yes' if part.contributes else 'no'} | {t.inline(part.hint, 60)} |"
                for part in i.fingerprint_parts[:20]]  # fmt: skip
        out.append("")
    if f and f.deployed_commit:
        source = t.inline(f.commit_source, 120) or "source unknown"
        out += [f"Code read at {t.span(f.deployed_commit[:12], 12)} ({source}).", ""]
    if f and f.unknowns:
        out += ["Not established: " + "; ".join(t.inline(u, 200) for u in f.unknowns[:10]) + ".", ""]
    if truncated:
        more = f"; and {len(truncated) - 20} more" if len(truncated) > 20 else ""
        out += ["Truncated: " + "; ".join(t.inline(x, 200) for x in truncated[:20]) + more + ".", ""]
    run = f" · {_linked('run', run_url)}" if run_url else ""
    out += [f"error-autopilot {t.inline(tool_version, 40)} · LLM tokens: {f.tokens_used if f else 0:,}{run}", "",
            "</details>", ""]  # fmt: skip
    if f is None:
        out.append(NO_EVIDENCE)
    return [*out, MARKER.format(fp=i.fingerprint)]


# What to drop, in order, when the body is too long: evidence only, never the summary.
_TRIMS: tuple[tuple[int | None, bool, bool, str], ...] = (
    (None, True, True, ""),
    (1, True, True, "sample log lines trimmed to the latest one"),
    (0, True, True, "sample log lines left out"),
    (0, False, True, "sample log lines and the candidate locations left out"),
    (0, False, False, "sample log lines, the candidate locations and the code snippet left out"),
)


def render_issue(
    planned: PlannedIncident, finding: Finding | None, *, grafana: GrafanaLinks | None, loki_selector: str | None,
    redactor: Redactor, tool_version: str, truncated: Sequence[str] = (), run_url: str | None = None,
    decision: Decision | None = None,
) -> RenderedIssue:  # fmt: skip
    """The issue: title, body (≤ BODY_LIMIT, trimming evidence, never the summary) and labels."""
    t = Untrusted(redactor)
    i = planned.incident
    title = t.plain(f"[{i.service}] {i.title}", TITLE_LIMIT)
    head = [_summary(planned, finding, t), ""]
    if planned.status == "regressed":
        head = ["> **Regression**: this error had stopped and is back.", "", *head]
    tail = [*_occurrences(planned, t), *_links(planned, grafana, loki_selector)]
    body = ""
    for samples, stack, snippet, note in _TRIMS:
        notes = [f"{note} to fit GitHub's size limit"] if note else []
        evidence: list[str] = []
        if finding:
            evidence = [*(_snippet(finding, t) if snippet else []), *(_stack(finding, t) if stack else []),
                        *_trace(finding, t), *_suspects(finding, t), *_analysis(finding, t, decision)]  # fmt: skip
        evidence += _samples(planned, t, len(i.sample) if samples is None else samples)
        footer = _footer(planned, finding, t, tool_version, [*notes, *truncated], run_url)
        body = "\n".join([*head, *evidence, *tail, *footer])
        if len(body) <= BODY_LIMIT:
            break
    else:
        footer = _footer(planned, finding, t, tool_version, ["evidence left out to fit", *truncated], run_url)
        body = "\n".join([*head, *_occurrences(planned, t), *footer])
    return RenderedIssue(title=title, body=body, labels=_labels(planned, finding, t), fingerprint=i.fingerprint)


def _label(text: str, t: Untrusted) -> str:
    return t.plain(text, LABEL_LIMIT).replace(",", ";")  # a comma would split it in `?labels=` filters


def _labels(planned: PlannedIncident, finding: Finding | None, t: Untrusted) -> tuple[str, ...]:
    i = planned.incident
    labels = ["error-autopilot", f"service:{i.service}", *(f"env:{e}" for e in _envs(planned))]
    if finding and finding.error_class != "unknown":
        labels.append(finding.error_class)
    if planned.status == "regressed":
        labels.append("regressed")
    return tuple(dict.fromkeys(_label(label, t) for label in labels))


def render_regression_comment(planned: PlannedIncident) -> str:
    """The comment on a reopened issue: since when, how often, where."""
    i = planned.incident
    return (f"🔁 **Regression**: this error is back since {_when(i.first_seen)} "
            f"({i.count} occurrence(s) in {', '.join(_envs(planned))}, last seen {_when(i.last_seen)}). "
            "Reopened by error-autopilot.")  # fmt: skip


def render_material_comment(planned: PlannedIncident) -> str | None:
    """A comment for a recurring issue only when something changed materially: a new environment, or
    at least 10× the occurrences of the previous window. Never one per run."""
    i = planned.incident
    if planned.status != "recurring":
        return None
    changes = []
    new_envs = [e for e in _envs(planned) if planned.known_environments and e not in planned.known_environments]
    if new_envs:
        changes.append(f"now also seen in **{', '.join(new_envs)}**")
    if planned.previous_count and i.count >= 10 * planned.previous_count:
        changes.append(f"**{i.count}** occurrences this window, up from {planned.previous_count}")
    return f"📈 This error changed: {'; '.join(changes)} (last seen {_when(i.last_seen)})." if changes else None


def crosslink_fingerprint(fingerprint: str) -> str:
    """The marker of the cross-link left in the symptom service's repo (distinct from the bug's own)."""
    return hashlib.sha256(f"{fingerprint}:symptom".encode()).hexdigest()[:16]


def render_crosslink(planned: PlannedIncident, finding: Finding, issue_url: str, redactor: Redactor) -> RenderedIssue:
    """A short pointer in the symptom service's repo to the issue filed where the failure starts."""
    t = Untrusted(redactor)
    i = planned.incident
    fp = crosslink_fingerprint(i.fingerprint)
    body = "\n".join([
        f"**{t.inline(i.service, 60)}** logs this error ({i.count} occurrence(s), last seen {_when(i.last_seen)}), "
        f"but the failure starts in **{t.inline(finding.culprit_service, 60)}**: tracked in {issue_url}.",
        "", "This issue only points there; error-autopilot keeps it in step with that one.", "",
        MARKER.format(fp=fp),
    ])  # fmt: skip
    title = t.plain(f"[{i.service}] caused by {finding.culprit_service}: {i.title}", TITLE_LIMIT)
    return RenderedIssue(title=title, body=body, labels=("error-autopilot", _label(f"service:{i.service}", t),
                         "symptom"), fingerprint=fp)  # fmt: skip


def render_pr_body(
    planned: PlannedIncident, finding: Finding, *, issue_number: int, decision: object,
    redactor: Redactor | None = None,
) -> str:  # fmt: skip
    """The draft PR description: Fixes #n, what changed, the policy rules that allowed it, the test result."""
    t = Untrusted(redactor or Redactor())
    a, check = finding.analysis, finding.patch_check
    allowed = [r for r in decision.reasons if r.passed] if isinstance(decision, Decision) else []
    tests = "not run (no test_command)" if not check or check.test_passed is None else (
        "passed" if check.test_passed else "failed")  # fmt: skip
    files = ", ".join(t.span(x, 200) for x in (check.files if check else ())) or "none"
    out = [f"Fixes #{issue_number}", "",
           f"**Proposed fix ({t.inline(a.fix_kind if a else '', 30) or 'unclassified'})**: "
           f"{t.inline(a.root_cause if a else '', 1500)}", "",
           f"**What changed:** {files}; {check.changed_lines if check else 0} changed line(s).", "",
           "**Allowed by the auto-fix policy:**", ""]  # fmt: skip
    out += [f"- {t.inline(r.rule, 60)}: {t.inline(r.detail, 160)}" for r in allowed] or ["- (no rule recorded)"]
    out += ["", f"**Tests:** {tests}."]
    if check and check.test_output_tail:
        out += ["", t.code(check.test_output_tail, limit=3000)]
    out += ["", f"Incident `{planned.incident.fingerprint}`. This is a draft for human review; "
            "error-autopilot never merges."]  # fmt: skip
    return "\n".join(out)
