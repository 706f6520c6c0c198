"""Rules added after the sixteenth held-out set was read (issue 11). Each rule is checked on the real lines of
the corpus case that showed it (`tests/fixtures/realworld/<ecosystem>/<case>/trace.txt`, quoted here so the
test does not move when the corpus does) and on variants it must leave alone."""

from __future__ import annotations

import time
from collections.abc import Sequence

from error_autopilot.domain.stack import Frame, StackTrace
from error_autopilot.incidents.stackparse.dotnet_renderings import from_app_insights, from_sentry_modules
from error_autopilot.incidents.stackparse.pyrenderings import from_django
from error_autopilot.incidents.stacktrace import parse_stacktrace
from error_autopilot.investigation.framenames import enclosing_function, inferred_name
from error_autopilot.investigation.stackmap import Candidate, rank
from tests.support.stackrules import parsed

# dotnet/buttplugio-buttplug-csharp-269: Sentry's raw rendering of a SharpRaven event, newest frame first
BUTTPLUG = """\
ObjectDisposedException: Cannot access a disposed object.
Object name: 'System.Net.HttpListener'.
  Module "Buttplug.Apps.KiirooEmulatorGUI.KiirooEmulatorPanel", line 61, in HandleKiirooPlatformMessage
    Void HandleKiirooPlatformMessage(System.Object, System.UnhandledExceptionEventArgs)
  Module "Buttplug.Components.KiirooPlatformEmulator.KiirooPlatformEmulator", line 88, in StartServer
    Void MoveNext()

Cannot access a disposed object.
Object name: 'System.Net.HttpListener'.
"""
BUTTPLUG_FILES = ["Buttplug.Apps.KiirooEmulatorGUI/KiirooEmulatorPanel.xaml.cs",
                  "Buttplug.Apps.KiirooEmulatorGUI/MainWindow.xaml.cs",
                  "Buttplug.Components.KiirooPlatformEmulator/KiirooPlatformEmulator.cs",
                  "Buttplug.Server/Bluetooth/Devices/Kiiroo.cs"]  # fmt: skip

# dotnet/mlowijs-every-1: an Application Insights exception record, field names and values on alternate lines
EVERY = """\
problemId
System.NullReferenceException at Every.Concrete.DefaultJobManager.<OnTimerElapsed>b__12_1
type
System.NullReferenceException
assembly
Every, Version=1.0.0.0, Culture=neutral, PublicKeyToken=null
method
Every.Concrete.DefaultJobManager.<OnTimerElapsed>b__12_1
outerType
System.AggregateException
outerMessage
One or more errors occurred.
outerAssembly
mscorlib, Version=4.0.0.0, Culture=neutral, PublicKeyToken=b77a5c561934e089
outerMethod
System.Threading.Tasks.Task.ThrowIfExceptional
innermostType
System.NullReferenceException
innermostMessage
Object reference not set to an instance of an object.
"""
EVERY_FILES = ["Every/Concrete/DefaultJobManager.cs", "Every/Ever.y.csproj", "Tester/Program.cs"]

# python/qsbaq-vpsand.com-1: Django's debug-page summary table copied without its labels, heading cut
VPSAND = """\
Django Version: | 3.0.7
-- | --
TypeError
'NoneType' object is not subscriptable
/root/vps-stock-monitor/vps/views.py in index, line 31
/usr/bin/python3
3.8.2
['/root/vps-stock-monitor',  '/usr/lib/python38.zip',  '/usr/lib/python3.8',  \
'/usr/lib/python3.8/lib-dynload',  '/usr/local/lib/python3.8/dist-packages',  '/usr/lib/python3/dist-packages']
"""

# python/itisfoundation-osparc-simcore-428: a log view that ends every line with a comma (the head of the paste)
OSPARC = """\
ERROR:aiohttp.server:Error handling request,
Traceback (most recent call last):,
  File "/home/scu/.venv/lib/python3.6/site-packages/aiohttp/web_protocol.py", line 378, in start,
    resp = await self._request_handler(request),
  File "/home/scu/.venv/lib/python3.6/site-packages/simcore_service_webserver/reverse_proxy/routing.py", line 95, \
in do_route,
    proxy_path=proxy_path),
  File "/home/scu/.venv/lib/python3.6/site-packages/simcore_service_webserver/reverse_proxy/handlers/jupyter.py", \
line 40, in handler,
    if reqH['connection'].lower() == 'upgrade' and reqH['upgrade'].lower() == 'websocket' and req.method == 'GET':,
"""

# node/lbryfoundation-lbry-wunderbot-231: Node 8 named the arrow given to `bot.on` after the call and its parameter
LBRY = """\
TypeError: Cannot read property 'length' of null
    at Client.bot.on.msg (/home/lbry/wunderbot/bot/modules/lbrylink.js:25:32)
    at emitOne (events.js:121:20)
    at Client.emit (events.js:211:7)
"""
# the definitions of lbrylink.js (its symbols) as a source file: the literal's line inside `exports.lbrylink`
LBRY_SOURCE = ["let inPrivate = require('../helpers.js').inPrivate;", "exports.custom = [", "  'lbrylink'", "];", "",
               "", "exports.lbrylink = async function(bot, msg, suffix) {", "  bot.on('message', msg => {",
               *["    msg.content = msg.content.trim();"] * 29, "  });", "};"]  # fmt: skip


def _first(trace: str, files: Sequence[str], packages: Sequence[str] = ()) -> Candidate:
    return rank(parsed(trace, packages), files, packages=packages).candidates[0]


def _frames(stack: StackTrace) -> list[tuple[str, str | None, str | None, int | None]]:
    return [(f.function, f.module, f.file, f.line) for e in stack.exceptions for f in e.frames]


def test_sentrys_raw_rendering_of_a_dotnet_event_is_read_newest_frame_first() -> None:
    stack = parsed(BUTTPLUG, ["Buttplug"])
    assert stack.language == "dotnet"
    exc = stack.exceptions[0]
    assert exc.type == "ObjectDisposedException"
    assert exc.message == "Cannot access a disposed object.\nObject name: 'System.Net.HttpListener'."
    assert _frames(stack) == [
        ("HandleKiirooPlatformMessage", "Buttplug.Apps.KiirooEmulatorGUI.KiirooEmulatorPanel", None, None),
        ("StartServer", "Buttplug.Components.KiirooPlatformEmulator.KiirooPlatformEmulator", None, None),
    ]
    ranked = rank(stack, BUTTPLUG_FILES, packages=["Buttplug"]).candidates
    assert [c.path for c in ranked[:2]] == [BUTTPLUG_FILES[0], BUTTPLUG_FILES[2]]


def test_a_module_line_without_a_dotnet_signature_below_it_is_left_as_it_is() -> None:
    python_frames = [
        "ValueError: bad",
        '  Module "app.views", line 3, in index',
        "    return render(request)",  # a Python source line: lower case, a name in the parentheses
        '  Module "app.urls", line 9, in resolve',
        "    Int32 total(count)",  # a parameter with a name: no `MethodBase.ToString()`
    ]
    assert from_sentry_modules(python_frames) is python_frames
    prose = ["the Module \"Acme.Orders\" line was missing", "    Void MoveNext()"]
    assert from_sentry_modules(prose) is prose


def test_a_sentry_module_line_reads_constructors_and_generic_parameters() -> None:
    lines = [
        "InvalidOperationException: no",
        '  Module "Acme.Orders.Repo", line 12, in .ctor',
        "    Void .ctor(System.Collections.Generic.List`1[System.String], Int32)",
    ]
    assert from_sentry_modules(lines)[1:] == ["   at Acme.Orders.Repo..ctor()"]


def test_an_application_insights_record_is_read_as_the_exception_its_method_threw() -> None:
    stack = parsed(EVERY, ["Every"])
    assert stack.language == "dotnet"
    outer, inner = stack.exceptions
    assert (outer.type, outer.message) == ("System.AggregateException", "One or more errors occurred.")
    assert (inner.type, inner.message) == (
        "System.NullReferenceException", "Object reference not set to an instance of an object."
    )  # fmt: skip
    assert [(f.function, f.module) for f in inner.frames] == [
        ("<OnTimerElapsed>b__12_1", "Every.Concrete.DefaultJobManager")
    ]
    assert [(f.function, f.in_app) for f in outer.frames] == [("ThrowIfExceptional", False)]
    first = _first(EVERY, EVERY_FILES, ["Every"])
    assert (first.path, first.function) == ("Every/Concrete/DefaultJobManager.cs", "OnTimerElapsed")


def test_an_application_insights_record_copied_with_tabs_reads_the_same() -> None:
    tabbed = EVERY.replace("\nSystem.", "\tSystem.").replace("\nEvery", "\tEvery").replace("\nmscorlib", "\tmscorlib")
    tabbed = tabbed.replace("\nOne", "\tOne").replace("\nObject", "\tObject")
    assert "method\tEvery.Concrete" in tabbed
    assert _frames(parsed(tabbed, ["Every"])) == _frames(parsed(EVERY, ["Every"]))


def test_a_record_with_one_exception_has_no_inner_one() -> None:
    lines = ["type", "Acme.OrderException", "method", "Acme.Orders.Service.Place", "message", "no stock",
             "assembly", "Acme, Version=1.0.0.0"]  # fmt: skip
    assert from_app_insights(lines) == ["Acme.OrderException: no stock", "   at Acme.Orders.Service.Place()"]


def test_words_that_happen_to_be_field_names_are_no_record() -> None:
    prose = ["method", "We changed the method", "type", "of the call", "message", "hello"]
    assert from_app_insights(prose) is prose  # three names: fewer than a record shows
    unqualified = ["type", "System.Exception", "method", "Place", "outerType", "System.Exception", "assembly", "A"]
    assert from_app_insights(unqualified) is unqualified  # a method with no type in front is no frame
    spaced = ["type", "System.Exception", "method", "Acme.Orders.Place the order", "outerType", "X", "assembly", "A"]
    assert from_app_insights(spaced) is spaced


def test_djangos_summary_table_from_its_version_row_is_a_one_frame_traceback() -> None:
    stack = parsed(VPSAND, source_roots=["vps"])
    assert stack.language == "python"
    exc = stack.exceptions[0]
    assert (exc.type, exc.message) == ("TypeError", "'NoneType' object is not subscriptable")
    assert [(f.function, f.file, f.line) for f in exc.frames] == [("index", "/root/vps-stock-monitor/vps/views.py", 31)]


def test_the_version_row_with_the_labels_of_the_other_rows_or_no_location_is_left_to_the_other_readers() -> None:
    no_location = VPSAND.replace("/root/vps-stock-monitor/vps/views.py in index, line 31\n", "")
    assert parse_stacktrace(no_location) is None
    no_type = VPSAND.replace("TypeError\n", "The page said\n")
    assert from_django(no_type.splitlines()) == no_type.splitlines()  # the cell below the rule is no type
    version_only = ["Django Version: 3.0.7", "everything else is fine"]
    assert from_django(version_only) == version_only


def test_the_version_row_behind_a_shippers_prefix_reads_the_same() -> None:
    shipped = "\n".join(f"web_1  | {line}" for line in VPSAND.splitlines())
    assert _frames(parsed(shipped)) == _frames(parsed(VPSAND))


def test_a_comma_after_every_line_is_no_part_of_a_python_frames_function() -> None:
    stack = parsed(OSPARC, ["simcore_service_webserver"])
    assert [f.function for f in stack.exceptions[0].frames] == ["handler", "do_route", "start"]
    first = _first(OSPARC, ["services/web/server/src/simcore_service_webserver/reverse_proxy/handlers/jupyter.py",
                            "services/web/server/src/simcore_service_webserver/reverse_proxy/routing.py"],
                   ["simcore_service_webserver"])  # fmt: skip
    assert first.function == "handler"


def test_a_function_name_without_a_trailing_comma_is_unchanged() -> None:
    trace = 'Traceback (most recent call last):\n  File "/app/a.py", line 3, in <module>\n' \
            '  File "/app/b.py", line 9, in run\nKeyError: 1\n'  # fmt: skip
    assert [f.function for f in parsed(trace).exceptions[0].frames] == ["run", "<module>"]


def _lbry_frame() -> Frame:
    return parsed(LBRY).exceptions[0].frames[0]


def test_a_v8_name_of_three_dotted_parts_is_inferred_and_the_function_around_the_line_names_the_literal() -> None:
    frame = _lbry_frame()
    assert (frame.function, frame.line) == ("Client.bot.on.msg", 25)
    assert inferred_name(frame) == "bot.on.msg"
    assert enclosing_function(LBRY_SOURCE, frame.line, "node") == "lbrylink"


def test_a_v8_name_a_declaration_could_give_is_not_inferred() -> None:
    for function in ("Client.emit", "emitOne", "Object.<anonymous>", "async Promise.all", "Router.handle [as get]",
                     "new Foo.Bar"):  # fmt: skip
        frame = Frame(function=function, file="/app/a.js", line=3, raw=f"    at {function} (/app/a.js:3:1)")
        assert inferred_name(frame) is None, function
    aliased = Frame(function="Object.module.exports.handler [as run]", file="/app/a.js", line=3)
    assert inferred_name(aliased) == "module.exports.handler"


def test_an_assigned_literal_keeps_the_name_it_was_assigned_to() -> None:
    source = ["module.exports.handler = function (req, res) {", "  res.send(req.body.x.y);", "};"]
    frame = Frame(function="Object.module.exports.handler", file="/app/a.js", line=2)
    assert inferred_name(frame) is not None
    assert enclosing_function(source, 2, "node") == "handler"


def test_the_sentry_frames_and_the_insights_record_read_the_same_behind_a_shippers_prefix() -> None:
    buttplug, every = parsed(BUTTPLUG, ["Buttplug"]), parsed(EVERY, ["Every"])
    for prefix in ("3|app  | ", "web_1  | "):
        shipped = "\n".join(prefix + line for line in BUTTPLUG.splitlines())
        assert _frames(parsed(shipped, ["Buttplug"])) == _frames(buttplug)
        shipped = "\n".join(prefix + line for line in EVERY.splitlines())
        assert _frames(parsed(shipped, ["Every"])) == _frames(every)
    stamped = "\n".join(f"May 13 15:06:{n:02d} host app[7]: {line}" for n, line in enumerate(EVERY.splitlines()))
    assert _frames(parsed(stamped, ["Every"])) == _frames(every)


# go/tron-us-go-btfs-477: the panic quoted in Markdown, `> ` before every line
TRON = """\
> panic: runtime error: index out of range [9] with length 9
>{" "}
> goroutine 413010 [running]:
> github.com/TRON-US/go-btfs/core/commands/storage/upload/upload.glob..func1(0xc00300b650, 0x25ec4c0, 0xc0034b8180)
>         /go-btfs/core/commands/storage/upload/upload/init.go:110 +0xcf2
> github.com/TRON-US/go-btfs-cmds.(*Command).call.func1(0xc005d80420, 0x33b7d20, 0xc00300b650, 0x25ec4c0)
>         pkg/mod/github.com/!t!r!o!n-!u!s/go-btfs-cmds@v0.1.6/command.go:118 +0x66
> created by github.com/TRON-US/go-btfs-cmds.(*Command).call
>         pkg/mod/github.com/!t!r!o!n-!u!s/go-btfs-cmds@v0.1.6/command.go:117 +0x2bb
""".replace("{\" \"}", " ")


def test_an_indented_markdown_quote_of_a_go_panic_reads_as_the_quote_alone() -> None:
    plain = parsed(TRON, ["github.com/TRON-US/go-btfs"])
    assert plain.exceptions[0].type == "panic"
    assert plain.exceptions[0].frames[0].file == "/go-btfs/core/commands/storage/upload/upload/init.go"
    indented = parsed("\n".join("    " + line for line in TRON.splitlines()), ["github.com/TRON-US/go-btfs"])
    assert indented.exceptions[0].type == "panic"
    assert _frames(indented) == _frames(plain)
    # a position line as the runtime prints it, indented or not, is still one
    printed = "panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n    /app/main.go:3 +0x1\n"
    assert _frames(parsed(printed)) == [("main", "main", "/app/main.go", 3)]


def test_hostile_sentry_and_insights_lines_are_read_in_one_pass() -> None:
    hostile = [
        'X: y\n  Module "A.B", line 1, in C\n    Void M(' + "A[][], " * 2000 + "\n",  # no closing parenthesis
        'X: y\n  Module "A.B", line 1, in C\n    Void M(' + "A," * 4000 + "\n",
        "type\nA\nmethod\nA.B\nouterType\nB\nassembly\tx" + " " * 8000 + "y\n",
    ]
    for text in hostile:
        started = time.perf_counter()
        parse_stacktrace(text)
        assert time.perf_counter() - started < 5.0  # measured ≤ 2 ms: a blow-up guard, not a benchmark
