"""Node.js (V8) `error.stack`, with `[cause]:` chains as `util.inspect` prints them.

    TypeError: Cannot read properties of undefined (reading 'id')
        at getUser (/app/dist/users.js:10:5)
        at async Promise.all (index 0)
        at /app/dist/index.js:1:2 {
      [cause]: Error: inner
          at ...
    }

Node has no module names, so a frame's module is its file path made deployment-independent
(`/app/dist/users.js` → `users`, `node_modules/pg/lib/client.js` → `pg/lib/client`).
"""

from __future__ import annotations

import re

from error_autopilot.incidents.stackparse.common import MAX_EXCEPTIONS, ExceptionBuilder, InApp, to_int

FRAME = re.compile(
    r"^\s*at (?:async )?(?:new )?(?:(?P<fn>[^()]+?) \((?P<loc>[^()]*(?:\([^()]*\)[^()]*)?)\)"
    r"|(?P<bare>[^\s()]+:\d+(?::\d+)?|native|<anonymous>))(?P<brace> \{)?\s*$"
)
_LOC = re.compile(r"^(?P<file>.+?):(?P<line>\d+)(?::\d+)?$")
_HEADER = re.compile(
    r"(?:^|\s)(?:Uncaught )?(?P<type>(?:[A-Za-z_$][\w$.]*)?(?:Error|Exception|Rejection))(?: \[[^\]]*\])?"
    r"(?::\s?(?P<msg>.*))?$"
)
_CAUSE = re.compile(r"^\s*\[cause\]: (?P<rest>.*)$")
_MATCHING = re.compile(r"^\s*\.\.\. (?P<n>\d{1,9}) lines? matching cause stack trace \.\.\.\s*$")
_SCHEME = re.compile(r"^(?:file://|webpack://[^/]*/|webpack-internal:///)")
# `/snapshot/<project>/`: the virtual root where pkg serves a packaged project's files
_DEPLOY_ROOT = re.compile(r"^/?(?:usr/src/app|usr/app|app|srv|code|workspace|home/[^/]+|opt/[^/]+|snapshot/[^/]+)/")
_BUILD_DIR = re.compile(r"^(?:dist|build|out|\.next/server)/")
_EXT = re.compile(r"(?:\.[0-9a-f]{8,})?\.(?:js|mjs|cjs|ts|tsx|jsx|mts|cts)$")
_HEADER_LOOKBACK = 50
# A log viewer's time on a line of its own above each record it lists (`2024-01-24 14:57:19.113`): a trace
# shipped as one record per line and copied from a viewer that lists the newest record first (Grafana's
# Explore and logs panel sort "Newest first" by default), so the frames come innermost last and the
# exception's own line below them.
_STAMP_ONLY = re.compile(r"^\s*\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?\s*$")
_LONE_HEADER = re.compile(r"^\s*(?:Uncaught )?[A-Za-z_$][\w$.]*(?:Error|Exception)(?: \[[^\]]*\])?(?::\s?.*)?$")
# V8 leaves out `:line:column` when the function has no source position (CallSite `getLineNumber()` is
# null: code a packager such as pkg shipped as bytecode without its source): the file alone is printed.
_FILE_ONLY = re.compile(r"^(?:[A-Za-z]:)?[^:]*[/\\][^/\\:]+\.(?:js|mjs|cjs|ts|tsx|jsx|mts|cts)$")


def is_frame(line: str) -> bool:
    """A V8 `    at fn (file:line:col)` or `    at file:line:col` line."""
    return FRAME.match(line) is not None


# V8 writes a frame on one line, `at fn (location)` (v8.dev "Stack trace API", CallSite formatting); a copy that
# wrapped every frame before its location puts `at fn` on one line and `(location)` alone on the next, each behind
# whatever prefix a shipper wrote on every line (`lead`)
_NAME_ONLY = re.compile(r"^(?P<lead>.*?)(?P<at>\s*at )(?P<fn>[^()]*)$")
_LOCATION_ONLY = re.compile(r"^(?P<lead>[^()]*?)\s*\((?P<loc>[^()]*(?:\([^()]*\)[^()]*)?)\)\s*$")
_WRAPPED_MIN = 2  # one such pair is as likely a sentence ending in "at" above a parenthesis
_DIGITS = re.compile(r"\d+")


def unwrapped(lines: list[str]) -> list[str]:
    """Frames a copy wrapped before their location (`_NAME_ONLY` then `_LOCATION_ONLY`, behind the same prefix,
    digits aside) joined again, as V8 prints them; only pairs that then read as a frame, and only when there are
    at least two. The prefix stays in front for `strip_line_prefix`. Other lines unchanged."""
    joined: dict[int, str] = {}
    for i in range(len(lines) - 1):
        after = lines[i + 1]
        # a name line holds no parenthesis, so its regex settles on the first `at ` (linear on hostile lines)
        if "at" in lines[i] and "(" not in lines[i] and ")" not in lines[i] and "(" in after and (
            after.rstrip().endswith(")")
        ) and (name := _NAME_ONLY.match(lines[i])) and (loc := _LOCATION_ONLY.match(after)) and (
            _DIGITS.sub("0", name["lead"]) == _DIGITS.sub("0", loc["lead"])
        ):
            frame = _joined(name, loc)
            if is_frame(frame):
                joined[i] = name["lead"] + frame
    if len(joined) < _WRAPPED_MIN:
        return lines
    out: list[str] = []
    skip = False
    for i, line in enumerate(lines):
        if not skip:
            out.append(joined.get(i, line))
        skip = i in joined
    return out


def _joined(name: re.Match[str], loc: re.Match[str]) -> str:
    fn = name["fn"].strip()
    if fn in ("", "async"):  # an anonymous function: V8 prints its location bare (`at async /x.js:1:2`)
        return f"{name['at']}{fn + ' ' if fn else ''}{loc['loc']}"
    return f"{name['at']}{fn} ({loc['loc']})"


# winston's `uncaughtException` record as util.inspect prints it (winston 2 `exception.getAllInfo`): `date`,
# `process`, `os`, then `trace: [ { column, file, function, line, method, native }, … ]` from the `stack-trace`
# package, innermost first, with no V8 `at` lines (its `stack` array comes last and a paste often stops before).
_WINSTON_TRACE = re.compile(r"^(?P<lead>(?:.*\s)?)trace:\s*(?:\[.*)?$")
_WINSTON_FIELD = re.compile(
    r"\b(?P<key>column|file|function|line|method):\s*(?:'(?P<text>(?:[^'\\]|\\.)*)'|(?P<n>\d+)|null)"
)
_WINSTON_ENTRY = re.compile(r"\{[^{}]*\}")
_WINSTON_BLOCKS = 200


def from_winston(lines: list[str]) -> list[str]:
    """winston's `uncaughtException` record (`_WINSTON_TRACE`) rewritten as V8 prints a trace: the log line above
    the record, then one `at function (file:line:column)` line per `trace` entry. Other lines unchanged."""
    found = next(
        ((i, m) for i, line in enumerate(lines[:2000]) if "trace:" in line and (m := _WINSTON_TRACE.match(line))), None
    )
    if found is None:
        return lines
    start, trace = found
    frames: list[str] = []
    for entry in _WINSTON_ENTRY.findall("\n".join(lines[start:]))[:_WINSTON_BLOCKS]:
        fields = {m["key"]: m["text"] or m["n"] for m in _WINSTON_FIELD.finditer(entry)}
        if fields.get("file") and fields.get("line"):
            where = f"{fields['file']}:{fields['line']}" + (f":{fields['column']}" if fields.get("column") else "")
            frames.append(f"    at {fields['function']} ({where})" if fields.get("function") else f"    at {where}")
    if not frames:
        return lines
    # util.inspect opens the record (`{ date: …`) two columns left of its `trace:` key (behind any prefix a
    # shipper wrote on every line), and every object inside it further right
    col = len(trace["lead"]) - 2
    record = next((i for i in range(start, -1, -1) if col >= 0 and lines[i][col : col + 2] == "{ "), start)
    return [*lines[:record], *frames]


def newest_first(lines: list[str]) -> list[str]:
    """A trace copied from a viewer that lists the newest record first (`_STAMP_ONLY`) put back in the order V8
    printed it: the exception line, then the frames innermost first. Only when a stamp line sits between the
    frames, the frames form one block, the line below them is the exception's and none stands above them."""
    frames = [i for i, line in enumerate(lines) if is_frame(line)]
    if len(frames) < 2 or not any(_STAMP_ONLY.match(line) for line in lines[frames[0] : frames[-1]]):
        return lines
    kept = [line for line in lines if not _STAMP_ONLY.match(line)]
    block = [i for i, line in enumerate(kept) if is_frame(line)]
    below = next((i for i in range(block[-1] + 1, len(kept)) if kept[i].strip()), None)
    if block[-1] - block[0] + 1 != len(block) or below is None or not _LONE_HEADER.match(kept[below]):
        return lines
    if any(_LONE_HEADER.match(line) for line in kept[: block[0]]):
        return lines
    return [*kept[: block[0]], kept[below], *reversed(kept[block[0] : block[-1] + 1]), *kept[below + 1 :]]


def module_of(file: str | None) -> str | None:
    """The file path without deployment root, build folder, content hash and extension."""
    if not file or file in ("native", "<anonymous>"):
        return None
    if file.startswith("node:"):
        return file
    path = _SCHEME.sub("", file.replace("\\", "/")).removeprefix("./")
    if "node_modules/" in path:
        path = path.rsplit("node_modules/", 1)[1]
    else:
        path = _BUILD_DIR.sub("", _DEPLOY_ROOT.sub("", path))
    return _EXT.sub("", path) or None


def _header(line: str, in_app: InApp) -> ExceptionBuilder | None:
    m = _HEADER.search(line)
    return ExceptionBuilder(type=m["type"], message=m["msg"] or "", in_app=in_app) if m else None


def _first_exception(lines: list[str], first_frame: int, in_app: InApp) -> ExceptionBuilder:
    for i in range(first_frame - 1, max(-1, first_frame - 1 - _HEADER_LOOKBACK), -1):
        if exc := _header(lines[i], in_app):
            for extra in lines[i + 1 : first_frame]:
                exc.add_message_line(extra)
            return exc
    message = lines[first_frame - 1].strip() if first_frame else ""
    return ExceptionBuilder(type="Error", message=message, in_app=in_app)


# V8 names a function it cannot name after its receiver's type as `Type.<anonymous>` (`null.<anonymous>` in V8
# before 2016); a paste outside a code block loses the `<anonymous>`, which Markdown reads as an HTML tag (CommonMark
# "Raw HTML", open tag) that GitHub's sanitizer then drops, leaving `at ClientRequest. (/x/main.js:1050:21)`. V8
# never prints a name that ends in a dot, so the tag is put back.
_TAG_DROPPED = re.compile(r"^(?:[A-Za-z_$][\w$]*\.)+$")


def _add_frame(exc: ExceptionBuilder, m: re.Match[str], line: str) -> None:
    loc = m["loc"] if m["loc"] is not None else m["bare"]
    fn = (m["fn"] or "<anonymous>").strip()
    if fn.endswith(".") and _TAG_DROPPED.match(fn):
        fn += "<anonymous>"
    where = _LOC.match(loc) if loc else None
    named = loc if loc in ("native", "<anonymous>") or _FILE_ONLY.match(loc or "") else None
    file = where["file"] if where else named
    exc.add_frame(fn, module_of(file), file, to_int(where["line"]) if where else None, line)


def _past_headless_fragment(lines: list[str], first: int) -> int:
    """Where the logged error's frames start: past a run of frames with no header above it when a later run
    has one. V8's `error.stack` always starts with the `Type: message` line (`Error.captureStackTrace`), so
    frames with none above them are the tail of an earlier error cut by the log window or the paste, and
    a whole error logged after them is the one to read."""
    if _has_header_above(lines, first):
        return first
    i = first
    while i < len(lines):
        while i < len(lines) and is_frame(lines[i]):
            i += 1
        following = next((j for j in range(i, len(lines)) if is_frame(lines[j])), None)
        if following is None:
            return first
        if _has_header_above(lines, following):
            return following
        i = following
    return first


def _has_header_above(lines: list[str], first_frame: int) -> bool:
    """An error line sits right above the run of frames starting at `first_frame` (only its message's
    lines between them)."""
    for i in range(first_frame - 1, max(-1, first_frame - 1 - _HEADER_LOOKBACK), -1):
        if is_frame(lines[i]):
            return False
        if _HEADER.search(lines[i]):
            return True
    return False


def parse(lines: list[str], in_app: InApp) -> tuple[list[ExceptionBuilder], bool]:
    """The logged error first, then its `[cause]:` chain."""
    lines = newest_first(lines)
    first = next((i for i, line in enumerate(lines) if is_frame(line)), None)
    if first is None:
        return [], False
    first = _past_headless_fragment(lines, first)
    excs = [_first_exception(lines, first, in_app)]
    depth = 0  # inside the `{ ... }` property block util.inspect prints after the frames
    for line in lines[first:]:
        m = FRAME.match(line)
        if m:
            _add_frame(excs[-1], m, line)
            depth += 1 if m["brace"] else 0
        elif more := _MATCHING.match(line):
            excs[-1].omitted += int(more["n"])
        elif cause := _CAUSE.match(line):
            if len(excs) >= MAX_EXCEPTIONS:
                return excs, True
            rest = cause["rest"]
            excs.append(_header(rest, in_app) or ExceptionBuilder(type="Error", message=rest, in_app=in_app))
            depth += 1 if rest.rstrip().endswith("{") else 0
        elif depth > 0:
            depth += line.count("{") - line.count("}")
        else:
            break
    return excs, False
