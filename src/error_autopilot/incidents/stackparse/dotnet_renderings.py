""".NET exceptions that other tools render their own way, rewritten as `Exception.ToString()` prints them, so
that one reader (`dotnet.py`) parses them all: App Center's Mono crash reports, ASP.NET Core's developer exception
page copied as text, traces whose line breaks a copy moved, Sentry's raw rendering of a .NET event, an Application
Insights exception record, and Unity's console. Each rewrite returns the lines unchanged when they are not its
rendering; `from_sentry_modules`, `from_app_insights` and `from_unity` also read them behind a prefix every line
carries (a process manager's or shipper's), which then comes off.
"""

from __future__ import annotations

import re

from error_autopilot.incidents.stackparse.common import read_behind_lead, without_lead
from error_autopilot.incidents.stackparse.dotnet import FRAME, FRAME_AT, is_frame

# Mono/Xamarin frames as App Center's GitHub issues print them: no `at`, an IL offset, the namespace after
# `;` (`Ns.T.M () [0x0005f] in C:\…\T.cs:167;Ns`), the exception below under `### Reason ###`.
_MONO_FRAME = re.compile(
    r"^\s*(?P<qual>[^\s()\[<][^\s()]*) \((?P<args>[^()]*)\) \[0x[0-9a-fA-F]+\] in (?P<file>.+?):(?P<line>\d+)"
    r"(?:;[\w.`]*)?\s*$"
)
_REASON = re.compile(r"^\s*#+\s*Reason\s*#*\s*$")

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


# App Center's crash view in the portal, copied as text: each frame on two lines, its namespace alone and then
# `Type.Method (Args)` with Mono's space before `(` and a generic type's parameters in brackets
# (`TaskAwaiter`1[TResult].GetResult ()`), no `at`, no file or line (the pastes in microsoft/appcenter#1061, a
# Xamarin crash, and files-community/Files#13663, a WinUI one). A namespace holds no space and no `(`.
_VIEW_NAMESPACE = re.compile(r"^\s*[A-Za-z_][\w`]*(?:\.[\w`<>]+)*\s*$")
_VIEW_METHOD = re.compile(r"^\s*(?P<qual>[A-Za-z_<][^\s()]*\.?[^\s()]*) \((?P<args>[^()]*)\)\s*$")
_VIEW_GENERIC = re.compile(r"\[[^\]]*\](?=\.)")  # .NET prints `TaskAwaiter`1.GetResult()`: no brackets
_VIEW_MIN_FRAMES = 2  # one namespace line above one call is as likely prose or code


def from_app_center_view(lines: list[str]) -> list[str]:
    """App Center's crash view copied as text (`_VIEW_NAMESPACE` then `_VIEW_METHOD`, frame after frame) written
    as .NET prints the frames, `   at Ns.Type.Method(Args)`; only when at least `_VIEW_MIN_FRAMES` such pairs
    are there and no line is a .NET frame already, behind a prefix every line carries (`without_lead`) too, which
    then comes off. Other lines unchanged."""
    if not any(" (" in line for line in lines[:2000]) or any(is_frame(line) for line in lines):
        return lines
    return read_behind_lead(lines, _view_rewritten)


def _view_rewritten(body: list[str]) -> list[str] | None:
    pairs = {i for i in range(len(body[:2000]) - 1)
             if _VIEW_NAMESPACE.match(body[i]) and _VIEW_METHOD.match(body[i + 1])}  # fmt: skip
    if len(pairs) < _VIEW_MIN_FRAMES:
        return None
    out: list[str] = []
    i = 0
    while i < len(body):
        if i in pairs and (m := _VIEW_METHOD.match(body[i + 1])) is not None:
            qual = _VIEW_GENERIC.sub("", f"{body[i].strip()}.{m['qual']}")
            out.append(f"   at {qual}({m['args']})")
            i += 2
            continue
        out.append(body[i])
        i += 1
    return out


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


def from_rewrapped(lines: list[str]) -> list[str]:
    """A trace whose frames a copy ran into one line and wrapped after each `at` word (`_TRAILING_AT`) written
    as .NET prints it, one frame a line; only when no line is a frame already and the rewrite makes at least two
    frames, one of them with its file and line. Other lines unchanged."""
    if not any(_TRAILING_AT.search(line) for line in lines[:2000]) or any(is_frame(line) for line in lines):
        return lines
    joined: list[str] = []
    carry = ""
    for line in without_lead(lines):
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
    every line carries (`without_lead`) too, which then comes off."""
    if not any('Module "' in line for line in lines[:2000]):
        return lines
    return read_behind_lead(lines, _sentry_frames)


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
    return read_behind_lead(lines, _insights_rendered)


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
    carries (`without_lead`) too, which then comes off. Other lines unchanged."""
    if not any(" (at " in line for line in lines[:2000]):
        return lines
    return read_behind_lead(lines, _unity_rewritten)


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

