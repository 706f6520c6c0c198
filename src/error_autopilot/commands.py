"""What each CLI command does: run the stages, move plan/findings/report files, print results."""

from __future__ import annotations

import argparse
import functools
import json
import logging
import sys
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Literal

from error_autopilot import actions_io, app, dispatched_trace, pipeline, preflight, selection, workfiles
from error_autopilot.config.settings import Settings, environment, parse_duration
from error_autopilot.domain.errors import ConfigError
from error_autopilot.domain.findings import Finding
from error_autopilot.domain.incidents import Plan
from error_autopilot.domain.report import LifecycleEvent, RunReport
from error_autopilot.ports import IssueTracker
from error_autopilot.sinks.job_summary import render_summary, render_table
from error_autopilot.state.model import State

log = logging.getLogger(__name__)

Sink = Literal["github", "local"]


@dataclass(frozen=True)
class RunOptions:
    """One run's choices (from flags, or from the action's inputs and dispatch payload)."""

    environments: tuple[str, ...] = ()
    since: str | None = None
    service: str | None = None
    trace_id: str | None = None
    max_incidents: int | None = None
    state_repo: str | None = None
    state_branch: str = "error-autopilot-state"
    sink: Sink = "github"
    out: Path | None = None
    dry_run: bool = False
    trigger: str = "manual"
    incident: str | None = None


def _echo(text: str) -> None:
    sys.stdout.write(text + "\n")


def load_run_context(settings: Settings) -> app.Context:
    """The validated context for a run."""
    return app.load_context(settings)


def _options(args: argparse.Namespace, settings: Settings) -> RunOptions:
    sink: Sink = "local" if getattr(args, "dry_run", False) else (getattr(args, "sink", None) or "github")
    out = getattr(args, "out", None)
    if sink == "local" and out is None:
        out = settings.work_dir / "drafts"
    return RunOptions(
        environments=tuple(getattr(args, "environments", None) or ()),
        since=getattr(args, "since", None), service=getattr(args, "service", None),
        trace_id=getattr(args, "trace_id", None), max_incidents=getattr(args, "max_incidents", None),
        state_repo=getattr(args, "state_repo", None), state_branch=getattr(args, "state_branch", settings.state_branch),
        sink=sink, out=out, dry_run=getattr(args, "dry_run", False), incident=getattr(args, "incident", None),
    )  # fmt: skip


def _plan(ctx: app.Context, opts: RunOptions, timings: pipeline.Timings) -> Plan:
    environments = preflight.selected_environments(ctx, list(opts.environments))
    services: tuple[str, ...] = ()
    if opts.service:
        canonical = ctx.smap.resolve_service(opts.service)
        if canonical is None:
            raise ConfigError(f"unknown service {opts.service!r}; the service map has: {', '.join(ctx.smap.services)}")
        services = (canonical,)
    request = pipeline.PlanRequest(
        environments=environments, since_s=parse_duration(opts.since) if opts.since else None, services=services,
        max_incidents=opts.max_incidents or ctx.smap.policy.max_incidents_per_run, trigger=opts.trigger,
        max_pending=ctx.smap.policy.max_pending,
    )  # fmt: skip
    with timings.stage("plan"):
        markers = functools.partial(_marker_source, ctx, opts)  # built only if the state branch is gone
        plan = pipeline.plan(
            request, smap=ctx.smap, sources=app.event_sources(ctx, environments),
            store=app.planning_store(ctx, opts.state_repo, opts.state_branch, tracker=markers),
            clock=ctx.clock,
        )  # fmt: skip
        if opts.trace_id:
            tempo = functools.partial(app.trace_sources, ctx)  # built only if no planned incident holds it
            plan = dispatched_trace.with_trace(plan, opts.trace_id, environments, smap=ctx.smap, trace_sources=tempo)
            plan = selection.cap_pending(plan, ctx.smap.policy.max_pending)  # its incident may be one more
    # compact: a storm's plan holds thousands of incidents and the overlap's line ids (indenting added half)
    workfiles.write_plan(ctx.settings.work_dir / "plan.json", plan)
    return plan


def _spent_today(ctx: app.Context, opts: RunOptions) -> int:
    """LLM tokens already spent today, from state (the daily budget spans runs)."""
    if ctx.settings.anthropic_api_key is None:
        return 0
    state = app.state_store(ctx, opts.state_repo, opts.state_branch, read_only=True).load()
    return state.runs.tokens_by_day.get(ctx.clock.now().strftime("%Y-%m-%d"), 0)


def _marker_source(ctx: app.Context, opts: RunOptions) -> IssueTracker | None:
    """The tracker whose issue markers can stand in for a lost state branch (GitHub runs only)."""
    if opts.dry_run or opts.sink != "github" or ctx.settings.github_token is None:
        return None
    return app.publisher(ctx, sink="github", out=None).tracker


def _investigate(ctx: app.Context, plan: Plan, opts: RunOptions, timings: pipeline.Timings) -> dict[str, Finding]:
    """Findings by fingerprint, also written to the findings folder with the list of deferred ones."""
    with timings.stage("investigate"):
        investigate_one = app.investigator(ctx, spent_today=_spent_today(ctx, opts))
        done = pipeline.investigate(
            plan, investigate_one, only=opts.incident, workers=ctx.settings.investigate_workers,
            deadline=ctx.deadline, margin_s=_start_margin(ctx),
        )  # fmt: skip
    folder = ctx.settings.work_dir / "findings"
    for finding in done.findings:
        workfiles.write_json(folder / f"finding-{finding.fingerprint}.json", finding.model_dump_json(indent=2))
    workfiles.write_deferred(folder, done.deferred)
    return {f.fingerprint: f for f in done.findings}


def _start_margin(ctx: app.Context) -> float:
    """How long before the run deadline no new investigation starts: room for one more analysis to
    finish and for publishing, never more than a quarter of the whole run."""
    return min(ctx.settings.run_deadline_s / 4, ctx.smap.policy.budget.seconds_per_incident + 60)


def _publish(
    ctx: app.Context, plan: Plan, findings: dict[str, Finding], opts: RunOptions, timings: pipeline.Timings
) -> RunReport:
    store = None if opts.dry_run else app.state_store(ctx, opts.state_repo, opts.state_branch, read_only=False)
    deferred = workfiles.read_deferred(ctx.settings.work_dir / "findings")
    with timings.stage("publish"):
        publisher = app.publisher(ctx, sink=opts.sink, out=opts.out)
        lifecycle = app.lifecycle(ctx, publisher.tracker) if store is not None else None
        events: list[LifecycleEvent] = []
        synced: State | None = None
        if lifecycle is not None and store is not None:  # one sync step: what people did since the last run
            quiet = timedelta(hours=ctx.smap.lifecycle.quiet_period_h)
            synced, events = lifecycle.sync(store, plan, now=ctx.clock.now(), quiet=quiet)
        published, errors = pipeline.publish(
            plan, findings, publisher, store=store, dry_run=opts.dry_run, deferred=deferred
        )
        digest = ""
        if lifecycle is not None and store is not None and synced is not None:
            lifecycle.save_labels(store, synced)
            digest = lifecycle.digest(store, now=ctx.clock.now(), days=ctx.smap.lifecycle.digest_every_days)
    report = pipeline.build_report(
        plan, published, errors=errors, findings=findings, started_at_clock=ctx.clock, timings=timings,
        dry_run=opts.dry_run, deferred=deferred, outages=app.outages(ctx),
    )  # fmt: skip
    report = report.model_copy(update={"lifecycle": tuple(events), "digest": digest})
    notifier = None if opts.dry_run else app.notifier(ctx)
    if notifier is not None:
        with timings.stage("notify"):
            report = report.model_copy(update={"notifications": tuple(notifier.notify(report))})
    report = report.model_copy(update={"durations_s": dict(timings.seconds)})
    work = ctx.settings.work_dir
    workfiles.write_json(work / "report.json", report.model_dump_json(indent=2))
    summary = render_summary(report, run_url=ctx.settings.run_url)
    workfiles.write_json(work / "summary.md", summary)
    if not actions_io.write_summary(summary, ctx.settings.step_summary) and ctx.settings.step_summary:
        _echo(summary)
    return report


def _preflight(ctx: app.Context, opts: RunOptions, *, publishes: bool, uses_state: bool = True) -> None:
    """Refuse at once, before polling or any state write, what would fail later: an unwritable
    folder, a state repository that is not there. Says in one line where state lives."""
    workfiles.ensure_writable(ctx.settings.work_dir, "--work-dir")
    if publishes and opts.sink == "local" and opts.out is not None:
        workfiles.ensure_writable(opts.out, "--out")
    if uses_state:
        writes = publishes and not opts.dry_run
        line = preflight.describe_state(ctx, opts.state_repo, opts.state_branch, writes=writes,
                                        ephemeral=actions_io.in_actions())  # fmt: skip
        log.info("%s", line)


def execute_run(ctx: app.Context, opts: RunOptions) -> RunReport:
    """plan → investigate → publish in one process."""
    _preflight(ctx, opts, publishes=True)
    timings = pipeline.Timings()
    plan = _plan(ctx, opts, timings)
    findings = _investigate(ctx, plan, opts, timings)
    return _publish(ctx, plan, findings, opts, timings)


def _exit_code(report: RunReport) -> int:
    """Non-zero only when nothing could be done at all; partial failures are in the report."""
    polled = [w for w in report.windows if w.error is None]
    return 3 if report.windows and not polled else 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    """`error-autopilot run`."""
    ctx = app.load_context(replace_settings(settings, args))
    report = execute_run(ctx, _options(args, ctx.settings))
    _echo(render_table(report))
    return _exit_code(report)


def plan(args: argparse.Namespace, settings: Settings) -> int:
    """`error-autopilot plan`."""
    ctx = app.load_context(replace_settings(settings, args))
    opts = _options(args, ctx.settings)
    _preflight(ctx, opts, publishes=False)
    the_plan = _plan(ctx, opts, pipeline.Timings())
    if args.output:
        workfiles.write_plan(args.output, the_plan)
    _echo(render_table(pipeline.plan_preview(the_plan)))
    return 3 if the_plan.windows and all(w.error for w in the_plan.windows) else 0


def investigate(args: argparse.Namespace, settings: Settings) -> int:
    """`error-autopilot investigate`."""
    ctx = app.load_context(replace_settings(settings, args))
    the_plan = workfiles.read_plan(args.plan or ctx.settings.work_dir / "plan.json")
    findings = _investigate(ctx, the_plan, _options(args, ctx.settings), pipeline.Timings())
    if args.output:
        for finding in findings.values():
            workfiles.write_json(args.output / f"finding-{finding.fingerprint}.json", finding.model_dump_json(indent=2))
    for finding in findings.values():
        loc = finding.primary_location
        where = f"{loc.path}:{loc.line}" if loc else "location unknown"
        _echo(f"{finding.fingerprint}  {finding.culprit_service:<20} {finding.error_class:<18} {where}")
    return 0


def publish(args: argparse.Namespace, settings: Settings) -> int:
    """`error-autopilot publish`."""
    ctx = app.load_context(replace_settings(settings, args))
    the_plan = workfiles.read_plan(args.plan or ctx.settings.work_dir / "plan.json")
    findings = workfiles.read_findings(args.findings or ctx.settings.work_dir / "findings")
    opts = _options(args, ctx.settings)
    _preflight(ctx, opts, publishes=True)
    report = _publish(ctx, the_plan, findings, opts, pipeline.Timings())
    _echo(render_table(report))
    return 0


def replace_settings(settings: Settings, args: argparse.Namespace) -> Settings:
    """Flags override the environment's settings."""
    update: dict[str, object] = {}
    if getattr(args, "config", None):
        update["config"] = args.config
    if getattr(args, "work_dir", None):
        update["work_dir"] = args.work_dir
    return settings.model_copy(update=update)


def check(args: argparse.Namespace, settings: Settings) -> int:
    """`error-autopilot check [--connect]`."""
    ctx = app.load_context(replace_settings(settings, args))
    unset = preflight.unset_variables(ctx.smap)
    if unset:
        raise ConfigError(
            f"{ctx.settings.config}: {len(unset)} environment variable(s) it names are not set:\n" + "\n".join(unset),
            hint="export them (in Actions: pass each secret through the step's env:) and run check again",
        )
    _echo(f"{ctx.settings.config}: ok ({len(ctx.smap.environments)} environments, {len(ctx.smap.services)} services)")
    if not args.connect:
        return 0
    failures = 0
    for line, ok in preflight.connectivity(ctx):
        _echo(("ok    " if ok else "FAIL  ") + line)
        failures += not ok
    return 3 if failures else 0


def demo(args: argparse.Namespace, settings: Settings) -> int:
    """`error-autopilot demo`."""
    from error_autopilot.demo.runner import run_demo  # noqa: PLC0415 - demo servers load only for the demo

    return run_demo(args.out)


def state(args: argparse.Namespace, settings: Settings) -> int:
    """`error-autopilot state show|repair|reset|scrub`."""
    from error_autopilot.state.admin import state_admin  # noqa: PLC0415 - GitPython: only this command and runs

    _echo(state_admin(args.action, args.state_repo, args.state_branch, args.work_dir, args.yes))
    return 0


def bridge(args: argparse.Namespace, settings: Settings) -> int:
    """`error-autopilot bridge telegram`."""
    from error_autopilot.bridge.service import run_bridge  # noqa: PLC0415 - a separate long-running program

    return run_bridge(args.config, once=args.once, environ=environment())


def report_outputs(report: RunReport, plan: Plan | None) -> dict[str, str | int]:
    """The action's outputs (action.yml declares them)."""
    urls = sorted({u for i in report.incidents for u in (i.issue_url, i.pr_url) if u})
    touched = {"created", "updated", "reopened"}
    return {
        "incidents": len(report.incidents),
        "new-incidents": report.count("new") + report.count("regressed"),
        "issues": sum(1 for i in report.incidents if i.issue_action in touched),
        "prs": sum(1 for i in report.incidents if i.pr_action in {"created", "updated"}),
        "urls": json.dumps(urls),
        "matrix": json.dumps([p.incident.fingerprint for p in plan.selected if p.status != "muted"]) if plan else "[]",
    }


def action(args: argparse.Namespace, settings: Settings) -> int:
    """What action.yml runs: the phase, inputs and dispatch payload all come from the environment."""
    actions_io.mask(
        s.get_secret_value() if s else None
        for s in (settings.github_token, settings.anthropic_api_key, settings.telegram_bot_token)
    )
    dispatch = actions_io.read_dispatch(settings.event_name, settings.event_path)
    opts = RunOptions(
        environments=(settings.environment,) if settings.environment else (),
        since=settings.since, service=settings.service, trace_id=settings.trace_id,
        max_incidents=settings.max_incidents, state_repo=".", state_branch=settings.state_branch,
        sink="local" if settings.dry_run else "github", out=settings.work_dir / "drafts" if settings.dry_run else None,
        dry_run=settings.dry_run, trigger=settings.event_name or "manual", incident=settings.incident,
    )  # fmt: skip
    if dispatch is not None:
        opts = replace(
            opts,
            environments=(dispatch.environment,) if dispatch.environment else opts.environments,
            service=dispatch.service or opts.service, trace_id=dispatch.trace_id or opts.trace_id,
            since=dispatch.since or opts.since,
        )  # fmt: skip
    ctx = app.load_context(settings)
    _preflight(ctx, opts, publishes=settings.phase in {"run", "publish"}, uses_state=settings.phase != "investigate")
    timings = pipeline.Timings()
    the_plan: Plan | None = None
    report: RunReport | None = None
    if settings.phase in {"run", "plan"}:
        the_plan = _plan(ctx, opts, timings)
    else:
        the_plan = workfiles.read_plan(settings.work_dir / "plan.json")
    if settings.phase in {"run", "investigate"}:
        findings = _investigate(ctx, the_plan, opts, timings)
    else:
        findings = workfiles.read_findings(settings.work_dir / "findings")
    if settings.phase in {"run", "publish"}:
        report = _publish(ctx, the_plan, findings, opts, timings)
    shown = report or pipeline.plan_preview(the_plan)
    outputs = report_outputs(shown, the_plan)
    outputs["report-path"] = str(settings.work_dir / "report.json") if report else ""
    actions_io.set_outputs(outputs)
    _echo(render_table(shown))
    return _exit_code(shown)
