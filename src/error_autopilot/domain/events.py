"""Log entries as read from Loki, and the error events parsed from them."""

from __future__ import annotations

import hashlib

from error_autopilot.domain.base import Frozen
from error_autopilot.domain.stack import StackTrace


class LogEntry(Frozen):
    """One Loki entry: the unit of line identity (labels + ts + line + metadata)."""

    ts_ns: int
    line: str
    labels: dict[str, str]  # stream labels (index labels, plus merged metadata in default encoding)
    metadata: dict[str, str] = {}  # structured metadata and parsed labels (categorize-labels encoding)

    @property
    def identity(self) -> str:
        """Stable id of this exact entry; identical entries are the same log line."""
        h = hashlib.blake2b(digest_size=12)
        for key in sorted(self.labels):
            h.update(f"{key}\x1f{self.labels[key]}\x1e".encode("utf-8", "surrogatepass"))
        h.update(b"\x1d")
        for key in sorted(self.metadata):
            h.update(f"{key}\x1f{self.metadata[key]}\x1e".encode("utf-8", "surrogatepass"))
        h.update(f"\x1d{self.ts_ns}\x1d".encode())
        h.update(self.line.encode("utf-8", "surrogatepass"))
        return h.hexdigest()


class ErrorEvent(Frozen):
    """A log entry understood: who logged what, with which stack and trace."""

    line_id: str  # LogEntry.identity
    ts_ns: int
    environment: str
    service: str  # canonical service name (aliases resolved), or the raw label when unmapped
    level: str | None = None
    message: str  # first line / message field, capped
    exception_type: str | None = None
    exception_message: str | None = None
    stack: StackTrace | None = None
    trace_id: str | None = None  # lowercase 32-hex
    span_id: str | None = None  # lowercase 16-hex
    version: str | None = None  # deployed version from labels/fields (service.version, git sha, ...)
    labels: dict[str, str] = {}
    line: str  # the raw line, capped for storage
    format: str = "plain"  # json | logfmt | plain
    truncated: str | None = None  # what was cut from the line or could not be read, in words
