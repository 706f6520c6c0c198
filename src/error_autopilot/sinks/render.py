"""Issue and PR bodies as Markdown (pure). The answer first, then the evidence, then links.

Everything that came from logs, traces or the model is untrusted: it is sanitised (secrets
redacted, invisible characters and HTML comments removed) and escaped, so it can neither mention
anyone, inject HTML, break out of a code fence, nor forge the hidden fingerprint marker.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
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
BODY_LIMIT = 60_000  # GitHub refuses more than 65,536 characters; keep a margin
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")  # what can make links, emphasis, code or cells


def parse_marker(body: str | None) -> str | None:
    """The fingerprint in an issue body's hidden marker."""
    match = MARKER_RE.search(body or "")
    return match.group(1) if match else None


class Untrusted:
    """Sanitise-and-escape helpers bound to one redactor."""

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor

    def clean(self, text: str | None) -> str:
        """Secrets redacted, invisible characters and HTML comments gone."""
        return self._redactor.redact(clean(text or ""))

    def inline(self, text: str | None, limit: int = 300) -> str:
        """For a Markdown paragraph: no HTML, no mentions, no links, no formatting."""
        text = self.clean(text).replace("\r", " ").replace("\n", " ")
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("@", "&#64;")
        text = _MD_SPECIAL.sub(r"\\\1", text)
        return text if len(text) <= limit else text[: limit - 1] + "…"

    def code(self, text: str | None, lang: str = "text", limit: int = 4000) -> str:
        """A fenced block whose fence is longer than any backtick run inside it."""
        body = self.clean(text)
        body = body if len(body) <= limit else body[:limit] + "\n… (cut)"
        longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
        fence = "`" * max(3, longest + 1)
        return f"{fence}{lang}\n{body}\n{fence}"


def _when(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%d %H:%M UTC")


def _explore(g: GrafanaLinks, uid: str | None, query: dict[str, str], start: datetime, end: datetime) -> str | None:
    if not uid:
        return None
    pane = {"a": {"datasource": uid, "queries": [{"refId": "A", **query}],
                  "range": {"from": str(int(start.timestamp() * 1000) - 300_000),
                            "to": str(int(end.timestamp() * 1000) + 300_000)}}}  # fmt: skip
    return f"{g.url.rstrip('/')}/explore?schemaVersion=1&panes={quote(json.dumps(pane, separators=(',', ':')))}"


def _mermaid_id(text: str) -> str:
    return "n" + re.sub(r"\W", "_", text)[:40]


def _mermaid_label(text: str) -> str:
    return re.sub(r"[^\w .:/{}\-]", "_", text)[:60]


def _summary(p: PlannedIncident, f: Finding | None, t: Untrusted) -> str:
    i = p.incident
    what = t.inline(i.title, 200)
    where = ""
    if f and f.primary_location:
        loc = f.primary_location
        label = f"{loc.path}:{loc.line}" if loc.line else loc.path
        where = f" at [`{label}`]({loc.permalink})" if loc.permalink else f" at `{label}`"
        if loc.function:
            where += f" in `{t.inline(loc.function, 80)}`"
    culprit = f" The failure starts in **{t.inline(f.culprit_service, 60)}**" if f else ""
    if f and f.culprit_service != i.service:
        culprit += f"; **{t.inline(i.service, 60)}** only logged it"
    envs = ", ".join(t.inline(e, 40) for e in (i.environments or (i.environment,)))
    since = f"First seen {_when(i.first_seen)}, last seen {_when(i.last_seen)}"
    suspect = ""
    if f and f.suspects:
        s = f.suspects[0]
        suspect = (f" Most likely related change: `{s.sha[:8]}` {t.inline(s.summary, 100)} "
                   f"({t.inline(s.author, 40)}, {s.date[:10]}).")  # fmt: skip
    return (f"**{what}** — {i.count} occurrence(s) in {envs}{where}.{culprit}. {since}.{suspect}").replace("..", ".")


def _occurrences(p: PlannedIncident, t: Untrusted) -> list[str]:
    i = p.incident
    rows = ["### Occurrences", "", "| | |", "|---|---|", f"| count (this run) | {i.count} |",
            f"| first seen | {_when(i.first_seen)} |", f"| last seen | {_when(i.last_seen)} |",
            f"| environments | {', '.join(t.inline(e, 40) for e in i.environments or (i.environment,))} |"]  # fmt: skip
    if i.trace_ids:
        rows.append(f"| recent traces | {', '.join(f'`{x}`' for x in i.trace_ids)} |")
    if i.versions:
        rows.append(f"| versions | {', '.join(f'`{t.inline(v, 40)}`' for v in i.versions)} |")
    return rows


def _location_section(f: Finding, t: Untrusted) -> list[str]:
    out: list[str] = []
    if f.primary_location and f.snippet:
        loc, snip = f.primary_location, f.snippet
        numbered = "\n".join(
            f"{'→' if n == loc.line else ' '} {n:>4}  {line}"
            for n, line in enumerate(snip.lines, start=snip.start_line)
        )
        link = f"[`{loc.path}`]({loc.permalink})" if loc.permalink else f"`{loc.path}`"
        out += [f"### Where: {link} at `{(f.deployed_commit or '')[:12]}`",
                f"Commit chosen from: {t.inline(f.commit_source, 120)}.", "", t.code(numbered), ""]  # fmt: skip
    if len(f.evidence_chain) > 1:
        out += ["### In-app stack", ""]
        for loc in f.evidence_chain:
            label = f"{loc.path}:{loc.line}" if loc.line else loc.path
            fn = f" `{t.inline(loc.function, 80)}`" if loc.function else ""
            out.append(f"- [`{label}`]({loc.permalink}){fn}" if loc.permalink else f"- `{label}`{fn}")
        out.append("")
    return out


def _trace_section(f: Finding, t: Untrusted) -> list[str]:
    tr = f.trace
    if tr is None or not tr.path_edges:
        return []
    lines = ["### Failing trace path", "", "```mermaid", "flowchart LR"]
    culprit_node = None
    for parent, child, status in tr.path_edges:
        a, b = _mermaid_id(parent), _mermaid_id(child)
        arrow = "-- ERROR -->" if status == "ERROR" else "-->"
        lines.append(f'  {a}["{_mermaid_label(parent)}"] {arrow} {b}["{_mermaid_label(child)}"]')
        culprit_node = b
    if culprit_node:
        lines += [f"  style {culprit_node} fill:#f66,stroke:#900,color:#fff"]
    lines += ["```", f"Trace `{tr.trace_id}`, culprit span `{tr.culprit_span_id}`"
              + (f": {t.inline(tr.culprit_status_message, 150)}" if tr.culprit_status_message else "")
              + ".", ""]  # fmt: skip
    return lines


def _suspects_section(f: Finding, t: Untrusted) -> list[str]:
    if not f.suspects:
        return []
    out = ["### Suspect commits", "", "| commit | when | author | change | why |", "|---|---|---|---|---|"]
    for s in f.suspects:
        sha = f"[`{s.sha[:8]}`]({s.url})" if s.url else f"`{s.sha[:8]}`"
        out.append(
            f"| {sha} | {s.date[:10]} | {t.inline(s.author, 40)} | {t.inline(s.summary, 90)} "
            f"| {t.inline(s.reason, 60)} |"
        )
    return [*out, ""]


def _analysis_section(f: Finding, t: Untrusted, decision: Decision | None) -> list[str]:
    out: list[str] = []
    if f.analysis:
        a = f.analysis
        out += ["### Analysis (Claude, checked against the evidence)", "", t.inline(a.root_cause, 2000), "",
                f"Confidence {a.confidence:.0%}; citations: "
                + ", ".join(f"`{t.inline(c, 80)}`" for c in a.citations), ""]  # fmt: skip
    if decision and decision.refused_by and f.analysis and f.analysis.patch:
        out += [
            "**No fix PR:** "
            + "; ".join(f"{t.inline(r.rule, 60)} — {t.inline(r.detail, 160)}" for r in decision.refused_by),
            "",
        ]
    return out


def _links(p: PlannedIncident, f: Finding | None, grafana: GrafanaLinks | None, selector: str | None) -> list[str]:
    if grafana is None:
        return []
    i = p.incident
    links = []
    if selector and (
        url := _explore(grafana, grafana.loki_datasource_uid, {"expr": selector}, i.first_seen, i.last_seen)
    ):
        links.append(f"[Logs in Grafana Explore]({url})")
    for trace_id in i.trace_ids[-2:]:
        q = {"queryType": "traceql", "query": trace_id}
        if url := _explore(grafana, grafana.tempo_datasource_uid, q, i.first_seen, i.last_seen):
            links.append(f"[Trace `{trace_id[:8]}`]({url})")
    return ["### Links", "", " · ".join(links), ""] if links else []


def _footer(p: PlannedIncident, f: Finding | None, t: Untrusted, tool_version: str, truncated: Sequence[str],
            run_url: str | None) -> list[str]:  # fmt: skip
    i = p.incident
    parts = " · ".join(f"{'✓' if part.contributes else '✗'} {t.inline(part.name, 20)}=`{t.inline(part.value, 60)}`"
                       for part in i.fingerprint_parts)  # fmt: skip
    out = ["---", "<details><summary>How this was found</summary>", "",
           f"Fingerprint `{i.fingerprint}` (algorithm v{i.algorithm}): {parts or 'n/a'}", ""]  # fmt: skip
    if f and f.unknowns:
        out += ["Not established: " + "; ".join(t.inline(u, 200) for u in f.unknowns) + ".", ""]
    if truncated:
        out += ["Truncated: " + "; ".join(t.inline(x, 200) for x in truncated) + ".", ""]
    tokens = f.tokens_used if f else 0
    run = f" · [run]({run_url})" if run_url else ""
    out += [f"error-autopilot {tool_version} · LLM tokens: {tokens:,}{run}", "", "</details>", "",
            MARKER.format(fp=i.fingerprint)]  # fmt: skip
    return out


def _samples(p: PlannedIncident, t: Untrusted, limit: int) -> list[str]:
    samples = p.incident.sample[-limit:] if limit else ()
    if not samples:
        return []
    out = ["### Sample log lines", ""]
    for s in samples:
        trace = f", trace `{s.trace_id}`" if s.trace_id else ""
        out += [f"Line `{s.line_id[:12]}`{trace}:", t.code(s.text, limit=1500), ""]
    return out


def render_issue(
    planned: PlannedIncident, finding: Finding | None, *, grafana: GrafanaLinks | None, loki_selector: str | None,
    redactor: Redactor, tool_version: str, truncated: Sequence[str] = (), run_url: str | None = None,
    decision: Decision | None = None,
) -> RenderedIssue:  # fmt: skip
    """The issue: title, body (≤ BODY_LIMIT, trimming evidence, never the summary) and labels."""
    t = Untrusted(redactor)
    i = planned.incident
    # titles are plain text on GitHub, but a mention or a tag in one is still read by people and tools
    title = f"[{i.service}] {t.clean(i.title)}".replace("\n", " ").replace("\r", " ")
    title = title.replace("@", "＠").replace("<", "‹").replace(">", "›")[:200]
    head = [_summary(planned, finding, t), ""]
    if planned.status == "regressed":
        head.insert(0, "> **Regression**: this error had stopped and is back.\n")
    sections: list[Callable[[int], list[str]]] = [
        lambda _: _location_section(finding, t) if finding else [],
        lambda _: _trace_section(finding, t) if finding else [],
        lambda _: _suspects_section(finding, t) if finding else [],
        lambda _: _analysis_section(finding, t, decision) if finding else [],
        lambda n: _samples(planned, t, n),
    ]
    for samples in (3, 1, 0):
        note = list(truncated) + ([] if samples == 3 else ["sample lines trimmed to fit GitHub's size limit"])
        body = "\n".join([*head, *(line for s in sections for line in s(samples)), *_occurrences(planned, t), "",
                          *_links(planned, finding, grafana, loki_selector),
                          *_footer(planned, finding, t, tool_version, note, run_url)])  # fmt: skip
        if len(body) <= BODY_LIMIT:
            break
    else:
        footer = "\n".join(_footer(planned, finding, t, tool_version, [*truncated, "evidence cut to fit"], run_url))
        body = "\n".join(head)[: BODY_LIMIT - len(footer) - 10] + "\n\n" + footer
    labels = ["error-autopilot", f"service:{i.service}", *(f"env:{e}" for e in i.environments or (i.environment,))]
    if finding and finding.error_class != "unknown":
        labels.append(finding.error_class)
    if planned.status == "regressed":
        labels.append("regressed")
    return RenderedIssue(title=title, body=body, labels=tuple(dict.fromkeys(label[:50] for label in labels)),
                         fingerprint=i.fingerprint)  # fmt: skip


def render_regression_comment(planned: PlannedIncident) -> str:
    """The comment on a reopened issue."""
    i = planned.incident
    return (f"🔁 **Regression**: this error is back since {_when(i.first_seen)} "
            f"({i.count} occurrence(s) in {', '.join(i.environments or (i.environment,))}). "
            "Reopened by error-autopilot.")  # fmt: skip


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
    title = f"[{i.service}] caused by {finding.culprit_service}: {t.clean(i.title)}"
    title = title.replace("@", "＠").replace("<", "‹").replace(">", "›").replace("\n", " ")[:200]
    return RenderedIssue(title=title, body=body, labels=("error-autopilot", f"service:{i.service}", "symptom"),
                         fingerprint=fp)  # fmt: skip


def render_material_comment(planned: PlannedIncident) -> str | None:
    """A comment for a recurring issue only when something changed materially: a new environment, or
    at least 10× the occurrences of the previous window. Never one per run."""
    i = planned.incident
    if planned.status != "recurring":
        return None
    changes = []
    new_envs = [
        e
        for e in i.environments or (i.environment,)
        if planned.known_environments and e not in planned.known_environments
    ]
    if new_envs:
        changes.append(f"now also seen in **{', '.join(new_envs)}**")
    if planned.previous_count and i.count >= 10 * planned.previous_count:
        changes.append(f"**{i.count}** occurrences this window, up from {planned.previous_count}")
    return f"📈 This error changed: {'; '.join(changes)} (last seen {_when(i.last_seen)})." if changes else None


def render_pr_body(planned: PlannedIncident, finding: Finding, *, issue_number: int, decision: object) -> str:
    """The draft PR description: what changed, why it was allowed, the test result."""
    t = Untrusted(Redactor())
    a, check = finding.analysis, finding.patch_check
    allowed = [r for r in getattr(decision, "reasons", ()) if r.passed]
    tests = "not run (no test_command)" if not check or check.test_passed is None else (
        "passed" if check.test_passed else "failed")  # fmt: skip
    return "\n".join([
        f"Fixes #{issue_number}", "",
        f"**Proposed fix ({t.inline(a.fix_kind if a else '', 30)})**: {t.inline(a.root_cause if a else '', 1500)}", "",
        f"Files: {', '.join(f'`{x}`' for x in (check.files if check else ()))}; "
        f"changed lines: {check.changed_lines if check else 0}; tests: {tests}.",
        "", "Allowed by the auto-fix policy because: " + "; ".join(t.inline(r.detail, 120) for r in allowed), "",
        "This is a draft for human review. error-autopilot never merges.",
    ])  # fmt: skip
