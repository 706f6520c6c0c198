"""A trace's line breaks as its runtime wrote them: put back where a logger or a copy ran the trace onto one line
(.NET's single-line console logger, a JVM logger's replaced separator, a CPython traceback pasted as one Markdown
paragraph), and taken out where transit doubled them. Each function returns the lines as they were when they are
not its case.
"""

from __future__ import annotations

import re

from error_autopilot.incidents.stackparse import jvm

# .NET's console logger in single-line mode (`SimpleConsoleFormatterOptions.SingleLine`) writes the exception's
# `ToString()` on the log line with each newline replaced by a space: `…object.    at A.B() in /x.cs:line 3`.
_FLATTENED_DOTNET = re.compile(r"(?<=\S) {4}(?=at [\w.`<>$+|]+\(|--- End of )")
# A JVM exception on one line (log4j2's `%throwable{separator( )}`, a logback `%replace(%ex){'\n', ' '}`): the
# newline before each `<tab>at Class.method(File.java:12)` became a space; only a located JVM frame, at least
# twice on the line, so a sentence that says "at com.acme.Foo(Foo.java:3)" once stays as it is. A line cut
# right after the separator ends in a bare `at`, which goes to a line of its own.
_FLATTENED_JVM = re.compile(r"(?<=\S)[ \t]+(?=at (?:[\w$]+\.)+[\w$<>]+\([\w$.-]+\.(?:java|kt|scala|groovy):\d+\))")
_CUT_JVM_SEPARATOR = re.compile(r"(?<=\S)[ \t]+(?=at\s*$)")


# A CPython traceback that lost its line breaks: text copied from a rendered Markdown paragraph (an unfenced paste,
# whose soft line breaks CommonMark renders as spaces, spec §6.12) or from a log viewer that joins a record's lines.
# CPython ends its header line right after `Traceback (most recent call last):` and starts every frame on a line
# of its own, `  File "<path>", line <n>, in <function>`, its source line below; text after the header on the
# same line is therefore the traceback run together, split again before each such frame. The exception is the
# first `Type: message` (or a bare type at the end) after the last frame's location, the source line before it.
FLAT_TRACEBACK = "Traceback (most recent call last): "
_FLAT_PY_FRAME = re.compile(r'\s+(?=File "[^"]{1,500}", line \d+, in [\w<>.]+)')
_FLAT_PY_LOCATION = re.compile(r'File "[^"]{1,500}", line \d+, in [\w<>.]+')
_FLAT_PY_EXCEPTION = re.compile(
    r"(?<!\S)(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt|Warning|Iteration)(?::\s|:?\s*$)"
)


def python_flat(text: str) -> bool:
    """Whether `text` holds a CPython traceback run onto one line (`FLAT_TRACEBACK`, a frame right after it)."""
    at = text.find(FLAT_TRACEBACK)
    return at >= 0 and text[at + len(FLAT_TRACEBACK) :].lstrip().startswith('File "')


def python_unflattened(line: str) -> list[str]:
    """A CPython traceback run onto one line (`FLAT_TRACEBACK`), one line per frame, source line and exception
    again; any other line as it is."""
    if not python_flat(line):
        return [line]
    at = line.find(FLAT_TRACEBACK)
    parts = _FLAT_PY_FRAME.split(line[at + len(FLAT_TRACEBACK) :].strip())
    out = [line[: at + len(FLAT_TRACEBACK)].rstrip()]
    for n, part in enumerate(parts):
        location = _FLAT_PY_LOCATION.match(part)
        if location is None:
            return [line]
        out.append("  " + location.group())
        source = part[location.end() :].strip()
        raised = _FLAT_PY_EXCEPTION.search(source) if n == len(parts) - 1 else None
        if raised is not None:
            source, exception = source[: raised.start()].strip(), source[raised.start() :].strip()
        if source:
            out.append("    " + source)
        if raised is not None:
            out.append(exception)
    return out


def dotnet_flat(text: str) -> bool:
    """Whether `text` holds a .NET exception a single-line console logger flattened (`_FLATTENED_DOTNET`)."""
    # the four spaces and what follows them, looked for first: the regex scan cost some 17 ns a character
    return "Exception" in text and ("    at " in text or "    --- End of " in text) and (
        _FLATTENED_DOTNET.search(text) is not None
    )


def dotnet_unflattened(line: str) -> list[str]:
    """A .NET exception that a single-line console logger flattened onto its log line, one line per frame
    again (the three spaces .NET indents a frame with follow the space that replaced the newline)."""
    if not dotnet_flat(line):
        return [line]
    return _FLATTENED_DOTNET.sub("\n   ", line).split("\n")


def jvm_flat(line: str) -> bool:
    """Whether `line` holds a JVM exception a single-line logger flattened (`_FLATTENED_JVM`)."""
    # each match ends where its own `at ` starts: a line with fewer than two (every printed frame) has no two
    return line.count("at ") >= 2 and len(_FLATTENED_JVM.findall(line)) >= 2


def jvm_unflattened(lines: list[str]) -> list[str]:
    """A JVM exception that a single-line logger flattened (`_FLATTENED_JVM`), one line per frame again; only
    when no line is a printed frame already: a trace printed as the JVM prints it is read as it stands."""
    flat = [i for i, line in enumerate(lines) if jvm_flat(line)]
    if not flat or any(jvm.is_frame(line) for line in lines):
        return lines
    return [part for i, line in enumerate(lines)
            for part in (_CUT_JVM_SEPARATOR.sub("\n", _FLATTENED_JVM.sub("\n\t", line)).split("\n")
                         if i in flat else [line])]  # fmt: skip


_DOUBLE_SPACED_MIN = 4  # non-blank lines: fewer leave a single blank line between two lines that may be the text's own


def double_spaced(lines: list[str]) -> list[str]:
    """The lines without the blank line that follows every one of them: no two non-blank lines touch. Every
    runtime writes a frame's parts, or its frames, on adjacent lines (Go's function and `file:line`, CPython's
    `File` and source, the JVM's and .NET's `at` lines), so a trace with a blank line after each line got it in
    transit: a CR LF text converted again (`\\r\\r\\n`, two line ends to `splitlines`) or a copy from a view
    that makes each line a paragraph. Read after a shipper's prefix came off (a blank line under it is blank
    again); a log line written right above the first line is no part of the paste and may touch it. Any other
    two adjacent non-blank lines, and the lines stay as they are."""
    filled = [n for n, line in enumerate(lines) if line.strip()]
    if len(filled) > 1 and filled[1] == filled[0] + 1:  # the log line above
        filled = filled[1:]
    if len(filled) < _DOUBLE_SPACED_MIN or filled[-1] - filled[0] != 2 * (len(filled) - 1):
        return lines
    if any(lines[n + 1].strip() for n in filled[:-1]):
        return lines
    return [lines[n] for n in range(len(lines)) if n < filled[0] or n > filled[-1] or lines[n].strip()]
