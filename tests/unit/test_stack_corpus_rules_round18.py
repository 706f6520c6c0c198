"""Rules added after the eighteenth held-out set was read (issue 11). Each rule is checked on the real lines of
the corpus case that showed it (`tests/fixtures/realworld/<ecosystem>/<case>/trace.txt`, quoted here so the
test does not move when the corpus does) and on variants it must leave alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from error_autopilot.incidents.stackparse.jvm import is_frame
from error_autopilot.incidents.stackparse.linebreaks import python_unflattened
from error_autopilot.incidents.stacktrace import parse_stacktrace
from error_autopilot.investigation.framenames import bare_function, is_anonymous
from error_autopilot.investigation.investigator import _named
from error_autopilot.investigation.stackmap import rank
from error_autopilot.ports import CheckedOut
from tests.support.stackrules import first_of, parsed

# dotnet/drok-harmony-citiesskylines-4: Unity's Mono prints a native offset, no file, inside a mod's exception
HARMONY = """\
ModException: The Mod C:\\Program Files (x86)\\Steam\\steamapps\\workshop\\content\\255710\\2399343344 \
[Mono.Cecil.dll, HarmonyMod.dll] has caused an error ---> System.NullReferenceException: Object reference not set \
to an instance of an object
at HarmonyMod.ModReport.Summary (bool,HarmonyMod.Report/ReportFormat) <0x006bd>
at HarmonyMod.Report.PrepareReport (bool,HarmonyMod.Report/ReportFormat) <0x0028b>
at HarmonyMod.Report.OutputReport (HarmonyMod.Mod,bool,string) <0x000c4>
at HarmonyMod.Mod.ICities.ILoadingExtension.OnLevelLoaded (ICities.LoadMode) <0x00393>
at (wrapper dynamic-method) LoadingWrapper.LoadingWrapper.OnLevelLoaded_Patch5 \
(LoadingWrapper,SimulationManager/UpdateMode) <0x000b9>

  --- End of inner exception stack trace ---
"""
HARMONY_FILES = ["HarmonyMod/Source/ModReport.cs", "HarmonyMod/Source/Report.cs", "HarmonyMod/Source/Mod.cs",
                 "HarmonyMod/HarmonyMod.csproj"]  # fmt: skip


def test_a_mono_frame_with_a_native_offset_is_a_dotnet_frame() -> None:
    stack = parsed(HARMONY, ["HarmonyMod"])
    assert stack.language == "dotnet"
    inner = stack.exceptions[-1]
    assert inner.type == "System.NullReferenceException"
    assert [(f.module, f.function, f.in_app) for f in inner.frames] == [
        ("HarmonyMod.ModReport", "Summary", True),
        ("HarmonyMod.Report", "PrepareReport", True),
        ("HarmonyMod.Report", "OutputReport", True),
        ("HarmonyMod.Mod.ICities.ILoadingExtension", "OnLevelLoaded", True),
    ]
    first = first_of(HARMONY, HARMONY_FILES, ["HarmonyMod"])
    assert (first.path, first.function) == ("HarmonyMod/Source/ModReport.cs", "Summary")


@pytest.mark.parametrize("offset", ["<0x000a1 + 0x0001b>", "<0x000a1 + 0x0001b> 0", "[0x0001b]"])
def test_mono_offsets_of_other_versions_read_alike(offset: str) -> None:
    stack = parsed(HARMONY.replace("<0x006bd>", offset), ["HarmonyMod"])
    assert stack.exceptions[-1].frames[0].function == "Summary"


@pytest.mark.parametrize(
    "line",
    ["at HarmonyMod.ModReport.Summary (bool) <0xZZ>", "at HarmonyMod.ModReport.Summary (bool) <0x006bd> later",
     "at HarmonyMod.ModReport.Summary (bool) 0x006bd"],
)  # fmt: skip
def test_an_offset_mono_does_not_print_is_no_frame(line: str) -> None:
    assert parse_stacktrace(f"System.NullReferenceException: x\n{line}\n") is None


def test_a_v8_frame_stays_a_v8_frame() -> None:
    stack = parsed("TypeError: x\n    at Summary (/app/report.js:3:5)\n    at run (/app/index.js:9:1)\n")
    assert stack.language == "node"


# jvm/openfoodfacts-openfoodfacts-androidapp-2805: the Google Play Console's rendering, a space before `(`
OPENFOODFACTS = """\
java.lang.RuntimeException: \n\
  at android.app.ActivityThread.performLaunchActivity (ActivityThread.java:2805)
  at android.app.ActivityThread.handleLaunchActivity (ActivityThread.java:2883)
  at android.app.ActivityThread.-wrap11 (Unknown Source)
  at android.app.ActivityThread$H.handleMessage (ActivityThread.java:1613)
  at android.os.Handler.dispatchMessage (Handler.java:106)
  at android.os.Looper.loop (Looper.java:164)
  at android.app.ActivityThread.main (ActivityThread.java:6523)
  at java.lang.reflect.Method.invoke (Method.java)
  at com.android.internal.os.RuntimeInit$MethodAndArgsCaller.run (RuntimeInit.java:438)
  at com.android.internal.os.ZygoteInit.main (ZygoteInit.java:857)
Caused by: java.lang.NullPointerException: \n\
  at openfoodfacts.github.scrachx.openfood.views.YourListedProducts.onCreate (YourListedProducts.java:114)
"""
OFF_PACKAGES = ["openfoodfacts.github.scrachx.openfood"]
OFF_ROOTS = ["app/src/main/java"]
OFF_FILES = ["app/src/main/java/openfoodfacts/github/scrachx/openfood/views/YourListedProducts.java",
             "app/src/main/java/openfoodfacts/github/scrachx/openfood/views/MainActivity.java"]  # fmt: skip


def test_a_play_console_trace_is_read_as_the_jvm_prints_it_with_its_cause() -> None:
    stack = parsed(OPENFOODFACTS, OFF_PACKAGES, OFF_ROOTS)
    assert stack.language == "jvm"
    assert [e.type for e in stack.exceptions] == ["java.lang.RuntimeException", "java.lang.NullPointerException"]
    cause = stack.exceptions[-1].frames[0]
    assert (cause.module, cause.function, cause.file, cause.line, cause.in_app) == (
        "openfoodfacts.github.scrachx.openfood.views.YourListedProducts", "onCreate", "YourListedProducts.java",
        114, True,
    )  # fmt: skip
    assert [(f.function, f.file) for f in stack.exceptions[0].frames[2:8:5]] == [
        ("-wrap11", None), ("invoke", "Method.java")
    ]  # fmt: skip
    first = first_of(OPENFOODFACTS, OFF_FILES, OFF_PACKAGES, OFF_ROOTS)
    assert (first.path, first.function) == (OFF_FILES[0], "onCreate")


def test_a_play_console_trace_behind_a_shippers_prefix_reads_alike() -> None:
    prefixed = "\n".join(f"web_1  | {line}" for line in OPENFOODFACTS.splitlines())
    stack = parsed(prefixed, OFF_PACKAGES, OFF_ROOTS)
    assert stack.language == "jvm"
    assert stack.exceptions[-1].frames[0].function == "onCreate"


@pytest.mark.parametrize(
    "line",
    [
        "    at Object.loop (/app/Looper.js:164:3)",  # V8: a location always ends in line:column
        "   at Acme.Looper.Loop (String name)",  # .NET: parameter types
        "It fails at android.os.Looper.loop (Looper.java:164) for me",  # a sentence
        "  at Acme.Main.run (Main.js:3)",  # no JVM language's file
    ],
)
def test_no_other_runtimes_frame_reads_as_a_spaced_jvm_frame(line: str) -> None:
    assert not is_frame(line)


def test_a_v8_trace_of_java_named_functions_stays_v8() -> None:
    trace = "Error: x\n    at Looper.loop (/app/Looper.js:164:3)\n    at main (/app/ActivityThread.js:6:1)\n"
    assert parsed(trace).language == "node"


# python/tahvane1-jablotron80-46: Home Assistant's log entry pasted with its newlines lost
JABLOTRON = (
    'Unexpected error: Traceback (most recent call last): File "/config/custom_components/jablotron80/jablotron.py",'
    " line 709, in read_send_packet_loop records_tmp = self._read_data() File "
    '"/config/custom_components/jablotron80/jablotron.py", line 661, in _read_data if data[1 + int(size)] == 0xff:'
    " IndexError: index out of range\n"
)
JABLOTRON_FILES = ["custom_components/jablotron80/jablotron.py", "custom_components/jablotron80/__init__.py"]


def test_a_traceback_run_onto_one_line_is_read_as_cpython_prints_it() -> None:
    assert python_unflattened(JABLOTRON.strip()) == [
        "Unexpected error: Traceback (most recent call last):",
        '  File "/config/custom_components/jablotron80/jablotron.py", line 709, in read_send_packet_loop',
        "    records_tmp = self._read_data()",
        '  File "/config/custom_components/jablotron80/jablotron.py", line 661, in _read_data',
        "    if data[1 + int(size)] == 0xff:",
        "IndexError: index out of range",
    ]
    stack = parsed(JABLOTRON, ["custom_components"])
    assert (stack.language, stack.exceptions[0].type, stack.exceptions[0].message) == (
        "python", "IndexError", "index out of range"
    )  # fmt: skip
    assert [(f.function, f.line) for f in stack.exceptions[0].frames] == [("_read_data", 661),
                                                                          ("read_send_packet_loop", 709)]
    first = first_of(JABLOTRON, JABLOTRON_FILES, ["custom_components"])
    assert (first.path, first.function) == (JABLOTRON_FILES[0], "_read_data")


def test_a_one_line_traceback_in_a_json_field_reads_alike() -> None:
    record = json.dumps({"level": "error", "msg": "request failed", "details": JABLOTRON})
    stack = parsed(record, ["custom_components"])
    assert [(f.function, f.line) for f in stack.exceptions[0].frames] == [("_read_data", 661),
                                                                          ("read_send_packet_loop", 709)]


def test_the_first_exception_after_the_last_frame_is_the_raised_one() -> None:
    # a message naming another error, as requests' ConnectionError does, stays the message
    flat = JABLOTRON.strip().replace(
        "IndexError: index out of range", "requests.exceptions.ConnectionError: (Caused by NewConnectionError: x)"
    )
    assert python_unflattened(flat)[-2:] == [
        "    if data[1 + int(size)] == 0xff:", "requests.exceptions.ConnectionError: (Caused by NewConnectionError: x)"
    ]  # fmt: skip
    bare = JABLOTRON.strip().replace(" IndexError: index out of range", " KeyboardInterrupt")
    assert python_unflattened(bare)[-1] == "KeyboardInterrupt"
    cut = JABLOTRON.strip().split(" if data[")[0]  # the paste ends on the last frame's location
    assert python_unflattened(cut)[-1].endswith("line 661, in _read_data")


@pytest.mark.parametrize(
    "line",
    ["Traceback (most recent call last):", "Traceback (most recent call last): see the log below",
     'Traceback (most recent call last): File "a.py", line x, in f', "nothing at all"],
)  # fmt: skip
def test_a_header_with_no_frame_run_onto_it_is_left_alone(line: str) -> None:
    assert python_unflattened(line) == [line]


def test_a_traceback_printed_on_its_lines_reads_as_before() -> None:
    printed = "\n".join(python_unflattened(JABLOTRON.strip())) + "\n"
    assert parsed(printed, ["custom_components"]) == parsed(JABLOTRON, ["custom_components"])


# node/iobroker-community-adapters-iobroker.telegram-281: ioBroker's log lines, frames flush left, `<anonymous>` gone
TELEGRAM = """\
2021-11-19 11:26:59.525 - error: telegram.0 (16973) TypeError [ERR_INVALID_ARG_TYPE]: The "listener" argument \
must be of type function. Received type boolean (true)
at new NodeError (internal/errors.js:322:7)
at checkListener (events.js:135:11)
at _addListener (events.js:433:3)
at IncomingMessage.addListener (events.js:497:10)
at IncomingMessage.Readable.on (internal/streams/readable.js:853:35)
at ClientRequest. (/opt/iobroker/node_modules/iobroker.telegram/main.js:1050:21)
at Object.onceWrapper (events.js:520:26)
at ClientRequest.emit (events.js:400:28)
"""
TELEGRAM_FILES = ["main.js", "lib/utils.js", "package.json"]
# main.js shaped like the case's parent around line 1050: `function saveFile` opens the https.get callback
SAVE_FILE = "\n".join(["'use strict';"] * 1039 + ["function saveFile(url, fileName, callback) {"]
                      + ["    const step = 1;"] * 9 + ["        res.on('error', true, err => callback(err));", "}", ""])


def test_a_v8_name_that_lost_its_anonymous_tag_is_anonymous_again(tmp_path: Path) -> None:
    frame = next(f for f in parsed(TELEGRAM).exceptions[0].frames if f.line == 1050)
    assert frame.function == "ClientRequest.<anonymous>"
    assert is_anonymous(bare_function(frame, "node"))
    (tmp_path / "main.js").write_text(SAVE_FILE, encoding="utf-8")
    stack = parsed(TELEGRAM)
    candidate = rank(stack, TELEGRAM_FILES).candidates[0]
    checkout = CheckedOut(repo="acme/app", path=tmp_path, commit="0" * 40, ref_source="test")
    named = _named(checkout, candidate, stack)
    assert (named.path, named.function) == ("main.js", "saveFile")


def test_old_v8s_null_receiver_reads_alike() -> None:
    # node/iobroker-iobroker.scenes-3: V8 before 2016 named the callback of a timer `null.<anonymous>`
    trace = "TypeError: x\nat null. (/opt/iobroker/node_modules/iobroker.scenes/main.js:345:43)\n"
    assert parsed(trace).exceptions[0].frames[0].function == "null.<anonymous>"


@pytest.mark.parametrize(
    ("printed", "read"),
    [("ClientRequest.emit", "ClientRequest.emit"), ("Object.<anonymous>", "Object.<anonymous>"),
     ("ClientRequest.<anonymous>", "ClientRequest.<anonymous>"), ("a.b.", "a.b.<anonymous>"),
     ("x.1.", "x.1."), ("Foo.bar [as .]", "Foo.bar [as .]")],
)  # fmt: skip
def test_only_a_name_ending_in_a_bare_dot_gets_the_tag_back(printed: str, read: str) -> None:
    frame = parsed(f"TypeError: x\n    at {printed} (/app/main.js:3:5)\n").exceptions[0].frames[0]
    assert frame.function == read
