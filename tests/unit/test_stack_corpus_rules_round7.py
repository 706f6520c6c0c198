"""Rules added after the seventh held-out set was read (issue 11). Each rule is checked on the real lines of
the corpus case that showed it (`tests/fixtures/realworld/<ecosystem>/<case>/trace.txt`, quoted here so the
test does not move when the corpus does) and on variants it must leave alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from error_autopilot.domain.stack import Frame
from error_autopilot.incidents.stackparse.common import InApp
from error_autopilot.incidents.stacktrace import parse_stacktrace
from error_autopilot.investigation import blame
from error_autopilot.investigation.framenames import bare_function, enclosing_function, is_anonymous
from error_autopilot.investigation.stackmap import rank
from tests.support.corpus import build_repo

# jvm/spring-projects-spring-kafka-522: the exception flattened onto one log line, cut after the second frame
SPRING_KAFKA = (
    "exception java.lang.NullPointerException java.lang.NullPointerException: null at "
    "org.springframework.kafka.listener.KafkaMessageListenerContainer$ListenerConsumer.access$000("
    "KafkaMessageListenerContainer.java:271) ~[spring-kafka-2.0.1.RELEASE.jar:2.0.1.RELEASE] at "
    "org.springframework.kafka.listener.KafkaMessageListenerContainer.getAssignedPartitions("
    "KafkaMessageListenerContainer.java:152) ~[spring-kafka-2.0.1.RELEASE.jar:2.0.1.RELEASE] at\n"
)
CONTAINER = "spring-kafka/src/main/java/org/springframework/kafka/listener/KafkaMessageListenerContainer.java"


def test_a_jvm_exception_flattened_onto_one_line_is_read_frame_by_frame() -> None:
    trace = parse_stacktrace(SPRING_KAFKA, packages=["org.springframework.kafka"])
    assert trace is not None and trace.language == "jvm"
    assert (trace.primary.type, trace.primary.message) == ("java.lang.NullPointerException", "null")
    assert [(f.function, f.line) for f in trace.primary.frames] == [("access$000", 271), ("getAssignedPartitions", 152)]


def test_a_flattened_jvm_exception_is_read_behind_a_tab_separator_too() -> None:
    tabbed = "java.lang.IllegalStateException: boom\tat com.acme.A.run(A.java:3)\tat com.acme.B.go(B.java:9)"
    trace = parse_stacktrace(tabbed, packages=["com.acme"])
    assert trace is not None and [f.function for f in trace.primary.frames] == ["run", "go"]


def test_one_located_frame_in_a_sentence_is_no_flattened_trace() -> None:
    # one mention is a message about code, not a trace flattened by a logger
    sentence = "WARN retrying the call made at com.acme.Foo.bar(Foo.java:3) after a timeout"
    assert parse_stacktrace(sentence) is None


def test_a_printed_jvm_trace_is_left_as_it_is() -> None:
    printed = ("java.lang.IllegalStateException: at com.acme.X(X.java:1) failed twice at com.acme.Y(Y.java:2)\n"
               "\tat com.acme.A.run(A.java:3)\n")  # fmt: skip
    trace = parse_stacktrace(printed, packages=["com.acme"])
    assert trace is not None and [f.function for f in trace.primary.frames] == ["run"]
    assert trace.primary.message == "at com.acme.X(X.java:1) failed twice at com.acme.Y(Y.java:2)"


def test_a_javac_synthetic_accessor_yields_to_the_frame_that_made_the_access() -> None:
    trace = parse_stacktrace(SPRING_KAFKA, packages=["org.springframework.kafka"])
    assert trace is not None
    ranking = rank(trace, [CONTAINER], packages=("org.springframework.kafka",))
    first = ranking.candidates[0]
    assert (first.path, first.function) == (CONTAINER, "getAssignedPartitions")
    assert any("access$000: a compiler-made accessor" in note for note in ranking.frame_notes)


def test_a_method_that_only_starts_with_access_is_no_accessor() -> None:
    # `accessToken`, `access$` without javac's shape: ordinary methods keep their place
    trace = parse_stacktrace(
        "java.lang.NullPointerException: null\n\tat com.acme.Auth.accessToken(Auth.java:12)\n"
        "\tat com.acme.Api.call(Api.java:40)\n",
        packages=["com.acme"],
    )
    assert trace is not None
    first = rank(trace, ["src/main/java/com/acme/Auth.java", "src/main/java/com/acme/Api.java"],
                 packages=("com.acme",)).candidates[0]  # fmt: skip
    assert first.function == "accessToken"


def test_an_accessor_alone_leaves_no_location_and_says_why() -> None:
    trace = parse_stacktrace("java.lang.NullPointerException: null\n\tat com.acme.A$B.access$100(A.java:7)\n",
                             packages=["com.acme"])  # fmt: skip
    assert trace is not None
    ranking = rank(trace, ["src/main/java/com/acme/A.java"], packages=("com.acme",))
    assert ranking.candidates == ()
    assert "javac synthetic accessor" in ranking.no_location_reason()


# go/tomsteele-blacksheepwall-4: Go 1.4 names the worker literal inside `main` from a package-wide counter
BLACKSHEEPWALL = """\
panic: runtime error: index out of range

goroutine 5 [running]:
main.func·002()
	/Users/tsteele/code/go/src/github.com/tomsteele/blacksheepwall/blacksheepwall.go:240 +0x548
created by main.main
	/Users/tsteele/code/go/src/github.com/tomsteele/blacksheepwall/blacksheepwall.go:246 +0x1c18
"""
# a main with a worker literal, as such tools were written (written for this test, not the project's code)
MAIN_FILE = """\
package main

func helper() {
}

func main() {
	for i := 0; i < n; i++ {
		go func() {
			result := lookup()
			if debug {
				log.Println(result[0])
			}
		}()
	}
}
"""


def test_a_go_14_closure_is_anonymous_and_named_after_the_function_around_its_line() -> None:
    trace = parse_stacktrace(BLACKSHEEPWALL)
    assert trace is not None
    [frame] = trace.primary.frames
    assert frame.function == "func·002" and is_anonymous(bare_function(frame, "go"))
    assert enclosing_function(MAIN_FILE.splitlines(), 11, "go") == "main"


def test_go_15_closures_and_named_functions_keep_their_names() -> None:
    for function, named in (("main.func1", "main"), ("(*Worker).Run.func2", "Run"), ("funcName", "funcName")):
        frame = Frame(function=function, module="main", file="/app/main.go", line=3, in_app=True, raw="")
        assert bare_function(frame, "go") == named


# go/datadog-kvexpress-73: a program built from a checkout with a relative import (`./commands`)
KVEXPRESS = """\
panic: runtime error: index out of range

goroutine 1 [running]:
_/home/darron/kvexpress/commands.init.8()
    /home/darron/kvexpress/commands/root.go:78 +0x7df
_/home/darron/kvexpress/commands.init()
    /home/darron/kvexpress/commands/util.go:156 +0x1b9
main.init()
    /home/darron/kvexpress/main.go:46 +0x47
"""


def test_a_go_package_built_from_a_local_directory_is_own_code() -> None:
    trace = parse_stacktrace(KVEXPRESS, packages=["github.com/DataDog/kvexpress"])
    assert trace is not None
    assert [f.in_app for f in trace.primary.frames] == [True, True, True]
    ranked = rank(trace, ["main.go", "commands/root.go", "commands/util.go"],
                  packages=("github.com/DataDog/kvexpress",)).candidates  # fmt: skip
    assert [c.path for c in ranked[:3]] == ["commands/root.go", "commands/util.go", "main.go"]


def test_dotless_standard_library_packages_stay_runtime() -> None:
    verdict = InApp(language="go", packages=("github.com/acme/app",)).classify("net/http", "/usr/src/net/http/x.go")
    assert not verdict.in_app and verdict.runtime
    # an underscore inside a name is not the go command's `_/` prefix
    assert not InApp(language="go").classify("_internal/x", None).in_app


def _ranked_with_content(tmp_path: Path, text: str, symbols: dict[str, list[dict[str, Any]]]) -> tuple[str, ...]:
    """The candidate files of `text` over a real git repository holding `symbols`' definitions."""
    files = sorted(symbols)
    repo = tmp_path / "repo.git"
    head = build_repo(files, repo, symbols)
    trace = parse_stacktrace(text, packages=["github.com/DataDog/kvexpress"])
    assert trace is not None
    ranking = rank(trace, files, packages=("github.com/DataDog/kvexpress",),
                   grep=lambda pattern: blame.grep(repo, head, pattern))  # fmt: skip
    return tuple(c.path for c in ranking.candidates)


def test_a_go_package_initialiser_is_never_taken_for_a_moved_function(tmp_path: Path) -> None:
    # kvexpress: `commands.init()` at util.go:156 is the compiler's package initialiser, printed at the end
    # of the file it ends in; only root.go declares a `func init()`, which does not make util.go's frame root.go's
    symbols = {
        "commands/root.go": [{"line": 70, "col": 0, "kind": "function", "name": "init", "end": 90}],
        "commands/util.go": [{"line": 100, "col": 0, "kind": "function", "name": "SetDirection", "end": 120}],
        "main.go": [{"line": 40, "col": 0, "kind": "function", "name": "main", "end": 50}],
    }
    assert _ranked_with_content(tmp_path, KVEXPRESS, symbols)[:3] == ("commands/root.go", "commands/util.go", "main.go")


def test_a_go_function_that_moved_to_another_file_of_its_package_still_follows_it(tmp_path: Path) -> None:
    moved = KVEXPRESS.replace("commands.init.8()", "commands.SetDirection()")
    symbols = {
        "commands/root.go": [{"line": 70, "col": 0, "kind": "function", "name": "init", "end": 90}],
        "commands/util.go": [{"line": 100, "col": 0, "kind": "function", "name": "SetDirection", "end": 120}],
        "main.go": [{"line": 40, "col": 0, "kind": "function", "name": "main", "end": 50}],
    }
    assert _ranked_with_content(tmp_path, moved, symbols)[0] == "commands/util.go"


# dotnet/quartznet-quartznet-1960: the paste turned the runtime's `---` separators into em dashes
QUARTZ = """\
System.NullReferenceException: Object reference not set to an instance of an object.
at Quartz.Impl.StdSchedulerFactory.GetNamedConnectionString(String dsConnectionStringName)
at Quartz.Impl.StdSchedulerFactory.<Instantiate>d__65.MoveNext()
— End of stack trace from previous location where exception was thrown —
at System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw()
at System.Runtime.CompilerServices.TaskAwaiter.HandleNonSuccessAndDebuggerNotification(Task task)
at Quartz.Impl.StdSchedulerFactory.<GetScheduler>d__71.MoveNext()
— End of stack trace from previous location where exception was thrown —
at System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw()
at System.Runtime.CompilerServices.TaskAwaiter.HandleNonSuccessAndDebuggerNotification(Task task)
at Quartz.ServiceCollectionSchedulerFactory.<GetScheduler>d__6.MoveNext()
"""


def test_a_dotnet_async_separator_with_typographers_dashes_keeps_the_frames_below_it() -> None:
    trace = parse_stacktrace(QUARTZ, packages=["Quartz"])
    assert trace is not None and len(trace.exceptions) == 1
    assert [(f.module, f.function) for f in trace.primary.frames if f.in_app] == [
        ("Quartz.Impl.StdSchedulerFactory", "GetNamedConnectionString"),
        ("Quartz.Impl.StdSchedulerFactory", "<Instantiate>d__65.MoveNext"),
        ("Quartz.Impl.StdSchedulerFactory", "<GetScheduler>d__71.MoveNext"),
        ("Quartz.ServiceCollectionSchedulerFactory", "<GetScheduler>d__6.MoveNext"),
    ]
    assert len(trace.primary.frames) == 8


def test_an_en_dash_separator_is_one_too_but_a_dash_inside_a_message_is_not() -> None:
    en = QUARTZ.replace("— End", "– End").replace("thrown —", "thrown –")
    trace = parse_stacktrace(en, packages=["Quartz"])
    assert trace is not None and len(trace.primary.frames) == 8
    # a line that only starts with a dash is the end of the trace, as before
    cut = QUARTZ.replace("— End of stack trace from previous location where exception was thrown —", "— see above")
    trace = parse_stacktrace(cut, packages=["Quartz"])
    assert trace is not None and len(trace.primary.frames) == 2


def test_a_flattened_jvm_exception_in_a_json_field_is_read_too() -> None:
    shipped = json.dumps({"level": "error", "msg": "request failed", "details": SPRING_KAFKA})
    trace = parse_stacktrace(shipped, packages=["org.springframework.kafka"])
    assert trace is not None and [f.function for f in trace.primary.frames] == ["access$000", "getAssignedPartitions"]


# go/tendermint-tendermint-5540: docker compose's service prefix on every line of a Go panic
TENDERMINT = """\
validator05    | I[2020-10-21|02:15:38.356] Executed block                               module=state height=51
validator05    | panic: runtime error: index out of range [6] with length 6
validator05    | {blank}
validator05    | goroutine 47 [running]:
validator05    | github.com/tendermint/tendermint/state.execBlockOnProxyApp.func1(0xc000452160, 0xc000452270)
validator05    | 	github.com/tendermint/tendermint/state/execution.go:287 +0x22a
validator05    | github.com/tendermint/tendermint/abci/client.(*grpcClient).OnStart.func1(0xc000032e60)
validator05    | 	github.com/tendermint/tendermint/abci/client/grpc_client.go:80 +0x95
""".format(blank="")  # the compose prefix of a blank line keeps its trailing space


def test_a_compose_prefix_is_stripped_from_an_indented_go_panic() -> None:
    # indented, `    validator05    | \tgithub.com/…/execution.go:287` is no Go file line: a path holds no `|`
    for text in (TENDERMINT, "\n".join("    " + line for line in TENDERMINT.splitlines())):
        trace = parse_stacktrace(text, packages=["github.com/tendermint/tendermint"])
        assert trace is not None and trace.primary.type == "panic"
        functions = [f.function for f in trace.primary.frames]
        assert functions == ["execBlockOnProxyApp.func1", "(*grpcClient).OnStart.func1"]


def test_an_indented_go_file_line_with_spaces_in_its_path_is_still_one() -> None:
    text = ("panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n"
            "\t/Users/Jane Doe/go/src/app/main.go:12 +0x1d\n")  # fmt: skip
    trace = parse_stacktrace(text)
    assert trace is not None and [(f.file, f.line) for f in trace.primary.frames] == [
        ("/Users/Jane Doe/go/src/app/main.go", 12)
    ]
