"""A Loki entry understood: JSON, logfmt or plain text → ErrorEvent (or None for non-errors).

Trace ids come only from trace-id fields, W3C `traceparent` or Sleuth's `[svc,trace,span]`
prefix — never from an arbitrary 32-hex run, because request ids and UUIDs look the same.
Never raises on hostile text: anything unreadable degrades to a plain-text event.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from error_autopilot.config.service_map import ServiceMap
from error_autopilot.domain.events import ErrorEvent, LogEntry
from error_autopilot.incidents.stacktrace import parse_stacktrace

MAX_LINE = 64 * 1024
MAX_MESSAGE = 1024

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
# the lookbehind keeps a key from starting inside a word: without it a long word is scanned from every
# position (quadratic: a 64 KB token took 30 s)
_LOGFMT = re.compile(r'(?<![\w.\-])(\w[\w.\-]*)=("(?:[^"\\]|\\.)*"|\S*)')
_TRACEPARENT = re.compile(r"\b00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}\b")
_SLEUTH = re.compile(r"\[[\w.\-]+,([0-9a-f]{16}|[0-9a-f]{32}),([0-9a-f]{16})(?:,[^\]]*)?\]")
_KV_TRACE = re.compile(r"\b(?:trace_?id|traceId|trace\.id)[=:]\s*\"?([0-9a-fA-F]{16,32})\b")
_KV_SPAN = re.compile(r"\b(?:span_?id|spanId|span\.id)[=:]\s*\"?([0-9a-fA-F]{16})\b")
# a level word among the first tokens: "WARN svc - …", "2026-01-01T00:00:00Z ERROR [svc] …"
_LEVEL_WORD = re.compile(r"^(?:\S+\s+){0,2}?\[?(TRACE|DEBUG|INFO|WARN|WARNING|ERROR|ERR|FATAL|CRITICAL|PANIC|SEVERE)\b")
_ERRORISH = re.compile(r"(?i)\b(error|exception|panic|fatal|traceback)\b")

ERROR_LEVELS = frozenset({"error", "err", "e", "fatal", "critical", "crit", "panic", "severe", "alert", "emerg",
                          "emergency", "f", "dpanic"})  # fmt: skip
NON_ERROR_LEVELS = frozenset({"trace", "debug", "info", "information", "notice", "warn", "warning", "w", "i", "d"})

MESSAGE_KEYS = ("message", "msg", "@message", "log", "text", "event")
LEVEL_KEYS = ("level", "severity", "lvl", "@level", "log.level", "levelname", "severity_text", "loglevel")
TRACE_KEYS = ("trace_id", "traceId", "trace.id", "traceID", "dd.trace_id", "otelTraceID", "trace")
SPAN_KEYS = ("span_id", "spanId", "span.id", "spanID", "dd.span_id", "otelSpanID")
STACK_KEYS = ("stack_trace", "stacktrace", "exception", "exc_info", "stack", "error.stack", "err",
              "exception.stacktrace", "exception_stacktrace", "error", "trace_back", "traceback")  # fmt: skip
TYPE_KEYS = ("error.type", "exception.type", "exc_type", "error_type", "exception_type")
SERVICE_LABELS = ("service_name", "service", "service.name", "app", "app_kubernetes_io_name", "application",
                  "container", "job")  # fmt: skip
VERSION_KEYS = ("service_version", "service.version", "version", "vcs_revision", "vcs.revision",
                "vcs_ref_head_revision", "git_commit", "git.commit.sha", "git_commit_sha", "commit")  # fmt: skip


def _get(data: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if key in data and data[key] not in (None, ""):
            return data[key]
        if "." in key:  # nested spelling: {"error": {"stack": ...}}
            node: Any = data
            for part in key.split("."):
                node = node.get(part) if isinstance(node, dict) else None
            if node not in (None, ""):
                return node
    return None


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return str(_get(value, ("stack", "stacktrace", "stack_trace", "message", "msg")) or json.dumps(value))
    return json.dumps(value) if isinstance(value, list) else str(value)


def normalise_trace_id(value: Any, length: int = 32) -> str | None:
    """Lowercase hex, left-padded; None when it is not a hex id or is all zeros."""
    text = str(value).strip().lower() if value is not None else ""
    if not re.fullmatch(r"[0-9a-f]{1,32}", text) or len(text) > length:
        return None
    text = text.rjust(length, "0")
    return None if set(text) == {"0"} else text


def _structured(line: str) -> tuple[dict[str, Any], str]:
    stripped = line.lstrip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except ValueError:
            return {}, "plain"
        return (data, "json") if isinstance(data, dict) else ({}, "plain")
    first = line.split("\n", 1)[0]
    pairs = _LOGFMT.findall(first)
    if len(pairs) >= 2 and first.lstrip().startswith(pairs[0][0] + "="):
        return {k: v[1:-1].replace('\\"', '"') if v.startswith('"') else v for k, v in pairs}, "logfmt"
    return {}, "plain"


def _level(data: Mapping[str, Any], labels: Mapping[str, str], message: str) -> str | None:
    value = _get(data, LEVEL_KEYS)
    if value is None:
        value = next((labels[k] for k in ("level", "severity", "severity_text") if k in labels), None)
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        number = int(value)  # pino: 50 error, 60 fatal; syslog: 0-3 are errors
        return "error" if number >= 50 or number <= 3 else "info"
    if value is None and (match := _LEVEL_WORD.match(message)):
        value = match.group(1)
    if value is None:  # Loki's own guess comes last: it can read "last Error:" in a WARN line as an error
        value = labels.get("detected_level")
    return str(value).strip().lower() if value is not None else None


def _service(labels: Mapping[str, str], data: Mapping[str, Any], smap: ServiceMap) -> str:
    raw = next((labels[k] for k in SERVICE_LABELS if labels.get(k)), None) or _get(data, ("service", "service.name"))
    raw = str(raw) if raw else "unknown"
    return smap.resolve_service(raw) or raw


def _ids(data: Mapping[str, Any], labels: Mapping[str, str], line: str) -> tuple[str | None, str | None]:
    trace = normalise_trace_id(_get(data, TRACE_KEYS) or _get(labels, TRACE_KEYS))
    span = normalise_trace_id(_get(data, SPAN_KEYS) or _get(labels, SPAN_KEYS), 16)
    if trace is None:
        head = line[:4096]
        for pattern in (_TRACEPARENT, _SLEUTH, _KV_TRACE):
            match = pattern.search(head) if pattern is not _TRACEPARENT else pattern.search(head.lower())
            if match:
                trace = normalise_trace_id(match.group(1))
                if span is None and match.re.groups >= 2:
                    span = normalise_trace_id(match.group(2), 16)
                break
        if span is None and (match := _KV_SPAN.search(head)):
            span = normalise_trace_id(match.group(1), 16)
    return trace, span


def parse_entry(
    entry: LogEntry, environment: str, smap: ServiceMap, *, max_line_bytes: int = MAX_LINE
) -> ErrorEvent | None:
    """The entry as an ErrorEvent, or None when it is not an error (info, debug, a warning…)."""
    line = entry.line if len(entry.line) <= max_line_bytes else entry.line[:max_line_bytes]
    labels = {**entry.labels, **entry.metadata}
    data, fmt = _structured(line)
    message = _ANSI.sub("", _as_text(_get(data, MESSAGE_KEYS)) if data else line.split("\n", 1)[0])
    level = _level(data, labels, message)
    stack_text = _as_text(_get(data, STACK_KEYS)) if data and _get(data, STACK_KEYS) else None
    if stack_text is None and "exception_stacktrace" in labels:
        stack_text = labels["exception_stacktrace"]
    if stack_text is None and fmt != "json":
        stack_text = _ANSI.sub("", line)
    service = _service(labels, data, smap)
    config = smap.services.get(service)
    stack = parse_stacktrace(
        stack_text or "", packages=config.packages if config else (), source_roots=config.source_roots if config else ()
    )
    if stack is None and data and "\\n" in line:  # a trace in a field of another name (`"details": "…\n    at …"`)
        stack = parse_stacktrace(line, packages=config.packages if config else (),
                                 source_roots=config.source_roots if config else ())  # fmt: skip
    if level in NON_ERROR_LEVELS or (level is None and stack is None and not _ERRORISH.search(message)):
        return None
    trace_id, span_id = _ids(data, labels, line)
    exc_type = str(_get(data, TYPE_KEYS)) if data and _get(data, TYPE_KEYS) else None
    exc_message = None
    if stack is not None:
        exc_type, exc_message = stack.primary.type, stack.primary.message
    version = _get(labels, VERSION_KEYS) or (_get(data, VERSION_KEYS) if data else None)
    return ErrorEvent(
        line_id=entry.identity, ts_ns=entry.ts_ns, environment=environment, service=service, level=level,
        message=message[:MAX_MESSAGE] or "(empty message)", exception_type=exc_type, exception_message=exc_message,
        stack=stack, trace_id=trace_id, span_id=span_id, version=str(version) if version else None,
        labels=dict(entry.labels), line=line, format=fmt,
    )  # fmt: skip
