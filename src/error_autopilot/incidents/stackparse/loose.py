"""Traces no runtime's own printer wrote: read when no line follows a known frame syntax.

- One-line JVM chains as compact loggers print them, traccar's `Log.exceptionStack` for one:
  `[message - ]NullPointerException (Gl200TextProtocolDecoder:1007 < *:1138 < BaseDecoder:51 < ...)`:
  the exception's simple name, then `Class:line` (or `File.java:line`) positions innermost first, `*`
  for the previous class, `...`/`…` where frames were left out.
- An error tracker's frame titles, as Sentry's web view renders a frame and people copy it:
  `<module or file> in <function> at line <N>[:<col>]` (getsentry/sentry, `frame/defaultTitle`: the
  module for Java and C#, the file otherwise; `within <package>` may follow), newest frame first as the
  view lists them by default. A module without a file extension is a JVM class, or a .NET one when
  its namespace is PascalCase (the .NET naming guidelines; Java packages are lower case).
- Positions only: an entry whose sole evidence is `path/file.ext:123` tokens ending their lines (a
  crash reporter's list, a paste that lost the function names) still names files and lines; the
  runtime is the one whose file extension most tokens carry.
- Node's fatal-exception header alone: `file.js:LINE`, the source line, a caret underline, then the
  error (nodejs/node `src/node_errors.cc`, `GetErrorSource`, printed above the stack of an uncaught
  exception), when the `at` frames below it were lost (a process manager's error log keeps only the
  head of the crash): the one position is the throwing line. A shipper's prefix may stand before the
  position and the underline alike.

Frames read this way have no function name (`<unknown>`): the source around the line names it later.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from error_autopilot.domain.stack import Language
from error_autopilot.incidents.stackparse.common import MAX_FRAMES, ExceptionBuilder, InApp, to_int

UNNAMED = "<unknown>"
_ELLIPSIS = r"(?:\.\.\.|…)"
_CHAIN = re.compile(  # at least two links, one of them a position; `...`/`…` where frames were left out
    rf"\((?P<chain>(?:[\w$.*]+:\d+|{_ELLIPSIS})(?:\s*<\s*(?:[\w$.*]+:\d+|{_ELLIPSIS}))+)\)"
)
_TYPE_BEFORE = re.compile(r"(?:^|[\s\-–:])(?P<type>[A-Za-z_$][\w$.]*)\s*$")  # `… - NullPointerException (`
_LINK = re.compile(r"^(?P<name>[\w$.*]+):(?P<line>\d+)$")
_EXTENSIONS: dict[str, Language] = {
    "py": "python", "go": "go", "java": "jvm", "kt": "jvm", "scala": "jvm", "groovy": "jvm", "js": "node",
    "mjs": "node", "cjs": "node", "ts": "node", "tsx": "node", "jsx": "node", "cs": "dotnet", "fs": "dotnet",
    "vb": "dotnet",
}  # fmt: skip
_POSITION = re.compile(
    r"(?<![\w.])(?P<file>(?:[A-Za-z]:)?[\w.@~+/\\-]*?[\w-]\.(?P<ext>"
    + "|".join(_EXTENSIONS)
    + r")):(?P<line>\d{1,7})\b"
)
# A position is the point of its line (`/app/x.go:76`, `at /app/x.js:12:5)`, `x.py:3 +0x1d`), not a mention
# inside a sentence (`config read from settings.py:12 at startup`).
_ENDS_LINE = re.compile(r"(?::\d+)?\)?(?: \+0x[0-9a-fA-F]+)?\s*$")
_EXCEPTION_NAME = re.compile(r"\b(?P<type>[A-Za-z_][\w.]*(?:Exception|Error)|panic)\b:?\s?(?P<msg>.*)$")
_MIN_POSITIONS = 2
_TITLE = re.compile(  # searched, not matched: a process manager's or shipper's prefix may precede the row
    r"(?:^|[\s|:\]>])(?P<where>[\w$.@~+/\\-]*[\w$]) in (?P<fn>[\w$<>.`\[\]]+)(?:\(\))? at line (?P<line>\d{1,7})"
    r"(?::\d+)?(?: within \S+)?\s*$"
)
_MARKDOWN_EMPHASIS = re.compile(r"\*\*|__")
_CARET = re.compile(r"^\s*\^+\s*$")
_DIGITS = re.compile(r"\d")
_SCRIPT = frozenset(ext for ext, language in _EXTENSIONS.items() if language == "node")
_HEADER_AFTER_CARET = 3  # lines after the underline where the error's `Type: message` may follow


def parse(
    lines: Sequence[str], packages: Sequence[str], source_roots: Sequence[str]
) -> tuple[Language, list[ExceptionBuilder]] | None:
    """The trace a compact one-line chain or bare positions describe; None when neither is there."""
    return (
        _compact(lines, packages, source_roots)
        or _titles(lines, packages, source_roots)
        or _positions(lines, packages, source_roots)
        or _node_crash_header(lines, packages, source_roots)
    )


def _compact(
    lines: Sequence[str], packages: Sequence[str], source_roots: Sequence[str]
) -> tuple[Language, list[ExceptionBuilder]] | None:
    for i, line in enumerate(lines):
        chain = _CHAIN.search(line) if " < " in line else None  # cheap test first: every line meets it
        if chain is None or not re.search(r"[\w$*]:\d", chain["chain"]):
            continue
        before = line[: chain.start()].rstrip()
        if not before and i > 0:  # the chain wrapped onto its own line: the exception ends the line above
            before = lines[i - 1].rstrip()
        named = _TYPE_BEFORE.search(before)
        if named is None:
            continue
        message = before[: named.start()].strip().rstrip("-–").strip()
        in_app = InApp(language="jvm", packages=tuple(packages), source_roots=tuple(source_roots))
        exc = ExceptionBuilder(type=named["type"], message=message, in_app=in_app)
        previous = ""
        for link in re.split(r"\s*<\s*", chain["chain"]):
            if (found := _LINK.match(link)) is None:
                exc.omitted += 1
                continue
            name = previous if found["name"] == "*" else found["name"]
            previous = name
            exc.add_frame(UNNAMED, re.sub(r"\.(?:java|kt|scala|groovy)$", "", name), None, to_int(found["line"]), link)
        return "jvm", [exc]
    return None


def _titles(
    lines: Sequence[str], packages: Sequence[str], source_roots: Sequence[str]
) -> tuple[Language, list[ExceptionBuilder]] | None:
    scanned = enumerate(lines[: MAX_FRAMES * 4])
    # a title names a dotted class or a path: `Syntax error in foo at line 3` is a sentence
    rows = [(i, m) for i, line in scanned if " at line " in line and (m := _TITLE.search(line)) and "." in m["where"]]
    if len(rows) < _MIN_POSITIONS:  # one such line is a sentence, not a list of frames
        return None
    votes: dict[Language, int] = {}
    for _, m in rows:  # a file names its runtime by extension; a class name (`com.acme.Config`) has none
        language = _EXTENSIONS.get(m["where"].rsplit(".", 1)[-1]) or ("dotnet" if m["where"][:1].isupper() else "jvm")
        votes[language] = votes.get(language, 0) + 1
    language = max(votes, key=lambda k: votes[k])
    in_app = InApp(language=language, packages=tuple(packages), source_roots=tuple(source_roots))
    above = [_MARKDOWN_EMPHASIS.sub("", line) for line in lines[: rows[0][0]]]
    header = next((h for line in reversed(above) if (h := _EXCEPTION_NAME.search(line))), None)
    exc = ExceptionBuilder(type=header["type"] if header else "<unknown>", message=header["msg"] if header else "",
                           in_app=in_app)  # fmt: skip
    for _, m in rows:
        where = m["where"]
        is_file = where.rsplit(".", 1)[-1] in _EXTENSIONS
        exc.add_frame(m["fn"], None if is_file else where, where if is_file else None, to_int(m["line"]), m.string)
    return language, [exc]


def _positions(
    lines: Sequence[str], packages: Sequence[str], source_roots: Sequence[str]
) -> tuple[Language, list[ExceptionBuilder]] | None:
    if len(lines) < _MIN_POSITIONS:  # one line is a message that mentions a file, not a trace
        return None
    found: list[tuple[int, re.Match[str]]] = []
    for i, line in enumerate(lines):
        found += [(i, m) for m in _POSITION.finditer(line) if _ENDS_LINE.match(line, m.end())][:1]
        if len(found) >= MAX_FRAMES:
            break
    if len(found) < _MIN_POSITIONS or len({i for i, _ in found}) < _MIN_POSITIONS:
        return None
    votes: dict[Language, int] = {}
    for _, m in found:
        votes[_EXTENSIONS[m["ext"]]] = votes.get(_EXTENSIONS[m["ext"]], 0) + 1
    language = max(votes, key=lambda k: votes[k])
    in_app = InApp(language=language, packages=tuple(packages), source_roots=tuple(source_roots))
    header = next((h for line in lines[: found[0][0] + 1] if (h := _EXCEPTION_NAME.search(line))), None)
    exc = ExceptionBuilder(type=header["type"] if header else "<unknown>", message=header["msg"] if header else "",
                           in_app=in_app)  # fmt: skip
    ordered = found[::-1] if language == "python" else found  # Python prints the innermost frame last
    for _, m in ordered:
        file = m["file"].replace("\\", "/")
        bare_class = language in ("jvm", "dotnet") and "/" not in file
        module = file.rsplit(".", 1)[0] if bare_class else None
        exc.add_frame(UNNAMED, module, m["file"], to_int(m["line"]), m.group(0))
    return language, [exc]


def _node_crash_header(
    lines: Sequence[str], packages: Sequence[str], source_roots: Sequence[str]
) -> tuple[Language, list[ExceptionBuilder]] | None:
    for i in range(len(lines) - 2):
        if not lines[i + 2].rstrip().endswith("^"):  # cheap test first: the underline two lines below the position
            continue
        where = next((m for m in _POSITION.finditer(lines[i]) if not lines[i][m.end() :].strip()), None)
        if where is None or where["ext"] not in _SCRIPT:
            continue
        # what stands before the position is a shipper's prefix (`3|app  | `, a syslog stamp), on every line
        prefix = _DIGITS.sub("0", lines[i][: where.start()])
        underline = lines[i + 2]
        if not _DIGITS.sub("0", underline).startswith(prefix) or not _CARET.match(underline[len(prefix) :]):
            continue
        after = lines[i + 3 : i + 3 + _HEADER_AFTER_CARET]
        header = next((h for line in after if (h := _EXCEPTION_NAME.search(line)) and h["type"] != "panic"), None)
        if header is None:  # a caret under a line is also how compilers point at a syntax error in a build log
            continue
        in_app = InApp(language="node", packages=tuple(packages), source_roots=tuple(source_roots))
        exc = ExceptionBuilder(type=header["type"], message=header["msg"], in_app=in_app)
        exc.add_frame(UNNAMED, None, where["file"], to_int(where["line"]), lines[i])
        return "node", [exc]
    return None
