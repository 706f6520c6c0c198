"""The only code that touches the GitHub Actions runtime: masks, outputs, annotations, summary, events.

Outside Actions (a laptop, cron) every function degrades to a no-op or plain logging, so the same
code path runs everywhere.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from actions_toolkit import command, core
from pydantic import ValidationError

from error_autopilot.domain.dispatch import DispatchPayload
from error_autopilot.domain.errors import AutopilotError, ConfigError

log = logging.getLogger(__name__)

SUMMARY_LIMIT_BYTES = 1024 * 1024  # GitHub refuses a step summary above 1 MiB


def in_actions(environ: Mapping[str, str] | None = None) -> bool:
    """True when running inside a GitHub Actions job."""
    env = os.environ if environ is None else environ
    return env.get("GITHUB_ACTIONS") == "true"


def mask(secrets: Iterable[str | None]) -> None:
    """Register secrets with the runner (`::add-mask::`) before anything could print them.

    A mask hides only what the runner reads after it. The runner reads stdout and stderr as two pipes
    and, of what has arrived, handles stderr first; stdout to a pipe is block-buffered. So every mask
    goes to both streams and is flushed at once: on each stream it precedes every later line."""
    if not in_actions():
        return
    parts = sorted({part for s in secrets if s for part in {s, *s.split()} if len(part) >= 4})
    if not parts:
        return
    lines = "".join(f"{command.Command('add-mask', {}, part)}\n" for part in parts)
    for stream in (sys.stdout, sys.stderr):
        stream.write(lines)
        stream.flush()


def set_outputs(outputs: Mapping[str, str | int]) -> None:
    """Write step outputs to $GITHUB_OUTPUT (heredoc syntax for every value, so multi-line is safe)."""
    if not os.environ.get("GITHUB_OUTPUT"):
        return
    for name, value in outputs.items():
        core.set_output(name, str(value))


def annotate_error(error: AutopilotError) -> None:
    """A failure annotation with the error's title; outside Actions the CLI prints it instead."""
    if in_actions():  # core.error would add empty file=/line= properties
        command.issue_command("error", {"title": error.title}, str(error))


def warn(message: str) -> None:
    """A warning annotation (Actions) or a log warning (elsewhere)."""
    if in_actions():
        core.warning(message)
    else:
        log.warning("%s", message)


def write_summary(markdown: str, path: Path | None) -> bool:
    """Append the job summary, capped under 1 MiB. Returns False when it could not be written
    (the caller then prints it), so a full disk or a missing variable never fails the run."""
    if path is None:
        return False
    data = markdown.encode("utf-8")
    if len(data) > SUMMARY_LIMIT_BYTES - 1024:
        note = "\n\n> Summary cut to fit GitHub's 1 MiB limit; the full run report is in the artifact.\n"
        cut = data[: SUMMARY_LIMIT_BYTES - 1024 - len(note.encode())].decode("utf-8", "ignore")
        markdown = cut + note
    try:
        with path.open("a", encoding="utf-8") as f:
            f.write(markdown)
    except OSError as e:
        log.warning("could not write the job summary to %s: %s", path, e)
        return False
    return True


def read_dispatch(event_name: str | None, event_path: Path | None) -> DispatchPayload | None:
    """The validated request carried by a repository_dispatch or workflow_dispatch event, if any.

    Values are only ever parsed by pydantic and used as data; nothing reaches a shell."""
    if event_name not in {"repository_dispatch", "workflow_dispatch"} or event_path is None:
        return None
    try:
        event: Any = json.loads(event_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"cannot read the event payload {event_path}: {e}") from e
    raw = event.get("client_payload") if event_name == "repository_dispatch" else event.get("inputs")
    if not isinstance(raw, dict):
        return None
    raw = {k.replace("-", "_"): v for k, v in raw.items() if v not in (None, "")}
    ignored = sorted(set(raw) - set(DispatchPayload.model_fields))
    if ignored:  # workflow_dispatch also carries inputs like dry_run; a newer bridge may send more
        log.info("%s: ignoring fields %s", event_name, ", ".join(ignored))
    raw = {k: v for k, v in raw.items() if k in DispatchPayload.model_fields}
    try:
        return DispatchPayload.model_validate(raw)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())
        raise ConfigError(f"{event_name} payload rejected: {problems}") from e
