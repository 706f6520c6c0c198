"""bridge.json: who the bridge listens to, which repository it dispatches to, where it keeps state.

Secrets never live in the file: it names the environment variables that hold them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from error_autopilot.domain.errors import ConfigError

_ENV_NAME = r"^[A-Z_][A-Z0-9_]{0,99}$"


class BridgeConfig(BaseModel):
    """The bridge's configuration."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    repo: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-]+/[A-Za-z0-9_.\-]+$")]
    """owner/name of the repository whose workflow runs error-autopilot."""
    allowed_user_ids: tuple[int, ...]
    """Telegram user ids whose messages are heard (in private chats and in allowed groups)."""
    allowed_chat_ids: tuple[int, ...] = ()
    """Group/supergroup chat ids where allowed users are heard. Private chats need only the user id."""
    channel_chat_ids: tuple[int, ...] = ()
    """Channel chat ids whose posts (e.g. Grafana's own alert posts) are parsed as alerts."""
    default_environment: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")]
    """Environment for alerts whose labels do not name one."""
    environments: tuple[str, ...] = ()
    """If set, `/autopilot <env>` accepts only these names."""
    bot_username: str | None = None
    """This bot's @username; `/cmd@other_bot` is then ignored. Unset: any `@bot` suffix is accepted."""
    telegram_token_env: Annotated[str, Field(pattern=_ENV_NAME)] = "TELEGRAM_BOT_TOKEN"  # noqa: S105 - a variable name, not a secret
    """Environment variable holding the bot token."""
    github_token_env: Annotated[str, Field(pattern=_ENV_NAME)] = "BRIDGE_GITHUB_TOKEN"  # noqa: S105 - a variable name, not a secret
    """Environment variable holding a token with Contents: write (fine-grained) on `repo`."""
    telegram_api_url: str = "https://api.telegram.org"
    """Bot API base URL (a local Bot API server works too)."""
    github_api_url: str = "https://api.github.com"
    """GitHub REST base URL (GHES: https://ghe.example.com/api/v3)."""
    github_web_url: str = "https://github.com"
    """GitHub web URL, for links to the runs page."""
    state_file: Path = Path("bridge-state.json")
    """Offset and dispatch journal; a relative path is read from the config file's folder."""
    coalesce_window_s: Annotated[float, Field(ge=0, le=3600)] = 60.0
    """Alerts for the same (environment, service) within this many seconds start one run."""
    poll_timeout_s: Annotated[int, Field(ge=0, le=50)] = 30
    """Long-poll seconds per getUpdates call."""
    max_text_chars: Annotated[int, Field(ge=100, le=65536)] = 4096
    """Longer texts are cut to this before parsing (Telegram's own limit; anything longer is hostile)."""


def load_config(path: Path) -> BridgeConfig:
    """Read and validate bridge.json; ConfigError names the problem."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        config = BridgeConfig.model_validate(raw)
    except OSError as e:
        raise ConfigError(f"cannot read the bridge config {path}: {e}") from e
    except json.JSONDecodeError as e:
        raise ConfigError(f"bridge config {path} is not JSON: {e}") from e
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())
        raise ConfigError(f"bridge config {path} is invalid: {problems}") from e
    if not config.state_file.is_absolute():
        config = config.model_copy(update={"state_file": path.parent / config.state_file})
    return config


def secret(environ: Mapping[str, str], name: str) -> str:
    """The secret in environment variable `name`; ConfigError when it is missing."""
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"environment variable {name} is not set", hint="see deploy/error-autopilot-bridge.service")
    return value
