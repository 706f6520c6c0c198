"""The only code that touches the GitHub Actions runtime: masks, outputs, annotations, summary, events.

Outside Actions (a laptop, cron) every function degrades to a no-op or plain logging, so the same
code path runs everywhere.

It is also the only code allowed to write a workflow command. The runner reads stdout and stderr line by
line (.NET `ReadLine`: `\n`, `\r`, `\r\n`) and runs a line as a command when, after leading
whitespace, it starts with `::`, or when it holds `##[` anywhere (the older syntax, still parsed). Log
lines, exception messages, traces, model answers and test output are written by strangers, so
`guarded_streams` puts a `CommandGuard` over both streams for the whole CLI run in Actions: no line it
passes on can be read as a command, and this module's own commands go around it through `_command`.
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from actions_toolkit import command

from error_autopilot.domain.errors import AutopilotError, ConfigError
from error_autopilot.logline import LEADING_SPACE, V1_DEFUSED, V1_PREFIX, defuse

if TYPE_CHECKING:  # the model is built on first use: every CLI call, --version included, imports this module
    from error_autopilot.domain.dispatch import DispatchPayload

log = logging.getLogger(__name__)

SUMMARY_LIMIT_BYTES = 1024 * 1024  # GitHub refuses a step summary above 1 MiB


class CommandGuard(io.TextIOBase):
    """A text stream over stdout or stderr that passes every line through `defuse`.

    It cannot tell a hostile line break from a real one, so it guards every line; the start of a line
    is held back until it is clear it does not begin with `::`, and up to two trailing `#` until the
    next write shows no `[`. `write_command` is the way around it, for this module alone."""

    def __init__(self, inner: TextIO) -> None:
        super().__init__()
        self.inner = inner
        self._held = ""  # written to us, not yet passed on
        self._mid_line = False  # part of the current line has been passed on (its start was safe)
        self._lock = threading.Lock()

    @property
    def encoding(self) -> str:  # type: ignore[override]  # read-only on every real text stream too
        return self.inner.encoding

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self.inner.isatty()

    def fileno(self) -> int:
        return self.inner.fileno()

    def write(self, s: str, /) -> int:
        with self._lock:
            *lines, self._held = (self._held + s.replace("\r", "\\r")).split("\n")
            for line in lines:
                self.inner.write(self._safe(line) + "\n")
                self._mid_line = False
            self._pass_on_decided()
        return len(s)

    def _safe(self, text: str) -> str:
        return text.replace(V1_PREFIX, V1_DEFUSED) if self._mid_line else defuse(text)

    def _pass_on_decided(self) -> None:
        held = self._held
        if not self._mid_line and LEADING_SPACE.sub("", held) in ("", ":"):
            return  # the line could still turn out to start with `::`
        keep = min(2, len(held) - len(held.rstrip("#")))
        self._pass_on(held[: len(held) - keep])
        self._held = held[len(held) - keep :]

    def _pass_on(self, part: str) -> None:
        if part:
            self.inner.write(self._safe(part))
            self._mid_line = True

    def write_command(self, line: str) -> None:
        """Pass one workflow command through unchanged, on a line of its own."""
        with self._lock:
            if self._held or self._mid_line:  # end the line being written first
                self.inner.write(self._safe(self._held) + "\n")
                self._held, self._mid_line = "", False
            self.inner.write(line + "\n")

    def flush(self) -> None:
        with self._lock:
            self.inner.flush()

    def finish(self) -> None:
        """Pass on what is held (a last line without a line break) and flush."""
        with self._lock:
            self._pass_on(self._held)
            self._held = ""
            self.inner.flush()


@contextmanager
def guarded_streams() -> Iterator[None]:
    """sys.stdout and sys.stderr behind a `CommandGuard` for the block (the whole CLI run), in Actions.

    Elsewhere no runner reads commands and the streams stay as they are: the guard's `write` is Python
    code, and a Ctrl-C that lands in it while the interpreter itself writes to stderr is swallowed."""
    if not in_actions() or (isinstance(sys.stdout, CommandGuard) and isinstance(sys.stderr, CommandGuard)):
        yield
        return
    saved = sys.stdout, sys.stderr
    guards = CommandGuard(sys.stdout), CommandGuard(sys.stderr)
    sys.stdout, sys.stderr = guards
    try:
        yield
    finally:
        for guard in guards:
            guard.finish()
        sys.stdout, sys.stderr = saved


def _command(stream: TextIO, line: str) -> None:
    """Write one of our workflow commands, around the guard when there is one."""
    if isinstance(stream, CommandGuard):
        stream.write_command(line)
    else:
        stream.write(line + "\n")
    stream.flush()


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
    for stream in (sys.stdout, sys.stderr):
        for part in parts:
            _command(stream, str(command.Command("add-mask", {}, part)))


def set_outputs(outputs: Mapping[str, str | int]) -> None:
    """Write step outputs to $GITHUB_OUTPUT (heredoc syntax for every value, so multi-line is safe)."""
    if not os.environ.get("GITHUB_OUTPUT"):
        return
    from actions_toolkit import core  # noqa: PLC0415 - it loads `requests`: only when outputs are written

    for name, value in outputs.items():
        core.set_output(name, str(value))


def annotate_error(error: AutopilotError) -> None:
    """A failure annotation with the error's title; outside Actions the CLI prints it instead."""
    if in_actions():  # core.error would add empty file=/line= properties
        _command(sys.stdout, str(command.Command("error", {"title": error.title}, str(error))))


def warn(message: str) -> None:
    """A warning annotation (Actions) or a log warning (elsewhere)."""
    if in_actions():
        _command(sys.stdout, str(command.Command("warning", {}, message)))
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
    from pydantic import ValidationError  # noqa: PLC0415 - see TYPE_CHECKING above

    from error_autopilot.domain.dispatch import DispatchPayload  # noqa: PLC0415

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
