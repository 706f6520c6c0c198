"""Publishing one incident: decide under the policy, render, upsert the issue, propose the PR.

Over ports only; the concrete tracker (GitHub or local folder) and proposer are injected.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace

from error_autopilot.config.service_map import ServiceMap
from error_autopilot.decisions.policy import decide
from error_autopilot.domain.decisions import Decision
from error_autopilot.domain.errors import SinkError
from error_autopilot.domain.findings import Finding
from error_autopilot.domain.incidents import PlannedIncident
from error_autopilot.domain.report import PublishedIncident
from error_autopilot.investigation.sanitize import Redactor
from error_autopilot.ports import ChangeProposer, IssueTracker, ProposedChange, RenderedIssue
from error_autopilot.sinks import comments, render
from error_autopilot.sinks.headline import issue_title
from error_autopilot.sinks.untrusted import Untrusted
from error_autopilot.state.model import IssueRef

log = logging.getLogger(__name__)

_GITHUB_REPO = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_GITHUB_URL = re.compile(r"^(?:https?://[^/]+/|git@[^:]+:)([\w.-]+/[\w.-]+?)(?:\.git)?/?$")


def github_repo_name(repo: str) -> str | None:
    """owner/name for a service repo given as owner/name or a GitHub(-like) URL; None for paths."""
    if _GITHUB_REPO.match(repo) and not repo.startswith((".", "/")):
        return repo
    match = _GITHUB_URL.match(repo)
    return match.group(1) if match else None


def _traces(planned: PlannedIncident, finding: Finding | None) -> set[str]:
    return {*planned.incident.trace_ids, *((finding.trace.trace_id,) if finding and finding.trace else ())}


def relation(a: PlannedIncident, fa: Finding | None, b: PlannedIncident, fb: Finding | None) -> str | None:
    """How incident `b` relates to incident `a`, seen from `a`'s issue: its culprit, its symptom, or a
    shared trace; None when unrelated."""
    shared = sorted(_traces(a, fa) & _traces(b, fb))
    same_line = bool(fa and fb and fa.primary_location and fa.primary_location == fb.primary_location)
    if not shared and not same_line:
        return None
    service_a, service_b = a.incident.service, b.incident.service
    if fa and fa.culprit_service != service_a and fa.culprit_service == service_b:
        return f"where this failure starts ({service_b} logs the exception)"
    if fb and fb.culprit_service != service_b and fb.culprit_service == service_a:
        return f"symptom: {service_b} logs this failure"
    return "same culprit line" if same_line else f"shares trace {shared[0][:8]}"


@dataclass
class _Filed:
    """An incident published this run, to link later related incidents back to it."""

    planned: PlannedIncident
    finding: Finding | None
    decision: Decision
    repo: str
    ref: IssueRef
    links: list[render.RelatedIssue] = field(default_factory=list)


@dataclass
class Publisher:
    """Callable that publishes one incident; see pipeline.publish for the loop around it."""

    smap: ServiceMap
    tracker: IssueTracker
    proposer: ChangeProposer | None
    redactor: Redactor
    tool_version: str
    fallback_repo: str  # issues for unmapped or non-GitHub services (the repo the action runs in)
    run_url: str | None = None
    filed: dict[str, _Filed] = field(default_factory=dict)  # this run's issues, by fingerprint

    def issue_repo(self, planned: PlannedIncident, finding: Finding | None) -> str:
        """The culprit's GitHub repo (or its issue_repo), else the symptom's, else the fallback."""
        for name in (finding.culprit_service if finding else None, planned.incident.service):
            canonical = self.smap.resolve_service(name) if name else None
            if canonical:
                service = self.smap.services[canonical]
                return github_repo_name(service.issue_repo or service.repo) or self.fallback_repo
        return self.fallback_repo

    def __call__(self, planned: PlannedIncident, finding: Finding | None, prs_this_run: int) -> PublishedIncident:
        incident = planned.incident
        env = self.smap.environments.get(incident.environment)
        analysis = finding.analysis if finding else None
        decision = decide(
            planned, finding, analysis, finding.patch_check if finding else None,
            environment=env, policy=self.smap.policy.auto_fix, prs_this_run=prs_this_run,
        )  # fmt: skip
        culprit = _culprit_text(finding)
        base = PublishedIncident(
            fingerprint=incident.fingerprint, service=incident.service, environment=incident.environment,
            title=issue_title(incident, Untrusted(self.redactor)), status=planned.status, count=incident.count,
            culprit=culprit,
            policy_refusals=decision.refused_by, tokens_used=finding.tokens_used if finding else 0,
        )  # fmt: skip
        if decision.action == "skip":
            return base
        related = self._related(planned, finding)
        rendered = self._render(planned, finding, decision, [link for link, _ in related])
        repo = self.issue_repo(planned, finding)
        known = (
            IssueRef(repo=planned.issue_repo or repo, number=planned.issue_number, url=planned.issue_url or "",
                     state="closed" if planned.issue_closed else "open")
            if planned.issue_number
            else None
        )  # fmt: skip
        regressed = planned.status == "regressed"
        comment, note = self._comment(planned)
        outcome = self.tracker.upsert(repo, rendered, known, regressed, comment)
        result = base.model_copy(
            update={
                "issue_url": outcome.ref.url, "issue_number": outcome.ref.number, "issue_repo": outcome.ref.repo,
                "issue_action": outcome.action,
                # a closed issue found by its marker is reopened: that is a regression even if state missed it
                "status": "regressed" if outcome.action == "reopened" else planned.status,
                "note": note,
            }
        )  # fmt: skip
        self._crosslink(planned, finding, repo, outcome.ref.url)
        filed = _Filed(planned, finding, decision, outcome.ref.repo or repo, outcome.ref,
                       [link for link, _ in related])  # fmt: skip
        self.filed[incident.fingerprint] = filed
        self._link_back(filed, [other for _, other in related])
        if decision.action == "issue_and_pr" and self.proposer and finding and analysis and analysis.patch:
            result = self._propose(result, planned, finding, outcome.ref, decision)
        return result

    def _comment(self, planned: PlannedIncident) -> tuple[str | None, str | None]:
        """The comment for this publication, and the lifecycle note for the report."""
        t = Untrusted(self.redactor)
        if planned.fix_commit and planned.status == "regressed":
            fixed_in = ", ".join(planned.fixed_versions)
            note = f"fix {planned.fix_commit[:12]} is in {fixed_in} and the error came back"
            return comments.render_fixed_regression(planned, t), note
        if planned.issue_closed and planned.status == "recurring":
            envs = ", ".join(comments.environments(planned))
            note = f"still seen on {', '.join(planned.old_versions)} in {envs}; the fix is not deployed there"
            # said once per version: an old version logging every run must not comment every run
            return (None if planned.old_versions_noted else comments.render_old_version(planned, t)), note
        if planned.status == "regressed":
            return comments.render_regression_comment(planned), None
        return comments.render_material_comment(planned), None

    def _render(self, planned: PlannedIncident, finding: Finding | None, decision: Decision,
                related: list[render.RelatedIssue]) -> RenderedIssue:  # fmt: skip
        env = self.smap.environments.get(planned.incident.environment)
        truncated = (*planned.incident.truncated, *(finding.truncated if finding else ()))
        rendered = render.render_issue(
            planned, finding, grafana=env.grafana if env else None, loki_selector=env.loki.selector if env else None,
            redactor=self.redactor, tool_version=self.tool_version, truncated=truncated, run_url=self.run_url,
            decision=decision, related=related,
        )  # fmt: skip
        introduced = comments.render_introduced(planned, Untrusted(self.redactor))
        if introduced is None:
            return rendered
        return replace(rendered, body=comments.with_section(rendered.body, "Introduced in", "introduced", introduced))

    def _related(self, planned: PlannedIncident, finding: Finding | None) -> list[tuple[render.RelatedIssue, _Filed]]:
        """Issues filed earlier this run that share a culprit or a trace with this incident."""
        out = []
        for other in self.filed.values():
            if (why := relation(planned, finding, other.planned, other.finding)) is not None:
                title = issue_title(other.planned.incident, Untrusted(self.redactor))
                out.append((render.RelatedIssue(why, title, other.ref.url or None), other))
        return out

    def _link_back(self, filed: _Filed, others: list[_Filed]) -> None:
        """Add the new issue to the related issues filed before it, so links go both ways."""
        for other in others:
            why = relation(other.planned, other.finding, filed.planned, filed.finding)
            if why is None:
                continue
            title = issue_title(filed.planned.incident, Untrusted(self.redactor))
            other.links.append(render.RelatedIssue(why, title, filed.ref.url or None))
            try:
                rendered = self._render(other.planned, other.finding, other.decision, other.links)
                self.tracker.upsert(other.repo, rendered, other.ref, False, None)
            except SinkError as e:  # the link is a convenience: the issues themselves are published
                log.warning("linking %s to %s failed: %s", other.planned.incident.fingerprint,
                            filed.planned.incident.fingerprint, e)  # fmt: skip

    def _crosslink(self, planned: PlannedIncident, finding: Finding | None, issue_repo: str, url: str) -> None:
        """Point the symptom service's repo at the culprit's issue, when they differ."""
        if finding is None or finding.culprit_service == planned.incident.service:
            return
        symptom = self.smap.resolve_service(planned.incident.service)
        service = self.smap.services.get(symptom) if symptom else None
        repo = github_repo_name(service.issue_repo or service.repo) if service else None
        if repo is None or repo == issue_repo:
            return
        try:
            self.tracker.upsert(
                repo, comments.render_crosslink(planned, finding, url, self.redactor), None, False, None
            )
        except SinkError as e:  # the real issue is published; a missing pointer is said, not fatal
            log.warning("cross-link in %s for %s failed: %s", repo, planned.incident.fingerprint, e)

    def _propose(
        self, result: PublishedIncident, planned: PlannedIncident, finding: Finding, issue: IssueRef,
        decision: object,
    ) -> PublishedIncident:  # fmt: skip
        assert self.proposer is not None and finding.analysis is not None and finding.analysis.patch
        canonical = self.smap.resolve_service(finding.culprit_service) or finding.culprit_service
        service = self.smap.services.get(canonical)
        target = github_repo_name(service.repo) if service else None
        if target is None:  # a PR needs a GitHub repository; the issue still carries the analysis
            return result
        change = ProposedChange(
            repo=target,
            base_branch=service.branch if service else "main",
            base_commit=finding.deployed_commit or "",
            fingerprint=planned.incident.fingerprint,
            patch=finding.analysis.patch,
            title=f"fix({canonical}): {issue_title(planned.incident, Untrusted(self.redactor))}"[:200],
            body=comments.render_pr_body(planned, finding, issue_number=issue.number, decision=decision),
            issue_number=issue.number,
        )
        try:
            pr, action = self.proposer.propose(change)
        except SinkError as e:  # the issue is published; a PR that could not be opened is said, not fatal
            log.error("draft PR for %s failed: %s", planned.incident.fingerprint, e)
            return result.model_copy(update={"pr_action": "failed", "error": f"draft PR not opened: {e.message}"})
        return result.model_copy(
            update={"pr_url": pr.url, "pr_number": pr.number, "pr_branch": pr.branch, "pr_repo": pr.repo,
                    "pr_action": action}
        )  # fmt: skip


def _culprit_text(finding: Finding | None) -> str | None:
    if finding is None:
        return None
    loc = finding.primary_location
    if loc is None:
        return finding.culprit_service
    where = f"{loc.path}:{loc.line}" if loc.line else loc.path
    return f"{finding.culprit_service} {where}"
