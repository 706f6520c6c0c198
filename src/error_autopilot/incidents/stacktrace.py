"""Stack traces of five ecosystems (JVM, Python, Go, Node.js, .NET) into `domain.stack` models.

`parse_stacktrace` finds the trace inside a log message (log lines before the header and trailing
lines are tolerated), strips a prefix that a process manager or log shipper put on every line
(`3|app  | `, `web_1  | `, syslog, CRI: found by shape, not by tool), decides the language by which
frame syntax dominates, and hands the lines to that language's parser in `stackparse/`. It never
raises on hostile text: input is capped
(`MAX_CHARS`, `MAX_LINES`, lines cut at `MAX_LINE`), and frames/exceptions are capped with
`truncated=True` and `omitted_frames` telling how much was cut.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable, Iterator, Sequence

from error_autopilot.domain.stack import Language, StackTrace
from error_autopilot.incidents.stackparse import (
    dotnet,
    dotnet_renderings,
    go,
    jvm,
    linebreaks,
    loose,
    node,
    pyrenderings,
    python,
)
from error_autopilot.incidents.stackparse.common import MAX_LINE, ExceptionBuilder, InApp, build_trace

log = logging.getLogger(__name__)

MAX_CHARS = 2_000_000
MAX_LINES = 50_000

ParseFn = Callable[[list[str], InApp], tuple[list[ExceptionBuilder], bool]]
_PARSERS: dict[Language, ParseFn] = {
    "jvm": jvm.parse,
    "python": python.parse,
    "go": go.parse,
    "node": node.parse,
    "dotnet": dotnet.parse,
}
# a Go position line: a tab, then the file (runtime/traceback.go); a `>` before it is a Markdown quote's marker,
# which no path starts with, behind whatever indentation: a prefix for `strip_line_prefix`, not a file
_GO_FILE = re.compile(
    r"^(?:\s+[^\s>][^:|]*|[^\s:>][^\s:]*)\.go:\d+(?: \+0x[0-9a-fA-F]+)?(?: (?:fp|sp|pc)=0x[0-9a-fA-F]+)*\s*$"
)
_DOTNET_LINE = re.compile(r":line \d+\s*$")  # with " in " before it; two checks keep it linear on hostile lines
_ASSEMBLY_INFO = re.compile(r"\((?:[\w.]+, )?Version=\d[\d.]*, Culture=")  # Application Insights' .NET frames
_DOTNET_INNER = re.compile(r"^--->\s*[A-Za-z_]")  # ` ---> System.IO.IOException`, not IPython's `---> 59`
_FRAMEISH = re.compile(rf"\s{dotnet.AT} \S+\(|\sat \S|\bFile \"|\.go:\d|\.py\", line \d|\.(?:cs|fs|vb):\w+ \d")
# text each of `_FRAMEISH`'s branches holds: a line with none of it (most log headers and messages) is not
# scanned, which cost some 50 ns a character
_FRAMEISH_TEXT = ("(", "at ", 'File "', ".go:", '.py", line ', ".cs:", ".fs:", ".vb:")
_FRAME_START = re.compile(rf"^\s+(?:{dotnet.AT} |File |[\w.~/\\-]*\.go:\d|/)")
_DIGITS = re.compile(r"\d+")
# An SGR colour code (ECMA-48 `ESC [ … m`) whose ESC was copied as its caret notation `^[`, as `cat -v`,
# `less` and terminal screens show it: a logger's colours around every line of the trace.
_CARET_COLOUR = re.compile(r"\^\[\[[0-9;]*m")
# `StackTrace:    at Ns.T.M()`: a logger's label (exception dumps of `Message:`/`Source:`/`StackTrace:`
# fields) in front of the first frame, maybe behind the logger's own prefix on that line only
# (`06.03.2016 15:43:43 [!] StackTrace:    at …`); the frame is read as if label and prefix were indentation.
_STACK_LABEL = re.compile(rf"^(?:(?P<indent>\s*)|.*?\s)Stack ?[Tt]race:[ \t]*(?=(?:{dotnet.AT}|File)\s)")
_PREFIX_SAMPLE = 400  # lines a prefix is judged on: enough for any real trace, cheap on hostile ones
_PREFIX_CANDIDATES = 12
_STRONG = 10  # a marker only one runtime prints (`Traceback`, `goroutine 1 [running]:`)
# other tools' renderings of a trace, each rewritten into its runtime's own shape (lines unchanged when not its own)
_RENDERINGS: tuple[Callable[[list[str]], list[str]], ...] = (
    pyrenderings.from_django,
    pyrenderings.from_ipython,
    dotnet_renderings.from_app_center,
    dotnet_renderings.from_app_center_view,
    dotnet_renderings.from_developer_page,
    dotnet_renderings.from_rewrapped,
    node.from_winston,
    dotnet_renderings.from_sentry_modules,
    dotnet_renderings.from_app_insights,
    dotnet_renderings.from_unity,
)
_LANGUAGES: tuple[Language, ...] = ("python", "go", "dotnet", "jvm", "node")  # tie-break order


def _vote(line: str, votes: dict[Language, int]) -> None:
    body = line.lstrip()
    if body.startswith("| ") and body[2:].lstrip().startswith("File "):
        line = body = body[2:].lstrip()  # a frame of a drawn Python ExceptionGroup (stackparse/python.py)
    if body.startswith("at "):
        if jvm.is_frame(line):
            votes["jvm"] += 1
        elif node.is_frame(line) and not (_ASSEMBLY_INFO.search(line) and dotnet.is_frame(line)):
            votes["node"] += 1
        elif dotnet.is_frame(line):
            votes["dotnet"] += 2 if " in " in line and _DOTNET_LINE.search(line) else 1
    elif dotnet.LOCALISED_AT.match(body) and dotnet.is_frame(body):
        votes["dotnet"] += 2
    elif body.startswith(("File ", "> File ")):
        framed = python.FILE.match(line) or python.BRIEF.match(line) or pyrenderings.DJANGO_FILE.match(line)
        votes["python"] += 1 if framed else 0
    # a regex is tried only on a line holding the text it needs: most lines are none of these, and each try
    # cost up to a microsecond (the header's lazy prefix, a file name's backtracking)
    elif ".py:" in line and python.BRIEF.match(line):
        votes["python"] += 1
    elif "Traceback (" in line and python.TRACEBACK.match(line):
        votes["python"] += _STRONG
    elif go.GOROUTINE.match(line) or ("panic" in line and go.OBSERVED.search(line)):
        votes["go"] += _STRONG
    elif ".go:" in line and _GO_FILE.match(line):
        votes["go"] += 1
    elif body.startswith("--- End of") or _DOTNET_INNER.match(body):
        votes["dotnet"] += _STRONG


def detect_language(lines: Sequence[str]) -> Language | None:
    """The runtime whose trace syntax most lines follow; None when no line looks like a frame."""
    votes: dict[Language, int] = dict.fromkeys(_LANGUAGES, 0)
    for line in lines:
        _vote(line, votes)
    best = max(_LANGUAGES, key=lambda lang: votes[lang])
    return best if votes[best] > 0 else None


_FOREIGN_EXT: dict[str, Language] = {".js": "node", ".mjs": "node", ".cjs": "node", ".ts": "node", ".tsx": "node",
                                     ".jsx": "node", ".java": "jvm", ".kt": "jvm", ".scala": "jvm", ".go": "go",
                                     ".cs": "dotnet"}  # fmt: skip
_ESCAPED_NEWLINE = re.compile(r"\\n(?=\s*(?:at |File |\\t|[\w/.-]+\.go:|Caused by|---))")


def _foreign_language(lines: Sequence[str]) -> Language | None:
    """The runtime whose files Python-style `File "…", line N` frames name, when it is not Python."""
    counts: dict[Language, int] = {}
    for line in lines:
        if (m := python.FILE.match(line)) is not None:
            ext = "." + m["file"].rsplit(".", 1)[-1] if "." in m["file"] else ""
            language = _FOREIGN_EXT.get(ext, "python")
            counts[language] = counts.get(language, 0) + 1
    best = max(counts, key=lambda k: counts[k], default=None)
    return best if best not in (None, "python") and counts[best] * 2 > sum(counts.values()) else None


def _strings(value: object, depth: int = 0) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict) and depth < 5:
        for item in value.values():
            yield from _strings(item, depth + 1)
    elif isinstance(value, list) and depth < 5:
        for item in value[:50]:
            yield from _strings(item, depth + 1)


def _escaped(text: str) -> bool:
    """Whether `text` is a trace whose newlines were escaped (`\\n\\t/app/x.go:12`): at least two escaped
    newlines before frame-like text, and more of them than real newlines (a log line above it, a trailing
    newline, a JSON string holding it are no reason to leave it squashed)."""
    return "\\n" in text and len(_ESCAPED_NEWLINE.findall(text)) >= max(2, text.count("\n"))


def _twice_escaped(text: str) -> bool:
    """Whether `text` is a trace escaped twice (`\\\\n\\\\tat …`): a JSON string holding the trace was itself
    written into another JSON string, which escapes each backslash again (RFC 8259 §7: `\\` for a reverse
    solidus), as Docker's json-file driver stores an application's JSON log line in its `log` field. Only when
    the text does not read as escaped once and does with one level of backslashes taken off."""
    return "\\\\n" in text and not _escaped(text) and _escaped(text.replace("\\\\", "\\"))


def _from_json(text: str, depth: int = 0) -> str | None:
    """The most trace-like multi-line string of a JSON document on one of `text`'s lines (a JSON
    document held as a string inside another is opened too)."""
    for line in text.splitlines():
        if "{" not in line:
            continue
        try:
            document = json.loads(line[line.find("{") :])
        except ValueError:
            continue
        best = max(_strings(document), key=lambda v: (len(_FRAMEISH.findall(v)), v.count("\n")), default="")
        if best.count("\n") >= 2 or (
            linebreaks.dotnet_flat(best) or linebreaks.jvm_flat(best) or linebreaks.python_flat(best)
        ):
            return best
        if depth < 2 and "{" in best and (inner := _from_json(best, depth + 1)) is not None:
            return inner
        if _escaped(best):  # a string that still holds its trace escaped, once no document inside it does
            return best
    return None


def _unescape(text: str) -> str:
    """A trace squashed into one line: a JSON document holding it in some field, JSON string escapes
    (`\\n    at …`) or syslog's octal ones (`#012`); colour codes whose escape character was pasted in
    caret notation (`^[[31m`) go."""
    if text.count("\n") < 3 and "{" in text and (
        text.count("\\n") >= 2
        or linebreaks.dotnet_flat(text)
        or linebreaks.jvm_flat(text)
        or linebreaks.FLAT_TRACEBACK in text
    ):
        text = _from_json(text) or text
    if "^[[" in text:
        text = _CARET_COLOUR.sub("", text)
    if "#012" in text or "#011" in text:
        text = text.replace("#012", "\n").replace("#011", "\t")
    if _twice_escaped(text):
        text = text.replace("\\\\", "\\")
    if _escaped(text):
        text = text.replace("\\r\\n", "\n").replace("\\n", "\n").replace("\\t", "\t").replace('\\"', '"')
    return text


def _score(lines: Sequence[str]) -> int:
    """How many lines read as trace syntax of some runtime, a .NET frame wrapped inside its path as the one frame
    it is (`dotnet.unwrapped`: behind a shipper's prefix its two lines join only once the prefix is off)."""
    votes: dict[Language, int] = dict.fromkeys(_LANGUAGES, 0)
    read = 0
    for line in dotnet.unwrapped(list(lines)):
        before = sum(votes.values())
        _vote(line, votes)
        read += sum(votes.values()) > before
    return read


def _common_prefix(lines: Sequence[str]) -> str:
    first, last = min(lines), max(lines)
    n = next((i for i, (a, b) in enumerate(zip(first, last, strict=False)) if a != b), min(len(first), len(last)))
    return first[:n]


def _frameish(line: str) -> bool:
    return any(map(line.__contains__, _FRAMEISH_TEXT)) and _FRAMEISH.search(line) is not None


def _first_token(line: str) -> str:
    return _DIGITS.sub("0", line).split(maxsplit=1)[0] if line.strip() and not line[0].isspace() else ""


def _led_like(lines: Sequence[str], frame: str | None) -> list[str]:
    """The non-blank lines whose first word (digits masked) is the frame line's: a shipper writes its prefix on
    every line it ships, so a line without it (the log record or the reporter's words above the trace) is
    no sample of it. Every non-blank line when no frame line leads."""
    lead = _first_token(frame) if frame is not None else ""
    return [line for line in lines if line.strip() and (not lead or _first_token(line) == lead)]


def strip_line_prefix(lines: list[str]) -> list[str]:
    """The lines without the prefix a process manager or log shipper wrote on each of them.

    The prefix is the longest common start of the frame-like lines once digits are masked (timestamps
    and pids vary), cut at a word boundary. It is removed only when that makes more lines read as
    trace syntax, so a trace's own indentation (`    at `) is never mistaken for one."""
    framey = [line for line in lines[:_PREFIX_SAMPLE * 10] if _frameish(line)][:_PREFIX_SAMPLE]
    if framey and all(_FRAME_START.match(line) for line in framey):  # indented frames, nothing before them
        return lines
    if len(framey) < 2:  # a single frame: judge the prefix on every line that starts as the frame's does
        framey = _led_like(lines[:_PREFIX_SAMPLE], framey[0] if framey else None)
    if len(framey) < 2:
        return lines
    masked = _common_prefix([_DIGITS.sub("0", line) for line in framey])
    # a common start that ends inside a path (`/backend-build/`, shared by a Go panic's file lines only) is
    # the frames' own deployment folder, not a prefix a shipper wrote
    cuts = [i for i in range(len(masked), 0, -1) if not masked[i - 1].isspace() and masked[i - 1] != "/"
            and (i == len(masked) or masked[i].isspace() or masked[i - 1] in "|:]>")]  # fmt: skip
    if not cuts:
        return lines
    sample = lines[: _PREFIX_SAMPLE * 2]
    best, best_score = None, _score(sample)
    if best_score >= len(framey):  # every frame-like line already reads as a frame: no prefix
        return lines
    patterns = [re.compile("".join(r"\d+" if ch == "0" else re.escape(ch) for ch in masked[:cut]) + "[ \t]?")
                for cut in cuts[:_PREFIX_CANDIDATES]]  # fmt: skip
    for pattern in patterns:
        score = _score([m_line[m.end():] if (m := pattern.match(m_line)) else m_line for m_line in sample])
        if score > best_score:
            best, best_score = pattern, score
    if best is None:
        return lines
    # a blank line of the application under a shipper's prefix holds only the shipper's part of the prefix
    return [line[m.end():] if (m := best.match(line)) else
            "" if any(p.fullmatch(line.rstrip()) for p in patterns) else line for line in lines]  # fmt: skip


def _as_indent(label: re.Match[str]) -> str:
    return (label["indent"] or "") + "   "


def parse_stacktrace(text: str, *, packages: Sequence[str] = (), source_roots: Sequence[str] = ()) -> StackTrace | None:
    """Parse the stack trace in `text`, or None when it holds no recognisable trace.

    `packages` (class/module/package/namespace prefixes) and `source_roots` (path fragments) mark
    the service's own frames `in_app`; with neither, every non-library frame is in-app."""
    return _parse_cached(text, tuple(packages), tuple(source_roots))


@functools.lru_cache(maxsize=4096)  # identical traces repeat within a burst; results are immutable
def _parse_cached(text: str, packages: tuple[str, ...], source_roots: tuple[str, ...]) -> StackTrace | None:
    if not text:
        return None
    clipped = len(text) > MAX_CHARS
    lines = _unescape(text[:MAX_CHARS]).splitlines()
    if len(lines) > MAX_LINES:
        lines, clipped = lines[:MAX_LINES], True
    lines = dotnet.closed_at_the_end([line[:MAX_LINE] for line in lines])  # a huge line's head still names it
    # Rich's box drawn around the frames hides them; so does an `at` a copy moved to the line above, or a V8
    # frame's location it moved below
    lines = linebreaks.double_spaced(strip_line_prefix(pyrenderings.from_rich(jvm.moved_at(node.unwrapped(lines)))))
    lines = [part for line in lines for part in linebreaks.dotnet_unflattened(line)]
    lines = [part for line in lines for part in linebreaks.python_unflattened(line)] if any(
        linebreaks.FLAT_TRACEBACK in line for line in lines
    ) else lines
    lines = linebreaks.jvm_unflattened(lines)
    lines = [_STACK_LABEL.sub(_as_indent, line, count=1) if "tack" in line else line for line in lines]
    # a .NET frame wrapped inside its path votes as the frame it is (the wrap is the paste's, not the runtime's)
    lines = dotnet.unwrapped(lines)
    language = detect_language(lines)
    if language in (None, "python"):
        rewritten = lines
        for rewrite in _RENDERINGS:
            rewritten = rewrite(rewritten)
        if rewritten is not lines:  # the same lines are the same language: most traces are neither's
            lines, language = rewritten, detect_language(rewritten)
    if language is None:
        found = loose.parse(lines, packages, source_roots)
        return build_trace(found[0], found[1], truncated=clipped) if found is not None else None
    parser = _PARSERS[language]
    if language == "python" and (foreign := _foreign_language(lines)) is not None:
        language, parser = foreign, python.parse_newest_first
    in_app = InApp(language=language, packages=tuple(packages), source_roots=tuple(source_roots))
    exceptions, capped = parser(lines, in_app)
    trace = build_trace(language, exceptions, truncated=capped or clipped)
    if trace is not None and trace.truncated:
        log.debug("stack trace capped: %s exceptions, %s frames omitted", len(trace.exceptions),
                  sum(e.omitted_frames for e in trace.exceptions))  # fmt: skip
    return trace
