""".NET `Exception.ToString()`: inner exceptions nest inside the outer one.

    System.InvalidOperationException: outer message
     ---> System.NullReferenceException: inner message
       at Acme.Orders.Repo.Load(Int32 id) in /src/Repo.cs:line 42      frames of the inner exception
       --- End of inner exception stack trace ---
       at Acme.Orders.Service.Place(Order o) in /src/Service.cs:line 17 frames of the outer one

Every ` ---> ` opens a deeper exception and every `--- End of inner exception stack trace ---`
closes one, so frames go to the exception currently open. `--- End of stack trace from previous
location ---` only separates async segments of the same exception.

Frames are read in the runtime's language too (`в … в file:строка 42`, `à … dans file:ligne 42`,
`bei … in file:Zeile 42`), and as Ben.Demystifier prints them (`at async Task<bool> Ns.T.M(int id)`).
A crash reporter that writes each `StackFrame` as its method followed by `()` prints the parameter list and then
an empty one (`at Ns.T.M(Task)() in T.cs:line 154`): the empty pair is read past.
"""

from __future__ import annotations

import re

from error_autopilot.incidents.stackparse.common import MAX_EXCEPTIONS, ExceptionBuilder, InApp, to_int

# `at` in the languages .NET localises its traces into (en, ru/uk, fr, de, es/pt, pl, cs, tr, zh, ja, ko)
# Korean's `Word_At` carries its colon, as Korean Windows prints every frame (.NET Framework's ko resources):
# `   위치: Ns.T.M(Int32 id) 파일 C:\x\T.cs:줄 52`
AT = r"(?:at|в|à|bei|en|em|w|v|konum|在|於|場所|위치:?)"
# Italian prints `in` for `at` and for the file's `in` alike (`in Ns.T.M(String s) in C:\x\T.cs:riga 174`: the
# resources' `Word_At` and `StackTrace_InFileLineNumber`); kept out of `AT`, which also finds frame-like text in
# any line (`stacktrace._FRAMEISH`), where `in f(` is common English and Python (`for x in items(a):`)
FRAME_AT = rf"(?:{AT}|in)"
# Mono writes a frame's IL offset (` [0x0001b]`) or, where it has none, its native offset: ` <0x006bd>` in the
# Mono that Unity embeds (its Player.log and mods' reports), ` <0x000a1 + 0x0001b>` with the method's address since
# (mono/mono `mcs/class/corlib/System.Diagnostics/StackTrace.cs`; `mono-symbolicate`'s frame pattern reads both)
_MONO_OFFSET = r"(?: \[0x[0-9a-fA-F]+\]| <0x[0-9a-fA-F]+(?: \+ 0x[0-9a-fA-F]+)?>(?: \d+)?)?"
# .NET Native and Native AOT, with no source information, follow the method with its native offset (dotnet/runtime
# `DeveloperExperience.CreateStackTraceString`: `methodName + " + 0x" + offset`), `at Ns.T.M(String) + 0x49`
_NATIVE_OFFSET = r"(?: \+ 0x[0-9a-fA-F]+)?"
FRAME = re.compile(
    rf"^\s*{FRAME_AT}\s+(?:async\s+)?(?:[\w.`?\[\]]+(?:<[^()]*?>)?\??\s+)?"  # demystified: return type
    r"(?P<qual>[^\s()\[<][^\s()\[]*)(?:\[[^\]]*\])?\s?\((?P<args>[^()]*)\)(?:\(\))?(?:\+\S*)?"
    + _MONO_OFFSET + _NATIVE_OFFSET +
    r"(?:\s+\S+\s+(?P<file>.+?):(?:[^\s\d:]+\s*)?(?P<line>\d+)\.?)?\s*$"
)
_HEADER = re.compile(
    r"^(?P<type>[A-Za-z_][\w`]*(?:\.[A-Za-z_][\w`]*)+|[A-Za-z_]\w*Exception)"
    r"(?: \(0x[0-9A-Fa-f]+\))?"  # HRESULT, e.g. `Npgsql.NpgsqlException (0x80004005): ...`
    r"(?:: ?(?P<msg>.*))?$"
)
_PREFIX = re.compile(r"^\s*(?:Unhandled [Ee]xception[.:]\s*|--->\s*|\(Inner Exception #\d+\)\s*)+")
_ARROW = " ---> "
_INNER_WORDS = ("inner", "внутренн", "interne", "inneren", "interna", "wewnętrz")  # end of an inner exception
_EMBEDDED = re.compile(r"(?:^|[\s:\[])(?P<type>(?:[A-Za-z_]\w*\.)+[A-Za-z_]\w*Exception)(?::\s?(?P<msg>.*))?$")
_HEADER_LOOKBACK = 50
_TYPOGRAPHER_DASH = re.compile(r"^[—–](?= )|(?<= )[—–]$")


LOCALISED_AT = re.compile(rf"^\s*{FRAME_AT}\s")
# A frame whose parameter list the entry's end cut (a size limit on the log line, a paste cut short): the
# method is whole before `(`, and only parameter types, which no mapping reads, are missing (a V8 or JVM
# frame cut inside its location is not one: its `(` holds a path and a line number, cut short).
# (behind whatever prefix a process manager or shipper wrote on the line: the prefix is read off later)
_CUT_FRAME = re.compile(rf"(?:^|\s)(?P<head>{AT}\s[^()]*\((?P<args>[\w.`&*\[\]<>, ]*))$")  # no `:`, no path
# the first parameter whole, as .NET prints it: its type, a space, its name (camelCase by the naming guidelines),
# which a JVM location (`Foo.ja`, `Unknown Sou`) never reads as
_PARAMETER = re.compile(r"[\w.`\[\]<>]+[&*]? [a-z_@]\w*(?:,|$)")
_FRAME_START = re.compile(rf"(?:^|\s)(?P<frame>{AT}\s)")


def _dotnet_above(lines: list[str], last: int) -> bool:
    """Whether the nearest non-blank line above `last` is a frame with a .NET parameter list (`_PARAMETER`): a
    cut inside the first parameter's type (`at Ns.T.M (Ns.Core.I`, Mono's spacing) reads like a cut JVM location
    (`(Foo.ja`) alone, but not below a frame of the same entry that no JVM or V8 trace prints."""
    above = next((line for line in reversed(lines[:last]) if line.strip()), "")
    start = _FRAME_START.search(above) if "(" in above else None  # behind the prefix the cut line may carry too
    frame = FRAME.match(above[start.start("frame") :]) if start is not None else None
    return frame is not None and _PARAMETER.match(frame["args"]) is not None


def closed_at_the_end(lines: list[str]) -> list[str]:
    """The lines with the entry's last line closed when it is a frame cut inside its parameter list
    (`at Ns.T.M(Discord x, IEnumerable`1`): a log line cut at a size limit (Loki's `max_line_size_truncate`,
    journald's `LineMax`) or a paste cut short ends mid-line, and here the cut took only parameter types: after
    a whole first parameter, or inside it under a frame with a .NET parameter list (`_dotnet_above`).
    A cut anywhere else, or a line that does not then read as a frame, is left as it was; a prefix before the
    frame stays for `strip_line_prefix` to read off with the other lines'."""
    last = next((i for i in range(len(lines) - 1, -1, -1) if lines[i].strip()), None)
    if last is None or "(" not in lines[last] or lines[last].rstrip().endswith(")"):
        return lines
    cut = lines[last].rstrip()
    m = _CUT_FRAME.search(cut)
    if m is None or (m["args"] and not _PARAMETER.match(m["args"]) and not _dotnet_above(lines, last)):
        return lines
    frame = FRAME.match(m["head"] + ")")
    if frame is None or "." not in frame["qual"]:  # .NET prints `Type.Method` at least: `at startup(` is prose
        return lines
    return [*lines[:last], cut + ")", *lines[last + 1 :]]


def is_frame(line: str) -> bool:
    """A .NET `at Ns.Type.Method(Args)` line, with or without ` in file:line N`."""
    return FRAME.match(line) is not None


def split_qualified(qual: str) -> tuple[str | None, str]:
    """`Ns.Type.<Run>d__5.MoveNext` → (`Ns.Type`, `<Run>d__5.MoveNext`); `Ns.Type..ctor` → (`Ns.Type`, `.ctor`)."""
    generated = qual.find(".<")
    if generated > 0:
        return qual[:generated], qual[generated + 1 :]
    for ctor in ("..ctor", "..cctor"):
        if qual.endswith(ctor):
            return qual[: -len(ctor)], ctor[1:]
    module, _, function = qual.rpartition(".")
    return module or None, function


def _headers(line: str, in_app: InApp, *, embedded: bool = False) -> list[ExceptionBuilder] | None:
    """The exception(s) one line introduces: older runtimes print `A: a ---> B: b` on a single line.
    `embedded` also finds `…Exception: message` after a log prefix on the same line."""
    found: list[ExceptionBuilder] = []
    for chunk in _PREFIX.sub("", line).split(_ARROW):
        text = _PREFIX.sub("", chunk).strip()
        m = _HEADER.match(text) or (_EMBEDDED.search(text) if embedded and not found else None)
        if not m:
            return found or None
        found.append(ExceptionBuilder(type=m["type"], message=m["msg"] or "", in_app=in_app))
    return found


def _separator(stripped: str) -> str | None:
    """`inner` for `--- End of inner exception stack trace ---`, `async` for the other `--- … ---` lines. A
    paste through a typographer (SmartyPants and the editors that copy it: `---` is an em dash, `--` an en
    dash) prints `— End of stack trace from previous location —`: the same line."""
    stripped = _TYPOGRAPHER_DASH.sub("---", stripped)
    if not (stripped.startswith("---") and stripped.endswith("---") and len(stripped) > 6):
        return None
    lowered = stripped.lower()
    return "inner" if any(w in lowered for w in _INNER_WORDS) else "async"


def _header_start(lines: list[str], first_frame: int, in_app: InApp) -> int | None:
    start = None
    for embedded in (False, True):
        for i in range(first_frame - 1, max(-1, first_frame - 1 - _HEADER_LOOKBACK), -1):
            if _headers(lines[i], in_app, embedded=embedded):
                start = i
                if not lines[i].lstrip().startswith("--->"):
                    break
        if start is not None:
            return start
    return start


def unwrapped(lines: list[str]) -> list[str]:
    """Frames a mail client or an issue form hard-wrapped inside the path (`…/Indexe` + `rs/NCore.cs:line
    164`) joined again: only when the two lines make one frame with a file and a line, and neither is one.
    Run before the runtime is told (`stacktrace.detect_language`): a trace whose only frame was wrapped so has
    no other line to be read as .NET's by."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        # the joined frame ends in its line number: a next line that does not is no tail, at the cost of one look
        tail = lines[i + 1].rstrip().removesuffix(".")[-1:] if i + 1 < len(lines) else ""
        if tail.isdigit() and LOCALISED_AT.match(line) and not is_frame(line) and not is_frame(lines[i + 1]):
            m = FRAME.match(line.rstrip() + lines[i + 1].strip())
            if m is not None and m["line"]:
                out.append(line.rstrip() + lines[i + 1].strip())
                i += 2
                continue
        out.append(line)
        i += 1
    return out


def _frame_follows(lines: list[str], at: int) -> bool:
    """A blank line between the header and the first frame is spacing when a frame comes next: a log viewer
    that separates every line with a blank one (Azure App Service's log stream) spaces the header off too."""
    return at + 1 < len(lines) and is_frame(lines[at + 1])


def parse(lines: list[str], in_app: InApp) -> tuple[list[ExceptionBuilder], bool]:
    """Outer exception first, then its inner exceptions, innermost last."""
    lines = unwrapped(lines)
    first = next((i for i, line in enumerate(lines) if is_frame(line)), None)
    if first is None:
        return [], False
    start = _header_start(lines, first, in_app)
    excs: list[ExceptionBuilder] = []
    if start is None:
        excs.append(ExceptionBuilder(type="<unknown>", in_app=in_app))
        start = first
    open_at = len(excs) - 1
    body = lines[start:]
    for at, line in enumerate(body):
        m = FRAME.match(line)
        stripped = line.strip()
        if m:
            module, function = split_qualified(m["qual"])
            excs[open_at].add_frame(function, module, m["file"], to_int(m["line"]), line)
        elif (separator := _separator(stripped)) is not None:
            open_at = max(0, open_at - 1) if separator == "inner" else open_at
        elif not stripped and (any(e.frames for e in excs) or _frame_follows(body, at)):
            continue
        elif (not excs or stripped.startswith("--->")) and (found := _headers(line, in_app, embedded=not excs)):
            room = MAX_EXCEPTIONS - len(excs)
            excs.extend(found[:room])
            if len(found) > room:
                return excs, True
            open_at = len(excs) - 1
        elif excs and not excs[open_at].frames and stripped:
            excs[open_at].add_message_line(stripped)
        else:
            break
    return excs, False
