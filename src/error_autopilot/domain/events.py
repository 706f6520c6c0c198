"""Log entries as read from Loki, and the error events parsed from them."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from error_autopilot.domain.base import Frozen
from error_autopilot.domain.stack import StackTrace


@functools.lru_cache(maxsize=4096)  # a stream's labels (and a line's few metadata sets) repeat on every line
def _prefix(labels: tuple[tuple[str, str], ...], metadata: tuple[tuple[str, str], ...]) -> Any:
    h = hashlib.blake2b(digest_size=12)
    for key, value in sorted(labels):
        h.update(f"{key}\x1f{value}\x1e".encode("utf-8", "surrogatepass"))
    h.update(b"\x1d")
    for key, value in sorted(metadata):
        h.update(f"{key}\x1f{value}\x1e".encode("utf-8", "surrogatepass"))
    return h


@dataclass(slots=True)
class LogEntry:
    """One Loki entry: the unit of line identity (labels + ts + line + metadata). Never changed once made.

    A plain slotted class, not a model: one is made per line read, and the source has already checked
    the page's shape. Its identity is computed once: by the source as it reads a page (`identify`), or
    on first use."""

    ts_ns: int
    line: str
    labels: Mapping[str, str]  # stream labels (index labels, plus merged metadata in default encoding)
    # structured metadata and parsed labels (categorize-labels encoding)
    metadata: Mapping[str, str] = field(default_factory=dict)
    _identity: str = field(default="", init=False, repr=False, compare=False)

    @property
    def identity(self) -> str:
        """Stable id of this exact entry; identical entries are the same log line."""
        if not self._identity:
            identify((self,))
        return self._identity


def identify(entries: Iterable[LogEntry]) -> None:
    """Work out each entry's `identity` now. A source reads a stream's lines one after another, sharing
    its labels and metadata dicts: each run of them finds its hash prefix once, not by a lookup a line."""
    labels: Mapping[str, str] | None = None
    metadata: Mapping[str, str] | None = None
    prefix: Any = None
    for entry in entries:
        if entry.labels is not labels or entry.metadata is not metadata:
            labels, metadata = entry.labels, entry.metadata
            prefix = _prefix(tuple(labels.items()), tuple(metadata.items()))
        h = prefix.copy()
        h.update(b"\x1d%d\x1d" % entry.ts_ns)
        h.update(entry.line.encode("utf-8", "surrogatepass"))
        entry._identity = h.hexdigest()


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
