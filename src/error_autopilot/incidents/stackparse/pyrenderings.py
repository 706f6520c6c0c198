"""Python tracebacks that tools render their own way, rewritten as CPython prints them, so that one reader
(`python.py`) parses them all: Django's plain-text technical 500 page (with its `Exception Location` summary)
and Rich's boxed traceback. Other lines pass unchanged.
"""

from __future__ import annotations

import re

from error_autopilot.incidents.stackparse.common import indent, read_behind_lead
from error_autopilot.incidents.stackparse.python import FILE

# Django's plain-text technical 500 ("copy-and-paste view", error e-mails) before 2.x: `Traceback:`,
# `File "…" in func` with the line number on the source line below (`  149. response = …`), and the
# exception as `Exception Type: X at /path` + `Exception Value: message`.
_DJANGO_HEADER = re.compile(r"^\s*Traceback:\s*$")
DJANGO_FILE = re.compile(r'^(?P<ind>\s*)File "(?P<file>[^"]+)" in (?P<fn>\S+)\s*$')
_DJANGO_SOURCE = re.compile(r"^\s*(?P<line>\d{1,7})\.(?:\s|$)")
# The summary's labelled lines may sit behind a shipper's prefix that `strip_line_prefix` cannot learn when no
# frame was pasted: up to 200 characters before the label are passed over.
_DJANGO_TYPE = re.compile(r"^.{0,200}?Exception Type:\s+(?P<type>\S+)(?: at \S*)?\s*$")
# Its HTML page, copied as text, sums the error up above the traceback, which reporters often cut: the
# innermost frame as `Exception Location: <file> in <function>, line <n>` (`<file>, line <n>, in <function>`
# since Django 3.1; `lastframe`, the traceback's last frame, in django/views/debug.py and technical_500.html).
_DJANGO_LOCATION = re.compile(
    r"^.{0,200}?Exception Location:\s+(?P<file>\S.*?)(?: in (?P<fn>[\w<>.]+), line (?P<line>\d{1,7})"
    r"|, line (?P<line2>\d{1,7}), in (?P<fn2>[\w<>.]+))\s*$"
)
_DJANGO_VALUE = re.compile(r"^.{0,200}?Exception Value: ?(?P<msg>.*)$")
# The page's summary copied without its table's labels: the heading `<type> at <request path>` (`<h1>{{
# exception_type }} at {{ request.path_info }}</h1>`), the value below it, and the `Exception Location` cell alone
# (`<file> in <function>, line <n>`, or `<file>, line <n>, in <function>` since 3.1), as a bare line.
# A shipper's prefix is no part of either line; it is whatever precedes the heading's type, and the location line
# must carry the same, digits aside (`_prefix`), as a shipper writes it on every line
_DJANGO_TITLE = re.compile(r"^(?P<pre>.{0,200}?)(?<![^\s|:\]>])(?P<type>[A-Za-z_][\w.]*) at /\S*\s*$")
# The summary's table copied without its labels but for the first cells, its heading cut: the `Django Version:` row
# (`Django Version: | 3.0.7` once an editor made the table Markdown) is followed in technical_500.html by the
# `Exception Type`, `Exception Value` and `Exception Location` rows, each value on a line of its own.
_DJANGO_VERSION_ROW = re.compile(r"^(?P<pre>.{0,200}?)Django Version:(?:\s*\|)?\s*\d[\w.]*(?:\s*\|)?\s*$")
_MARKDOWN_RULE = re.compile(r"^[\s|:-]*$")  # a Markdown table's `-- | --` under its first row
_TYPE_CELL = re.compile(r"^[A-Za-z_][\w.]*$")
_DJANGO_BARE_LOCATION = re.compile(
    r"^\s*(?P<file>\S+\.py)(?: in (?P<fn>[\w<>.]+), line (?P<line>\d{1,7})"
    r"|, line (?P<line2>\d{1,7}), in (?P<fn2>[\w<>.]+))\s*$"
)


def from_django(lines: list[str]) -> list[str]:
    """Django's plain-text traceback rewritten as CPython prints one, its `Exception Location` the innermost
    frame where the pasted traceback stops short of it (or was not pasted); other lines unchanged."""
    located = [m for line in lines[:2000] if "Exception Location:" in line and (m := _DJANGO_LOCATION.match(line))]
    if not located and not any('" in ' in line and DJANGO_FILE.match(line) for line in lines[:2000]):
        return _from_bare_summary(lines)
    out: list[str] = []
    exc_type: str | None = None
    raised = ""  # the exception line written for the page's `Exception Type`/`Exception Value`
    i = 0
    while i < len(lines):
        line = lines[i]
        if located and "Exception Location:" in line and _DJANGO_LOCATION.match(line):
            pass
        elif _DJANGO_HEADER.match(line):
            out.append("Traceback (most recent call last):")
        elif m := DJANGO_FILE.match(line):
            nxt = lines[i + 1] if i + 1 < len(lines) else ""
            number = _DJANGO_SOURCE.match(nxt)
            out.append(f'  File "{m["file"]}", line {number["line"] if number else "unknown"}, in {m["fn"]}')
            i += 2 if number else 1
            continue
        elif m := _DJANGO_TYPE.match(line):
            exc_type = m["type"]
        elif exc_type and (m := _DJANGO_VALUE.match(line)):
            raised = f"{exc_type}: {m['msg']}".rstrip()
            out.extend((raised, ""))  # the request dump below is no part of the message
            exc_type = None
        else:
            out.append(line)
        i += 1
    if exc_type:
        raised = exc_type
        out.append(exc_type)
    return _with_location(out, located[-1], raised) if located else out


def _from_bare_summary(lines: list[str]) -> list[str]:
    """The page's summary copied without its labels (`_DJANGO_TITLE`, the value, a bare location line below them,
    behind the same prefix if any; or, the heading cut, the table from its `Django Version:` row on:
    `_DJANGO_VERSION_ROW`, the type's and the value's cells) as a one-frame traceback; only when nothing else
    reads as a frame: a heading alone, or a location line with no heading or version row above it, is left as
    it is."""
    head = lines[:2000]
    title = next(((n, m) for n, line in enumerate(head) if " at /" in line and (m := _DJANGO_TITLE.match(line))), None)
    if title is None:
        title = next(((n, m) for n, line in enumerate(head)
                      if "Django Version:" in line and (m := _DJANGO_VERSION_ROW.match(line))), None)  # fmt: skip
    if title is None or any(FILE.match(line) for line in head):
        return lines
    start, heading = title
    prefix = _prefix(heading["pre"])
    bodies = [line[m.end() :] if (m := prefix.match(line)) else None for line in head]
    found = next(((n, m) for n in range(start + 1, len(head)) if (body := bodies[n]) is not None and ".py" in body
                  and (m := _DJANGO_BARE_LOCATION.match(body))), None)  # fmt: skip
    if found is None:
        return lines
    at, located = found
    if "type" in heading.groupdict():
        exc_type = heading["type"]
        value = next((text.strip() for text in bodies[start + 1 : at] if text and text.strip()), "")
    else:  # the version row: the type's cell comes next, then the value's
        cells = [text.strip() for text in bodies[start + 1 : at] if text and not _MARKDOWN_RULE.match(text)]
        if not cells or not _TYPE_CELL.match(cells[0]):
            return lines
        exc_type, value = cells[0], cells[1] if len(cells) > 1 else ""
    raised = f"{exc_type}: {value}" if value else exc_type
    return _with_location([*lines[:at], *lines[at + 1 :]], located, raised)


def _prefix(text: str) -> re.Pattern[str]:
    """`text` as a pattern whose digit runs match any digits (a timestamp, a pid that vary line by line)."""
    return re.compile("".join(r"\d+" if part.isdigit() else re.escape(part) for part in re.split(r"(\d+)", text)))


def _with_location(out: list[str], located: re.Match[str], raised: str) -> list[str]:
    """The page's `Exception Location` as the innermost frame: after the last frame of a traceback that stops
    before it, or as a one-frame traceback of its own when none was pasted."""
    file, function = located["file"], located["fn"] or located["fn2"]
    frame = f'  File "{file}", line {located["line"] or located["line2"]}, in {function}'
    at = next((n for n in range(len(out) - 1, -1, -1) if FILE.match(out[n])), None)
    if at is None:
        return [*out, "Traceback (most recent call last):", frame, raised or "Exception"]
    last = FILE.match(out[at])
    if last is not None and (last["file"], last["fn"]) == (file, function):
        return out
    return [*out[: at + 1], frame, *out[at + 1 :]]


# Rich's traceback (`rich.traceback`, which Typer and many CLIs install): each exception's frames in a box titled
# `Traceback (most recent call last)`, one `{filename}:{lineno} in {name}` line per frame (`in {name}:{lineno}` when
# the file is not on disk), source lines under it, the exception line below the box (`Traceback._render_stack`).
_RICH_TOP = re.compile(r"^(?P<pre>.{0,200}?)╭─+ Traceback .*\(most recent call last\) ─+╮\s*$")
_RICH_ROW = re.compile(r"^(?P<pre>.{0,200}?)│(?P<inner>.*?)│?\s*$")
_RICH_FRAME = re.compile(r"^\s*(?P<file>[^\s│][^│]*?):(?P<line>\d+) in (?P<fn>[\w<>.]+)\s*$")
_RICH_BOTTOM = re.compile(r"^.{0,200}?╰─+╯\s*$")


def from_rich(lines: list[str]) -> list[str]:
    """Rich's boxed traceback rewritten as CPython prints one, behind whatever prefix each line had (a process
    manager's, a shipper's: found later as on any trace); other lines unchanged. A frame line that the box's
    width wrapped is read joined with the row below it."""
    if not any("╭" in line and _RICH_TOP.match(line) for line in lines[:2000]):
        return lines
    out: list[str] = []
    boxed, pending = False, ""
    for line in lines:
        if top := _RICH_TOP.match(line):
            out.append(top["pre"] + "Traceback (most recent call last):")
            boxed, pending = True, ""
        elif boxed and _RICH_BOTTOM.match(line):
            boxed = False
        elif boxed and (row := _RICH_ROW.match(line)):
            inner = row["inner"].strip()
            # a row that was no frame and no source line is the head of one the box wrapped
            tried = (pending + inner, f"{pending} {inner}", inner) if pending else (inner,)
            frame = next((m for text in tried if (m := _RICH_FRAME.match(text))), None)
            if frame:
                out.append(f'{row["pre"]}  File "{frame["file"]}", line {frame["line"]}, in {frame["fn"]}')
            pending = inner if not frame and inner and not inner[0].isdigit() and "❱" not in inner else ""
        elif not boxed:
            out.append(line)
    return out


# IPython's verbose traceback before 8.0 (`ultratb.VerboseTB.format_record`, the default in IPython and Jupyter):
# each frame is `<file> in <function>(<arguments>)` (`'%s %s' % (link, call)`, `tpl_call = 'in %s%s'`), then the
# numbered source lines around the failing one, which `_format_traceback_lines` marks with an arrow
# (`---> 77         return x`), frames apart by a blank line; the header `Type   Traceback (most recent call last)`
# carries no colon, and the exception line ends it as in CPython. A frame is read only with its arrow: the line
# number is printed nowhere else, and a sentence that says `x.py in main()` has none.
_IPY_FRAME = re.compile(r"^(?P<ind>\s*)(?P<file>\S.*?\.py[cow]?|<[^<>\s]+>) in (?P<fn>[A-Za-z_<][\w<>.]*)\(.*$")
_IPY_ARROW = re.compile(r"^\s*-+>\s*(?P<line>\d{1,7})(?:\s(?P<source>.*))?$")
_IPY_NUMBERED = re.compile(r"^\s*\d{1,7}(?:\s.*)?$")
_IPY_CONTEXT = 40  # numbered lines a record shows: `context` (5 by default, 2 × 5 + 1 printed) and room to spare


def from_ipython(lines: list[str]) -> list[str]:
    """IPython's verbose frames (before 8.0) rewritten as CPython prints frames, under a `Traceback` header of
    their own; their numbered source lines dropped but the failing one, other lines unchanged. A frame's file
    compiled (`.pyc`, `.pyo`) is its source: IPython shows that source's lines, found beside the compiled file
    (`openpy.source_from_cache`). Behind a prefix every line carries too (a process manager's, a shipper's), which
    then comes off: no IPython line is frame-like to `strip_line_prefix`."""
    if not any("->" in line for line in lines[:2000]):
        return lines
    return read_behind_lead(lines, _ipython_rewritten)


def _ipython_rewritten(lines: list[str]) -> list[str] | None:
    if not any(">" in line and _IPY_ARROW.match(line) for line in lines[:2000]):
        return None
    out: list[str] = []
    headed, i = False, 0
    while i < len(lines):
        frame = _IPY_FRAME.match(lines[i]) if " in " in lines[i] else None
        arrow, end = None, i + 1
        while frame and end < len(lines) and end - i <= _IPY_CONTEXT and lines[end].strip():
            arrow = arrow or _IPY_ARROW.match(lines[end])
            # after the arrow, verbose mode's variables (`        self = <…>`, indented past the frame) may follow
            indented = arrow is not None and indent(lines[end]) > len(frame["ind"])
            if not (_IPY_NUMBERED.match(lines[end]) or _IPY_ARROW.match(lines[end]) or indented):
                break
            end += 1
        if frame is None or arrow is None:
            out.append(lines[i])
            i += 1
            continue
        if not headed:
            out.append(frame["ind"] + "Traceback (most recent call last):")
            headed = True
        file = re.sub(r"\.py[co]$", ".py", frame["file"])
        out.append(f'{frame["ind"]}  File "{file}", line {arrow["line"]}, in {frame["fn"]}')
        out.append(f'{frame["ind"]}    {(arrow["source"] or "").strip()}')
        i = end
    return out if headed else None
