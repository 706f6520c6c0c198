"""Go panics and goroutine dumps.

    panic: runtime error: index out of range [5] with length 3 [recovered]
    goroutine 7 [running]:
    github.com/acme/orders/api.(*Handler).Get(0xc000010000, {0x1, 0x2})
    <tab>/app/api/handler.go:57 +0x1d

Only the panicking goroutine counts (the first `[running]` one, else the first printed). Nested
panics (`panic: A [recovered]` then `panic: B`) become B caused-by A; the frames belong to B.
Without a `goroutine N [...]:` line (a logger's stack field, `%+v` of pkg/errors, a cut paste) the
frames are read wherever call/file line pairs are. Kubernetes' `HandleCrash` (apimachinery's
`logPanic`, klog) prints `Observed a panic: <value> (<error>)` (`Recovered from panic:` before 1.3)
and, in its older releases, only
`runtime.Caller` positions, one bare `/path/file.go:76` a line: those are frames whose function the
source has to name.
"""

from __future__ import annotations

import re

from error_autopilot.incidents.stackparse.common import ExceptionBuilder, InApp, to_int
from error_autopilot.incidents.stackparse.loose import UNNAMED

PANIC = re.compile(r"^\s*(?P<kind>panic|fatal error): (?P<msg>.*?)(?: \[recovered(?:, repanicked)?\])?\s*$")
# Go 1.21+: `gp=0x… m=3`; the runtime writes it at the line's start, a logger that indents a whole trace before it
GOROUTINE = re.compile(r"^\s*goroutine \d+(?: \w+=\S+)* \[(?P<state>[^\]]*)\]:\s*$")
# A pager that chops long lines (`less -S`, which journalctl and systemctl use) ends a cut one with `>`
# (less's `--rscroll` mark): a call line cut inside its arguments still names its function.
_CALL = re.compile(r"^\s*(?P<qual>[^\s()][^\s]*?)(?:\((?P<args>[^()]*)(?:\)|>))?\s*$")
_FILE = re.compile(  # indented by the runtime; pastes often lose the tab
    r"^\s*(?P<file>\S[^:]*\.(?:go|s)):(?P<line>\d+)(?: \+0x[0-9a-fA-F]+)?(?: (?:fp|sp|pc)=0x[0-9a-fA-F]+)*\s*$"
)
_MAJOR_VERSION = re.compile(r"^v\d+$")
# The entry's last line, a call line whose position line was cut off below it, its arguments maybe cut too (a
# size limit on the log line: Loki's `max_line_size_truncate`, journald's `LineMax`; a paste cut short): the
# runtime prints a frame's function with its arguments on one line and `<tab><file>:<line> +0x…` on the next
# (runtime/traceback.go `traceback2`, `printArgs`: hex words, `{…}`, `...`, `?`), so the function is whole.
_CUT_CALL = re.compile(r"^\s*(?P<qual>[^\s()][^\s]*?\.[^\s]*?)\((?P<args>[0-9a-fA-Fx, .{}?]*)\)?\s*$")
# A method's receiver is the first argument the traceback prints (runtime/traceback.go `printArgs`; a value it
# could not read exactly carries `?` since Go 1.18): `(*Logger).Trace(0x0, …)` ran on a nil pointer. The
# position line does not say so, so such a frame keeps its call line in `raw`, above the position.
NIL_RECEIVER = re.compile(r"\.\(\*[^()]+\)\.[\w.]+\(0x0[,)]")
# apimachinery's logPanic: `Observed a panic: "invalid memory address…" (runtime error: …)`, behind klog's prefix
OBSERVED = re.compile(r"(?:Observed a panic|Recovered from panic):? (?P<msg>.*?)\s*$")  # the wording changed once
# net/http recovers a handler's panic and logs it as one record, the value then the goroutine's stack, with no
# `panic:` line of the runtime's (server.go `(*conn).serve`: `c.server.logf("http: panic serving %v: %v\n%s",
# c.remoteAddr, err, buf)`); the address is whatever the listener reports, so it ends at the first `: `
SERVED = re.compile(r"\bhttp: panic serving (?P<addr>.*?): (?P<msg>.*?)\s*$")

# gccgo before GCC 9 named a method `<pkgpath>.<method>.<receiver type>`, the type mangled as
# `N<length>_<pkgpath>.<Type>` and a pointer's as `p` before it (gofrontend's `Named_type::do_mangled_name`,
# `Pointer_type::do_mangled_name`), and its traceback prints that symbol as the frame's function:
# `main.Parse.N18_main.GitIgnoreFile` is `GitIgnoreFile`'s `Parse`; `runtime.FuncForPC` returns
# `…novaservice.removeServer.pN49_…novaservice.Nova` (go-goose/goose `testservices/hook/service_gccgo.go`). The
# length counts the receiver exactly, and a method's receiver type is declared in the method's own package (the Go
# spec, "Method declarations"): both are checked.
_GCCGO_METHOD = re.compile(
    r"^(?P<pkg>[^\s()]+?)\.(?P<method>[A-Za-z_]\w*)\.(?P<pointer>p?)N(?P<length>\d{1,4})_(?P<receiver>\S+)$"
)


def _gccgo_method(qual: str) -> tuple[str, str] | None:
    """(package, `Type.Method` or `(*Type).Method`, as gc prints it) for a method gccgo named by its mangled
    receiver (`_GCCGO_METHOD`); None for any other name."""
    # a call line's name holds no whitespace; with none, the first `.N<len>_` settles the match (no backtracking)
    m = _GCCGO_METHOD.match(qual) if "N" in qual and not any(ch.isspace() for ch in qual) else None
    if m is None or len(m["receiver"]) != int(m["length"]):
        return None
    package, _, type_name = m["receiver"].rpartition(".")
    if package != m["pkg"] or not type_name.isidentifier():
        return None
    receiver = f"(*{type_name})" if m["pointer"] else type_name
    return package, f"{receiver}.{m['method']}"


def split_qualified(qual: str) -> tuple[str, str]:
    """`github.com/a/b.(*T).M` → (`github.com/a/b`, `(*T).M`); `main.main.func1` → (`main`, `main.func1`); gccgo's
    `main.Parse.N18_main.GitIgnoreFile` → (`main`, `GitIgnoreFile.Parse`)."""
    if (gccgo := _gccgo_method(qual)) is not None:
        return gccgo
    slash = qual.rfind("/")
    head, tail = qual[: slash + 1], qual[slash + 1 :]
    parts = tail.split(".")
    cut = 1
    if len(parts) > 2 and _MAJOR_VERSION.match(parts[1]):
        cut = 2
    return head + ".".join(parts[:cut]), ".".join(parts[cut:]) or tail


def _goroutine_lines(lines: list[str]) -> list[str]:
    starts = [(i, m["state"]) for i, line in enumerate(lines) if (m := GOROUTINE.match(line))]
    if not starts:
        return lines
    start = next((i for i, state in starts if "running" in state), starts[0][0])
    end = next((i for i, _ in starts if i > start), len(lines))
    return lines[start + 1 : end]


def parse(lines: list[str], in_app: InApp) -> tuple[list[ExceptionBuilder], bool]:
    """The final panic first, then the panics it recovered from; frames of the panicking goroutine."""
    panics = _panics(lines, in_app)
    body = _goroutine_lines(lines)
    if not panics and not body:
        return [], False
    excs = list(reversed(panics)) or [ExceptionBuilder(type="goroutine", in_app=in_app)]
    _add_frames(excs[0], body)
    return excs, False


def _panics(lines: list[str], in_app: InApp) -> list[ExceptionBuilder]:
    """Panic headers in printed order; lines right below one continue its message. net/http's record of a
    panic it recovered (`SERVED`) names the panic only where no header does."""
    panics: list[ExceptionBuilder] = []
    current: ExceptionBuilder | None = None
    served: ExceptionBuilder | None = None
    for line in lines:
        if GOROUTINE.match(line):
            current = None
        elif m := PANIC.match(line):
            current = ExceptionBuilder(type=m["kind"], message=m["msg"], in_app=in_app)
            panics.append(current)
        elif m := OBSERVED.search(line):
            current = ExceptionBuilder(type="panic", message=m["msg"], in_app=in_app)
            panics.append(current)
        elif served is None and "http: panic serving " in line and (m := SERVED.search(line)):
            served, current = ExceptionBuilder(type="panic", message=m["msg"], in_app=in_app), None
        elif current and line.strip() and not line.startswith("[signal ") and not _FILE.match(line):
            current.add_message_line(line.strip())
        else:
            current = None
    return panics or ([served] if served is not None else [])


def _add_frames(exc: ExceptionBuilder, body: list[str]) -> None:
    call: tuple[str, str] | None = None
    nil_receiver = ""  # the call line, when it shows a method called on a nil pointer
    # a line of dots after it is where the reporter cut the paste, no line of the runtime's
    last = next((i for i in range(len(body) - 1, -1, -1) if body[i].strip() not in ("", "...", "…")), -1)
    for at, line in enumerate(body):
        if line.lstrip().startswith("created by "):  # the goroutine's creator: not on its stack
            break
        if at == last and call is None and exc.frames and (cut := _CUT_CALL.match(line)):
            package, name = split_qualified(cut["qual"])
            exc.add_frame(name, package, None, None, line)  # its position was cut off (`_CUT_CALL`)
            break
        if f := _FILE.match(line):
            function, module = (call[1], call[0]) if call else (UNNAMED, None)
            raw = f"{nil_receiver.strip()[:200]}\n{line.strip()}" if nil_receiver else line  # within the cap
            exc.add_frame(function, module, f["file"], to_int(f["line"]), raw)
            call, nil_receiver = None, ""
        elif (m := _CALL.match(line)) and not PANIC.match(line):
            call, nil_receiver = split_qualified(m["qual"]), line if NIL_RECEIVER.search(line) else ""
        elif not line.strip() and exc.frames:
            break
        else:
            call, nil_receiver = None, ""
