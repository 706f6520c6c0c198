"""The one composition root: builds clients from Settings and the service map, wires the stages.

Each adapter (and the SDK under it: PyGithub, GitPython, httpx, Claude) is imported inside the function
that builds it, so a command loads only what it uses: `check` no SDK, `plan` httpx and GitPython (for
the state branch), the Claude SDK only with a key. tests/unit/test_startup.py holds every command to it."""

from __future__ import annotations

import functools
import json
import logging
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

from error_autopilot import __version__
from error_autopilot.config.service_map import Auth, ServiceMap, load_service_map
from error_autopilot.config.settings import Settings, resolve_secret
from error_autopilot.domain.errors import (
    ConfigError,
    FilesystemError,
    SinkError,
    StateConflict,
    StateCorrupt,
    StateError,
)
from error_autopilot.domain.findings import Finding
from error_autopilot.domain.incidents import Plan, PlannedIncident
from error_autopilot.domain.layout import COMPACT
from error_autopilot.domain.report import RunReport
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
from error_autopilot.state.model import (
    STATE_SCHEMA_VERSION,
    Cursor,
    IncidentRecord,
    IssueRef,
    RunBookkeeping,
    State,
    state_json,
)

if TYPE_CHECKING:
    import anthropic
    import github
    import httpx

    from error_autopilot.investigation.agent import ClaudeAnalyst
    from error_autopilot.investigation.checkout import GitWorkspace
    from error_autopilot.lifecycle import Lifecycle
    from error_autopilot.state.store import GitStateStore

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


def _credentials(auth: Auth, where: str) -> tuple[str | None, tuple[str, str] | None]:
    """Resolve an Auth block's variable names to (bearer, basic) values."""
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


def unset_variables(smap: ServiceMap) -> list[str]:
    """Every environment variable the map names for credentials that is unset, as `field: NAME is not set`."""
    problems: list[str] = []
    for env, cfg in smap.environments.items():
        blocks = [("loki", cfg.loki.auth)] + ([("tempo", cfg.tempo.auth)] if cfg.tempo else [])
        for part, auth in blocks:
            for key in ("bearer_env", "username_env", "password_env"):
                name = getattr(auth, key)
                if name and not resolve_secret(name):
                    problems.append(f"environments.{env}.{part}.auth.{key}: {name} is not set")
    return problems


def event_sources(ctx: Context, environments: list[str]) -> dict[str, EventSource]:
    """A Loki source per environment."""
    from error_autopilot.sources.http import RetryPolicy, build_client
    from error_autopilot.sources.loki import LokiSource

    sources: dict[str, EventSource] = {}
    for env in environments:
        cfg = ctx.smap.environments[env].loki
        bearer, basic = _credentials(cfg.auth, f"environments.{env}.loki.auth")
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
        bearer, basic = _credentials(cfg.tempo.auth, f"environments.{env}.tempo.auth")
        client = build_client(
            cfg.tempo.url, org_id=cfg.tempo.org_id, bearer=bearer, basic=basic, timeout_s=cfg.tempo.timeout_s
        )
        sources[env] = TempoSource(
            client, max_spans=cfg.tempo.max_spans, policy=RetryPolicy(deadline_s=60, run_deadline=ctx.deadline),
            breaker=ctx.breakers.get(f"Tempo ({env})"),
        )  # fmt: skip
    return sources


def selected_environments(ctx: Context, requested: list[str] | None) -> list[str]:
    """The environments to poll; an unknown name is a ConfigError listing the known ones."""
    if not requested:
        return list(ctx.smap.environments)
    unknown = [e for e in requested if e not in ctx.smap.environments]
    if unknown:
        known = ", ".join(ctx.smap.environments)
        raise ConfigError(f"unknown environment {', '.join(unknown)}; the service map has: {known}")
    return requested


def github_client(ctx: Context) -> github.Github:
    """PyGithub against the configured API (GHES works the same)."""
    import github

    token = ctx.settings.github_token
    if token is None:
        raise ConfigError("publishing to GitHub needs a token", hint="set the github-token input or GITHUB_TOKEN")
    return github.Github(
        base_url=ctx.settings.github_api_url, auth=github.Auth.Token(token.get_secret_value()), retry=None,
        seconds_between_writes=ctx.settings.github_write_interval_s,
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


_WRITABLE_HINT = "choose a writable folder with {flag}, or fix its permissions"


def ensure_writable(folder: Path, flag: str) -> None:
    """Fail before any work (and any state write) when a folder the run must write to is not writable."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-"):
            pass
    except OSError as e:
        raise FilesystemError(
            f"cannot write to {folder} ({flag}): {e.strerror or e}", hint=_WRITABLE_HINT.format(flag=flag)
        ) from e


def write_json(path: Path, data: str | Iterable[str]) -> None:
    """Write atomically so a killed run never leaves half a file for the next phase; `data` may come in
    pieces, so a large file need not exist as one string."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("w", encoding="utf-8") as out:
            out.writelines([data] if isinstance(data, str) else data)
        tmp.replace(path)
    except OSError as e:
        raise FilesystemError(
            f"cannot write {path}: {e.strerror or e}", hint=_WRITABLE_HINT.format(flag="--work-dir / --output")
        ) from e


def write_plan(path: Path, plan: Plan) -> None:
    """plan.json, byte for byte what `plan_json(plan)` is, written one incident at a time: a storm's plan is
    tens of megabytes, and that string (with the serializer's buffer behind it) was the plan command's
    peak memory."""
    write_json(path, _plan_pieces(plan))


def plan_json(model: BaseModel) -> str:
    """A plan (or a piece of one) as plan.json holds it. Only this version reads it back (the later stages
    of the same workflow run, or one upgraded in between: it reads the older layout too), so it leaves out
    what is at its default and writes the compact layout (`domain.layout`)."""
    return model.model_dump_json(exclude_defaults=True, context={COMPACT: True})


def _plan_pieces(plan: Plan) -> Iterator[str]:
    marker = '"incidents":['
    frame = plan_json(plan.model_copy(update={"incidents": ()}))
    if frame.count(marker + "]") != 1:  # cannot tell where the list goes: write it whole
        yield plan_json(plan)
        return
    head, tail = frame.split(marker + "]")
    yield head + marker
    for n, planned in enumerate(plan.incidents):
        yield "," + plan_json(planned) if n else plan_json(planned)
    yield "]" + tail


def read_plan(path: Path) -> Plan:
    """Load plan.json with a clear error when it is missing or from another version."""
    try:
        return Plan.model_validate_json(path.read_bytes())  # bytes: no decoded copy of a large plan
    except OSError as e:
        raise ConfigError(f"cannot read the plan {path}: {e.strerror or e}") from e
    except ValueError as e:
        raise ConfigError(f"{path} is not a plan this version understands: {e}") from e


def read_findings(folder: Path) -> dict[str, Finding]:
    """Every finding-<fp>.json of a folder (the hardened flow merges the matrix artifacts here)."""
    findings: dict[str, Finding] = {}
    if not folder.is_dir():
        return findings
    for file in sorted(folder.glob("finding-*.json")):
        try:
            finding = Finding.model_validate_json(file.read_text(encoding="utf-8"))
        except ValueError as e:
            raise ConfigError(f"{file} is not a finding this version understands: {e}") from e
        findings[finding.fingerprint] = finding
    return findings


DEFERRED_FILE = "deferred.json"


def write_deferred(folder: Path, fingerprints: list[str]) -> None:
    """The incidents the run deadline left uninvestigated: publish leaves them pending, not bare."""
    write_json(folder / DEFERRED_FILE, json.dumps(sorted(fingerprints)))


def read_deferred(folder: Path) -> list[str]:
    """The deferred fingerprints written by investigate (none when it did not run or wrote none)."""
    try:
        data = json.loads((folder / DEFERRED_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot read {folder / DEFERRED_FILE}: {e}") from e
    return [str(x) for x in data] if isinstance(data, list) else []


def report_outputs(report: RunReport, plan: Plan | None) -> dict[str, str | int]:
    """The action's outputs."""
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


def state_store(ctx: Context, repo: str | None, branch: str, *, read_only: bool) -> StateStore:
    """The state branch of `repo` (default: the checkout the action runs in, else local mode)."""
    from error_autopilot.state.store import GitStateStore, ReadOnlyStateStore

    store = GitStateStore(repo, branch=branch, work_dir=ctx.settings.work_dir)
    return ReadOnlyStateStore(store) if read_only else store


def describe_state(ctx: Context, repo: str | None, branch: str, *, writes: bool, ephemeral: bool) -> str:
    """The one line that says where this run keeps its state (and whether it writes it).

    `ephemeral`: the machine is thrown away after the run (an Actions job), so local mode would
    forget every cursor and incident; that is refused rather than said."""
    from error_autopilot.state.store import STATE_FILE, GitStateStore

    location = GitStateStore(repo, branch=branch, work_dir=ctx.settings.work_dir).location
    if location.local_mode and ephemeral:
        raise StateError(
            "no state repository: this folder is not a checkout, and local state would be lost with the job",
            hint="run actions/checkout before error-autopilot, or pass --state-repo",
        )
    line = f"state: {STATE_FILE} on {location.description}"
    if location.local_mode:
        line += " (local mode: no --state-repo given and this folder is not a git checkout)"
    return line + ("" if writes else "; this run only reads it")


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
    """Deterministic investigation, plus Claude while the run and day budgets last.

    Safe to call from several threads: each incident reserves its token allowance under a lock before
    it starts and settles it with what it really used, so concurrent incidents never overspend."""
    from error_autopilot.investigation.investigator import Investigator

    budget = ctx.smap.policy.budget
    repos = workspace(ctx)
    traces = trace_sources(ctx)
    plain = Investigator(ctx.smap, traces, repos)
    analyst = _analyst(ctx)
    if analyst is None:
        return plain.investigate
    lock = threading.Lock()
    spent, reserved = [0], [0]

    def investigate_one(planned: PlannedIncident) -> Finding:
        with lock:
            left = min(budget.tokens_per_run, budget.tokens_per_day - spent_today) - spent[0] - reserved[0]
            share = min(budget.tokens_per_incident, left) if left >= budget.tokens_per_incident // 4 else 0
            reserved[0] += share
        if not share:
            finding = plain.investigate(planned)
            note = "LLM analysis skipped: the run or daily token budget is used up"
            return finding.model_copy(update={"truncated": (*finding.truncated, note)})
        allowance = Budget(tokens=share, turns=budget.turns_per_incident, seconds=budget.seconds_per_incident)
        used = 0
        try:
            finding = Investigator(ctx.smap, traces, repos, analyst, allowance).investigate(planned)
            used = finding.tokens_used
        finally:
            with lock:
                reserved[0] -= share
                spent[0] += used
        return finding

    return investigate_one


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


def connectivity(ctx: Context) -> list[tuple[str, bool]]:
    """One line per Loki/Tempo endpoint: reachable with these credentials, or why not."""
    import httpx

    from error_autopilot.sources.http import build_client

    results: list[tuple[str, bool]] = []
    checks: list[tuple[str, str, httpx.Client]] = []
    for env, cfg in ctx.smap.environments.items():
        bearer, basic = _credentials(cfg.loki.auth, f"environments.{env}.loki.auth")
        loki = build_client(cfg.loki.url, org_id=cfg.loki.org_id, bearer=bearer, basic=basic, timeout_s=10)
        checks.append((f"{env} Loki {cfg.loki.url}", "/loki/api/v1/labels", loki))
        if cfg.tempo:
            bearer, basic = _credentials(cfg.tempo.auth, f"environments.{env}.tempo.auth")
            tempo = build_client(cfg.tempo.url, org_id=cfg.tempo.org_id, bearer=bearer, basic=basic, timeout_s=10)
            checks.append((f"{env} Tempo {cfg.tempo.url}", "/api/echo", tempo))
    for label, path, client in checks:
        try:
            response = client.get(path)
            ok = response.status_code < 300
            results.append((f"{label}: HTTP {response.status_code}" + ("" if ok else f" {response.text[:120]}"), ok))
        except httpx.HTTPError as e:
            results.append((f"{label}: {type(e).__name__}: {e}", False))
    return results


def state_admin(
    settings: Settings, action: str, repo: str | None, branch: str, work_dir: Path, confirmed: bool
) -> str:  # fmt: skip
    """`state show|repair|reset`: returns what to print. Never resets without --yes; a save that lost
    a race with a run is a StateConflict, never reported as done."""
    from error_autopilot.state.store import GitStateStore

    store = GitStateStore(repo, branch=branch, work_dir=work_dir)
    tip, text = store.read_raw()
    if action == "show":
        return text if text is not None else f"(no {branch} branch yet: the first run creates it)"
    if action == "scrub":
        return scrub_history(store, tip, confirmed)
    if action == "reset":
        if not confirmed:
            raise ConfigError("state reset forgets every cursor and incident; repeat with --yes to confirm",
                              hint="known issues are found again by their fingerprint markers")  # fmt: skip
        _write_or_refuse(store, State(), "state reset by hand", tip)
        return f"reset {branch}"
    if text is None:
        return f"nothing to repair: {branch} does not exist yet (the first run creates it)"
    repaired, dropped = repair(text)
    _write_or_refuse(store, repaired, "state repaired by hand", tip)
    kept = f"kept {len(repaired.incidents)} incident(s)"
    return f"repaired {branch}: {kept}, dropped {len(dropped)}: {', '.join(dropped) or 'nothing'}"


def scrub_history(store: GitStateStore, tip: str | None, confirmed: bool) -> str:
    """`state scrub`: the branch rewritten as one commit holding the current state without log text
    (older versions kept raw sample lines and unredacted titles in every commit)."""
    if tip is None:
        return f"(no {store.branch} branch: nothing to scrub)"
    if not confirmed:
        raise ConfigError(
            f"state scrub replaces the whole history of {store.branch} with one commit (a force-push); "
            "repeat with --yes to confirm",
            hint="run it between two scheduled runs; clones made before keep the old commits",
        )
    body = state_json(store.load())
    store.replace_history(body, "error-autopilot: state scrubbed of log text (history rewritten)", tip)
    return (f"scrubbed {store.branch}: its history is now one commit, without log lines; secrets that older "
            "versions stored may still be in forks, clones and GitHub's caches, so rotate them")  # fmt: skip


def _write_or_refuse(store: GitStateStore, state: State, message: str, tip: str | None) -> None:
    if not store.write_raw(state_json(state), f"error-autopilot: {message}", tip):
        raise StateConflict(
            f"nothing written: {store.branch} changed since it was read (a run saved in between)",
            hint="run the command again",
        )


def repair(text: str | None) -> tuple[State, list[str]]:
    """Keep every record of a damaged state.json that still validates; name the ones dropped.

    A file of a newer schema version is refused (StateCorrupt): rewriting it in this version's
    layout would silently drop what the newer version recorded."""
    try:
        raw = json.loads(text or "{}")
    except json.JSONDecodeError:
        return State(), ["the whole file (not JSON)"]
    if not isinstance(raw, dict):
        return State(), ["the whole file (not a JSON object)"]
    version = raw.get("schema_version", 0)
    if isinstance(version, int) and version > STATE_SCHEMA_VERSION:
        raise StateCorrupt(
            f"state.json has schema version {version}, newer than this error-autopilot understands "
            f"({STATE_SCHEMA_VERSION}): not repaired",
            hint="repair it with the newer version that wrote it; an older one must not rewrite it",
        )
    dropped: list[str] = []
    incidents, cursors = {}, {}
    for fp, record in (raw.get("incidents") or {}).items():
        try:
            incidents[fp] = IncidentRecord.model_validate(record)
        except ValueError:
            dropped.append(f"incident {fp}")
    for env, cursor in (raw.get("cursors") or {}).items():
        try:
            cursors[env] = Cursor.model_validate(cursor)
        except ValueError:
            dropped.append(f"cursor {env}")
    try:
        runs = RunBookkeeping.model_validate(raw.get("runs") or {})
    except ValueError:
        runs = RunBookkeeping()
        dropped.append("run bookkeeping (daily token spend)")
    return State(incidents=incidents, cursors=cursors, runs=runs), dropped


def with_trace(ctx: Context, plan: Plan, trace_id: str, environments: list[str]) -> Plan:
    """Make sure a dispatched trace is investigated: first in its incident, or as an incident of its own.
    That incident goes first, so the run selects it; the last one the plan selected is then left lean."""
    from error_autopilot.investigation.traces import incident_from_trace

    tid = trace_id.lower().rjust(32, "0")
    for planned in plan.incidents:
        if tid in planned.incident.trace_ids:
            ids = (*[t for t in planned.incident.trace_ids if t != tid], tid)
            moved = planned.model_copy(update={"incident": planned.incident.model_copy(update={"trace_ids": ids}),
                                               "evidence": "full"})  # fmt: skip
            return _first(plan, moved, [p for p in plan.incidents if p is not planned])
    sources = trace_sources(ctx)
    for env in environments:
        if env not in sources:
            continue
        incident = incident_from_trace(sources[env].get_trace(tid), env, ctx.smap)
        if incident is not None:
            return _first(plan, PlannedIncident(incident=incident, status="new"), list(plan.incidents))
    log.warning("trace %s was not found in any environment's Tempo; nothing added to the plan", tid)
    return plan


def _first(plan: Plan, first: PlannedIncident, others: list[PlannedIncident]) -> Plan:
    """The plan with `first` ahead of `others`, selected again under its cap."""
    return plan.model_copy(update={"incidents": ledger.select([first, *others], plan.max_incidents)})
