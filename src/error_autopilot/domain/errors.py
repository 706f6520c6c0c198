"""The one exception hierarchy of error-autopilot.

    AutopilotError                     exit 1 unless a subclass says otherwise
    ├── ConfigError                    exit 2: bad service map, settings or CLI input
    ├── SourceError                    exit 3: Loki / Tempo unreachable or refusing
    │   ├── SourceUnavailable          transport errors, 5xx, 429 after retries and deadline
    │   └── SourceRejected             4xx other than 429: the request itself is wrong
    ├── StateError                     exit 4: the state branch cannot be read or written
    │   ├── StateCorrupt               unparsable or unknown-version state.json
    │   └── StateConflict              a push kept being rejected after every retry
    ├── FilesystemError                exit 5: a local folder cannot be written (permissions, read-only, full)
    ├── WorkspaceError                 exit 3: a repository cannot be cloned or checked out
    ├── SinkError                      exit 3: GitHub / Telegram / local sink failures
    │   └── SinkRateLimited            secondary rate limit that outlived the retries
    ├── AnalystError                   exit 3: the LLM call failed (the finding is still published)
    └── BridgeError                    exit 8: the Telegram bridge cannot run

Exit 3 means "a dependency failed" whichever it was; the message names it. 130 (interrupted) is
the CLI's, not an exception's.

Adapters translate library exceptions at their boundary and keep the original as `__cause__`.
"""

from __future__ import annotations


class AutopilotError(Exception):
    """Root of every error this tool raises on purpose."""

    exit_code = 1
    title = "error-autopilot failed"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\nhint: {self.hint}" if self.hint else self.message


class ConfigError(AutopilotError):
    """The service map, a setting or a command-line argument is invalid."""

    exit_code = 2
    title = "Invalid configuration"


class SourceError(AutopilotError):
    """Loki or Tempo could not answer the query."""

    exit_code = 3
    title = "Log/trace source failed"

    def __init__(
        self, message: str, *, url: str | None = None, status: int | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.url = url
        self.status = status


class SourceUnavailable(SourceError):
    """Transport errors, 5xx or 429 that outlived the retries and the deadline."""


class SourceRejected(SourceError):
    """The source refused the request (4xx other than 429); retrying will not help."""


class StateError(AutopilotError):
    """The state branch cannot be read or written."""

    exit_code = 4
    title = "State branch problem"


class StateCorrupt(StateError):
    """state.json is unparsable or has a schema version this build does not know."""


class StateConflict(StateError):
    """Every retry of a state save was rejected by the remote."""


class FilesystemError(AutopilotError):
    """A local folder or file cannot be created or written: permissions, a read-only mount, a full disk."""

    exit_code = 5
    title = "Cannot write a local file"


class WorkspaceError(AutopilotError):
    """A service repository cannot be cloned or checked out."""

    exit_code = 3
    title = "Repository checkout failed"


class SinkError(AutopilotError):
    """Publishing to GitHub, Telegram or the local folder failed."""

    exit_code = 3
    title = "Publishing failed"


class SinkRateLimited(SinkError):
    """A rate limit outlived the retries."""


class AnalystError(AutopilotError):
    """The LLM analysis failed; the deterministic finding is published anyway."""

    exit_code = 3
    title = "LLM analysis failed"


class BridgeError(AutopilotError):
    """The Telegram bridge cannot run."""

    exit_code = 8
    title = "Telegram bridge failed"
