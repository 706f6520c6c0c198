"""Traces as read from Tempo, normalised (hex ids, plain attribute values)."""

from __future__ import annotations

from typing import Literal

from pydantic import JsonValue

from error_autopilot.domain.base import Frozen

AttrValue = JsonValue  # an OTLP attribute value: string, number, bool, list or map of them


class SpanEvent(Frozen):
    """A span event; `exception` events carry exception.type/message/stacktrace."""

    name: str
    time_ns: int = 0
    attributes: dict[str, AttrValue] = {}


class Span(Frozen):
    """One span with its resource's service name folded in."""

    span_id: str  # lowercase 16-hex
    parent_id: str | None = None  # None = root
    service: str
    name: str
    kind: str = "SPAN_KIND_UNSPECIFIED"
    start_ns: int = 0
    end_ns: int = 0
    status_code: Literal["UNSET", "OK", "ERROR"] = "UNSET"
    status_message: str = ""
    attributes: dict[str, AttrValue] = {}
    resource: dict[str, AttrValue] = {}
    events: tuple[SpanEvent, ...] = ()

    @property
    def failed(self) -> bool:
        """True when the span's status is ERROR or it recorded an exception."""
        return self.status_code == "ERROR" or any(e.name == "exception" for e in self.events)


TraceStatus = Literal["found", "not_found", "partial", "unavailable"]


class Trace(Frozen):
    """A trace by id. `not_found` is a normal outcome (not yet ingested, sampled out)."""

    trace_id: str  # lowercase 32-hex
    status: TraceStatus
    spans: tuple[Span, ...] = ()
    message: str = ""  # Tempo's PARTIAL message, or why it is unavailable
    capped: bool = False  # we kept only the first N spans
    total_spans: int = 0  # spans in the response before any cap
