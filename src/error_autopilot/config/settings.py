"""Run settings: the only module that reads the process environment.

The action maps each input to one `AUTOPILOT_*` variable through `env:`; the CLI's flags override
them. Secrets are kept as SecretStr so they never print by accident.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from error_autopilot.domain.errors import ConfigError

Phase = Literal["run", "plan", "investigate", "publish"]

# input name in action.yml → environment variable; tests check the two stay in step.
INPUT_ENV: dict[str, str] = {
    "config": "AUTOPILOT_CONFIG",
    "phase": "AUTOPILOT_PHASE",
    "environment": "AUTOPILOT_ENVIRONMENT",
    "since": "AUTOPILOT_SINCE",
    "trace-id": "AUTOPILOT_TRACE_ID",
    "service": "AUTOPILOT_SERVICE",
    "incident": "AUTOPILOT_INCIDENT",
    "dry-run": "AUTOPILOT_DRY_RUN",
    "max-incidents": "AUTOPILOT_MAX_INCIDENTS",
    "github-token": "AUTOPILOT_GITHUB_TOKEN",
    "anthropic-api-key": "ANTHROPIC_API_KEY",
    "telegram-bot-token": "TELEGRAM_BOT_TOKEN",
    "state-branch": "AUTOPILOT_STATE_BRANCH",
    "work-dir": "AUTOPILOT_WORK_DIR",
}


class Settings(BaseModel):
    """Everything a run needs besides the service map."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    config: Path = Path("service-map.json")
    phase: Phase = "run"
    environment: str | None = None  # poll only this environment
    since: str | None = None  # "2h", "30m": overrides the cursor for this run (never moves it back)
    trace_id: str | None = None  # investigate this trace even if the poll did not see it
    service: str | None = None  # narrow the run to one service
    incident: str | None = None  # investigate one fingerprint of the plan (matrix jobs)
    dry_run: bool = False
    max_incidents: Annotated[int | None, Field(ge=1)] = None
    github_token: SecretStr | None = None
    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    anthropic_model: str = "claude-sonnet-5"  # claude-sonnet-4-5 reached end-of-life on 2026-11-30
    telegram_bot_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    state_branch: str = "error-autopilot-state"
    work_dir: Path = Path(".error-autopilot")  # plan.json, findings/, report.json
    cache_dir: Path | None = None  # repo clones reused across runs (None: WORK_DIR/repos; see default_cache_dir)
    github_api_url: str = "https://api.github.com"
    github_write_interval_s: float = 1.0  # spacing of GitHub writes (secondary rate limits on content creation)
    github_request_interval_s: float = 0.25  # spacing of every GitHub request (PyGithub's own default)
    github_server_url: str = "https://github.com"
    github_repository: str | None = None  # owner/name of the repo the action runs in
    event_name: str | None = None
    event_path: Path | None = None
    run_id: str | None = None
    run_url: str | None = None
    step_summary: Path | None = None
    output_file: Path | None = None
    # Stop starting investigations this long after the run began, so what is ready gets published
    # and the rest stays pending — well inside the workflow's `timeout-minutes: 30`.
    run_deadline_s: Annotated[float, Field(gt=0)] = 20 * 60
    investigate_workers: Annotated[int, Field(ge=1, le=32)] = 4  # incidents investigated at once


def _truthy(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def settings_from_env(environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from the environment (inputs via AUTOPILOT_*, the runner's GITHUB_*)."""
    env = dict(os.environ if environ is None else environ)

    def get(name: str) -> str | None:
        value = env.get(name, "").strip()
        return value or None

    raw: dict[str, object] = {}
    for key, var in INPUT_ENV.items():
        value = get(var)
        if value is None:
            continue
        field = key.replace("-", "_")
        raw[field] = _truthy(value) if field == "dry_run" else value
    if "github_token" not in raw and get("GITHUB_TOKEN"):
        raw["github_token"] = get("GITHUB_TOKEN")
    optional = {
        "anthropic_base_url": "ANTHROPIC_BASE_URL",
        "anthropic_model": "AUTOPILOT_MODEL",
        "telegram_api_url": "TELEGRAM_API_URL",
        "cache_dir": "AUTOPILOT_CACHE_DIR",
        "github_api_url": "GITHUB_API_URL",
        "github_write_interval_s": "AUTOPILOT_GITHUB_WRITE_INTERVAL",
        "github_request_interval_s": "AUTOPILOT_GITHUB_REQUEST_INTERVAL",
        "github_server_url": "GITHUB_SERVER_URL",
        "github_repository": "GITHUB_REPOSITORY",
        "event_name": "GITHUB_EVENT_NAME",
        "event_path": "GITHUB_EVENT_PATH",
        "run_id": "GITHUB_RUN_ID",
        "step_summary": "GITHUB_STEP_SUMMARY",
        "output_file": "GITHUB_OUTPUT",
        "investigate_workers": "AUTOPILOT_INVESTIGATE_WORKERS",
    }
    for field, var in optional.items():
        if (value := get(var)) is not None:
            raw[field] = value
    if (deadline := get("AUTOPILOT_RUN_DEADLINE")) is not None:  # a duration: 20m, 1h, 900s
        raw["run_deadline_s"] = parse_duration(deadline)
    raw.setdefault("cache_dir", default_cache_dir(env))
    if raw.get("run_id") and raw.get("github_repository"):
        raw["run_url"] = (
            f"{raw.get('github_server_url', 'https://github.com')}/{raw['github_repository']}/actions/runs/{raw['run_id']}"
        )
    try:
        return Settings.model_validate(raw)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())
        raise ConfigError(f"invalid setting: {problems}") from e


def default_cache_dir(environ: Mapping[str, str]) -> Path:
    """Where repository clones are kept between runs when AUTOPILOT_CACHE_DIR does not say.

    In Actions, the runner's tool cache: a self-hosted runner keeps it between jobs (the job's
    workspace is cleaned by actions/checkout). Elsewhere the user's cache folder (XDG)."""
    if tool_cache := environ.get("RUNNER_TOOL_CACHE", "").strip():
        return Path(tool_cache) / "error-autopilot" / "repos"
    base = environ.get("XDG_CACHE_HOME", "").strip() or str(Path(environ.get("HOME") or Path.home()) / ".cache")
    return Path(base) / "error-autopilot" / "repos"


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> int:
    """`90s`, `30m`, `2h`, `1d`, `1h30m` → seconds; a ConfigError names the bad value."""
    value = text.strip().lower()
    total, number = 0, ""
    for ch in value:
        if ch.isdigit():
            number += ch
        elif ch in _DURATION_UNITS and number:
            total += int(number) * _DURATION_UNITS[ch]
            number = ""
        else:
            number = "x"
            break
    if number or total <= 0:
        raise ConfigError(f"invalid duration {text!r}: use forms like 30m, 2h, 1d, 1h30m")
    return total


def resolve_secret(variable: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The value of the environment variable a config file names (config never holds secrets)."""
    if not variable:
        return None
    env = os.environ if environ is None else environ
    return env.get(variable) or None


def missing_secrets(variables: list[str], environ: Mapping[str, str] | None = None) -> list[str]:
    """The named variables that are unset or empty."""
    return [v for v in variables if not resolve_secret(v, environ)]


def environment() -> dict[str, str]:
    """A copy of the process environment, for components that take it explicitly (the bridge)."""
    return dict(os.environ)
