"""Java/Kotlin/Scala traces as printed by `Throwable.printStackTrace` (and logback/log4j).

- `Exception in thread "main" com.acme.Boom: message`: a header (the thread prefix is optional);
- `<tab>at java.base/java.lang.Thread.run(Thread.java:833)`: a frame (module/loader prefixes dropped);
- `<tab>... 3 more`: frames shared with the enclosing trace, counted as omitted;
- `<tab>Suppressed: ...`: skipped, with everything indented under it;
- `Caused by: java.io.IOException: inner`: the next exception of the chain.
"""

from __future__ import annotations

import re

from error_autopilot.incidents.stackparse.common import (
    MAX_EXCEPTIONS,
    ExceptionBuilder,
    InApp,
    indent,
    to_int,
)

FRAME = re.compile(r"^\s*at (?P<qual>[^\s()]+)(?P<spaced> )?\((?P<loc>[^()]*)\)(?:\s*~?\[[^\]]*\])?\s*$")
_LOC = re.compile(r"^(?:Native Method|Unknown Source(?::\d+)?|Unknown|(?P<file>[^\s:()]+)(?::(?P<line>\d+))?)$")
# Google Play Console's crash report (Android vitals, "Crashes and ANRs") prints each frame with a space before
# its location, `  at com.acme.Main.onClick (Main.kt:101)`, `(Native Method)` or `(Unknown Source:6)`: V8's
# shape, whose location however always ends in `line:column` or is a script's URL, `native` or `<anonymous>`
# (v8.dev "Stack trace API"). Spaced, a frame is the JVM's only when its location is one only the JVM prints: a
# JVM language's source file with at most a line, or the runtime's words for no source.
_SPACED_LOC = re.compile(
    r"^(?:Native [Mm]ethod|Unknown Source(?::\d+)?"
    r"|(?P<file>[\w$-]+\.(?:java|kt|kts|scala|groovy|clj))(?::(?P<line>\d+))?)$"
)
_HEADER = re.compile(
    r"^(?:Exception in thread \"[^\"]*\" |Caused by: )?"
    r"(?P<type>[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+|[A-Za-z_$][\w$]*(?:Exception|Error|Throwable))"
    r"(?::\s?(?P<msg>.*))?$"
)
_EMBEDDED = re.compile(
    r"(?:^|[\s:\[(])(?P<type>(?:[a-z_$][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error|Throwable))(?::\s?(?P<msg>.*))?$"
)
_CAUSED = re.compile(r"^\s*Caused by: (?P<rest>.*)$")
_SUPPRESSED = re.compile(r"^\s*Suppressed: ")
_MORE = re.compile(r"^\s*\.\.\. (?P<n>\d{1,9}) (?:more|common frames omitted)\s*$")
_HEADER_LOOKBACK = 50
# A copy that wrapped each frame's line before its `at` rather than after the indentation: the `at` ends the line
# above (`java.lang.NullPointerException at` / `org.acme.Pods.cancel(Pods.java:76) at`), the frame starts its own
_TRAILING_AT = re.compile(r"(?<=\S)[ \t]+at[ \t]*$")
_BARE_FRAME = re.compile(
    r"(?:^|\s)(?P<frame>(?:[\w$]+[./])+[\w$<>]+\((?:[\w$.-]+\.\w+:\d+|Native Method|Unknown Source)\))"
    r"(?:[ \t]+at)?[ \t]*$"
)
# The entry's last frame cut inside its location (a size limit on the log line: Loki's `max_line_size_truncate`,
# journald's `LineMax`; a paste cut short): class and method are whole before `(`, only file and line are lost
_CUT_LOCATION = re.compile(r"^\s*at (?P<qual>(?:[\w$]+\.)+[\w$<>]+)\((?P<cut>[\w$.-]*)$")
# A frame wrapped inside its location by a copy from a terminal narrower than the line (`…lambda$get$8(KafkaC` /
# `lientServiceImpl.java:195)`, the screen's padding after it): the next line holds nothing but the rest of the
# location and the `)`; joined, they are one `StackTraceElement.toString()` with file and line.
_WRAPPED_HEAD = re.compile(r"^(?P<head>\s*at (?:[\w$]+[./])+[\w$<>]+\((?P<cut>[\w$.-]*(?::\d*)?))[ \t]*$")
_WRAPPED_TAIL = re.compile(r"^\s*(?P<rest>[\w$.-]*(?::\d*)?\)(?:\s*~?\[[^\]]*\])?)[ \t]*$")


def _location(m: re.Match[str]) -> re.Match[str] | None:
    """The frame's location read, or None when it is no JVM location (`_SPACED_LOC` for a spaced frame)."""
    return (_SPACED_LOC if m["spaced"] else _LOC).match(m["loc"])


def is_frame(line: str) -> bool:
    """A JVM `at Class.method(File.java:1)` line (not a .NET one, whose parentheses hold parameters)."""
    m = FRAME.match(line)
    return bool(m and _location(m))


def moved_at(lines: list[str]) -> list[str]:
    """The frames of a copy that wrapped each line before its `at` (`_TRAILING_AT`) written as the JVM prints
    them; only when no line is a printed frame already and at least two frames follow a trailing `at`. A
    prefix a shipper wrote on every line stays in front, for `strip_line_prefix` to read off."""
    if any(is_frame(line) for line in lines):
        return lines
    follows = [(i + 1, m) for i in range(len(lines) - 1)
               if _TRAILING_AT.search(lines[i]) and (m := _BARE_FRAME.search(lines[i + 1]))]  # fmt: skip
    if len(follows) < 2:
        return lines
    out = list(lines)
    for i, m in follows:
        out[i - 1] = _TRAILING_AT.sub("", out[i - 1])
        out[i] = out[i][: m.start("frame")].rstrip() + "\tat " + m["frame"]
    return out


def unwrapped(lines: list[str]) -> list[str]:
    """Frames a narrow terminal wrapped inside their location (`_WRAPPED_HEAD`, then `_WRAPPED_TAIL`) joined back
    into one line; only when the joined location names a file and a line, as the JVM prints a frame."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        head = _WRAPPED_HEAD.match(lines[i]) if "(" in lines[i] else None
        tail = _WRAPPED_TAIL.match(lines[i + 1]) if head and i + 1 < len(lines) else None
        frame = FRAME.match(joined := head["head"] + tail["rest"]) if head and tail else None
        loc = _LOC.match(frame["loc"]) if frame else None
        if loc and loc["file"] and loc["line"]:
            out.append(joined)
            i += 2
            continue
        out.append(lines[i])
        i += 1
    return out


def _header(line: str, in_app: InApp) -> ExceptionBuilder | None:
    m = _HEADER.match(line.strip())
    if not m:
        return None
    return ExceptionBuilder(type=m["type"], message=m["msg"] or "", in_app=in_app)


def _add_frame(exc: ExceptionBuilder, line: str) -> bool:
    m = FRAME.match(line)
    loc = _location(m) if m else None
    if not m or not loc:
        return False
    pieces = m["qual"].split("/")
    # `java.base/` and `app//` prefixes go; a hidden class's `Name/0x1234` suffix stays with its class
    while len(pieces) > 1 and not pieces[1].startswith("0x"):
        pieces.pop(0)
    qual = "/".join(pieces)
    module, _, function = qual.rpartition(".")
    exc.add_frame(function or qual, module or None, loc["file"], to_int(loc["line"]), line)
    return True


def _embedded(line: str, in_app: InApp) -> ExceptionBuilder | None:
    m = _EMBEDDED.search(line.strip())
    return ExceptionBuilder(type=m["type"], message=m["msg"] or "", in_app=in_app) if m else None


def _first_exception(lines: list[str], first_frame: int, in_app: InApp) -> ExceptionBuilder:
    """The header nearest above the first frame; lines between it and the frame continue its message.
    A header behind a log prefix on the same line (`… ERROR Worker - failed: java.io.IOException: x`)
    counts when no line above is a header on its own."""
    for find in (_header, _embedded):
        for i in range(first_frame - 1, max(-1, first_frame - 1 - _HEADER_LOOKBACK), -1):
            exc = find(lines[i], in_app)
            if exc:
                for extra in lines[i + 1 : first_frame]:
                    exc.add_message_line(extra)
                return exc
    return ExceptionBuilder(type="<unknown>", in_app=in_app)


def _is_header(line: str) -> bool:
    """An exception's own line, alone or behind a log prefix (`_HEADER`, `_EMBEDDED`)."""
    text = line.strip()
    return bool(text) and (_HEADER.match(text) is not None or _EMBEDDED.search(text) is not None)


def past_headless_fragment(lines: list[str], first: int) -> int:
    """Where the logged exception's frames start: past a run of frames with no exception line above it when a
    later run has one. `Throwable.printStackTrace` always prints the throwable's `toString()` before its first
    `at` line, so frames with none above them are the tail of an earlier trace cut by the log window or the
    paste (a scheduled task failing every run logs the same trace again and again), and a whole trace logged
    after them is the one to read. Frames under a `Caused by:` or `Suppressed:` line or after `... N more` are
    the same trace's. One pass: each line is looked at once."""
    if any(_is_header(line) for line in lines[max(0, first - _HEADER_LOOKBACK) : first]):
        return first
    header: int | None = None  # a top-level exception line since the last frame, `Caused by:` or `... N more`
    for i in range(first + 1, len(lines)):
        line = lines[i]
        if is_frame(line):
            if header is not None and i - header <= _HEADER_LOOKBACK:
                return i
            header = None
        elif _MORE.match(line) or _CAUSED.match(line) or _SUPPRESSED.match(line):
            header = None
        elif _is_header(line):  # the nearest one counts, as `_first_exception` reads it
            header = i
    return first


def parse(lines: list[str], in_app: InApp) -> tuple[list[ExceptionBuilder], bool]:
    """Exceptions in `Caused by:` order, and whether the exception cap stopped the parse."""
    lines = unwrapped(lines)
    first = next((i for i, line in enumerate(lines) if is_frame(line)), None)
    if first is None:
        return [], False
    first = past_headless_fragment(lines, first)
    excs = [_first_exception(lines, first, in_app)]
    suppressed_at: int | None = None
    last = max(i for i, line in enumerate(lines) if line.strip())
    for at, line in enumerate(lines[first:], start=first):
        if suppressed_at is not None:
            if line.strip() and indent(line) >= suppressed_at:
                continue
            suppressed_at = None
        current = excs[-1]
        if _add_frame(current, line):
            continue
        if at == last and (cut := _CUT_LOCATION.match(line)):
            module, _, function = cut["qual"].rpartition(".")
            current.add_frame(function, module or None, None, None, line)
            break
        if more := _MORE.match(line):
            current.omitted += int(more["n"])
        elif cause := _CAUSED.match(line):
            if len(excs) >= MAX_EXCEPTIONS:
                return excs, True
            excs.append(_header(cause["rest"], in_app) or ExceptionBuilder(type=cause["rest"][:300], in_app=in_app))
        elif _SUPPRESSED.match(line):
            suppressed_at = indent(line)
        elif not line.strip() and current.frames:
            continue
        elif not current.frames and line.strip():
            current.add_message_line(line)
        else:
            break
    return excs, False
