"""Comments, cross-links and the draft PR description (pure): short texts around the issue body."""

from __future__ import annotations

import hashlib
from datetime import datetime

from error_autopilot.domain.decisions import Decision
from error_autopilot.domain.findings import Finding
from error_autopilot.domain.incidents import PlannedIncident
from error_autopilot.investigation.sanitize import Redactor
from error_autopilot.ports import RenderedIssue
from error_autopilot.sinks.headline import issue_title
from error_autopilot.sinks.markers import MARKER, TITLE_LIMIT, section
from error_autopilot.sinks.untrusted import Untrusted

LABEL_LIMIT = 50  # GitHub's maximum label name length


def when(dt: datetime) -> str:
    """A timestamp as the issue shows it."""
    return dt.strftime("%Y-%m-%d %H:%M UTC")


def environments(planned: PlannedIncident) -> tuple[str, ...]:
    """Where the incident was seen this window, first-seen first."""
    i = planned.incident
    return i.environments or (i.environment,)


def label(text: str, t: Untrusted) -> str:
    """A GitHub label: plain, ≤ 50 characters, no comma (it would split a `?labels=` filter)."""
    return t.plain(text, LABEL_LIMIT).replace(",", ";")


def render_regression_comment(planned: PlannedIncident) -> str:
    """The comment on a reopened issue: since when, how often, where."""
    i = planned.incident
    return (f"🔁 **Regression**: this error is back since {when(i.first_seen)} "
            f"({i.count} occurrence(s) in {', '.join(environments(planned))}, last seen {when(i.last_seen)}). "
            "Reopened by error-autopilot.")  # fmt: skip


def render_material_comment(planned: PlannedIncident) -> str | None:
    """A comment for a recurring issue only when something changed materially: a new environment, or
    at least 10× the occurrences of the previous window. One line, saying what changed. Never one per run."""
    i = planned.incident
    if planned.status != "recurring":
        return None
    changes = []
    new_envs = [e for e in environments(planned) if planned.known_environments and e not in planned.known_environments]
    if new_envs:
        changes.append(f"now also seen in **{', '.join(new_envs)}** (before: {', '.join(planned.known_environments)})")
    if planned.previous_count and i.count >= 10 * planned.previous_count:
        changes.append(f"**{i.count}** occurrences this window, up from {planned.previous_count}")
    if not changes:
        return None
    return f"📈 Changed since the last update: {'; '.join(changes)}; last seen {when(i.last_seen)}."


def crosslink_fingerprint(fingerprint: str) -> str:
    """The marker of the cross-link left in the symptom service's repo (distinct from the bug's own)."""
    return hashlib.sha256(f"{fingerprint}:symptom".encode()).hexdigest()[:16]


def render_crosslink(planned: PlannedIncident, finding: Finding, issue_url: str, redactor: Redactor) -> RenderedIssue:
    """A short pointer in the symptom service's repo to the issue filed where the failure starts."""
    t = Untrusted(redactor)
    i = planned.incident
    fp = crosslink_fingerprint(i.fingerprint)
    body = "\n".join([
        f"**{t.inline(i.service, 60)}** logs this error ({i.count} occurrence(s), last seen {when(i.last_seen)}), "
        f"but the failure starts in **{t.inline(finding.culprit_service, 60)}**: tracked in {issue_url}.",
        "", "This issue only points there; error-autopilot keeps it in step with that one.", "",
        MARKER.format(fp=fp),
    ])  # fmt: skip
    title = t.plain(f"Caused by {finding.culprit_service}: {issue_title(i, t)}", TITLE_LIMIT)
    return RenderedIssue(title=title, body=body, labels=("error-autopilot", label(f"service:{i.service}", t),
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


def _versions(versions: tuple[str, ...], t: Untrusted) -> str:
    return ", ".join(t.span(v or "(no version)", 60) for v in versions)


def render_fixed_regression(planned: PlannedIncident, t: Untrusted) -> str:
    """The comment on an issue reopened because its fix did not hold: the fix, the version, the evidence."""
    i = planned.incident
    sha = (planned.fix_commit or "")[:12]
    return (f"🔁 **Regressed**: fix `{sha}` is in {_versions(planned.fixed_versions, t)} and the error came back "
            f"({i.count} occurrence(s) in {', '.join(t.span(e, 60) for e in environments(planned))}, "
            f"last seen {when(i.last_seen)}). Reopened by error-autopilot.")  # fmt: skip


def render_old_version(planned: PlannedIncident, t: Untrusted) -> str:
    """The comment on a fixed issue when only versions without the fix still log the error."""
    i = planned.incident
    sha = (planned.fix_commit or "")[:12]
    return (f"ℹ️ Still seen on {_versions(planned.old_versions, t)} in "
            f"{', '.join(t.span(e, 60) for e in environments(planned))} ({i.count} occurrence(s), last "
            f"{when(i.last_seen)}); the fix `{sha}` is not deployed there. "
            "Not a regression: the issue stays closed.")  # fmt: skip


def render_verified(version: str, environment: str, fix_commit: str, quiet_hours: float, t: Untrusted) -> str:
    """The one comment saying a fix held: which version, where, for how long."""
    return (f"✅ **Verified fixed in {t.span(version, 60)} ({t.span(environment, 60)})**: that version contains "
            f"fix `{fix_commit[:12]}` and has run {quiet_hours:g} h without this error.")  # fmt: skip


def render_introduced(planned: PlannedIncident, t: Untrusted) -> str | None:
    """Where the error first appeared and the commits since the version before, touching its stack's files."""
    if not planned.first_version:
        return None
    text = f"**First seen in** {t.span(planned.first_version, 60)}"
    if not planned.introduced_after:
        return text + " (no earlier version seen)."
    text += f", after {t.span(planned.introduced_after, 60)}."
    if not planned.suspects:
        return text + " No commit between them touches the files on its stack."
    lines = [f"- `{s[:12]}` {t.inline(s[41:], 120)}" for s in planned.suspects[:10]]
    return "\n".join([text + " Prime suspects, the commits between them touching files on its stack:", *lines])


def with_section(body: str, heading: str, name: str, text: str) -> str:
    """`body` with a headed live section added just before its fingerprint marker (which stays last)."""
    block = f"\n\n### {heading}\n\n{section(name, text)}\n\n"
    start = body.rfind("<!-- error-autopilot:fingerprint=")
    return body + block if start < 0 else body[:start].rstrip("\n") + block + body[start:]
