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
from collections.abc import Callable

from error_autopilot.incidents.stackparse.common import MAX_EXCEPTIONS, ExceptionBuilder, InApp, to_int

# `at` in the languages .NET localises its traces into (en, ru/uk, fr, de, es/pt, pl, cs, tr, zh, ja, ko)
AT = r"(?:at|в|à|bei|en|em|w|v|konum|在|於|場所|위치)"
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
# Mono/Xamarin frames as App Center's GitHub issues print them: no `at`, an IL offset, the namespace after
# `;` (`Ns.T.M () [0x0005f] in C:\…\T.cs:167;Ns`), the exception below under `### Reason ###`.
_MONO_FRAME = re.compile(
    r"^\s*(?P<qual>[^\s()\[<][^\s()]*) \((?P<args>[^()]*)\) \[0x[0-9a-fA-F]+\] in (?P<file>.+?):(?P<line>\d+)"
    r"(?:;[\w.`]*)?\s*$"
)
_REASON = re.compile(r"^\s*#+\s*Reason\s*#*\s*$")
# A frame whose parameter list the entry's end cut (a size limit on the log line, a paste cut short): the
# method is whole before `(`, and only parameter types, which no mapping reads, are missing (a V8 or JVM
# frame cut inside its location is not one: its `(` holds a path and a line number, cut short).
# (behind whatever prefix a process manager or shipper wrote on the line: the prefix is read off later)
_CUT_FRAME = re.compile(rf"(?:^|\s)(?P<head>{AT}\s[^()]*\((?P<args>[\w.`&*\[\]<>, ]*))$")  # no `:`, no path
# the first parameter whole, as .NET prints it: its type, a space, its name (camelCase by the naming guidelines),
# which a JVM location (`Foo.ja`, `Unknown Sou`) never reads as
_PARAMETER = re.compile(r"[\w.`\[\]<>]+[&*]? [a-z_@]\w*(?:,|$)")
_FRAME_START = re.compile(rf"(?:^|\s)(?P<frame>{AT}\s)")


def from_app_center(lines: list[str]) -> list[str]:
    """App Center's crash report rewritten as .NET prints an exception: the `### Reason ###` line first,
    then `at … in file:line N` frames. Other lines unchanged."""
    if not any(" [0x" in line and _MONO_FRAME.match(line) for line in lines[:2000]):
        return lines
    frames = [f"   at {m['qual']}({m['args']}) in {m['file']}:line {m['line']}"
              for line in lines if (m := _MONO_FRAME.match(line))]  # fmt: skip
    reason = next((i for i, line in enumerate(lines) if _REASON.match(line)), None)
    header = next((line.strip() for line in lines[reason + 1 :] if line.strip()), "") if reason is not None else ""
    first = next(i for i, line in enumerate(lines) if _MONO_FRAME.match(line))
    return [*lines[:first], *([header] if header else []), *frames]


# ASP.NET Core's developer exception page (`UseDeveloperExceptionPage`, dotnet/aspnetcore
# `src/Shared/ErrorPage/ErrorPage.cshtml`) copied as text: the summary `Ns.T.M() in File.cs, line 24` under the
# exception, then the Stack tab's frames, `Ns.T.M(T x) in File.cs` (the file name only, no line) or `Ns.T.M()`
# for a frame without source; no `at`. A method name holds no space but in its generic arguments.
_PAGE_QUAL = r"(?P<qual>[A-Za-z_<](?:[\w.`+|<>]|, ?)*)\((?P<args>[^()]*)\)"
_PAGE_FILE = r"(?P<file>[^\s:\\/]+\.(?:cs|fs|vb|cshtml|razor))(?:, line (?P<line>\d+))?"
_PAGE_FRAME = re.compile(rf"\s*{_PAGE_QUAL}(?: in {_PAGE_FILE})?\s*$")  # `match` anchors it (at a prefix's end too)
_PAGE_MIN_LOCATED = 2  # frames naming their file: one such line alone is as likely prose
_PAGE_MAX_LEAD = 80
_PAGE_MAX_NAME = 500  # a method's qualified name with its generic arguments; longer is no frame
_DIGIT = re.compile(r"\d")


def _page_located(line: str) -> tuple[str, re.Match[str]] | None:
    """A located frame of the page behind whatever prefix a process manager or shipper wrote on the line (no
    frame teaches `strip_line_prefix` it), with that prefix: the method name starts after the last space that
    is not one of its generic arguments' (found walking back from its `(`, so the line is read once)."""
    at = line.rfind(") in ")
    opened = line.rfind("(", 0, at) if at > 0 else -1
    start = opened
    while start > 0 and opened - start < _PAGE_MAX_NAME and line[start - 1] not in "()" and (
        line[start - 1] != " " or line[start - 2 : start] == ", "
    ):
        start -= 1
    if opened <= 0 or start > _PAGE_MAX_LEAD or opened - start >= _PAGE_MAX_NAME:
        return None
    if (m := _PAGE_FRAME.match(line, start)) is None or not m["file"]:
        return None
    return line[:start], m


def from_developer_page(lines: list[str]) -> list[str]:
    """The developer exception page's text (`_PAGE_FRAME`) rewritten as .NET prints an exception: the
    exception line, then `at … in File.cs:line N` frames; the summary line, which repeats the first frame with
    its line number, gives that frame its line. A prefix every located frame carries (digits aside) comes off
    every line holding it. Lines without such frames are returned as they are."""
    located = [(i, found) for i, line in enumerate(lines[:2000]) if ") in " in line
               and (found := _page_located(line)) is not None and "." in found[1]["qual"]]  # fmt: skip
    leads = {_DIGIT.sub("0", lead) for _, (lead, _m) in located}
    if len(located) < _PAGE_MIN_LOCATED or len(leads) != 1:
        return lines
    lead = leads.pop()
    body = [line[len(lead) :] if _DIGIT.sub("0", line[: len(lead)]) == lead else line for line in lines]
    first, last = located[0][0], located[-1][0]
    frames: list[tuple[str, str, str | None, str | None]] = []
    for line in body[first : last + 1]:
        m = _PAGE_FRAME.match(line)
        if m is None or "." not in m["qual"]:
            continue
        qual = re.sub(r",\s+", ",", m["qual"])  # generic arguments (`Iterator<TSource, TResult>`)
        if frames and frames[-1][0] == qual and frames[-1][3] is not None and m["line"] is None:
            continue  # the Stack tab's first frame, already read with its line from the summary
        frames.append((qual, m["args"], m["file"], m["line"]))
    rendered = [f"   at {qual}({args})" + (f" in {file}:line {line or 0}" if file else "")
                for qual, args, file, line in frames]  # fmt: skip
    return [*body[:first], *rendered, *body[last + 1 :]]


# A trace whose line breaks a copy lost and then put back after each `at` word (the application's own error
# report, as windows-tweaker's issues paste it: `…: msg at ⏎ Ns.T.M() in C:\x.cs:line 3 at ⏎ Ns.T.N() …`, and the
# same in Italian with `in`, which also ends a line before the frame's file): `Exception.ToString()` writes each
# frame on a line of its own, `   at ` first, so the lines are joined where a bare `at` word ends one, and the
# frames are put back on lines of their own where that word comes before a qualified method's `(`.
_TRAILING_AT = re.compile(rf"\s{FRAME_AT}\s*$")
_INLINE_FRAME = re.compile(rf"(?<=\S)\s+(?={FRAME_AT}\s+(?:[\w`<>$|+]+\.)+[\w`<>$|+]+(?:\[[^\]]*\])?\()")
_REWRAPPED_MIN_FRAMES = 2


def _without_lead(lines: list[str]) -> list[str]:
    """The lines without the prefix every non-blank one starts with, digits aside, up to its last space (a process
    manager's or shipper's `3|app  | `, a syslog or CRI stamp): no printed frame teaches `strip_line_prefix` it."""
    masked = [_DIGIT.sub("0", line) for line in lines if line.strip()]
    if len(masked) < 2:
        return lines
    first, last = min(masked), max(masked)
    common = next((i for i, (a, b) in enumerate(zip(first, last, strict=False)) if a != b), min(len(first), len(last)))
    cut = first[:common].rfind(" ") + 1
    if cut == 0:
        return lines
    lead = first[:cut]
    return [line[cut:] if _DIGIT.sub("0", line[:cut]) == lead else line for line in lines]


def _read_behind_lead(lines: list[str], read: Callable[[list[str]], list[str] | None]) -> list[str]:
    """What `read` makes of the lines, or of the lines without the prefix every one carries (`_without_lead`,
    only tried when the lines as they are read as nothing); the lines unchanged when neither reads."""
    found = read(lines)
    if found is None:
        bare = _without_lead(lines)
        found = read(bare) if bare is not lines else None
    return lines if found is None else found


def from_rewrapped(lines: list[str]) -> list[str]:
    """A trace whose frames a copy ran into one line and wrapped after each `at` word (`_TRAILING_AT`) written
    as .NET prints it, one frame a line; only when no line is a frame already and the rewrite makes at least two
    frames, one of them with its file and line. Other lines unchanged."""
    if not any(_TRAILING_AT.search(line) for line in lines[:2000]) or any(is_frame(line) for line in lines):
        return lines
    joined: list[str] = []
    carry = ""
    for line in _without_lead(lines):
        if _TRAILING_AT.search(line):
            carry += line.strip() + " " if carry else line.rstrip() + " "
            continue
        joined.append(carry + line.strip() if carry else line)
        carry = ""
    if carry:
        joined.append(carry.rstrip())
    out = [part for line in joined for part in _INLINE_FRAME.sub("\n   ", line).split("\n")]
    frames = [m for line in out if (m := FRAME.match(line))]
    if len(frames) < _REWRAPPED_MIN_FRAMES or not any(m["line"] for m in frames):
        return lines
    return out


# Sentry's raw stack trace of a .NET event (getsentry/sentry `rawStacktraceContent`): a platform without a renderer
# of its own got the Python one, `  Module "<module>", line N, in <function>` for a frame without a file and the
# frame's context line below it, newest frame first under the `Type: value` preamble. SharpRaven sends a frame's
# declaring type as its module, the method's name as its function and `MethodBase.ToString()` as its context line:
# a return type, the name and the parameters' types alone (`Void MoveNext()`, `Void Handle(System.Object,
# System.EventArgs)`), which no Python source line reads as. Its line is an IL offset when the pdb is missing.
_SENTRY_MODULE = re.compile(
    r'^\s*Module "(?P<type>[A-Za-z_][\w`+]*(?:\.[A-Za-z_][\w`+]*)+)", line \d+, in (?P<fn>\.?[A-Za-z_<][\w<>`|]*)\s*$'
)
# a type as `Type.ToString()` writes it: no space in it (`List`1[System.String]`, `Int32[]`, `String&`), so `, `
# alone separates parameters and a line is read one way
_CLR_TYPE = r"[A-Z][^\s()]*"
_METHOD_STRING = re.compile(rf"^\s+{_CLR_TYPE} \.?[A-Za-z_<][\w<>`|]*\((?:{_CLR_TYPE}(?:, {_CLR_TYPE})*)?\)\s*$")


def from_sentry_modules(lines: list[str]) -> list[str]:
    """Sentry's raw rendering of a .NET event's frames (`_SENTRY_MODULE` with the method's signature below it)
    written as .NET prints them, `   at Ns.Type.Method()`, in the order shown (newest first, as .NET's own);
    other lines unchanged. Only a `Module` line whose next line is such a signature is read; behind a prefix
    every line carries (`_without_lead`) too, which then comes off."""
    if not any('Module "' in line for line in lines[:2000]):
        return lines
    return _read_behind_lead(lines, _sentry_frames)


def _sentry_frames(body: list[str]) -> list[str] | None:
    out: list[str] = []
    i, read = 0, 0
    while i < len(body):
        m = _SENTRY_MODULE.match(body[i])
        if m is not None and i + 1 < len(body) and _METHOD_STRING.match(body[i + 1]):
            out.append(f"   at {m['type']}.{m['fn']}()")
            i, read = i + 2, read + 1
            continue
        out.append(body[i])
        i += 1
    return out if read else None


# Application Insights' exception record (its Analytics `exceptions` table; the REST API's `EventsExceptionInfo`)
# copied from the portal as field names and values, each value on the line after its name or after a tab: `type`
# and `method`, "the method that threw the exception", the outermost exception's `outerType`, `outerMessage` and
# `outerMethod`, the innermost's `innermostType`, `innermostMessage` and `innermostMethod`; `problemId` reads
# `<type> at <method>`. No stack trace: each method a frame with no file.
_INSIGHTS_FIELDS = frozenset({
    "problemId", "type", "assembly", "method", "message", "outerType", "outerMessage", "outerAssembly",
    "outerMethod", "innermostType", "innermostMessage", "innermostAssembly", "innermostMethod", "severityLevel",
    "handledAt", "details",
})  # fmt: skip
_INSIGHTS_MIN_FIELDS = 4
_INSIGHTS_TAB = re.compile(r"^\s*(?P<name>[A-Za-z]+)\t+(?P<value>\S.*)$")
_QUALIFIED_METHOD = re.compile(r"^[A-Za-z_][\w`+]*(?:\.[A-Za-z_<][\w<>`+|]*)+$")


def _insights_record(lines: list[str]) -> tuple[int, dict[str, str]] | None:
    """The first line of an Application Insights record and its fields, or None when fewer than
    `_INSIGHTS_MIN_FIELDS` of its field names stand on lines of their own (or before a tab)."""
    fields: dict[str, str] = {}
    first: int | None = None
    for i, line in enumerate(lines[:2000]):
        name, value = line.strip(), None
        if (tabbed := _INSIGHTS_TAB.match(line)) is not None:
            name, value = tabbed["name"], tabbed["value"].rstrip()
        if name not in _INSIGHTS_FIELDS or name in fields:
            continue
        if value is None:
            nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
            value = "" if nxt in _INSIGHTS_FIELDS else nxt
        fields[name] = value
        first = i if first is None else first
    return (first, fields) if first is not None and len(fields) >= _INSIGHTS_MIN_FIELDS else None


def from_app_insights(lines: list[str]) -> list[str]:
    """An Application Insights exception record (`_INSIGHTS_FIELDS`) written as .NET prints the exception: the
    outer exception, ` ---> ` the one whose `method` threw, that method as its frame, then the outer method;
    the lines above the record stay (without the prefix every line carried, if the record was read behind one).
    Lines without such a record, or whose method is no qualified name, are returned as they are."""
    if not any(line.rstrip().endswith(("method", "innermostMethod")) or "method\t" in line for line in lines[:2000]):
        return lines
    return _read_behind_lead(lines, _insights_rendered)


def _insights_rendered(body: list[str]) -> list[str] | None:
    found = _insights_record(body)
    if found is None:
        return None
    first, f = found
    method = f.get("method") or f.get("innermostMethod") or ""
    exc_type = f.get("type") or f.get("innermostType") or ""
    if not _QUALIFIED_METHOD.match(method) or not exc_type:
        return None
    message = f.get("message") or (f.get("innermostMessage", "") if f.get("innermostType") == exc_type else "")
    thrown = [f"{exc_type}: {message}".rstrip(": ") if message else exc_type, f"   at {method}()"]
    outer, outer_method = f.get("outerType", ""), f.get("outerMethod", "")
    if not outer or outer == exc_type:
        return [*body[:first], *thrown]
    outer_message = f.get("outerMessage", "")
    rendered = [f"{outer}: {outer_message}" if outer_message else outer, f" ---> {thrown[0]}", thrown[1],
                "   --- End of inner exception stack trace ---"]  # fmt: skip
    if _QUALIFIED_METHOD.match(outer_method):
        rendered.append(f"   at {outer_method}()")
    return [*body[:first], *rendered]


def _dotnet_above(lines: list[str], last: int) -> bool:
    """Whether the nearest non-blank line above `last` is a frame with a .NET parameter list (`_PARAMETER`): a
    cut inside the first parameter's type (`at Ns.T.M (Ns.Core.I`, Mono's spacing) reads like a cut JVM location
    (`(Foo.ja`) alone, but not below a frame of the same entry that no JVM or V8 trace prints."""
    above = next((line for line in reversed(lines[:last]) if line.strip()), "")
    start = _FRAME_START.search(above) if "(" in above else None  # behind the prefix the cut line may carry too
    frame = FRAME.match(above[start.start("frame") :]) if start is not None else None
    return frame is not None and _PARAMETER.match(frame["args"]) is not None


# Unity's console and Player.log (UnityCsReference `Runtime/Export/Scripting/StackTrace.cs`, `StackTraceUtility`):
# the exception's short type and message, then its frames as Unity's Mono prints them, no `at`, the source after
# them, `Ns.Type.Method (Args) (at Assets/x.cs:44)`, or `(at <mvid>:0)` without symbols; then the frames
# `ExtractFormattedStackTrace` adds, `Ns.Type:Method(Args)` with the same optional ` (at path:line)`.
_UNITY_FRAME = re.compile(
    r"^\s*(?P<qual>[A-Za-z_<][^\s():]*?)(?P<colon>:[^\s():]+)? ?\((?P<args>[^()]*)\)"
    r"(?: \(at (?P<file>[^()]+):(?P<line>\d+)\))?\s*$"
)


def _unity_frame(line: str) -> re.Match[str] | None:
    """A Unity frame: a type's method (`Ns.Type.Method`, or `ExtractFormattedStackTrace`'s `Type:Method`, which
    names a type without a namespace too) with its source (`(at …)`) or in that `Type:Method` form; a bare
    `Foo.Bar()` is as likely code or prose."""
    m = _UNITY_FRAME.match(line) if "(" in line else None
    if m is None or not (m["file"] or m["colon"]) or not (m["colon"] or "." in m["qual"]):
        return None
    return m


def from_unity(lines: list[str]) -> list[str]:
    """A Unity trace (`_UNITY_FRAME`) written as .NET prints one, `   at Ns.Type.Method(Args) in path:line N`;
    only when a line names its source as only Unity writes it (`(at path:line)`), behind a prefix every line
    carries (`_without_lead`) too, which then comes off. Other lines unchanged."""
    if not any(" (at " in line for line in lines[:2000]):
        return lines
    return _read_behind_lead(lines, _unity_rewritten)


def _unity_rewritten(body: list[str]) -> list[str] | None:
    if not any(" (at " in line and (m := _unity_frame(line)) is not None and m["file"] for line in body[:2000]):
        return None
    out: list[str] = []
    for line in body:
        m = _unity_frame(line)
        if m is None:
            out.append(line)
            continue
        qual = m["qual"] + ("." + m["colon"][1:] if m["colon"] else "")
        out.append(f"   at {qual}({m['args']})" + (f" in {m['file']}:line {m['line']}" if m["file"] else ""))
    return out


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


def _unwrapped(lines: list[str]) -> list[str]:
    """Frames a mail client or an issue form hard-wrapped inside the path (`…/Indexe` + `rs/NCore.cs:line
    164`) joined again: only when the two lines make one frame with a file and a line, and neither is one."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if i + 1 < len(lines) and LOCALISED_AT.match(line) and not is_frame(line) and not is_frame(lines[i + 1]):
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
    lines = _unwrapped(lines)
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
