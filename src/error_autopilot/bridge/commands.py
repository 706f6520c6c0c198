"""Chat commands (pure): `/autopilot <env> [service] [since] [trace id]`, `/status`, `/help`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import ValidationError

from error_autopilot.domain.dispatch import DispatchPayload

_COMMAND = re.compile(r"^/(?P<name>[A-Za-z0-9_]{1,32})(?:@(?P<bot>[A-Za-z0-9_]{1,64}))?(?:\s+(?P<args>.*))?$", re.S)
_SINCE = re.compile(r"^(\d{1,4}[smhdw]){1,3}$")
_TRACE = re.compile(r"^[0-9a-fA-F]{16,32}$")

HELP = (
    "error-autopilot bridge\n"
    "Forward a Grafana alert here to start an investigation of its service.\n"
    "/autopilot <env> [service] [since] [trace id] — start a run now (since: 30m, 2h, 1d)\n"
    "/status — the latest workflow runs\n"
    "/help — this text"
)


@dataclass(frozen=True)
class Command:
    """A command addressed to this bot."""

    name: str
    args: tuple[str, ...]


def parse_command(text: str, bot_username: str | None) -> Command | None:
    """The command in `text`, or None when it is not a command for this bot."""
    match = _COMMAND.match(text.strip())
    if not match:
        return None
    bot = match.group("bot")
    if bot and bot_username and bot.lower() != bot_username.lstrip("@").lower():
        return None
    return Command(match.group("name").lower(), tuple((match.group("args") or "").split()[:8]))


def autopilot_payload(args: tuple[str, ...], environments: tuple[str, ...]) -> DispatchPayload | str:
    """The dispatch a `/autopilot` command asks for, or the reason it cannot be sent."""
    if not args:
        return "usage: /autopilot <env> [service] [since] [trace id]"
    env, rest = args[0], args[1:]
    if environments and env not in environments:
        return f"unknown environment {env!r}; known: {', '.join(environments)}"
    fields: dict[str, str] = {"environment": env}
    for arg in rest:
        if _SINCE.match(arg) and "since" not in fields:
            fields["since"] = arg
        elif _TRACE.match(arg) and "trace_id" not in fields:
            fields["trace_id"] = arg
        elif "service" not in fields:
            fields["service"] = arg
        else:
            return f"did not understand {arg!r}; usage: /autopilot <env> [service] [since] [trace id]"
    try:
        return DispatchPayload.model_validate(fields)
    except ValidationError as e:
        return "invalid " + "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())
