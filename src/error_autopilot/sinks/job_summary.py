"""The job summary and the terminal table: a run report as Markdown (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from error_autopilot.domain.report import PublishedIncident, RunReport
from error_autopilot.investigation.sanitize import sanitize
from error_autopilot.state.model import IncidentRecord, State

_STATUS_ICON = {"new": "🆕", "regressed": "🔁", "recurring": "↻", "muted": "🔇", "pending": "⏳"}


def _cell(text: str | None, limit: int = 90) -> str:
    """Untrusted text made safe for one Markdown table cell."""
    if not text:
        return ""
    text = sanitize(text).replace("\n", " ").replace("|", "\\|")
    text = text.replace("<", "&lt;").replace(">", "&gt;").replace("@", "&#64;").replace("`", "'")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _link(label: str, url: str | None) -> str:
    return f"[{label}]({url})" if url else label


def _headline(report: RunReport) -> str:
    new, regressed = report.count("new"), report.count("regressed")
    recurring, muted = report.count("recurring"), report.count("muted")
    if report.errors:
        lead = f"⚠️ **Run finished with {len(report.errors)} error(s)**"
    elif new or regressed:
        lead = f"🚨 **{new} new, {regressed} regressed**"
    else:
        lead = "✅ **No new errors**"
    return f"{lead} · {recurring} recurring · {muted} muted · {report.tokens_used:,} LLM tokens"


def _pr(i: PublishedIncident) -> str:
    if i.pr_url:
        return _link("draft PR", i.pr_url)
    if i.pr_action != "none":
        return i.pr_action
    refused = [r for r in i.policy_refusals if not r.passed]
    return f"no: {_cell(refused[0].rule, 40)}" if refused else "—"


def _incident_rows(incidents: Iterable[PublishedIncident]) -> list[str]:
    """Answer first, as in the issue: what, where, how often; then the issue, the PR (or the rule that refused
    it) and the service that logged it."""
    rows = ["| | Error | Where | Count | Issue | Draft PR | Logged by |", "|---|---|---|---:|---|---|---|"]
    for i in incidents:
        issue = _link(f"#{i.issue_number}" if i.issue_number else i.issue_action, i.issue_url)
        note = f" ({_cell(i.note, 120)})" if i.note else ""
        rows.append(
            f"| {_STATUS_ICON.get(i.status, '')} {i.status}{note} | {_cell(i.title)} | {_cell(i.culprit, 60) or '—'} "
            f"| {i.count} | {issue} | {_pr(i)} | {_cell(i.service, 40)} |"
        )
    return rows


_LIFECYCLE_ICON = {"fixed": "🔧", "verified": "✅", "muted": "🔇", "reopened": "↩️", "closed": "☑️"}


def _issue_link(record: IncidentRecord) -> str:
    return _link(f"#{record.issue.number}", record.issue.url) if record.issue else "—"


def render_digest(state: State, *, now: datetime, days: int) -> str:
    """The periodic "are we getting better" section: open incidents by volume and age, and what was
    fixed, verified, regressed and muted in the last `days` days."""
    since = now - timedelta(days=days)
    records = list(state.incidents.values())
    open_ = sorted((r for r in records if r.issue and r.issue.state == "open" and not r.muted),
                   key=lambda r: -r.total_count)  # fmt: skip
    fixed = [r for r in records if r.fix and r.fix.recorded_at >= since]
    verified = [r for r in records if r.verified and r.verified.at >= since]
    regressed = [r for r in records if r.regressed_at and r.regressed_at >= since]
    muted = [r for r in records if r.muted]
    out = [f"### Digest: the last {days} day(s)", "",
           f"**{len(open_)} open** · {len(fixed)} fixed · {len(verified)} verified · {len(regressed)} regressed · "
           f"{len(muted)} muted ({sum(r.total_count for r in muted):,} occurrences counted silently)", ""]  # fmt: skip
    if open_:
        out += ["| Open incident | Service | Age | Occurrences | Issue |", "|---|---|---:|---:|---|"]
        out += [f"| {_cell(r.title)} | {_cell(r.service, 40)} | {(now - r.first_seen).days} d | {r.total_count:,} "
                f"| {_issue_link(r)} |" for r in open_[:10]]  # fmt: skip
        out.append("")
    for heading, items in (("Verified", verified), ("Regressed", regressed), ("Fixed, not yet verified", fixed)):
        shown = [r for r in items if heading != "Fixed, not yet verified" or r.verified is None]
        if shown:
            out += [f"**{heading}:** " + ", ".join(f"{_cell(r.title, 60)} {_issue_link(r)}" for r in shown), ""]
    return "\n".join(out)


def render_summary(report: RunReport, *, run_url: str | None = None) -> str:
    """The job summary: the answer first, then what was polled, then details."""
    order = {"regressed": 0, "new": 1, "pending": 2, "recurring": 3, "muted": 4}
    incidents = sorted(report.incidents, key=lambda i: (order.get(i.status, 9), -i.count))
    out = ["## error-autopilot", "", _headline(report), ""]
    if report.dry_run:
        out += ["> Dry run: nothing was written to GitHub or to the state branch.", ""]
    if incidents:
        out += [*_incident_rows(incidents), ""]
    if report.lifecycle:
        out += ["### Since the last run"]
        out += [f"- {_LIFECYCLE_ICON.get(e.kind, '')} {_link(_cell(e.title, 80), e.issue_url)}: {_cell(e.detail, 200)}"
                for e in report.lifecycle]  # fmt: skip
        out.append("")
    if report.errors:
        out += ["### Errors", *(f"- {_cell(e, 400)}" for e in report.errors), ""]
    refusals = [(i, r) for i in incidents for r in i.policy_refusals]
    if refusals:
        out += ["### Auto-fix refused"]
        out += [f"- `{i.fingerprint}` {_cell(r.rule)}: {_cell(r.detail)}" for i, r in refusals]
        out.append("")
    out += ["### Polled", "| Environment | Lines | Events | Pages | Late | Skipped | Note |"]
    out += ["|---|---:|---:|---:|---:|---:|---|"]
    for w in report.windows:
        rejoined = f"{w.rejoined} split traces rejoined from {w.rejoined_lines} lines" if w.rejoined else ""
        parts = (f"truncated: {w.truncated_reason}" if w.truncated else "", w.error or "", rejoined, w.rejoin_note)
        note = "; ".join(x for x in parts if x)
        out.append(
            f"| {_cell(w.environment)} | {w.lines} | {w.events} | {w.pages} | {w.late} | {w.skipped} | {_cell(note)} |"
        )
    out.append("")
    if report.truncated:
        out += ["### Truncated", *(f"- {_cell(t, 300)}" for t in report.truncated), ""]
    if report.notifications:
        out += ["### Notifications", *(f"- {_cell(n, 200)}" for n in report.notifications), ""]
    if report.digest:
        out += [report.digest, ""]
    timing = " · ".join(f"{stage} {secs:.1f}s" for stage, secs in report.durations_s.items())
    footer = f"Run `{report.run_id}` ({report.trigger}) · {timing}"
    out.append(_link(footer, run_url) if run_url else footer)
    return "\n".join(out) + "\n"


def render_table(report: RunReport) -> str:
    """A plain-text table for the terminal (`plan` and `run` print it)."""
    incidents = sorted(report.incidents, key=lambda i: -i.count)
    lines = [_headline(report).replace("**", ""), ""]
    if not incidents:
        return "\n".join(lines)
    width = max(len(i.service) for i in incidents)
    lines.append(f"{'STATUS':<10} {'COUNT':>6}  {'SERVICE':<{width}}  {'FINGERPRINT':<16}  TITLE")
    for i in incidents:
        title = sanitize(i.title).replace("\n", " ")
        lines.append(f"{i.status:<10} {i.count:>6}  {i.service:<{width}}  {i.fingerprint:<16}  {title[:80]}")
        if i.issue_url or i.culprit:
            lines.append(f"{'':<10} {'':>6}  {'':<{width}}  {'':<16}  → {i.culprit or ''} {i.issue_url or ''}".rstrip())
    return "\n".join(lines)
