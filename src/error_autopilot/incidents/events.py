"""A Loki entry understood: JSON, logfmt or plain text → ErrorEvent (or None for non-errors).

Trace ids come only from trace-id fields, W3C `traceparent` or Sleuth's `[svc,trace,span]`
prefix — never from an arbitrary 32-hex run, because request ids and UUIDs look the same.
Never raises on hostile text: anything unreadable degrades to a plain-text event.

Size limits keep meaning: a huge JSON line is parsed whole (its fields are what matter, and each is
capped after), a huge text line is cut around its stack trace rather than blindly at its head, and
the event records that it was cut. A JSON line too broken to parse has its fields read one by one;
one with no readable fields is never titled with a fragment of itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from error_autopilot.config.service_map import ServiceMap
from error_autopilot.domain.events import ErrorEvent, LogEntry
from error_autopilot.domain.stack import StackTrace
from error_autopilot.incidents.stacktrace import parse_stacktrace
from error_autopilot.redaction import Redactor, redactor_for

MAX_LINE = 64 * 1024
MAX_MESSAGE = 1024
SALVAGE_CHARS = 1024 * 1024  # how far into a broken JSON line fields are looked for
UNREADABLE_JSON = "(a JSON log line that cannot be read)"
_CAP_MARGIN = 1024  # redacted this far past a cap, then capped: a token cut in two by the cap matches no rule

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
# the words, or an exception's type name (`NullPointerException`, `KeyError`) as a stack's header says it
_ERRORISH = re.compile(r"(?i)\b(error|exception|panic|fatal|traceback)\b|(?-i:[a-z0-9](?:Exception|Error)\b)")
_SURROGATE = re.compile("[\ud800-\udfff]")
_HEX_ID = re.compile(r"[0-9a-f]{1,32}")
# a "key": value pair of a JSON line that does not parse as a whole (cut short, or nested too deep)
_JSON_FIELD = re.compile(r'"([\w.@-]{1,64})"\s*:\s*("(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?|true|false)')
# where a stack trace starts, cheapest first; found with str.find, never a regex over megabytes
_TRACE_MARKERS = ("Traceback (most recent call last)", "\n\tat ", "\n    at ", "goroutine ", "panic: ", "Exception",
                  "Error")  # fmt: skip

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
        value = data.get(key)
        if value is not None and value != "":
            return value
        if "." in key and isinstance(data, dict):  # nested spelling: {"error": {"stack": ...}}
            node: Any = data.get(key.partition(".")[0])
            if isinstance(node, dict):  # most lines have no object there: the key is not split
                for part in key.split(".")[1:]:
                    node = node.get(part) if isinstance(node, dict) else None
                if node is not None and node != "":
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
    if not _HEX_ID.fullmatch(text) or len(text) > length:
        return None
    text = text.rjust(length, "0")
    return None if set(text) == {"0"} else text


def readable(text: str) -> str:
    """Lone UTF-16 surrogates (a broken producer, or bytes Loki could not decode) as U+FFFD: JSON
    output cannot encode them, so one such line would break the plan, the state and the issue."""
    if text.isascii():  # a flag of the string, not a scan: most lines, and none of them holds a surrogate
        return text
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def _salvaged(text: str) -> dict[str, Any]:
    """The fields of a JSON line that does not parse, read one by one (the first of each key wins)."""
    fields: dict[str, Any] = {}
    for key, raw in _JSON_FIELD.findall(text[:SALVAGE_CHARS]):
        if key not in fields:
            try:
                fields[key] = json.loads(raw)
            except ValueError:
                continue
    return fields


def _region(text: str, limit: int) -> str:
    """At most `limit` characters of `text`, from where its stack trace starts when it has one."""
    if len(text) <= limit:
        return text
    found = [i for i in (text.find(m) for m in _TRACE_MARKERS) if i >= 0]
    if not found or min(found) < limit // 2:
        return text[:limit]
    at = min(found)
    start = max(text.rfind("\n", 0, at) + 1, at - 2048)  # the exception's header line, when it has one
    return text[start : start + limit]


def _size(chars: int) -> str:
    return f"{chars / 1024 / 1024:.1f} MB" if chars >= 1024 * 1024 else f"{chars / 1024:.0f} KB"


def _structured(line: str, limit: int = MAX_LINE) -> tuple[dict[str, Any], str]:
    stripped = line.lstrip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except (ValueError, RecursionError):  # cut short, or nested deeper than the parser goes
            salvaged = _salvaged(stripped)
            return (salvaged, "json-salvaged") if salvaged else ({}, "broken-json")
        return (data, "json") if isinstance(data, dict) else ({}, "broken-json")
    first = line[:limit].split("\n", 1)[0]
    pairs = _LOGFMT.findall(first) if "=" in first else []  # a scan of every position, for a pair's `=`
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
    level = str(value).strip().lower() if value is not None else None
    # "unknown", "" or a made-up level says nothing: the stack and the words decide, as with no level
    return level if level in ERROR_LEVELS or level in NON_ERROR_LEVELS else None


def _service(labels: Mapping[str, str], data: Mapping[str, Any], smap: ServiceMap) -> str:
    raw = next((labels[k] for k in SERVICE_LABELS if labels.get(k)), None) or _get(data, ("service", "service.name"))
    raw = str(raw) if raw else "unknown"
    return smap.resolve_service(raw) or raw


def _ids(data: Mapping[str, Any], labels: Mapping[str, str], line: str) -> tuple[str | None, str | None]:
    trace = normalise_trace_id(_get(data, TRACE_KEYS) or _get(labels, TRACE_KEYS))
    span = normalise_trace_id(_get(data, SPAN_KEYS) or _get(labels, SPAN_KEYS), 16)
    if trace is None:
        head = line[:4096]
        # no `00-`, no traceparent: lowering the head cost more than the search (no character lowers to a digit
        # or a dash)
        lowered = head.lower() if "00-" in head else ""
        # the same for a trace-id field, every spelling of which starts `trace`: a scan starting with `\b`
        # tries every position of the head
        fields = head if "trace" in head else ""
        for pattern, text in ((_TRACEPARENT, lowered), (_SLEUTH, head), (_KV_TRACE, fields)):
            match = pattern.search(text)
            if match:
                trace = normalise_trace_id(match.group(1))
                if span is None and match.re.groups >= 2:
                    span = normalise_trace_id(match.group(2), 16)
                break
        if span is None and "span" in head and (match := _KV_SPAN.search(head)):
            span = normalise_trace_id(match.group(1), 16)
    return trace, span


def _go_crash_below_first_line(stack: StackTrace | None, line: str) -> bool:
    """A Go runtime crash (`panic:` or `fatal error:` over a goroutine's stack) in the lines after a logfmt
    or JSON record: the record's level is its own, not the crash's. The runtime prints an unrecovered panic
    to stderr and exits with status 2 (`runtime/panic.go`, `fatalpanic`), so it is an error whatever a
    logger said on the line above it, which is all the record's level covers (controller-runtime logs
    `Observed a panic in reconciler` at info, then re-panics: `pkg/internal/controller/controller.go`). A panic
    net/http recovered is its own record too (`http: panic serving …` and the stack, `stackparse/go.py`)."""
    if stack is None or stack.language != "go" or stack.primary.type not in ("panic", "fatal error"):
        return False
    if not stack.primary.frames:  # the record's own words (`Observed a panic in reconciler: …`), no crash
        return False
    first, _, rest = line.partition("\n")
    return bool(rest) and "panic: " not in first and "fatal error: " not in first


def parse_entry(
    entry: LogEntry, environment: str, smap: ServiceMap, *, max_line_bytes: int = MAX_LINE
) -> ErrorEvent | None:
    """The entry as an ErrorEvent, or None when it is not an error (info, debug, a warning…).

    Secrets are redacted here, before anything else reads the line: the raw text exists only in
    memory while its structure is read, and the event holds none of it."""
    raw = readable(entry.line)
    redactor = redactor_for(smap.redaction.patterns)
    stream_labels = redactor.redact_labels({k: readable(v) for k, v in entry.labels.items()})
    labels = {**stream_labels, **redactor.redact_labels(dict(entry.metadata))}
    data, fmt = _structured(raw, max_line_bytes)
    data, fmt = _redacted_fields(data, fmt, raw, redactor, max_line_bytes + _CAP_MARGIN)
    salvaged = fmt == "json-salvaged"
    fmt = "json" if salvaged else fmt
    line = redactor.redact(_region(raw, max_line_bytes + _CAP_MARGIN))[:max_line_bytes]
    if fmt == "json" and ("\\/" in line or "\\u" in line):  # escapes can hide a secret from the text rules
        line = json.dumps(data, ensure_ascii=False)[:max_line_bytes]
    stated = _get(data, MESSAGE_KEYS) if data else None
    if fmt == "broken-json":
        message = UNREADABLE_JSON
    elif data:
        message = _ANSI.sub("", readable(_as_text(stated))[:MAX_LINE]) if stated is not None else ""
    else:
        message = _ANSI.sub("", line.split("\n", 1)[0])
    level = _level(data, labels, message)
    stated_stack = _get(data, STACK_KEYS) if data else None
    stack_text = _as_text(stated_stack) if stated_stack else None
    if stack_text is None and "exception_stacktrace" in labels:
        stack_text = labels["exception_stacktrace"]
    if stack_text is None and fmt != "json":
        stack_text = _ANSI.sub("", line)
    service = _service(labels, data, smap)
    config = smap.services.get(service)

    def parse(text: str) -> StackTrace | None:
        return parse_stacktrace(readable(_region(text, max_line_bytes)), packages=config.packages if config else (),
                                source_roots=config.source_roots if config else ())  # fmt: skip

    stack = parse(stack_text or "")
    # a trace in a field of another name (`"details": "…\n    at …"`), or in the lines below the record: a
    # record holds one line, so a trace written after it (a runtime's crash on stderr, a pretty-printed
    # object's unquoted `stack`, a quoted logfmt value the paste broke over lines) is no field of it
    if stack is None and data and ("\\n" in line or "\n" in line.strip()):
        stack = parse(line)
    if fmt in ("logfmt", "json") and level in NON_ERROR_LEVELS and _go_crash_below_first_line(stack, line):
        level = "error"
    if level in NON_ERROR_LEVELS or (level is None and stack is None and not _ERRORISH.search(message)):
        return None
    trace_id, span_id = _ids(data, labels, line)
    exc_type = str(stated_type) if data and (stated_type := _get(data, TYPE_KEYS)) else None
    exc_message = None
    if stack is not None:
        exc_type, exc_message = stack.primary.type, stack.primary.message
    if not message.strip() or message == UNREADABLE_JSON:  # say what failed rather than "None" or a fragment
        message = " ".join(x for x in (exc_type, exc_message) if x) or message.strip() or "(no message)"
    version = _get(labels, VERSION_KEYS) or (_get(data, VERSION_KEYS) if data else None)
    return ErrorEvent(
        line_id=entry.identity, ts_ns=entry.ts_ns, environment=environment, service=service, level=level,
        message=message[:MAX_MESSAGE], exception_type=exc_type, exception_message=exc_message,
        stack=stack, trace_id=trace_id, span_id=span_id, version=str(version) if version else None,
        labels=stream_labels, line=line, format="plain" if fmt == "broken-json" else fmt,
        truncated=_cut_note(len(raw), salvaged, stack, max_line_bytes),
    )  # fmt: skip


def _capped(value: Any, limit: int) -> Any:
    """Every string of a decoded JSON value cut to `limit` characters, around its stack trace if it has one."""
    if isinstance(value, str):
        return _region(value, limit)
    if isinstance(value, list):
        return [_capped(v, limit) for v in value]
    if isinstance(value, dict):
        return {k: _capped(v, limit) for k, v in value.items()}
    return value


def _redacted_fields(
    data: dict[str, Any], fmt: str, raw: str, redactor: Redactor, limit: int
) -> tuple[dict[str, Any], str]:
    """The structured fields capped and redacted; a structure too deep to walk is read field by field."""
    try:
        return redactor.redact_tree(_capped(data, limit)), fmt
    except RecursionError:
        fields = _salvaged(raw) if fmt == "json" else {}
        return (redactor.redact_tree(_capped(fields, limit)), "json-salvaged") if fields else ({}, "broken-json")


def _cut_note(chars: int, salvaged: bool, stack: StackTrace | None, limit: int) -> str | None:
    """What the event does not hold of its line, in words for the issue; None when nothing was cut."""
    notes = []
    if chars > limit:
        kept = "the exception and its frames were kept" if stack is not None else "no stack trace was found in it"
        notes.append(f"a {_size(chars)} log line was cut to {_size(limit)} ({kept})")
    if salvaged:
        notes.append("a JSON log line did not parse as a whole; its fields were read one by one")
    return "; ".join(notes) or None
