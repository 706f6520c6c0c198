"""The one composition root: builds clients from Settings and the service map, wires the stages.

Each adapter (and the SDK under it: PyGithub, GitPython, httpx, Claude) is imported inside the function
that builds it, so a command loads only what it uses: `check` no SDK, `plan` httpx and GitPython (for
the state branch), the Claude SDK only with a key. tests/unit/test_startup.py holds every command to it.

Its neighbours: `commands` runs the stages with what this builds, `workfiles` reads and writes the files
the phases hand each other, `preflight` checks a run before it starts, `state.admin` is `state show|…`."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from error_autopilot import __version__
from error_autopilot.config.service_map import Auth, ServiceMap, load_service_map
from error_autopilot.config.settings import Settings, resolve_secret
from error_autopilot.domain.errors import ConfigError, SinkError
from error_autopilot.domain.findings import Finding
from error_autopilot.domain.incidents import PlannedIncident
from error_autopilot.investigation.sanitize import Redactor
from error_autopilot.ports import (
    Budget,
    ChangeProposer,
    EventSource,
    IssueTracker,
    Notifier,
    StateStore,
    TraceSource,
)  # fmt: skip
from error_autopilot.publishing import Publisher, github_repo_name
from error_autopilot.resilience import Breakers, Deadline
from error_autopilot.state import ledger
from error_autopilot.state.model import IssueRef

if TYPE_CHECKING:
    import anthropic
    import github
    import httpx

    from error_autopilot.investigation.agent import ClaudeAnalyst
    from error_autopilot.investigation.checkout import GitWorkspace
    from error_autopilot.lifecycle import Lifecycle

log = logging.getLogger(__name__)


class SystemClock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        """Aware UTC now."""
        return datetime.now(UTC)


@dataclass(frozen=True)
class Context:
    """What every command needs: settings, the validated service map, and shared helpers.

    `breakers` and `deadline` belong to this run: every client built from this context shares them."""

    settings: Settings
    smap: ServiceMap
    redactor: Redactor
    clock: SystemClock
    breakers: Breakers = field(default_factory=Breakers)
    deadline: Deadline = field(default_factory=lambda: Deadline(20 * 60))


def load_context(settings: Settings, config: Path | None = None) -> Context:
    """Validate the service map before any network call. The run deadline starts now."""
    smap = load_service_map(config or settings.config)
    return Context(
        settings, smap, Redactor(smap.redaction.patterns), SystemClock(), Breakers(), Deadline(settings.run_deadline_s)
    )


def outages(ctx: Context) -> list[str]:
    """One line per dependency found unavailable in this run, with its cause. Loki is left out: each
    environment's poll error already says it in the report."""
    return [b.describe() for b in ctx.breakers.open() if not b.name.startswith("Loki")]


def credentials(auth: Auth, where: str) -> tuple[str | None, tuple[str, str] | None]:
    """Resolve an Auth block's variable names to (bearer, basic) values; an unset one is a ConfigError
    naming `where`."""
    if auth.bearer_env:
        token = resolve_secret(auth.bearer_env)
        if not token:
            raise ConfigError(f"{where}: environment variable {auth.bearer_env} is not set")
        return token, None
    if auth.password_env:
        password = resolve_secret(auth.password_env)
        user = auth.username or resolve_secret(auth.username_env) or ""
        if not password:
            raise ConfigError(f"{where}: environment variable {auth.password_env} is not set")
        return None, (user, password)
    return None, None


def event_sources(ctx: Context, environments: list[str]) -> dict[str, EventSource]:
    """A Loki source per environment."""
    from error_autopilot.sources.http import RetryPolicy, build_client
    from error_autopilot.sources.loki import LokiSource

    sources: dict[str, EventSource] = {}
    for env in environments:
        cfg = ctx.smap.environments[env].loki
        bearer, basic = credentials(cfg.auth, f"environments.{env}.loki.auth")
        client = build_client(cfg.url, org_id=cfg.org_id, bearer=bearer, basic=basic, timeout_s=cfg.timeout_s)
        policy = RetryPolicy(deadline_s=cfg.deadline_s, run_deadline=ctx.deadline)
        sources[env] = LokiSource(client, cfg, policy, breaker=ctx.breakers.get(f"Loki ({env})"))
    return sources


def trace_sources(ctx: Context) -> dict[str, TraceSource]:
    """A Tempo source per environment that has one."""
    from error_autopilot.sources.http import RetryPolicy, build_client
    from error_autopilot.sources.tempo import TempoSource

    sources: dict[str, TraceSource] = {}
    for env, cfg in ctx.smap.environments.items():
        if cfg.tempo is None:
            continue
        bearer, basic = credentials(cfg.tempo.auth, f"environments.{env}.tempo.auth")
        client = build_client(
            cfg.tempo.url, org_id=cfg.tempo.org_id, bearer=bearer, basic=basic, timeout_s=cfg.tempo.timeout_s
        )
        sources[env] = TempoSource(
            client, max_spans=cfg.tempo.max_spans, policy=RetryPolicy(deadline_s=60, run_deadline=ctx.deadline),
            breaker=ctx.breakers.get(f"Tempo ({env})"),
        )  # fmt: skip
    return sources


def github_client(ctx: Context) -> github.Github:
    """PyGithub against the configured API (GHES works the same)."""
    import github

    token = ctx.settings.github_token
    if token is None:
        raise ConfigError("publishing to GitHub needs a token", hint="set the github-token input or GITHUB_TOKEN")
    return github.Github(
        base_url=ctx.settings.github_api_url, auth=github.Auth.Token(token.get_secret_value()), retry=None,
        seconds_between_writes=ctx.settings.github_write_interval_s,
        seconds_between_requests=ctx.settings.github_request_interval_s,
    )  # fmt: skip


def anthropic_client(ctx: Context) -> anthropic.Anthropic | None:
    """The Claude client when a key is configured, else None (deterministic analysis only)."""
    key = ctx.settings.anthropic_api_key
    if key is None:
        return None
    import anthropic

    return anthropic.Anthropic(api_key=key.get_secret_value(), base_url=ctx.settings.anthropic_base_url, max_retries=2)


def telegram_client(ctx: Context) -> httpx.Client | None:
    """An httpx client bound to the bot's base URL, when a token is configured."""
    import httpx

    token = ctx.settings.telegram_bot_token
    if token is None:
        return None
    return httpx.Client(base_url=f"{ctx.settings.telegram_api_url}/bot{token.get_secret_value()}", timeout=30)


def state_store(ctx: Context, repo: str | None, branch: str, *, read_only: bool) -> StateStore:
    """The state branch of `repo` (default: the checkout the action runs in, else local mode)."""
    from error_autopilot.state.store import GitStateStore, ReadOnlyStateStore

    store = GitStateStore(repo, branch=branch, work_dir=ctx.settings.work_dir)
    return ReadOnlyStateStore(store) if read_only else store


def planning_store(
    ctx: Context, repo: str | None, branch: str, *, tracker: Callable[[], IssueTracker | None]
) -> StateStore:
    """The state plan reads. When the branch is gone, known bugs are rebuilt from the markers on their
    issues so they are classified recurring or regressed, not new (their issues are found by marker anyway).
    `tracker` is called only then: a plan whose state branch is there never loads the GitHub SDK."""
    from error_autopilot.state.store import GitStateStore, ReadOnlyStateStore, SeededStateStore

    store = GitStateStore(repo, branch=branch, work_dir=ctx.settings.work_dir)
    if store.location.remote is None or store.branch_exists() or (markers_from := tracker()) is None:
        return ReadOnlyStateStore(store)
    repos = {ctx.settings.github_repository or "local"}
    repos |= {name for s in ctx.smap.services.values() if (name := github_repo_name(s.issue_repo or s.repo))}
    markers: dict[str, IssueRef] = {}
    for repo_name in sorted(repos):
        try:
            markers.update(markers_from.list_markers(repo_name))
        except SinkError as e:  # best effort: publishing still finds each issue by its marker first
            log.warning("could not list issue markers in %s: %s", repo_name, e)
    log.warning("state branch %s not found: rebuilt %d known bug(s) from issue markers", branch, len(markers))
    return SeededStateStore(store, functools.partial(ledger.rebuild_from_markers, markers=markers, now=ctx.clock.now()))


def _analyst(ctx: Context) -> ClaudeAnalyst | None:
    client = anthropic_client(ctx)
    if client is None:
        return None
    from error_autopilot.investigation.agent import ClaudeAnalyst

    return ClaudeAnalyst(
        client, model=ctx.settings.anthropic_model, redactor=ctx.redactor, breaker=ctx.breakers.get("Claude API")
    )


def investigator(ctx: Context, spent_today: int = 0) -> Callable[[PlannedIncident], Finding]:
    """Deterministic investigation, plus Claude while the run and day budgets last. Safe to call from
    several threads (`SharedTokenBudget`)."""
    from error_autopilot.investigation.investigator import Investigator
    from error_autopilot.investigation.token_budget import SharedTokenBudget

    repos = workspace(ctx)
    traces = trace_sources(ctx)
    plain = Investigator(ctx.smap, traces, repos)
    analyst = _analyst(ctx)
    if analyst is None:
        return plain.investigate

    def analysed(planned: PlannedIncident, allowance: Budget) -> Finding:
        return Investigator(ctx.smap, traces, repos, analyst, allowance).investigate(planned)

    shared = SharedTokenBudget(ctx.smap.policy.budget, spent_today)
    return functools.partial(shared.investigate, plain=plain.investigate, analysed=analysed)


def publisher(ctx: Context, *, sink: str, out: Path | None) -> Publisher:
    """The per-incident publisher over GitHub or a local folder."""
    from error_autopilot.sinks.local import LocalChangeProposer, LocalIssueTracker

    tracker: IssueTracker
    proposer: ChangeProposer | None
    if sink == "local":
        folder = out or ctx.settings.work_dir / "drafts"
        tracker, proposer = LocalIssueTracker(folder), LocalChangeProposer(folder)
    else:
        from error_autopilot.sinks.github_issues import GitHubIssueTracker
        from error_autopilot.sinks.github_prs import GitHubChangeProposer

        gh = github_client(ctx)
        token = ctx.settings.github_token.get_secret_value() if ctx.settings.github_token else None
        breaker = ctx.breakers.get("GitHub API")
        tracker = GitHubIssueTracker(gh, breaker=breaker)
        proposer = GitHubChangeProposer(
            gh, clone_url_for=lambda repo: f"{ctx.settings.github_server_url}/{repo}.git",
            work_dir=ctx.settings.work_dir / "pr-work", token=token,
            bot_name="error-autopilot[bot]", bot_email="error-autopilot@users.noreply.github.com", breaker=breaker,
        )  # fmt: skip
    return Publisher(
        smap=ctx.smap, tracker=tracker, proposer=proposer, redactor=ctx.redactor, tool_version=__version__,
        fallback_repo=ctx.settings.github_repository or "local", run_url=ctx.settings.run_url,
    )  # fmt: skip


def workspace(ctx: Context) -> GitWorkspace:
    """The cached clones of the service repositories."""
    from error_autopilot.investigation.checkout import GitWorkspace

    return GitWorkspace(
        ctx.settings.cache_dir or ctx.settings.work_dir / "repos",
        github_url=ctx.smap.github_url,
        token=ctx.settings.github_token.get_secret_value() if ctx.settings.github_token else None,
        breakers=ctx.breakers,
        deadline=ctx.deadline,
    )


def lifecycle(ctx: Context, tracker: IssueTracker) -> Lifecycle | None:
    """The sync of issue states, fixes and deployed versions, when the tracker is GitHub."""
    if "error_autopilot.sinks.github_issues" not in sys.modules:
        return None  # no GitHub tracker was built in this process (and checking must not load PyGithub)
    from error_autopilot.lifecycle import Lifecycle
    from error_autopilot.sinks.github_issues import GitHubIssueTracker

    if not isinstance(tracker, GitHubIssueTracker):
        return None
    return Lifecycle(smap=ctx.smap, tracker=tracker, history=workspace(ctx), redactor=ctx.redactor)


def notifier(ctx: Context) -> Notifier | None:
    """Telegram, when a bot token is configured and some environment names a chat."""
    from error_autopilot.sinks.telegram import TelegramNotifier

    client = telegram_client(ctx)
    chats = {env: cfg.telegram_chat for env, cfg in ctx.smap.environments.items() if cfg.telegram_chat}
    if client is None or not chats:
        return None
    return TelegramNotifier(
        client, chats=chats, silent_hours=ctx.smap.telegram.silent_hours, redactor=ctx.redactor,
        run_url=ctx.settings.run_url, breaker=ctx.breakers.get("Telegram"),
    )  # fmt: skip
