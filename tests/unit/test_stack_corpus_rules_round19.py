"""Rules added after the nineteenth held-out set was read (issue 11). Each rule is checked on the real lines of
the corpus case that showed it (`tests/fixtures/realworld/<ecosystem>/<case>/trace.txt`, quoted here so the
test does not move when the corpus does) and on variants it must leave alone."""

from __future__ import annotations

from error_autopilot.incidents.stackparse import jvm, node
from error_autopilot.incidents.stackparse.dotnet import closed_at_the_end, is_frame
from error_autopilot.incidents.stackparse.dotnet_renderings import from_unity
from error_autopilot.incidents.stacktrace import parse_stacktrace
from tests.support.stackrules import first_of, parsed

# jvm/pacien-tincapp-59: a Google Play Console crash report, its header lines and Play's spaced frames
TINCAPP = """\
Jul 19, 1:09 PM on app version 17
OnePlus OnePlus3 (OnePlus3), Android 8.1
Report 1 of 1
kotlin.KotlinNullPointerException:{SPACE}
  at org.pacien.tincapp.activities.StatusActivity.onItemClick (StatusActivity.kt:101)
  at android.widget.AdapterView.performItemClick (AdapterView.java:318)
  at android.widget.AbsListView.performItemClick (AbsListView.java:1158)
  at android.widget.AbsListView$PerformClick.run (AbsListView.java:3127)
  at android.widget.AbsListView$3.run (AbsListView.java:4042)
  at android.os.Handler.handleCallback (Handler.java:790)
  at android.os.Handler.dispatchMessage (Handler.java:99)
  at android.os.Looper.loop (Looper.java:164)
  at android.app.ActivityThread.main (ActivityThread.java:6494)
  at java.lang.reflect.Method.invoke (Native Method)
  at com.android.internal.os.RuntimeInit$MethodAndArgsCaller.run (RuntimeInit.java:440)
  at com.android.internal.os.ZygoteInit.main (ZygoteInit.java:807)
""".replace("{SPACE}", " ")
TINCAPP_FILES = [
    "app/src/main/java/org/pacien/tincapp/activities/BaseActivity.kt",
    "app/src/main/java/org/pacien/tincapp/activities/StartActivity.kt",
    "app/src/main/java/org/pacien/tincapp/activities/StatusActivity.kt",
]

# dotnet/sovetskyfish-pixivfs-uwp-33: a UWP app's crash report, .NET Native frames with their native offsets
PIXIV = """\
General:
OS version: build 18362
App version: 2.5.5 X64
Package ID: 18416PixeezPlusProject.PixivUWP

Exception:
System.FormatException: Input string was not in a correct format.
   at System.Number.ThrowOverflowOrFormatException(Boolean, String) + 0x63
   at System.Number.ParseInt32(ReadOnlySpan`1, NumberStyles, NumberFormatInfo) + 0x11f
   at System.Int32.Parse(String, IFormatProvider) + 0x49
   at System.Convert.ToInt32(String) + 0x20
   at PixivFSUWP.SearchPage.GoPixivID_QuerySubmitted(AutoSuggestBox, AutoSuggestBoxQuerySubmittedEventArgs) + 0x6b
   at System.Xml.XmlTextReaderImpl.OnDefaultAttributeUseDelegate.Invoke(IDtdDefaultAttributeInfo, \
XmlTextReaderImpl) + 0x2e
   at __Interop.Intrinsics.HasThisCall__21[TArg0](Object, IntPtr, Object, TArg0) + 0x36
   at PixivFSUWP!<BaseAddress>+0xaaf6b3
"""
PIXIV_FILES = ["PixivFSUWP/MainPage.xaml.cs", "PixivFSUWP/SearchPage.xaml", "PixivFSUWP/SearchPage.xaml.cs"]

# dotnet/hecomi-urepl-17: Unity's console, frames without `at` and their source after them
UREPL = """\
IndexOutOfRangeException: Index was outside the bounds of the array.
uREPL.Completion+<>c__DisplayClass11_0.<Start>b__0 () (at Assets/External/uREPL/Scripts/Core/Completion.cs:44)
System.Threading.ThreadHelper.ThreadStart_Context (System.Object state) (at <ac823e2bb42b41bda67924a45a0173c3>:0)
System.Threading.ThreadHelper.ThreadStart () (at <ac823e2bb42b41bda67924a45a0173c3>:0)
UnityEngine.UnhandledExceptionHandler:<RegisterUECatcher>m__0(Object, UnhandledExceptionEventArgs)
"""
UREPL_FILES = [
    "Assets/uREPL/Scripts/Core/Completion.cs",
    "Assets/uREPL/Scripts/Core/CompletionPlugin.cs",
    "Assets/uREPL/Scripts/Gui/Window/CompletionView.cs",
]

# dotnet/markfinal-buildamation-322: Mono's frames; the paste ends inside the first own frame's first parameter
BAM = """\
Running build

System.FormatException not handled: Input string was not in a correct format.
  at System.Int32.Parse (System.String s, System.IFormatProvider provider) [0x00008] in \
<dbb16e0bacdc4a0f87478e401bc29b6c>:0
  at System.Convert.ToInt32 (System.String value) [0x0000e] in <dbb16e0bacdc4a0f87478e401bc29b6c>:0
  at Bam.Core.CommandLineProcessor.Evaluate (Bam.Core.I"""
BAM_FILES = ["Bam.Core/CommandLineProcessor.cs", "packages/CommandLineProcessor/bam/Scripts/Processor.cs"]


def test_play_consoles_spaced_frames_are_jvm_frames() -> None:
    stack = parsed(TINCAPP, ["org.pacien.tincapp"], ["app/src/main/java"])
    assert stack.language == "jvm"
    exc = stack.exceptions[0]
    assert exc.type == "kotlin.KotlinNullPointerException"
    assert [(f.module, f.function, f.file, f.line) for f in exc.frames[:2]] == [
        ("org.pacien.tincapp.activities.StatusActivity", "onItemClick", "StatusActivity.kt", 101),
        ("android.widget.AdapterView", "performItemClick", "AdapterView.java", 318),
    ]
    assert len(exc.frames) == 12 and exc.frames[9].function == "invoke" and exc.frames[9].file is None
    assert [f.in_app for f in exc.frames].count(True) == 1
    first = first_of(TINCAPP, TINCAPP_FILES, ["org.pacien.tincapp"], ["app/src/main/java"])
    assert (first.path, first.function) == (TINCAPP_FILES[2], "onItemClick")


def test_play_consoles_words_for_no_source_are_jvm_locations() -> None:
    for line in ("  at java.lang.reflect.Method.invoke (Native method)",
                 "  at com.acme.app.SingleLiveEvent.setValue (Unknown Source:6)",
                 "  at android.app.ActivityThread.-wrap19 (Unknown Source)"):  # fmt: skip
        assert jvm.is_frame(line), line


def test_v8_frames_with_a_space_stay_v8_frames() -> None:
    for line in ("    at getUser (/app/dist/users.js:10:5)",
                 "    at new Promise (<anonymous>)",
                 "    at Array.forEach (native)",
                 "    at Object.<anonymous> (index.js:12)",  # no JVM language's file
                 "    at Main.run (Main.java:12:5)",  # a column: only V8 prints one
                 "    at async Promise.all (index 0)"):  # fmt: skip
        assert not jvm.is_frame(line), line
    trace = "TypeError: x\n    at getUser (/app/dist/users.js:10:5)\n    at new Promise (<anonymous>)\n"
    stack = parsed(trace)
    assert stack.language == "node"
    assert node.is_frame("    at new Promise (<anonymous>)")


def test_jvm_frames_printed_by_the_jvm_read_as_before() -> None:
    trace = "java.lang.IllegalStateException: x\n\tat com.acme.Main.run(Main.java:12)\n\tat com.acme.M.main(M.java:3)\n"
    frames = parsed(trace).exceptions[0].frames
    assert [(f.function, f.file, f.line) for f in frames] == [("run", "Main.java", 12), ("main", "M.java", 3)]


def test_dotnet_native_frames_with_their_native_offset_are_frames() -> None:
    stack = parsed(PIXIV, ["PixivFSUWP"])
    assert stack.language == "dotnet"
    exc = stack.exceptions[0]
    assert (exc.type, exc.message) == ("System.FormatException", "Input string was not in a correct format.")
    assert [(f.module, f.function, f.file) for f in exc.frames[3:5]] == [
        ("System.Convert", "ToInt32", None),
        ("PixivFSUWP.SearchPage", "GoPixivID_QuerySubmitted", None),
    ]
    assert len(exc.frames) == 7  # the module-relative address names no method
    first = first_of(PIXIV, PIXIV_FILES, ["PixivFSUWP"])
    assert (first.path, first.function) == ("PixivFSUWP/SearchPage.xaml.cs", "GoPixivID_QuerySubmitted")


def test_an_offset_that_is_no_native_offset_is_no_frame() -> None:
    assert is_frame("   at System.Convert.ToInt32(String) + 0x20")
    assert not is_frame("   at System.Convert.ToInt32(String) + 0xzz")
    assert not is_frame("   at System.Convert.ToInt32(String) + 32")
    assert not is_frame("   at PixivFSUWP!<BaseAddress>+0xaaf6b3")


def test_unitys_frames_are_read_as_dotnet_frames() -> None:
    stack = parsed(UREPL, ["uREPL"])
    assert stack.language == "dotnet"
    exc = stack.exceptions[0]
    assert (exc.type, exc.message) == ("IndexOutOfRangeException", "Index was outside the bounds of the array.")
    assert [(f.module, f.function, f.file, f.line, f.in_app) for f in exc.frames[:2]] == [
        ("uREPL.Completion+<>c__DisplayClass11_0", "<Start>b__0",
         "Assets/External/uREPL/Scripts/Core/Completion.cs", 44, True),
        ("System.Threading.ThreadHelper", "ThreadStart_Context", "<ac823e2bb42b41bda67924a45a0173c3>", 0, False),
    ]  # fmt: skip
    assert (exc.frames[-1].module, exc.frames[-1].function) == (
        "UnityEngine.UnhandledExceptionHandler", "<RegisterUECatcher>m__0"
    )
    first = first_of(UREPL, UREPL_FILES, ["uREPL"])
    assert (first.path, first.function) == ("Assets/uREPL/Scripts/Core/Completion.cs", "Start")


def test_unitys_frames_behind_a_shippers_prefix_read_the_same() -> None:
    prefixed = "\n".join(f"web_1  | {line}" for line in UREPL.splitlines())
    first = first_of(prefixed, UREPL_FILES, ["uREPL"])
    assert (first.path, first.function, first.frame.line) == ("Assets/uREPL/Scripts/Core/Completion.cs", "Start", 44)


def test_unitys_log_call_stack_reads_types_without_a_namespace() -> None:
    trace = "Hello\nUnityEngine.Debug:Log (object)\nPlayer:Start () (at Assets/Scripts/Player.cs:8)\n"
    frames = parsed(trace).exceptions[0].frames
    assert [(f.module, f.function, f.file, f.line) for f in frames] == [
        ("UnityEngine.Debug", "Log", None, None), ("Player", "Start", "Assets/Scripts/Player.cs", 8),
    ]  # fmt: skip


def test_lines_that_only_look_like_unitys_are_left_alone() -> None:
    calls = ["result = Foo.Bar()", "Foo.Bar () (at Assets/x.cs:3)"]  # a call, then a frame: the call stays
    assert from_unity(calls) == ["result = Foo.Bar()", "   at Foo.Bar() in Assets/x.cs:line 3"]
    no_source = ["Foo.Bar ()", "UnityEngine.Debug:Log (object)"]  # no line names its source as Unity writes it
    assert from_unity(no_source) is no_source
    prose = ["See the docs for Foo.Bar () (at home:3)", "Bar () (at Assets/x.cs:3)"]  # prose; no type's method
    assert from_unity(prose) is prose
    jvm_trace = "java.lang.IllegalStateException: boom\n\tat com.acme.Main.run(Main.java:12)\n"
    assert parsed(jvm_trace).language == "jvm"
    assert parse_stacktrace("Loaded Foo.Bar () (at startup:0) in 3 ms\n") is None


def test_a_mono_frame_cut_inside_its_first_parameters_type_is_closed_under_a_dotnet_frame() -> None:
    lines = BAM.splitlines()
    assert closed_at_the_end(lines)[-1] == "  at Bam.Core.CommandLineProcessor.Evaluate (Bam.Core.I)"
    stack = parsed(BAM, ["Bam"])
    assert stack.language == "dotnet"
    frames = stack.exceptions[0].frames
    assert [(f.module, f.function, f.in_app) for f in frames] == [
        ("System.Int32", "Parse", False), ("System.Convert", "ToInt32", False),
        ("Bam.Core.CommandLineProcessor", "Evaluate", True),
    ]  # fmt: skip
    first = first_of(BAM, BAM_FILES, ["Bam"])
    assert (first.path, first.function) == ("Bam.Core/CommandLineProcessor.cs", "Evaluate")
    prefixed = [f"web_1  | {line}" for line in lines]  # a shipper's prefix on every line
    assert closed_at_the_end(prefixed)[-1].endswith("(Bam.Core.I)")


def test_a_cut_inside_a_location_or_under_no_dotnet_parameter_list_is_left_alone() -> None:
    play = [*TINCAPP.splitlines()[:6], "  at android.widget.AbsListView.performItemClick (AbsListVi"]
    assert closed_at_the_end(play) is play  # Play's spaced JVM frame cut inside its file
    bare = ["System.Exception: x", "  at A.B.C () [0x00001] in <abc>:0", "  at A.B.D (A.B.I"]
    assert closed_at_the_end(bare) is bare  # the frame above shows no parameter as .NET prints one
    v8 = ["TypeError: x", "    at f (/app/a.js:1:2)", "    at Object.g (/app/b.j"]
    assert closed_at_the_end(v8) is v8
    not_last = [*BAM.splitlines(), "Build failed"]
    assert closed_at_the_end(not_last) is not_last
