"""Rules added after the fifteenth held-out set was read (issue 11). Each rule is checked on the real lines of
the corpus case that showed it (`tests/fixtures/realworld/<ecosystem>/<case>/trace.txt`, quoted here so the
test does not move when the corpus does) and on variants it must leave alone."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from error_autopilot.domain.stack import StackTrace
from error_autopilot.incidents.splitlines import Piece, piece
from error_autopilot.incidents.stackparse.dotnet_renderings import from_rewrapped
from error_autopilot.incidents.stackparse.node import unwrapped
from error_autopilot.investigation import blame
from error_autopilot.investigation.contentsearch import go_package_folder
from error_autopilot.investigation.stackmap import Candidate, rank
from tests.support.corpus import build_repo
from tests.support.stackrules import parsed

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

# go/ory-kratos-1794: docker-compose's prefix on every line; the paste ends inside the last frame's call line
KRATOS = """\
kratos_1            | 2021/09/29 13:47:36 http: panic serving 172.28.0.4:58654: runtime error: invalid memory \
address or nil pointer dereference
kratos_1            | goroutine 64686 [running]:
kratos_1            | net/http.(*conn).serve.func1(0xc0008459a0)
kratos_1            | \t/usr/local/go/src/net/http/server.go:1824 +0x153
kratos_1            | panic(0x1560460, 0x2317060)
kratos_1            | \t/usr/local/go/src/runtime/panic.go:971 +0x499
kratos_1            | github.com/ory/kratos/persistence/sql.(*Persister).CreateSession(0xc00067c060, 0x19eb518, \
0xc001309e60, 0x0, 0xc000cdafd8, 0x4977c6)
kratos_1            | \t/home/ory/persistence/sql/persister_session.go:39 +0x8e
kratos_1            | github.com/ory/kratos/session.(*ManagerHTTP).CreateAndIssueCookie(0xc0003ef3f8, 0x19eb518, \
0xc001309e60, 0x7f5d65a7d6e0, 0xc0000a3540, 0xc0008a5600, 0x0, 0x19c4860, 0xc00041c080)
kratos_1            | \t/home/ory/session/manager_http.go:43 +0x6d
kratos_1            | github.com/ory/kratos/selfservice/strategy/link.(*Strategy).recoveryIssueSession(0xc0000ee3d8, \
0x7f5d65a7d6e0, 0xc0000a3540, 0xc0008a5600, 0xc000265a40, 0xd5410070fe2
"""
KRATOS_FILES = ["persistence/sql/persister_session.go", "session/manager_http.go", "session/session.go",
                "selfservice/strategy/link/strategy.go", "selfservice/strategy/link/strategy_recovery.go",
                "selfservice/strategy/link/strategy_verification.go", "selfservice/strategy/code/strategy_recovery.go"]
KRATOS_SYMBOLS: dict[str, list[dict[str, Any]]] = {
    "persistence/sql/persister_session.go": [{"line": 39, "col": 0, "kind": "method", "name": "CreateSession",
                                              "owner": "Persister", "end": 60}],
    "session/manager_http.go": [{"line": 40, "col": 0, "kind": "method", "name": "CreateAndIssueCookie",
                                 "owner": "ManagerHTTP", "end": 70}],
    "selfservice/strategy/link/strategy_recovery.go": [
        {"line": 200, "col": 0, "kind": "method", "name": "recoveryIssueSession", "owner": "Strategy", "end": 260}
    ],
    # the same method name on another package's Strategy: the frame's package path says which folder
    "selfservice/strategy/code/strategy_recovery.go": [
        {"line": 90, "col": 0, "kind": "method", "name": "recoveryIssueSession", "owner": "Strategy", "end": 120}
    ],
}  # fmt: skip
KRATOS_PACKAGES = ("github.com/ory/kratos",)




def _ranked(trace: str, files: Sequence[str], packages: Sequence[str] = ()) -> list[Candidate]:
    return rank(parsed(trace, packages), files, packages=packages).candidates


def test_a_trace_escaped_twice_on_one_line_is_read_as_the_jvm_printed_it() -> None:
    stack = parsed(SENTINEL, ["com.alibaba.csp.sentinel"])
    assert stack.language == "jvm"
    exc = stack.exceptions[0]
    assert (exc.type, exc.message) == ("java.lang.NullPointerException", "null")
    assert [(f.function, f.line) for f in exc.frames[:3]] == [("getCurNode", 112), ("trace", 45), ("trace", 32)]
    first = _ranked(SENTINEL, SENTINEL_FILES, ["com.alibaba.csp.sentinel"])[0]
    assert (first.path, first.function) == (SENTINEL_FILES[0], "getCurNode")


def test_a_trace_escaped_once_reads_the_same_frames() -> None:
    once = SENTINEL.replace("\\\\", "\\")
    assert "\\\\n" not in once
    frames = parsed(once, ["com.alibaba.csp.sentinel"]).exceptions[0].frames
    assert [f.function for f in frames[:3]] == ["getCurNode", "trace", "trace"]


def test_doubled_escapes_in_a_message_above_a_printed_trace_stay_as_they_are() -> None:
    printed = (
        'java.lang.IllegalStateException: bad value "a\\\\nb\\\\n\\\\tat x"\n'
        "\tat com.acme.A.run(A.java:3)\n\tat com.acme.B.main(B.java:9)\n"
    )
    exc = parsed(printed).exceptions[0]
    assert exc.message == 'bad value "a\\\\nb\\\\n\\\\tat x"'
    assert [f.function for f in exc.frames] == ["run", "main"]


def test_a_localised_trace_run_into_one_line_and_wrapped_after_each_at_word_is_read_a_frame_a_line() -> None:
    stack = parsed(TWEAKER, ["WindowsTweaker"])
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
    exc = parsed(english, ["WindowsTweaker"]).exceptions[0]
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
    stack = parsed(printed)
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
    stack = parsed(trace)
    assert stack.language == "python"
    assert [f.function for f in stack.exceptions[0].frames] == ["items", "main"]


def test_v8_frames_wrapped_before_their_location_are_joined_again() -> None:
    exc = parsed(KAFKA).exceptions[0]
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


def _kratos_candidates(tmp_path: Path, trace: str, packages: Sequence[str] = KRATOS_PACKAGES) -> list[Candidate]:
    repo = tmp_path / "repo.git"
    head = build_repo(KRATOS_FILES, repo, KRATOS_SYMBOLS)
    stack = parsed(trace, packages)
    return rank(stack, KRATOS_FILES, packages=packages,
                grep=lambda pattern: blame.grep(repo, head, pattern)).candidates  # fmt: skip


def test_a_go_call_line_cut_at_the_end_of_the_entry_is_a_frame_without_its_position() -> None:
    frames = parsed(KRATOS, KRATOS_PACKAGES).exceptions[0].frames
    assert [(f.function, f.line) for f in frames[2:]] == [
        ("(*Persister).CreateSession", 39), ("(*ManagerHTTP).CreateAndIssueCookie", 43),
        ("(*Strategy).recoveryIssueSession", None),
    ]  # fmt: skip
    assert frames[-1].module == "github.com/ory/kratos/selfservice/strategy/link" and frames[-1].file is None
    whole = KRATOS.replace("0xd5410070fe2\n", "0xd5410070fe2)\n")  # cut right after the call line
    assert parsed(whole, KRATOS_PACKAGES).exceptions[0].frames[-1].function == "(*Strategy).recoveryIssueSession"


def test_dots_the_reporter_put_where_the_paste_was_cut_leave_the_cut_call_line_last() -> None:
    dotted = KRATOS + "...\n"
    assert parsed(dotted, KRATOS_PACKAGES).exceptions[0].frames[-1].function == "(*Strategy).recoveryIssueSession"
    worded = KRATOS + "and then it hung\n"
    assert parsed(worded, KRATOS_PACKAGES).exceptions[0].frames[-1].function == "(*ManagerHTTP).CreateAndIssueCookie"


def test_a_go_call_line_cut_inside_its_arguments_is_a_piece_of_a_split_trace() -> None:
    line = KRATOS.splitlines()[-1].split("| ", 1)[1]
    assert piece(line) is Piece.CONTINUATION
    assert piece("github.com/upbound/provider-vault/internal/controller.Setup({0x26a3640, 0xc00019b6c0}, {{{0") is (
        Piece.CONTINUATION
    )
    assert piece("see(0x1 for the code") is None  # prose: no package before the name, words in the arguments
    assert piece("Retrying(0x1") is None


def test_a_go_call_line_anywhere_but_the_end_or_a_creator_is_no_frame_of_its_own() -> None:
    followed = KRATOS + "kratos_1            | \t/home/ory/selfservice/strategy/link/strategy_recovery.go:210 +0x1\n"
    frames = parsed(followed, KRATOS_PACKAGES).exceptions[0].frames
    assert frames[-1].file is not None and frames[-1].line == 210  # its position came: an ordinary frame
    created = KRATOS.replace("| github.com/ory/kratos/selfservice/", "| created by github.com/ory/kratos/selfservice/")
    assert len(parsed(created, KRATOS_PACKAGES).exceptions[0].frames) == 4  # the goroutine's creator: not its stack
    prose = "goroutine 1 [running]:\nmain.main()\n\t/app/main.go:3 +0x1\nsee the notes (in the wiki"
    assert [f.function for f in parsed(prose).exceptions[0].frames] == ["main"]


def test_a_cut_go_frame_lands_on_the_file_of_its_package_that_defines_it(tmp_path: Path) -> None:
    candidates = _kratos_candidates(tmp_path, KRATOS)
    assert [c.path for c in candidates[:3]] == [
        "persistence/sql/persister_session.go", "session/manager_http.go",
        "selfservice/strategy/link/strategy_recovery.go",
    ]  # fmt: skip
    assert "in its package's folder (content search)" in candidates[2].reason


def test_a_cut_go_frame_outside_the_configured_packages_is_not_searched(tmp_path: Path) -> None:
    paths = [c.path for c in _kratos_candidates(tmp_path, KRATOS, ("github.com/ory/other",))]
    assert "selfservice/strategy/link/strategy_recovery.go" not in paths


def test_the_folder_of_a_go_package_is_its_import_path_below_a_configured_one() -> None:
    assert go_package_folder("github.com/ory/kratos/selfservice/strategy/link", KRATOS_PACKAGES) == (
        "selfservice/strategy/link"
    )
    assert go_package_folder("github.com/ory/kratos", KRATOS_PACKAGES) == ""
    assert go_package_folder("github.com/ory/kratos-client-go/x", KRATOS_PACKAGES) is None
    assert go_package_folder("github.com/ory/x/sqlxx", ("github.com/ory/x", "github.com/ory/x/sqlxx")) == ""


def _functions(stack: StackTrace) -> list[str]:
    return [f.function for f in stack.exceptions[0].frames]


def test_the_rewrapped_and_the_wrapped_traces_read_the_same_behind_a_shippers_prefix() -> None:
    tweaker, kafka = parsed(TWEAKER, ["WindowsTweaker"]), parsed(KAFKA)
    for prefix in ("3|app  | ", "web_1  | "):
        shipped = "\n".join(prefix + line for line in TWEAKER.splitlines())
        assert _functions(parsed(shipped, ["WindowsTweaker"])) == _functions(tweaker)
        shipped_kafka = parsed("\n".join(prefix + line for line in KAFKA.splitlines()))
        assert _functions(shipped_kafka) == _functions(kafka) and _functions(kafka)[0] == "MessageCache.addMessages"
    stamped = "\n".join(f"May 13 15:06:{n:02d} host app[7]: {line}" for n, line in enumerate(TWEAKER.splitlines()))
    assert _functions(parsed(stamped, ["WindowsTweaker"])) == _functions(tweaker)
    # a name line and a location line behind different prefixes are no pair: the frame stays unread
    mixed = KAFKA.replace("      (/app/node_modules/.pnpm/@confluentinc+kafka-javascript@1.7.0/node_modules/"
                          "@confluentinc/kafka-javascript/lib/kafkajs/_consumer_cache.js:196:31)",
                          "web_1 |       (/app/x/_consumer_cache.js:196:31)")  # fmt: skip
    assert "MessageCache.addMessages" not in _functions(parsed(mixed))


# go/portainer-portainer-3171: an earlier panic's tail above the goroutine that panicked
PORTAINER = """\
net/http.(*conn).serve(0xc000356be0, 0x1165000, 0xc0003340c0)
\t/usr/lib/go/src/net/http/server.go:1890 +0x875
created by net/http.(*Server).Serve
\t/usr/lib/go/src/net/http/server.go:2927 +0x38e
2019/09/19 14:35:04 http: panic serving 172.17.0.1:43658: runtime error: invalid memory address or nil pointer \
dereference
goroutine 15366 [running]:
net/http.(*conn).serve.func1(0xc0000ca320)
\t/usr/lib/go/src/net/http/server.go:1767 +0x139
panic(0xe82120, 0x1872910)
\t/usr/lib/go/src/runtime/panic.go:679 +0x1b2
github.com/portainer/portainer/api/http/handler/auth.(*Handler).authenticateInternal(0xc00036b2b0, 0x1161500, \
0xc0009647e0, 0x0, 0xc000718b4c, 0x4, 0xc000669870)
\t/home/baron_l/go/src/github.com/portainer/portainer/api/http/handler/auth/authenticate.go:86 +0x37
"""


def test_a_goroutine_line_of_an_indented_trace_still_picks_the_goroutine_that_panicked() -> None:
    plain = parsed(PORTAINER, ["github.com/portainer/portainer"])
    assert _functions(plain)[-1] == "(*Handler).authenticateInternal"
    indented = "\n".join("    " + line for line in PORTAINER.splitlines())
    assert _functions(parsed(indented, ["github.com/portainer/portainer"])) == _functions(plain)
    prose = "the log says goroutine 7 [running]: and then\nmain.main()\n\t/app/main.go:3 +0x1\n"
    assert _functions(parsed(prose)) == ["main"]  # a goroutine line inside a sentence is none
