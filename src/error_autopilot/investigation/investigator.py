"""One incident investigated: trace → culprit service → deployed code → lines → suspects → class,
then (when configured) the Claude analyst and a check of any patch it proposes.

Never raises for a trace not found, an unmapped service or a clone failure: each becomes a plain
sentence in Finding.unknowns, and the incident is published with what is known."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from error_autopilot.config.service_map import ServiceMap
from error_autopilot.domain.errors import AnalystError, SourceError, WorkspaceError
from error_autopilot.domain.findings import CodeLocation, Finding, TraceSummary
from error_autopilot.domain.incidents import PlannedIncident
from error_autopilot.domain.stack import StackTrace
from error_autopilot.incidents.stacktrace import parse_stacktrace
from error_autopilot.investigation import blame, traces
from error_autopilot.investigation.classify import classify
from error_autopilot.investigation.framenames import (
    callback_caller,
    class_constructor,
    constructed_class,
    enclosing_function,
    inferred_name,
    is_anonymous,
    receiver_property,
    reobfuscated,
    same_line_caller,
)
from error_autopilot.investigation.patchcheck import check_patch
from error_autopilot.investigation.pathmap import below_package_root, compiled_elsewhere
from error_autopilot.investigation.stackmap import MAX_CANDIDATES, Candidate, rank
from error_autopilot.ports import Analyst, Budget, CheckedOut, TraceSource, Workspace

log = logging.getLogger(__name__)
TRACES_TRIED = 2


@dataclass(frozen=True)
class _TraceEvidence:
    summary: TraceSummary | None = None
    stacktrace: str | None = None  # exception.stacktrace of the culprit span
    version: str | None = None  # the culprit's deployed version from its resource attributes


class Investigator:
    """Builds a Finding per planned incident."""

    def __init__(
        self, smap: ServiceMap, traces_by_env: Mapping[str, TraceSource], workspace: Workspace,
        analyst: Analyst | None = None, budget: Budget | None = None,
    ) -> None:  # fmt: skip
        self._smap = smap
        self._traces = traces_by_env
        self._workspace = workspace
        self._analyst = analyst
        self._budget = budget

    def _trace(self, planned: PlannedIncident, unknowns: list[str]) -> _TraceEvidence:
        source = self._traces.get(planned.incident.environment)
        if source is None or not planned.incident.trace_ids:
            unknowns.append("no trace: " + ("no Tempo configured" if source is None else "the logs carry no trace id"))
            return _TraceEvidence()
        summary = None
        for trace_id in planned.incident.trace_ids[-TRACES_TRIED:][::-1]:
            try:
                trace = source.get_trace(trace_id)
            except SourceError as e:
                unknowns.append(f"trace {trace_id}: Tempo refused the request ({e.message})")
                return _TraceEvidence()
            if trace.status == "unavailable":  # another id would meet the same outage: say it once
                unknowns.append(f"no trace: Tempo unavailable ({trace.message})")
                return _TraceEvidence()
            summary = traces.summarise(trace)
            if summary.culprit_service:
                return _TraceEvidence(
                    summary,
                    traces.exception_stacktrace(trace, summary.culprit_span_id),
                    traces.deployed_version(trace, summary.culprit_service),
                )
        if summary is not None:
            unknowns.append(f"trace {summary.trace_id}: {summary.status.replace('_', ' ')} {summary.note}".strip())
        return _TraceEvidence(summary)

    def investigate(self, planned: PlannedIncident) -> Finding:
        """The finding for one incident."""
        incident = planned.incident
        unknowns: list[str] = []
        evidence = self._trace(planned, unknowns)
        summary = evidence.summary
        culprit = incident.service
        stack: StackTrace | None = incident.stack
        version = incident.versions[-1] if incident.versions else None
        if summary and summary.culprit_service:
            traced = self._smap.resolve_service(summary.culprit_service) or summary.culprit_service
            if traced != incident.service:
                unknowns.append(f"logs point at {incident.service}, the trace at {traced}: showing the trace's culprit")
                stack, version = None, None
            culprit = traced
            version = evidence.version or version
            config = self._smap.services.get(culprit)
            if stack is None and evidence.stacktrace:
                stack = parse_stacktrace(
                    evidence.stacktrace, packages=config.packages if config else (),
                    source_roots=config.source_roots if config else (),
                )  # fmt: skip
        exc_type = (stack.primary.type if stack else None) or incident.exception_type
        exc_message = stack.primary.message if stack else (summary.exception_message if summary else None)
        error_class, rule, confidence = classify(exc_type, exc_message or incident.title)
        finding = Finding(
            fingerprint=incident.fingerprint, symptom_service=incident.service, culprit_service=culprit,
            error_class=error_class, classification_rule=rule, confidence=confidence, trace=summary,
        )  # fmt: skip
        # the log text the stack was read from: the parse keeps no trace of the source lines Python prints
        printed = (*(s.text for s in incident.sample), *((evidence.stacktrace,) if evidence.stacktrace else ()))
        finding, checkout = self._locate(finding, stack, version, unknowns, printed)
        finding = finding.model_copy(update={"unknowns": tuple(unknowns)})
        if self._analyst is not None and checkout is not None and self._budget is not None:
            finding = self._analyse(planned, finding, checkout)
        return finding

    def _locate(
        self, finding: Finding, stack: StackTrace | None, version: str | None, unknowns: list[str],
        printed: Sequence[str] = (),
    ) -> tuple[Finding, CheckedOut | None]:  # fmt: skip
        service = self._smap.services.get(finding.culprit_service)
        if service is None:
            unknowns.append(f"{finding.culprit_service} is not in the service map: no code to look at")
            return finding, None
        try:
            checkout = self._workspace.checkout(service.repo, version, service.branch, service.tag_pattern)
        except WorkspaceError as e:
            unknowns.append(f"could not check out {service.repo}: {e.message}")
            return finding, None
        update: dict[str, object] = {"culprit_repo": service.repo, "deployed_commit": checkout.commit,
                                     "commit_source": checkout.ref_source}  # fmt: skip
        if stack is None:
            unknowns.append("no stack trace: no line of the log entry reads as a stack frame or a file:line position")
            return finding.model_copy(update=update), checkout
        ranking = rank(stack, blame.listing(checkout.path, checkout.commit), packages=service.packages,
                       source_roots=service.source_roots,
                       grep=lambda pattern: blame.grep(checkout.path, checkout.commit, pattern),
                       symlinks=blame.symlinks(checkout.path, checkout.commit), printed=printed)  # fmt: skip
        update["frame_notes"] = ranking.frame_notes
        if not ranking.candidates:
            unknowns.append(ranking.no_location_reason())
            return finding.model_copy(update=update), checkout
        named = [_named(checkout, c, stack) for c in ranking.candidates[:MAX_CANDIDATES]]
        seen = [(c.path, c.function, c.frame.line) for c in named]  # a callback named after its caller is its caller
        chain = tuple(self._location(checkout, c) for i, c in enumerate(named) if seen[i] not in seen[:i])
        primary = chain[0]
        self._workspace.prefetch_history(checkout, [location.path for location in chain])
        update |= {
            "primary_location": primary, "evidence_chain": chain,
            "snippet": blame.snippet(checkout.path, primary),
            "suspects": tuple(
                blame.suspects(checkout.path, checkout.commit, primary.path, primary.line, checkout.web_url)
            ),
        }  # fmt: skip
        return finding.model_copy(update=update), checkout

    @staticmethod
    def _location(checkout: CheckedOut, candidate: Candidate) -> CodeLocation:
        path, line = candidate.path, candidate.frame.line
        link = f"{checkout.web_url}/blob/{checkout.commit}/{path}" + (f"#L{line}" if line else "")
        return CodeLocation(repo=checkout.repo, commit=checkout.commit, path=path, line=line,
                            function=candidate.function or None, permalink=link if checkout.web_url else None,
                            reason=candidate.reason)  # fmt: skip

    def _analyse(self, planned: PlannedIncident, finding: Finding, checkout: CheckedOut) -> Finding:
        assert self._analyst is not None and self._budget is not None
        budget = Budget(tokens=self._budget.tokens, turns=self._budget.turns, seconds=self._budget.seconds)
        try:
            analysis = self._analyst.analyse(planned, finding, [checkout], budget)
        except AnalystError as e:
            return finding.model_copy(update={"unknowns": (*finding.unknowns, f"LLM analysis failed: {e.message}")})
        notes = tuple(budget.notes)
        update: dict[str, object] = {
            "analysis": analysis, "tokens_used": budget.spent_tokens,
            "truncated": (*finding.truncated, *(n for n in notes if "budget" in n)),
        }  # fmt: skip
        if analysis is not None and analysis.patch:
            config = self._smap.services.get(finding.culprit_service)
            update["patch_check"] = check_patch(
                analysis.patch, checkout.path, test_command=config.test_command if config else None,
                timeout_s=config.test_timeout_s if config else 600,
            )  # fmt: skip
        return finding.model_copy(update=update)


MAX_SOURCE_BYTES = 2_000_000


def _named(checkout: CheckedOut, candidate: Candidate, stack: StackTrace) -> Candidate:
    """A frame named as a developer would name it: an anonymous one (arrow function, callback,
    comprehension) after its caller on the same line or the function around its line in the checked-out
    source, and V8's `new X` as the `constructor` of `class X`, when the source shows one."""
    anonymous = is_anonymous(candidate.function)
    constructed = None if anonymous or stack.language != "node" else constructed_class(candidate.frame)
    # V8's `Type.name` may be a property of another object holding a callback of ours (`receiver_property`)
    method_call = not anonymous and constructed is None and stack.language == "node" and "." in candidate.frame.function
    srg = stack.language == "jvm" and candidate.frame.function.startswith("func_")  # `reobfuscated` reads it
    if not anonymous and constructed is None and not method_call and not srg:
        return candidate
    if method_call and (caller := callback_caller(stack, candidate.frame)):
        return _renamed(candidate, caller, f"callback passed to {candidate.frame.function} by {caller}")
    compiled = compiled_elsewhere(candidate.frame, candidate.path)  # line N of the bundle is not the source's
    source = candidate.path
    if (anonymous or method_call) and compiled:
        # An installed package runs the files `npm pack` took from its folder; when the repository commits that
        # build at the very path below the package's root, its line N is the frame's, and tsc keeps every
        # function's name in what it emits: that file names the function around the line.
        source = below_package_root(candidate.frame) or ""
        if not source or not (checkout.path / source).is_file():
            return candidate
    if anonymous and (caller := same_line_caller(stack, candidate.frame)):
        return _renamed(candidate, caller, f"anonymous function on the line where {caller} calls it")
    file = (checkout.path / source).resolve()
    if not file.is_relative_to(checkout.path.resolve()) or not file.is_file() or file.stat().st_size > MAX_SOURCE_BYTES:
        return candidate
    lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
    if constructed is not None:
        # compiled: the class declaration still says whose constructor ran, the line says nothing
        if not class_constructor(lines, None if compiled else candidate.frame.line, constructed):
            return candidate
        return _renamed(candidate, "constructor", f"`new {constructed}` runs the constructor of class {constructed}")
    if srg:
        renamed = reobfuscated(candidate.frame, lines)
        name = enclosing_function(lines, candidate.frame.line, stack.language) if renamed else None
        if name is None:
            return candidate
        return _renamed(candidate, name, f"`{candidate.frame.function}` is Forge's SRG name of {name}, as the mod ran")
    if method_call:
        held = receiver_property(candidate.frame, lines)
        inferred = held is None and inferred_name(candidate.frame)
        name = enclosing_function(lines, candidate.frame.line, stack.language) if held or inferred else None
        if name is None or (inferred and name == candidate.function):  # `a.b = function`: it is `b`
            return candidate
        if inferred:
            return _renamed(candidate, name, f"a literal inside {name}, named `{candidate.frame.function}` by V8")
        return _renamed(candidate, name, f"anonymous function inside {name}, run as `{held}` of another object")
    name = enclosing_function(lines, candidate.frame.line, stack.language)
    if name is None:
        return candidate
    return _renamed(candidate, name, f"anonymous function inside {name}")


def _renamed(candidate: Candidate, name: str, why: str) -> Candidate:
    return Candidate(candidate.frame, candidate.path, name, candidate.score, [*candidate.reasons, why])
