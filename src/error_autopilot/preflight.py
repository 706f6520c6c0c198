"""What is checked before a run does any work: the environments asked for exist, the credential variables
the service map names are set, Loki and Tempo answer (`check --connect`), and where state lives.

GitPython and httpx load inside the functions that need them: `check` without --connect loads neither."""

from __future__ import annotations

from typing import TYPE_CHECKING

from error_autopilot.app import Context, credentials
from error_autopilot.config.service_map import ServiceMap
from error_autopilot.config.settings import resolve_secret
from error_autopilot.domain.errors import ConfigError, StateError

if TYPE_CHECKING:
    import httpx


def selected_environments(ctx: Context, requested: list[str] | None) -> list[str]:
    """The environments to poll; an unknown name is a ConfigError listing the known ones."""
    if not requested:
        return list(ctx.smap.environments)
    unknown = [e for e in requested if e not in ctx.smap.environments]
    if unknown:
        known = ", ".join(ctx.smap.environments)
        raise ConfigError(f"unknown environment {', '.join(unknown)}; the service map has: {known}")
    return requested


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


def connectivity(ctx: Context) -> list[tuple[str, bool]]:
    """One line per Loki/Tempo endpoint: reachable with these credentials, or why not."""
    import httpx  # noqa: PLC0415 - only `check --connect` talks to the endpoints

    from error_autopilot.sources.http import build_client  # noqa: PLC0415

    results: list[tuple[str, bool]] = []
    checks: list[tuple[str, str, httpx.Client]] = []
    for env, cfg in ctx.smap.environments.items():
        bearer, basic = credentials(cfg.loki.auth, f"environments.{env}.loki.auth")
        loki = build_client(cfg.loki.url, org_id=cfg.loki.org_id, bearer=bearer, basic=basic, timeout_s=10)
        checks.append((f"{env} Loki {cfg.loki.url}", "/loki/api/v1/labels", loki))
        if cfg.tempo:
            bearer, basic = credentials(cfg.tempo.auth, f"environments.{env}.tempo.auth")
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


def describe_state(ctx: Context, repo: str | None, branch: str, *, writes: bool, ephemeral: bool) -> str:
    """The one line that says where this run keeps its state (and whether it writes it).

    `ephemeral`: the machine is thrown away after the run (an Actions job), so local mode would
    forget every cursor and incident; that is refused rather than said."""
    from error_autopilot.state.store import STATE_FILE, GitStateStore  # noqa: PLC0415 - GitPython

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
