"""CPython tracebacks, chained (`raise ... from`, exceptions raised while handling others) and grouped.

Python prints the oldest cause first and the raising frame last; `StackTrace` wants the opposite on
both counts, so blocks and frames are reversed. An ExceptionGroup (`asyncio.TaskGroup`, anyio task groups
under Starlette/FastAPI, trio nurseries) is drawn as a tree (`+-+---- 1 ----`, each level two columns right,
`| ` before every line): its sub-exceptions, where the code that failed ran, become its causes, the
first one drawn the root cause; nested groups the same way.

Real logs are not always whole: the `Traceback (most recent call last):` header may carry a log
prefix or be missing (frames only), and the whole paste may be indented; a line indented less than
the frames ends them and names the exception. A paste can also lose the relative indentation (markdown
outside a code block flushes every line left): CPython prints at most one source line under each
`File` line, so the line right after one is its source unless it reads as an exception, and once a
source line sat at the frames' own indentation, the next line there that is no frame ends them.
"""

from __future__ import annotations

import bisect
import keyword
import posixpath
import re

from error_autopilot.incidents.stackparse.common import MAX_EXCEPTIONS, ExceptionBuilder, InApp, indent, to_int

TRACEBACK = re.compile(r"^.{0,200}?Traceback \(most recent call last\):\s*$")
# Sentry's raw stack trace writes other runtimes' frames this way with their column: `File "x.js", line 97, col 14,
# in f` (getsentry/sentry `rawStacktraceContent`, `getPythonFrame`: `, line N`, then `, col N` when the frame has one)
FILE = re.compile(  # loguru marks the frame that raised with `> `
    r'^\s*(?:> )?File "?(?P<file>[^",]*)"?, line (?P<line>\d+|unknown)(?:, col \d+)?(?:, in (?P<fn>.+?))?\s*$'
)
# One-line renderings: Twisted's brief Failure (`/app/x/y.py:194:do_query`), IPython
# (`File ~/.../x/y.py:59, in Klass.method()`)
BRIEF = re.compile(
    r"^\s*(?:File )?(?P<file>[^\s:\"]+\.py):(?P<line>\d+)(?::(?: in )?|, in )(?P<fn>[\w<>.]+)(?:\(\))?\s*$"
)
_CAUGHT = re.compile(r"^\s*-{2,} <[^>]*> -{2,}\s*$")  # Twisted: `--- <exception caught here> ---`
_IPYTHON_SOURCE = re.compile(r"^\s*-+>\s+\d+\s")  # IPython marks the failing source line `---> 59     x = y`
_CARETS = re.compile(r"^\s*[~^]+\s*$")  # Python 3.11+ marks the failing expression under the source line
_REPEATED = re.compile(r"^\s*\[Previous line repeated (?P<n>\d{1,9}) more times?\]\s*$")
_EXC = re.compile(r"^(?P<type>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?::[ \t]?(?P<msg>.*))?$")
# An ExceptionGroup's drawing (`traceback.TracebackException.format`): every line of it starts with a margin
# two columns per depth, then `|` (or `+` before the top-level header and the separators)
_DRAWN = re.compile(r"^(?P<ind> *)(?P<drawn>[|+].*)$")
_GROUP_HEADER = re.compile(r"^\+ Exception Group Traceback \(most recent call last\):\s*$")
_SEPARATOR = re.compile(r"^(?P<first>\+-)?\+-{4,} (?:(?P<title>\d{1,6})|\.\.\.) -{4,}\s*$")
_CLOSE = re.compile(r"^\+-{8,}\s*$")
_MAX_SUBS = 3  # sub-exceptions kept per group: with the group and its chain they stay under MAX_EXCEPTIONS
_MAX_CUT_TOP = 400  # lines a cut-off top-level group may still show above its first separator
_MAX_DEPTH = 10  # CPython draws at most 10 levels (`max_group_depth`)
_DIRECT_CAUSE = "The above exception was the direct cause of the following exception:"
_CHAIN = frozenset(
    {
        _DIRECT_CAUSE,
        "During handling of the above exception, another exception occurred:",
    }
)
_KEYWORDS = frozenset(keyword.kwlist)
_STDLIB = re.compile(r"/lib/python\d[\d.]*/|/lib/pypy[\d.]*/")
_DEPLOY_ROOT = re.compile(r"^/?(?:usr/src/app|usr/app|app|srv|code|workspace|home/[^/]+|opt/[^/]+)/(?:src/)?")
_MAX_MESSAGE_LINES = 20
# A zipped or unpacked egg (`locustio-0.6.1-py2.6.egg/`, setuptools' "The Internal Structure of Python Eggs"):
# easy_install put the egg itself on sys.path, so the package's modules start below that folder.
_EGG = re.compile(r"^[^/]+\.egg/")
# `**init**`: Markdown read `__init__` as strong emphasis and a rendered copy of the issue kept the stars; no
# Python identifier holds `*`, so a frame's function written so can only be the dunder name.
_MARKDOWN_DUNDER = re.compile(r"^\*\*(?P<name>\w+)\*\*$")
# `in handler,`: CPython prints the frame's `co_name`, an identifier or `<module>`, `<lambda>`, `<listcomp>`…, none
# of which ends in a comma; one there is the paste's (a log view that lists its lines with a `,` after each).
_LISTED = re.compile(r"^(?P<name>[\w<>.]+),$")

# Sublime Text 3 loads a plugin from its zipped package (`Installed Packages/<Name>.sublime-package`) with an importer
# of its own, which compiles each module under the name `<module> in <zip path>` (`sublime_plugin.ZipLoader
# .load_module`: `source_path = key + " in " + self.zippath`, the key the module's dotted path inside the zip, its
# `.py` and a package's `__init__` dropped): `File "tabs_extra in D:\…\TabsExtra.sublime-package", line 706`.
# The module's file is that dotted path below the package's root, which is the plugin's repository.
_SUBLIME_ZIPPED = re.compile(r"^(?P<key>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*) in \S.*\.sublime-package$")

_RawFrame = tuple[str, str, int | None, str]  # function, file, line, raw: built into Frames only if kept


class _Drawn:
    """One exception of an ExceptionGroup's drawing: its lines without the tree, and its sub-exceptions."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.subs: list[_Drawn] = []

    def flattened(self) -> tuple[list[str], bool]:
        """The lines as a chain CPython could have printed (sub-exceptions first, each the cause of the
        next, the group last), and whether sub-exceptions were left out to stay within the caps."""
        out: list[str] = []
        dropped = len(self.subs) > _MAX_SUBS
        for sub in self.subs[:_MAX_SUBS]:
            lines, cut = sub.flattened()
            out += [*lines, "", _DIRECT_CAUSE, ""]
            dropped |= cut
        return out + self.lines, dropped


def _ungroup(lines: list[str]) -> tuple[list[str], bool]:
    """Lines with every ExceptionGroup drawing flattened into a chain (`_Drawn.flattened`), and whether
    sub-exceptions were left out. A drawing cut at its top (only its `| ` lines and a `+-+----` separator
    were pasted) is read from its leftmost margin."""
    if not any("+-+-" in line or "+ Exception Group" in line for line in lines):
        return lines, False
    separators = [n for n, line in enumerate(lines) if _SEPARATOR.match(line.lstrip())]
    out: list[str] = []
    dropped = False
    i = 0
    while i < len(lines):
        m = _DRAWN.match(lines[i])
        if m is None or not (_GROUP_HEADER.match(m["drawn"]) or _drawing_follows(m["drawn"], i, separators)):
            out.append(lines[i])
            i += 1
            continue
        base, root = len(m["ind"]), _Drawn()
        open_: list[_Drawn] = [root]  # the exception being drawn at each depth
        while i < len(lines) and (m := _DRAWN.match(lines[i])) and len(m["ind"]) >= base:
            depth, drawn = min((len(m["ind"]) - base) // 2, _MAX_DEPTH), m["drawn"]
            if sep := _SEPARATOR.match(drawn):
                if sep["first"]:  # `+-+---- 1 ----`: the first sub-exception, one level down
                    parent = open_[min(depth, len(open_) - 1)]
                    open_ = [*open_[: depth + 1], _Drawn()]
                else:  # `+---- 2 ----` at the sub-exceptions' own depth
                    parent = open_[max(min(depth, len(open_)) - 1, 0)]
                    open_ = [*open_[:depth], _Drawn()]
                if sep["title"] is not None:
                    parent.subs.append(open_[-1])
            elif not _CLOSE.match(drawn):
                open_[min(depth, len(open_) - 1)].lines.append(drawn[2:] if drawn[1:2] == " " else drawn[1:])
            i += 1
        flat, cut = root.flattened()
        out += flat
        dropped |= cut
    return out, dropped


def _drawing_follows(drawn: str, at: int, separators: list[int]) -> bool:
    """A `| ` line that starts a drawing whose header was cut off: a sub-exception separator follows
    within the frames CPython prints before one."""
    following = bisect.bisect_right(separators, at)
    return drawn.startswith("| ") and following < len(separators) and separators[following] - at <= _MAX_CUT_TOP


def module_of(file: str, in_app: InApp) -> str | None:
    """A dotted module name from a file path, independent of where the service is deployed."""
    path = file.replace("\\", "/")
    path = posixpath.normpath(path) if "/../" in path else path  # `site/backoffice/../internship/x.py`
    if path.startswith("<") or not path.endswith((".py", ".pyx")):
        return None
    rest: str | None = None
    for marker in ("site-packages/", "dist-packages/"):
        if marker in path:
            rest = _EGG.sub("", path.rsplit(marker, 1)[1])
    if rest is None and (std := _STDLIB.search(path)):
        rest = path[std.end() :]
    for pkg in in_app.packages:
        anchor = "/" + pkg.replace(".", "/") + "/"
        if rest is None and pkg and anchor in "/" + path:
            rest = ("/" + path).split(anchor, 1)[1]
            rest = pkg.replace(".", "/") + "/" + rest
    for pkg in in_app.packages:
        # a module is a package folder or a single `.py` file named after it (The Python Language Reference,
        # "5. The import system": `spam` is found as `spam/__init__.py` or `spam.py`), so a plug-in or script
        # installed as `…/plugins/spam.py` is the configured `spam` itself; only the path's end, never a folder
        single = "/" + pkg.replace(".", "/") + ".py"
        if rest is None and pkg and ("/" + path).endswith(single):
            rest = single
    for root in in_app.source_roots:
        if rest is None and root and root in path:
            rest = path.split(root, 1)[1]
    if rest is None:
        rest = _DEPLOY_ROOT.sub("", path)
    dotted = rest.strip("/").rsplit(".", 1)[0].replace("/", ".")
    return dotted.removesuffix(".__init__") or None


def from_header_above(lines: list[str]) -> list[str]:
    """An error tracker's rendering with each exception's line above its frames, as CPython prints it.

    Sentry's raw stacktrace view (getsentry/sentry `rawStacktraceContent.jsx`, 2016–2019) writes the exception
    (`KeyError: 'x'`) and then its frames in the order Python gives them, raising frame last, chained exceptions
    oldest first and no `Traceback` header: exactly CPython's blocks with the exception line moved up. A
    paste whose frames end on an exception line is CPython's own layout under a log line that merely reads
    like one (`ERROR:app:failed`), and is left as it is."""
    if any(TRACEBACK.match(line) for line in lines[:2000]):
        return lines
    out: list[str] = []
    moved, i = False, 0
    while i < len(lines):
        line = lines[i]
        if not _header_of_frames(lines, i):
            out.append(line)
            i += 1
            continue
        end, margin = i + 1, indent(line)
        while end < len(lines) and lines[end].strip() and indent(lines[end]) > margin:
            end += 1
        after = lines[end].strip() if end < len(lines) else ""
        if after and _raised(after) and not _header_of_frames(lines, end):
            return lines  # the frames end on their exception: CPython's layout
        out.extend(("Traceback (most recent call last):", *lines[i + 1 : end], line.strip()))
        moved, i = True, end
    return out if moved else lines


def _header_of_frames(lines: list[str], at: int) -> bool:
    """`lines[at]` is an exception line with a `File` line indented further right below it (a header such as
    `Traceback:` of a tool that dropped CPython's wording is no exception)."""
    line, below = lines[at], lines[at + 1] if at + 1 < len(lines) else ""
    if not line.strip() or line.lstrip().startswith("Traceback") or not _raised(line.strip()):
        return False
    return indent(below) > indent(line) and FILE.match(below) is not None


def parse(lines: list[str], in_app: InApp) -> tuple[list[ExceptionBuilder], bool]:
    """Exceptions, finally-raised first, and whether the caps dropped older causes or sub-exceptions (a
    drawn ExceptionGroup flattened into a chain, `_ungroup`; an error tracker's header-above layout read as
    CPython's, `from_header_above`)."""
    flat, cut = _ungroup(lines)
    excs, capped = _read(_without_write_gaps(from_header_above(flat)), in_app)
    return excs, capped or cut


def _read(lines: list[str], in_app: InApp) -> tuple[list[ExceptionBuilder], bool]:
    blocks: list[tuple[list[_RawFrame], ExceptionBuilder]] = []
    frames: list[_RawFrame] | None = None
    reading: ExceptionBuilder | None = None
    # header_at: the column of a `Traceback` header that starts its line, -1 behind other text (a log line's)
    repeated, message_lines, frame_indent, header_at, after_chain = 0, 0, 0, -1, False
    # after_file: the previous line was a `File` line, this one may be its source line; flat: a source
    # line sat at the frames' indentation, the paste lost the relative indentation
    after_file, flat = False, False
    bare: str | None = None  # an exception line outside any traceback: a cause that was never raised
    for raw in lines:
        brief = BRIEF.match(raw)
        line = f'{" " * indent(raw)}  File "{brief["file"]}", line {brief["line"]}, in {brief["fn"]}' if brief else raw
        stripped = line.strip()
        source_line, after_file = after_file, False
        if TRACEBACK.match(line):
            frames, reading, repeated, after_chain, bare, flat = [], None, 0, False, None, False
            header_at = indent(line) if stripped.startswith("Traceback") else -1
        elif stripped in _CHAIN:
            if reading is None:
                _keep_unfinished(blocks, frames, bare, in_app)
            frames, reading, after_chain, bare = None, None, True, None
        elif frames is None and reading is None and (m := FILE.match(line)):  # frames without a header
            frames, repeated, after_chain, bare, flat = [], 0, False, None, False
            frame_indent, after_file = indent(line), brief is None
            frames.append((m["fn"] or "<module>", m["file"], to_int(m["line"]), line))
        elif frames is None and reading is None and not after_chain:
            bare = stripped if stripped and not line[0].isspace() and _EXC.match(stripped) else bare
        elif frames is not None and reading is None:
            if m := FILE.match(line):
                # CPython writes each `File` line two columns right of the `Traceback` header and the exception
                # line at the header's column (`traceback.StackSummary.format`: `'  File "{}", line {}, in {}'`);
                # frames at or left of the header's column lost that indentation, so the exception line sits at
                # theirs, as in a paste whose source lines were flushed left with the frames
                frame_indent, after_file, flat = (
                    (indent(line), brief is None, flat or indent(line) <= header_at)
                    if not frames
                    else (frame_indent, brief is None, flat)
                )
                frames.append((m["fn"] or "<module>", m["file"], to_int(m["line"]), line))
            elif m := _REPEATED.match(line):
                repeated += int(m["n"])
            elif _CAUGHT.match(line) or _IPYTHON_SOURCE.match(line) or _CARETS.match(line):
                continue
            elif source_line and stripped and indent(line) <= frame_indent and not _raised(stripped):
                flat = True  # the frame's source line, flushed left with it
            elif stripped and (not line[0].isspace() or (frames and _dedented(line, frame_indent, flat=flat))):
                reading = _exception(line, in_app)
                reading.omitted = repeated
                blocks.append((frames, reading))
                message_lines = 0
        elif reading is not None:
            if not stripped or message_lines >= _MAX_MESSAGE_LINES:
                frames, reading = None, None
            else:
                reading.add_message_line(line)
                message_lines += 1
        elif after_chain and stripped and _EXC.match(stripped):
            reading = _exception(stripped, in_app)
            blocks.append(([], reading))
            frames, message_lines, after_chain = [], 0, False
    if frames and reading is None:
        blocks.append((frames, ExceptionBuilder(type="<unknown>", in_app=in_app)))
    return _finish(blocks, in_app)


def _without_write_gaps(lines: list[str]) -> list[str]:
    """The lines without a blank one between a `File` line and its source line where another `File` line
    follows that source line: a logger that logs each `write()` to stderr as a record of its own (locust's
    `ERROR/stderr: `) writes the newline ending the `File` line apart, and CPython prints no blank line
    inside the frames. A blank line before anything else (the end of a cut traceback, a log line) stays."""
    gaps = {i for i in range(1, len(lines) - 2) if not lines[i].strip() and lines[i + 1].strip()
            and FILE.match(lines[i - 1]) and not FILE.match(lines[i + 1]) and FILE.match(lines[i + 2])}  # fmt: skip
    return [line for i, line in enumerate(lines) if i not in gaps] if gaps else lines


def _keep_unfinished(
    blocks: list[tuple[list[_RawFrame], ExceptionBuilder]], frames: list[_RawFrame] | None, bare: str | None,
    in_app: InApp,
) -> None:  # fmt: skip
    """At a chain marker, what came before it and never reached an exception line: a cause that was
    never raised (an exception line alone), or a traceback cut before its exception line (its frames)."""
    if bare and frames is None:
        blocks.append(([], _exception(bare, in_app)))
    elif frames:
        blocks.append((frames, ExceptionBuilder(type="<unknown>", in_app=in_app)))


def parse_newest_first(lines: list[str], in_app: InApp) -> tuple[list[ExceptionBuilder], bool]:
    """Python-style frames printed innermost first, as error trackers (Sentry) render other runtimes'
    traces: the header above the frames names the exception."""
    excs, truncated = _read(lines, in_app)
    for exc in excs:
        exc.frames.reverse()
    first = next((i for i, line in enumerate(lines) if FILE.match(line)), 0)
    header = next((_exception(line, in_app) for line in reversed(lines[:first]) if _EXC.match(line.strip())), None)
    if excs and excs[0].type == "<unknown>" and header is not None:
        excs[0].type, excs[0].message = header.type, header.message
    return excs, truncated


def _dedented(line: str, frame_indent: int, *, flat: bool) -> bool:
    """The line sits left of the frames (or, in a flattened paste, at their indentation): it ends them."""
    return indent(line) < frame_indent or (flat and indent(line) == frame_indent)


def _raised(text: str) -> bool:
    """The line reads as an exception (`KeyError: 'x'`, `mod.Error`), not as a source line (`self.run()`,
    `raise`, `else:`)."""
    m = _EXC.match(text)
    return m is not None and m["type"].split(".", 1)[0] not in _KEYWORDS


_PYTEST_ERROR = re.compile(r"^E\s+(?=[A-Za-z_][\w.]*(?::|$))")  # pytest marks the exception lines `E   KeyError: 'x'`


def _exception(line: str, in_app: InApp) -> ExceptionBuilder:
    m = _EXC.match(_PYTEST_ERROR.sub("", line.strip(), count=1))
    if not m:
        return ExceptionBuilder(type="<unknown>", message=line.strip(), in_app=in_app)
    return ExceptionBuilder(type=m["type"], message=m["msg"] or "", in_app=in_app)


def _zipped_module(file: str) -> str:
    """The file a frame of a zipped Sublime Text package names (`_SUBLIME_ZIPPED`) as its path inside the package,
    `sort.name in …\\TabsExtra.sublime-package` → `sort/name.py`; any other file as printed."""
    m = _SUBLIME_ZIPPED.match(file)
    return m["key"].replace(".", "/") + ".py" if m else file


def _finish(
    blocks: list[tuple[list[_RawFrame], ExceptionBuilder]], in_app: InApp
) -> tuple[list[ExceptionBuilder], bool]:
    truncated = len(blocks) > MAX_EXCEPTIONS
    excs: list[ExceptionBuilder] = []
    for frames, exc in reversed(blocks[-MAX_EXCEPTIONS:]):
        for printed, printed_file, line, raw in reversed(frames):
            file = _zipped_module(printed_file)
            function = _LISTED.sub(r"\g<name>", _MARKDOWN_DUNDER.sub(r"__\g<name>__", printed))
            exc.add_frame(function, module_of(file, in_app), file, line, raw)
        excs.append(exc)
    return excs, truncated
