"""Traces a log shipper split into one entry per line, put back together.

Without a multiline stage (Promtail/Alloy `multiline`, Fluent Bit's `multiline.parser`) Docker's and
Kubernetes' log files reach Loki one entry per line (grafana/loki#2747, #74): a stack trace's header
becomes an error without a stack, and frame lines that mention `error` or `panic` become errors of their
own. This module says which single lines are *pieces* of a trace, and which neighbouring lines of the
same stream form each trace again — what a multiline stage would have sent. It reads only the shapes
the runtimes print (CPython's traceback, the JVM's `printStackTrace`, Go's panic dump, V8's
`Error.stack`, .NET's `Exception.ToString`), never what a line says.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

_MESSAGE_LINES = 5
JOIN_GAP_NS = 10_000_000
"""A logger's line right before a trace's first line belongs to it when written this close: one
`logger.error(msg, exc)` call writes both at once."""


class Piece(Enum):
    """What a single line can be of a split trace."""

    START = "start"  # a trace's first line: `Traceback …`, `panic: …`, an exception's `Type: message`
    CONTINUATION = "continuation"  # a line only printed inside a trace: frames, `Caused by:`, chain markers


_TRACEBACK = "Traceback (most recent call last):"
_CHAIN = (
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
)
_GO_STARTS = ("panic: ", "fatal error: ", "goroutine ", "[signal ")
_STARTS = (_TRACEBACK, "panic: ", "fatal error: ", "Unhandled exception. ", "Unhandled Exception: ",
           'Exception in thread "')  # fmt: skip
_CONTINUATIONS = ("Caused by: ", "Suppressed: ", *_CHAIN, "--- End of ", "---> ", "(Inner Exception #", "goroutine ",
                  "created by ", "[signal ", 'File "')  # fmt: skip
# Frame lines that lost their indentation on the way (a paste, a shipper trimming lines): `at X.y(…)`,
# Go's `/src/app/main.go:12 +0x1d`, the JVM's `... 3 more`
_BARE_FRAME = re.compile(r"at \S.*[(:]|\S+\.go:\d+(?: \+0x[0-9a-f]+)?$|\.\.\. \d+ (?:more|common frames omitted)")
# `pkg.Type: message` or a bare type, the type's last name saying what it is (Python, JVM, .NET, V8)
_HEADER = re.compile(
    r"(?:[A-Za-z_$][\w$]*[.$])*[A-Za-z_$]?[\w$]*(?:Exception|Error|Throwable|Fault|Panic|Failure|Interrupt|Exit)"
    r"(?:\s\[[\w.-]+\])?(?::\s|:?\s*$)"
)
_RECORD_KEY = re.compile(r"[\w.@-]+=")  # logfmt's first `key=`
_CRI = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d) (?:stdout|stderr) [FP] ")
# A Go frame's function line: `main.main()`, `net/http.(*conn).serve(0xc0001)`, `panic({0x6d5e40, 0x8a2b30})`
_GO_FUNCTION = re.compile(r"[\w.\-/]*(?:\(\*?[\w.\[\]]+\))?[\w.\[\]\-]*\([^ ]*.*\)(?: \[recovered\])?$")
# the same line cut inside its arguments, which the runtime prints as hex words (`{…}`, `?`, `...` among them):
# a trace's last line when the entry or the paste was cut there (`stackparse/go._CUT_CALL`)
_GO_CUT_FUNCTION = re.compile(
    r"[\w\-/]*\.[\w.\-/]*(?:\(\*?[\w.\[\]]+\))?[\w.\[\]\-]*\(\{*0x[0-9a-fA-F]*[{}0-9a-fA-Fx?., ]*$"
)


def unwrap(line: str) -> str:
    """The line as the program wrote it, out of the wrapping of a container runtime's log file that no
    shipper stage took off: CRI's `2024-05-13T15:06:38.123Z stderr F ` (Kubernetes' files under
    `/var/log/pods`), Docker json-file's `{"log": "…\\n", "stream": "stderr", "time": "…"}`."""
    if line[:1].isdigit():
        found = _CRI.match(line)
        return line[found.end() :] if found else line
    if line.startswith('{"log":'):
        try:
            data = json.loads(line)
        except ValueError:
            return line
        text = data.get("log") if isinstance(data, dict) else None
        return text.rstrip("\n") if isinstance(text, str) and "\n" not in text.rstrip("\n") else line
    return line


def piece(line: str) -> Piece | None:
    """What `line`, read alone, is of a split trace; None for a line that stands on its own (a whole
    record: JSON, logfmt, a timestamped logger line, a line that already holds several)."""
    if not line or "\n" in line:
        return None
    first = line[0]
    if first == "{" or first.isdigit():  # a record (JSON, timestamped) unless a runtime's wrapping of a line
        bare = unwrap(line)
        return piece(bare) if bare is not line and bare else None
    if first in " \t":
        return Piece.CONTINUATION if line.strip() else None
    if _RECORD_KEY.match(line):  # logfmt: a whole record
        return None
    if line.startswith(_STARTS):
        return Piece.START
    if line.startswith(_CONTINUATIONS):
        return Piece.CONTINUATION
    if _HEADER.match(line):
        return Piece.START
    if _BARE_FRAME.match(line) or _go_function(line):
        return Piece.CONTINUATION
    return None


# an exception named inside a logger's line: `[…] [ERROR] console - TypeError: x`, `… failed: java.io.IOException`
_HEAD_INSIDE = re.compile(r"(?<![\w$.])(?:[A-Za-z_$][\w$]*\.)*[A-Za-z_$]?[\w$]*(?:Exception|Error)(?::\s|$)")


def may_head(line: str) -> bool:
    """Whether a line that is no piece names an exception, as a logger's line over a trace does
    (`… console - TypeError: x`, then the frames): worth reading what follows it. Not a structured
    record (JSON, logfmt): those hold their trace in a field."""
    if not line or "\n" in line or ("Error" not in line and "Exception" not in line):
        return False
    line = unwrap(line)
    if line[:1] == "{":
        return False
    return _RECORD_KEY.match(line) is None and _HEAD_INSIDE.search(line) is not None


def _go_function(line: str) -> bool:
    return line[0] != "[" and " " not in line.split("(", 1)[0] and (
        _GO_FUNCTION.match(line) is not None or _GO_CUT_FUNCTION.match(line) is not None
    )


@dataclass(frozen=True)
class Line:
    """One line of a stream, as Loki holds it."""

    ts_ns: int
    text: str


@dataclass(frozen=True)
class Record:
    """Lines `first`…`last` (inclusive, indexes into the stream's lines) make one trace."""

    first: int
    last: int


def records(lines: Sequence[Line]) -> list[Record]:
    """The traces among a stream's consecutive `lines`, as a multiline stage would have joined them: each
    from its first line through every line that carries it on; lines of no trace are left out, and so
    is a "trace" of one line (nothing to join).

    A trace whose first line lies before `lines` begins at its first continuation here. A line that is
    no piece (a logger's line, a header in a shape not known here), written within `JOIN_GAP_NS` right
    before a trace's first line, is kept with it."""
    found: list[Record] = []
    i = 0
    while i < len(lines):
        kind = piece(lines[i].text)
        if kind is None:
            i += 1
            continue
        last = _Trace(lines, i).last()
        first = i
        if i > 0 and _joins(lines[i - 1], lines[i]) and not _taken(found, i - 1):
            first = i - 1
        if last > first:
            found.append(Record(first, last))
        i = last + 1
    return found


def _joins(before: Line, start: Line) -> bool:
    return bool(before.text.strip()) and piece(before.text) is None and 0 <= start.ts_ns - before.ts_ns <= JOIN_GAP_NS


def _taken(found: list[Record], index: int) -> bool:
    return bool(found) and found[-1].last >= index


class _Trace:
    """Walks one trace forward from its first line, in the manner of the runtime that printed it."""

    def __init__(self, lines: Sequence[Line], first: int) -> None:
        self.lines = lines
        self.first = first
        head = lines[first].text.lstrip()
        self.python = head.startswith((_TRACEBACK, 'File "'))
        self.go = head.startswith(_GO_STARTS) or _go_function(head) or ".go:" in head
        self.framed = False  # a frame was read: a message's further lines can no longer follow
        self.source_next = False  # Python: the line after `File "…"` is its source line
        self.closed = False  # Python: the exception's own line was read; only a chained traceback follows

    def last(self) -> int:
        """Index of the trace's last line."""
        i = self.first
        while i + 1 < len(self.lines):
            text = self.lines[i + 1].text
            if not text.strip():
                if i + 2 < len(self.lines) and self._blank_carries_on(self.lines[i + 2].text):
                    self._continues(self.lines[i + 2].text)
                    i += 2
                    continue
                break
            if self._continues(text):
                i += 1
                continue
            message = self._message_lines(i + 1)
            if not message:
                break
            i += message
        return i

    def _message_lines(self, at: int) -> int:
        """How many lines from `at` carry on a message printed over several lines (`Error: a\nb`, an
        exception whose text has newlines) before the frames come; 0 when no frame follows soon."""
        if self.framed or self.python:
            return 0
        for n, line in enumerate(self.lines[at : at + _MESSAGE_LINES]):
            if not line.text.strip():
                return 0
            if piece(line.text) is Piece.CONTINUATION:
                return n
        return 0

    def _continues(self, text: str) -> bool:
        if self.python:
            return self._python_continues(text)
        if self.go and _go_function(text.lstrip()):
            return True
        if piece(text) is Piece.CONTINUATION and not text.startswith(_CHAIN):
            self.framed = True
            return True
        return False

    def _python_continues(self, text: str) -> bool:
        if text[0].isspace() or text.startswith('File "'):
            self.source_next = text.lstrip().startswith('File "')
            return True
        if self.source_next:  # a frame's source line that lost its indentation on the way
            self.source_next = False
            return True
        if text.startswith((*_CHAIN, _TRACEBACK)):
            self.closed = False
            return True
        if self.closed:
            return False
        self.closed = True  # `KeyError: 'id'`: the traceback's last line
        return True

    def _blank_carries_on(self, text: str) -> bool:
        text = text.lstrip()
        if self.go:
            return text.startswith("goroutine ")
        return self.python and text.startswith((*_CHAIN, _TRACEBACK, 'File "'))
