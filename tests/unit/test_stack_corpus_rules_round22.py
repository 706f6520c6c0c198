"""Rules added after the twenty-second held-out set was read (issue 11). Each rule is checked on the real lines of
the case that showed it (`tests/fixtures/realworld/<ecosystem>/<case>/trace.txt`, quoted here so the test does
not move when the corpus does) and on variants it must leave alone."""

from __future__ import annotations

from error_autopilot.incidents.stackparse.dotnet_renderings import from_app_center_view
from error_autopilot.incidents.stacktrace import parse_stacktrace
from error_autopilot.investigation.stackmap import rank
from tests.support.stackrules import first_of, parsed

# dotnet/neowutran-shinrameter-78: log4net's crash line, the localised message, then Korean Windows' frames
_AT = "   위치: "
SHINRA = f"""\
2016-04-01 11:59:41,473 [10] ERROR DamageMeter.AutoUpdate.Program [(null)] - ##### CRASH (version=0.79): #####
지정한 키가 사전에 없습니다.
{_AT}System.Collections.Generic.Dictionary`2.get_Item(TKey key)
{_AT}DamageMeter.DamageTracker.RegisterDead(SCreatureLife dead)
{_AT}DamageMeter.NetworkController.PacketAnalysisLoop()
{_AT}System.Threading.ThreadHelper.ThreadStart_Context(Object state)
{_AT}System.Threading.ExecutionContext.RunInternal(ExecutionContext executionContext, ContextCallback callback, \
Object state, Boolean preserveSyncCtx)
{_AT}System.Threading.ThreadHelper.ThreadStart()
mscorlib
System.Collections.Generic.KeyNotFoundException: 지정한 키가 사전에 없습니다.
{_AT}System.Collections.Generic.Dictionary`2.get_Item(TKey key)
{_AT}DamageMeter.DamageTracker.RegisterDead(SCreatureLife dead)
"""
SHINRA_FILES = ["DamageMeter.AutoUpdate/Program.cs", "DamageMeter.Core/DamageTracker.cs",
                "DamageMeter.Core/NetworkController.cs", "Randomizer/Program.cs"]  # fmt: skip

# dotnet/files-community-files-13663: App Center's crash view copied as text, each frame over two lines
FILES_APP = """\
System
Number.ThrowOverflowOrFormatException (ParsingStatus status, ReadOnlySpan`1 value, TypeCode type)
System
Number.ParseInt64 (ReadOnlySpan`1 value, NumberStyles styles, NumberFormatInfo info)
System.String.System
IConvertible.ToInt64 (IFormatProvider provider)
Files.App.ViewModels.Properties.FileProperty.<>c
<.cctor>b__79_1 (Object input)
Files.App.ViewModels.Properties
FileProperty.ConvertToString ()
Files.App.Views.Properties.DetailsPage
DetailsPage_obj8_Bindings.Update_ (FileProperty obj, Int32 phase)
WinRT
ExceptionHelpers.<ThrowExceptionForHR>g__Throw|39_0 (Int32 hr)
"""
FILES_APP_FILES = ["src/Files.App/App.xaml.cs", "src/Files.App/ViewModels/Properties/Items/FileProperty.cs",
                   "src/Files.App/ViewModels/Properties/Items/FilePropertySection.cs",
                   "src/Files.App/Views/Properties/DetailsPage.xaml.cs"]  # fmt: skip

# python/facelessuser-tabsextra-43: Sublime Text 3's frames, the plugin's from its zipped package
_ST = "D:\\User\\Dropbox\\Applications\\SoftwareVersioning\\SublimeText"
TABSEXTRA = f"""\
Traceback (most recent call last):
  File "{_ST}\\sublime_plugin.py", line 389, in run_callback
    expr()
  File "{_ST}\\sublime_plugin.py", line 452, in <lambda>
    run_callback('on_close', callback, lambda: callback.on_close(v))
  File "tabs_extra in {_ST}\\Data\\Installed Packages\\TabsExtra.sublime-package", line 706, in on_close
UnboundLocalError: local variable 'window' referenced before assignment
"""
TABSEXTRA_FILES = ["tabs_extra.py", "tab_menu.py", "support.py", "sort/name.py", "lib/__init__.py"]


def test_korean_frames_with_their_colon_are_dotnet_frames() -> None:
    stack = parsed(SHINRA, ["DamageMeter"])
    assert stack.language == "dotnet"
    frames = stack.exceptions[0].frames
    assert [(f.module, f.function, f.in_app) for f in frames[:3]] == [
        ("System.Collections.Generic.Dictionary`2", "get_Item", False),
        ("DamageMeter.DamageTracker", "RegisterDead", True),
        ("DamageMeter.NetworkController", "PacketAnalysisLoop", True),
    ]  # fmt: skip
    first = first_of(SHINRA, SHINRA_FILES, ["DamageMeter"])
    assert (first.path, first.function) == ("DamageMeter.Core/DamageTracker.cs", "RegisterDead")


def test_a_korean_frame_with_its_file_reads_the_file_and_line() -> None:
    trace = ("System.Threading.ThreadAbortException: 스레드가 중단되었습니다.\n"
             f"{_AT}System.Threading.Thread.Sleep(Int32 millisecondsTimeout)\n"
             f"{_AT}AbortingThread.SideTask.KeepAlive() 파일 C:\\src\\AbortingThread\\SideTask.cs:줄 27\n")  # fmt: skip
    frame = parsed(trace).exceptions[0].frames[1]
    assert (frame.function, frame.file, frame.line) == ("KeepAlive", "C:\\src\\AbortingThread\\SideTask.cs", 27)


def test_korean_words_that_are_no_frame_are_left_alone() -> None:
    assert parse_stacktrace("위치: System.Console 네임스페이스에 있습니다\n위치: 서울\n") is None
    english = "System.Exception: boom\n   at Acme.Orders.Repo.Load(Int32 id) in /src/Repo.cs:line 42\n"
    assert parsed(english).exceptions[0].frames[0].file == "/src/Repo.cs"


def test_app_centers_crash_view_is_read_as_dotnet_frames() -> None:
    stack = parsed(FILES_APP, ["Files"], ["src"])
    assert stack.language == "dotnet"
    frames = stack.exceptions[0].frames
    assert [(f.module, f.function) for f in frames[:5]] == [
        ("System.Number", "ThrowOverflowOrFormatException"), ("System.Number", "ParseInt64"),
        ("System.String.System.IConvertible", "ToInt64"),
        ("Files.App.ViewModels.Properties.FileProperty", "<>c.<.cctor>b__79_1"),
        ("Files.App.ViewModels.Properties.FileProperty", "ConvertToString"),
    ]  # fmt: skip
    first = first_of(FILES_APP, FILES_APP_FILES, ["Files"], ["src"])
    assert first.path == "src/Files.App/ViewModels/Properties/Items/FileProperty.cs"


def test_app_centers_crash_view_behind_a_shippers_prefix_reads_the_same() -> None:
    lines = FILES_APP.splitlines()
    prefixed = "\n".join(f"2024-05-13T15:06:38.{n:03d}Z stderr F {line}" for n, line in enumerate(lines))
    first = first_of(prefixed, FILES_APP_FILES, ["Files"], ["src"])
    assert (first.path, first.function) == ("src/Files.App/ViewModels/Properties/Items/FileProperty.cs", "FileProperty")


def test_app_centers_crash_view_drops_monos_brackets_around_a_generic_types_parameters() -> None:
    lines = ["System.ArgumentOutOfRangeException: StartIndex cannot be less than zero.", "",
             "Microsoft.Runtime.CompilerServices", "TaskAwaiter`1[TResult].GetResult ()",
             "RPR.Mobile.Shared.Maps", "ParcelBoundaryUtility.GetImageUrl (System.Int32 mapWidth)"]  # fmt: skip
    assert from_app_center_view(lines)[2:] == [
        "   at Microsoft.Runtime.CompilerServices.TaskAwaiter`1.GetResult()",
        "   at RPR.Mobile.Shared.Maps.ParcelBoundaryUtility.GetImageUrl(System.Int32 mapWidth)",
    ]


def test_lines_that_only_look_like_app_centers_view_are_left_alone() -> None:
    one = ["System", "Number.ParseInt64 (ReadOnlySpan`1 value)", "done"]  # one pair alone is as likely prose
    assert from_app_center_view(one) is one
    prose = ["Example", "Run it as foo.bar (x) first", "Then", "call baz.qux(y)"]  # no space before `(`, words
    assert from_app_center_view(prose) is prose
    framed = ["System.Exception: boom", "   at Acme.Repo.Load(Int32 id)", "System", "Number.ParseInt64 (String s)",
              "System", "Number.Parse (String s)"]  # fmt: skip
    assert from_app_center_view(framed) is framed  # frames as .NET prints them already: nothing to rewrite
    python = 'Traceback (most recent call last):\n  File "/app/x.py", line 3, in main\n    go()\nValueError: x\n'
    assert parsed(python).language == "python"


def test_a_zipped_sublime_packages_frame_names_its_module_inside_the_package() -> None:
    stack = parsed(TABSEXTRA, ["tabs_extra"])
    inner = stack.exceptions[0].frames[0]
    assert (inner.function, inner.file, inner.line, inner.in_app) == ("on_close", "tabs_extra.py", 706, True)
    assert inner.raw.startswith('File "tabs_extra in ')  # the line as printed stays
    first = first_of(TABSEXTRA, TABSEXTRA_FILES, ["tabs_extra"])
    assert (first.path, first.function) == ("tabs_extra.py", "on_close")


def test_a_zipped_sublime_module_below_a_folder_is_that_folders_file() -> None:
    trace = TABSEXTRA.replace('File "tabs_extra in ', 'File "sort.name in ')
    assert parsed(trace, ["tabs_extra"]).exceptions[0].frames[0].file == "sort/name.py"
    assert first_of(trace, TABSEXTRA_FILES, ["tabs_extra"]).path == "sort/name.py"


def test_files_that_only_look_like_a_zipped_sublime_module_are_left_alone() -> None:
    for printed in ("tabs_extra in D:\\x\\TabsExtra.zip", "my module in D:\\x\\TabsExtra.sublime-package",
                    "tabs_extra.py"):  # fmt: skip
        trace = TABSEXTRA.replace(f"tabs_extra in {_ST}\\Data\\Installed Packages\\TabsExtra.sublime-package", printed)
        assert parsed(trace, ["tabs_extra"]).exceptions[0].frames[0].file == printed
    unknown = TABSEXTRA.replace('File "tabs_extra in ', 'File "missing in ')
    stack = parsed(unknown, ["tabs_extra"])
    assert all(c.path != "tabs_extra.py" for c in rank(stack, TABSEXTRA_FILES, packages=["tabs_extra"]).candidates)
