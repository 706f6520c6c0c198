"""Rules added after the fifteenth held-out set was read (issue 11). Each rule is checked on the real lines of
the corpus case that showed it (`tests/fixtures/realworld/<ecosystem>/<case>/trace.txt`, quoted here so the
test does not move when the corpus does) and on variants it must leave alone."""

from __future__ import annotations

from collections.abc import Sequence

from error_autopilot.domain.stack import StackTrace
from error_autopilot.incidents.stackparse.dotnet import from_rewrapped
from error_autopilot.incidents.stackparse.node import unwrapped
from error_autopilot.incidents.stacktrace import parse_stacktrace
from error_autopilot.investigation.stackmap import Candidate, rank

# jvm/alibaba-sentinel-1184: an Undertow log line, the request path, then the trace escaped twice on one line
SENTINEL = (
    " UT005023: Exception handling request to /\n\n/xxxxxxxx/请求路径\\\\n\\\\njava.lang.NullPointerException: null"
    "\\\\n\\\\tat com.alibaba.csp.sentinel.context.Context.getCurNode(Context.java:112)"
    " ~[sentinel-core-1.4.0.jar!/:1.4.0]"
    "\\\\n\\\\tat com.alibaba.csp.sentinel.Tracer.trace(Tracer.java:45) ~[sentinel-core-1.4.0.jar!/:1.4.0]"
    "\\\\n\\\\tat com.alibaba.csp.sentinel.Tracer.trace(Tracer.java:32) ~[sentinel-core-1.4.0.jar!/:1.4.0]"
    "\\\\n\\\\tat com.alibaba.csp.sentinel.adapter.servlet.CommonFilter.doFilter(CommonFilter.java:95)"
    " ~[sentinel-web-servlet-1.4.0.jar!/:na]"
    "\\\\n\\\\tat io.undertow.servlet.core.ManagedFilter.doFilter(ManagedFilter.java:61)"
    " ~[undertow-servlet-1.4.22.Final.jar!/:1.4.22.Final]\n"
)
SENTINEL_FILES = [
    "sentinel-core/src/main/java/com/alibaba/csp/sentinel/context/Context.java",
    "sentinel-core/src/main/java/com/alibaba/csp/sentinel/Tracer.java",
    "sentinel-adapter/sentinel-web-servlet/src/main/java/com/alibaba/csp/sentinel/adapter/servlet/CommonFilter.java",
]

# dotnet/siddharth96-windows-tweaker-23: an Italian trace run into one line, then wrapped after every `in`
TWEAKER = """\
System.NullReferenceException: Riferimento a un oggetto non impostato su un'istanza di oggetto. in{SPACE}
WindowsTweaker.AppTasks.Utils.RepairAsStringFromInt(RegistryKey regKey, String keyName) in{SPACE}
z:\\codes\\windows-tweaker\\WindowsTweaker\\AppTasks\\Utils.cs:riga 174 in{SPACE}
WindowsTweaker.AppTasks.UiRegistryHandler.SetValueFromString(IntegerUpDown iud, RegistryKey registryKey, \
String valueName, String defaultValStr, Nullable`1 maxVal, Nullable`1 minVal) in{SPACE}
z:\\codes\\windows-tweaker\\WindowsTweaker\\AppTasks\\UIRegistryHandler.cs:riga 81 in{SPACE}
WindowsTweaker.MainWindow.LoadDisplayTab() in{SPACE}
z:\\codes\\windows-tweaker\\WindowsTweaker\\MainWindow.xaml.cs:riga 1097 in
WindowsTweaker.MainWindow.LoadTab(String tagVal) in{SPACE}
z:\\codes\\windows-tweaker\\WindowsTweaker\\MainWindow.xaml.cs:riga 286 in{SPACE}
System.Windows.EventRoute.InvokeHandlersImpl(Object source, RoutedEventArgs args, Boolean reRaised) in \
System.Windows.UIElement.RaiseEventImpl(DependencyObject sender, RoutedEventArgs args) in System.W...
""".replace("{SPACE}", " ")  # the paste keeps a space after most `in`s
TWEAKER_FILES = ["WindowsTweaker/AppTasks/Utils.cs", "WindowsTweaker/AppTasks/UIRegistryHandler.cs",
                 "WindowsTweaker/MainWindow.xaml.cs", "WindowsTweaker/App.xaml.cs"]  # fmt: skip

# node/confluentinc-confluent-kafka-javascript-415: a log renderer wrapped every frame before its location
_PNPM = "/app/node_modules/.pnpm/@confluentinc+kafka-javascript@1.7.0/node_modules/@confluentinc/kafka-javascript"
KAFKA = f"""\
Consumer encountered error while consuming. Retrying.{" "}
Error details: TypeError: messages is not iterable
TypeError: messages is not iterable
    at MessageCache.addMessages{" "}
      ({_PNPM}/lib/kafkajs/_consumer_cache.js:196:31)
    at #fetchAndResolveWith{" "}
      ({_PNPM}/lib/kafkajs/_consumer.js:1073:26)
    at async #worker{" "}
      ({_PNPM}/lib/kafkajs/_consumer.js:1505:20)
    at async Promise.allSettled (index 0)
    at async{" "}
      ({_PNPM}/lib/kafkajs/_consumer.js:1656:11)
    at async withWriteLock{" "}
      ({_PNPM}/lib/kafkajs/_common.js:828:16)
    at async Promise.allSettled (index 0)
"""
KAFKA_FILES = ["lib/kafkajs/_consumer.js", "lib/kafkajs/_consumer_cache.js", "lib/kafkajs/_common.js",
               "lib/index.js", "package.json"]  # fmt: skip


def _parsed(trace: str, packages: Sequence[str] = ()) -> StackTrace:
    stack = parse_stacktrace(trace, packages=packages)
    assert stack is not None
    return stack


def _ranked(trace: str, files: Sequence[str], packages: Sequence[str] = ()) -> list[Candidate]:
    return rank(_parsed(trace, packages), files, packages=packages).candidates


def test_a_trace_escaped_twice_on_one_line_is_read_as_the_jvm_printed_it() -> None:
    stack = _parsed(SENTINEL, ["com.alibaba.csp.sentinel"])
    assert stack.language == "jvm"
    exc = stack.exceptions[0]
    assert (exc.type, exc.message) == ("java.lang.NullPointerException", "null")
    assert [(f.function, f.line) for f in exc.frames[:3]] == [("getCurNode", 112), ("trace", 45), ("trace", 32)]
    first = _ranked(SENTINEL, SENTINEL_FILES, ["com.alibaba.csp.sentinel"])[0]
    assert (first.path, first.function) == (SENTINEL_FILES[0], "getCurNode")


def test_a_trace_escaped_once_reads_the_same_frames() -> None:
    once = SENTINEL.replace("\\\\", "\\")
    assert "\\\\n" not in once
    frames = _parsed(once, ["com.alibaba.csp.sentinel"]).exceptions[0].frames
    assert [f.function for f in frames[:3]] == ["getCurNode", "trace", "trace"]


def test_doubled_escapes_in_a_message_above_a_printed_trace_stay_as_they_are() -> None:
    printed = (
        'java.lang.IllegalStateException: bad value "a\\\\nb\\\\n\\\\tat x"\n'
        "\tat com.acme.A.run(A.java:3)\n\tat com.acme.B.main(B.java:9)\n"
    )
    exc = _parsed(printed).exceptions[0]
    assert exc.message == 'bad value "a\\\\nb\\\\n\\\\tat x"'
    assert [f.function for f in exc.frames] == ["run", "main"]


def test_a_localised_trace_run_into_one_line_and_wrapped_after_each_at_word_is_read_a_frame_a_line() -> None:
    stack = _parsed(TWEAKER, ["WindowsTweaker"])
    assert stack.language == "dotnet"
    exc = stack.exceptions[0]
    assert exc.type == "System.NullReferenceException"
    assert exc.message == "Riferimento a un oggetto non impostato su un'istanza di oggetto."
    assert [(f.function, f.line) for f in exc.frames[:4]] == [
        ("RepairAsStringFromInt", 174), ("SetValueFromString", 81), ("LoadDisplayTab", 1097), ("LoadTab", 286)
    ]  # fmt: skip
    assert exc.frames[0].file == "z:\\codes\\windows-tweaker\\WindowsTweaker\\AppTasks\\Utils.cs"
    assert not exc.frames[4].in_app  # System.Windows.EventRoute.InvokeHandlersImpl, no file
    first = _ranked(TWEAKER, TWEAKER_FILES, ["WindowsTweaker"])[0]
    assert (first.path, first.function) == ("WindowsTweaker/AppTasks/Utils.cs", "RepairAsStringFromInt")


def test_the_same_copy_in_english_reads_the_same() -> None:
    english = TWEAKER.replace(" in \nz:", " in z:").replace(" in\nW", " at \nW").replace(" in \nW", " at \nW")
    english = english.replace(":riga ", ":line ").replace("oggetto. in \n", "oggetto. at \n")
    exc = _parsed(english, ["WindowsTweaker"]).exceptions[0]
    assert exc.type == "System.NullReferenceException"
    assert [(f.function, f.line) for f in exc.frames[:2]] == [
        ("RepairAsStringFromInt", 174), ("SetValueFromString", 81)
    ]  # fmt: skip


def test_an_italian_trace_printed_a_frame_a_line_is_a_dotnet_trace() -> None:
    printed = (
        "System.InvalidOperationException: Operazione non valida.\n"
        "   in Acme.Orders.Repo.Load(Int32 id) in C:\\src\\Repo.cs:riga 42\n"
        "   in Acme.Orders.Service.Place(Order o)\n"
    )
    stack = _parsed(printed)
    assert stack.language == "dotnet"
    assert [(f.function, f.file, f.line) for f in stack.exceptions[0].frames] == [
        ("Load", "C:\\src\\Repo.cs", 42), ("Place", None, None)
    ]  # fmt: skip


def test_prose_ending_in_at_or_in_is_no_rewrapped_trace() -> None:
    one = ["System.Exception: boom at", "Acme.Orders.Service.Place(Order o) in C:\\x.cs:line 3", "done"]
    assert from_rewrapped(one) is one  # one frame: as likely a sentence
    unlocated = ["Error: we looked in", "Acme.A.B() and then in", "Acme.C.D() with no luck"]
    assert from_rewrapped(unlocated) is unlocated  # no frame names its file and line
    printed = ["System.Exception: boom", "   at Acme.A.B() in /x.cs:line 3", "see the log in", "Acme.C.D() for more"]
    assert from_rewrapped(printed) is printed  # a frame printed as .NET prints it: the trace is read as it stands


def test_python_source_lines_with_in_are_still_python() -> None:
    trace = (
        "Traceback (most recent call last):\n"
        '  File "/app/run.py", line 3, in main\n'
        "    for x in items(a):\n"
        '  File "/app/items.py", line 9, in items\n'
        "    in_progress(a)\n"
        "KeyError: 'a'\n"
    )
    stack = _parsed(trace)
    assert stack.language == "python"
    assert [f.function for f in stack.exceptions[0].frames] == ["items", "main"]


def test_v8_frames_wrapped_before_their_location_are_joined_again() -> None:
    exc = _parsed(KAFKA).exceptions[0]
    assert (exc.type, exc.message) == ("TypeError", "messages is not iterable")
    assert [(f.function, f.line) for f in exc.frames[:3]] == [
        ("MessageCache.addMessages", 196), ("#fetchAndResolveWith", 1073), ("#worker", 1505)
    ]  # fmt: skip
    assert exc.frames[4].function == "<anonymous>" and exc.frames[4].line == 1656  # `at async` + its location
    paths = [c.path for c in _ranked(KAFKA, KAFKA_FILES)[:3]]
    assert paths[:2] == ["lib/kafkajs/_consumer_cache.js", "lib/kafkajs/_consumer.js"]


def test_one_name_line_above_a_parenthesis_is_no_wrapped_frame() -> None:
    one = ["Error: boom", "    at first", "      (/app/a.js:1:2)", "    at b (/app/b.js:2:3)"]
    assert unwrapped(one) is one
    prose = ["We met at noon", "(see the notes)", "and again at dinner", "(with the team)"]
    assert unwrapped(prose) is prose
    printed = ["Error: boom", "    at a (/app/a.js:1:2)", "    at b (/app/b.js:2:3)"]
    assert unwrapped(printed) is printed
