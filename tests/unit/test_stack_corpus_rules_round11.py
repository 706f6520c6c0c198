"""Rules added after the twelfth held-out set was read (issue 11). Each rule is checked on the real lines of
the case that showed it (`tests/fixtures/realworld/<ecosystem>/<case>/trace.txt`, quoted here so the test does
not move when the corpus does) and on variants it must leave alone."""

from __future__ import annotations

import json
from collections.abc import Sequence

from error_autopilot.incidents.stacktrace import parse_stacktrace
from error_autopilot.investigation.stackmap import Candidate, rank
from tests.support.stackrules import parsed


def _ranked(trace: str, files: Sequence[str], packages: Sequence[str] = (),
            source_roots: Sequence[str] = ()) -> list[Candidate]:  # fmt: skip
    stack = parsed(trace, packages, source_roots)
    return list(rank(stack, files, packages=packages, source_roots=source_roots).candidates)


# jvm/jenkinsci-kubernetes-plugin-1011: each frame's `at` ends the line above it
JENKINS = """\
java.lang.NullPointerException at
org.csanchez.jenkins.plugins.kubernetes.PodUtils.cancelQueueItemFor(PodUtils.java:76) at
org.csanchez.jenkins.plugins.kubernetes.KubernetesLauncher.launch(KubernetesLauncher.java:152) at
com.cloudbees.jenkins.plugins.kube.ListenableKubernetesLauncher.launch(ListenableKubernetesLauncher.java:30) at
hudson.slaves.SlaveComputer.lambda$_connect$0(SlaveComputer.java:294) at
java.util.concurrent.FutureTask.run(FutureTask.java:266) at
java.lang.Thread.run(Thread.java:748)
"""


def test_a_jvm_copy_wrapped_before_each_at_reads_as_printed() -> None:
    stack = parsed(JENKINS)
    exc = stack.primary
    assert (stack.language, exc.type, exc.message) == ("jvm", "java.lang.NullPointerException", "")
    assert [(f.function, f.file, f.line) for f in exc.frames[:2]] == [
        ("cancelQueueItemFor", "PodUtils.java", 76), ("launch", "KubernetesLauncher.java", 152)]  # fmt: skip
    assert len(exc.frames) == 6


def test_a_trailing_at_before_one_frame_or_before_prose_is_left_alone() -> None:
    # one frame after a trailing `at` is too little to read a copy's wrapping from
    assert parse_stacktrace("Failed at\norg.acme.Pods.cancel(Pods.java:76)\n") is None
    prose = "the job stopped at\nnoon, again at\nmidnight\n"
    assert parse_stacktrace(prose) is None
    # a trace printed as the JVM prints it keeps its lines, a sentence ending in `at` among them
    printed = "java.lang.IllegalStateException: looked at\n\tat org.acme.A.run(A.java:3)\n\tat org.acme.B.b(B.java:9)\n"
    stack = parsed(printed)
    assert stack.primary.message == "looked at"
    assert [f.function for f in stack.primary.frames] == ["run", "b"]


# jvm/eventuate-local-eventuate-local-50: the entry ends inside the innermost frame's file name
EVENTUATE = """\
Caused by: java.lang.RuntimeException: Engine through exceptionStopping connector after error: null
at io.eventuate.local.cdc.debezium.Relay.lambda$startCapturingChanges$0(Relay.java:96) ~[eventuate-cdc.jar!/:na]
at io.debezium.embedded.EmbeddedEngine.run(EmbeddedEngine.java:742) ~[debezium-embedded-0.3.6.jar!/:0.3.6]
... 3 common frames omitted
Caused by: java.lang.NullPointerException: null
at io.eventuate.local.cdc.debezium.Relay.receiveEvent(Relay.ja"""


def test_a_jvm_frame_cut_inside_its_location_at_the_end_keeps_class_and_method() -> None:
    stack = parsed(EVENTUATE, packages=["io.eventuate"])
    inner = stack.exceptions[-1]
    assert inner.type == "java.lang.NullPointerException"
    assert [(f.module, f.function, f.file, f.line) for f in inner.frames] == [
        ("io.eventuate.local.cdc.debezium.Relay", "receiveEvent", None, None)]  # fmt: skip
    files = ["cdc/src/main/java/io/eventuate/local/cdc/debezium/Relay.java", "cdc/src/main/java/io/eventuate/X.java"]
    first = _ranked(EVENTUATE, files, ["io.eventuate"])[0]
    assert (first.path, first.function) == (files[0], "receiveEvent")


def test_a_cut_jvm_frame_that_is_not_the_last_line_is_no_frame() -> None:
    cut_inside = EVENTUATE + "\nsome later log line\n"
    inner = parsed(cut_inside, packages=["io.eventuate"]).exceptions[-1]
    assert inner.frames == ()


# dotnet/project-vrcz-content-publisher-450: a crash reporter's `(args)()` frames with bare file names
PUBLISHER = """\
System.InvalidOperationException: Operation is not valid due to the current state of the object.
  at System.ThrowHelper.ThrowInvalidOperationException()() in ThrowHelper.cs:line 398
  at System.Threading.PeriodicTimer.State.WaitForNextTickAsync(PeriodicTimer, CancellationToken)() in PeriodicTimer.cs:line 195
  at VRChatContentPublisher.Core.PublicIpChecker.Services.PublicIpMonitorBackgroundService.<ExecuteAsync>d__7.MoveNext()() in PublicIpMonitorBackgroundService.cs:line 46
  at Microsoft.Extensions.Hosting.Internal.Host.<TryExecuteBackgroundServiceAsync>d__15.MoveNext()()
"""  # noqa: E501
PUBLISHER_FILES = [
    "src/Core/VRChatContentPublisher.Core/PublicIpChecker/Services/PublicIpMonitorBackgroundService.cs",
    "src/Core/VRChatContentPublisher.Core/PublicIpChecker/Services/PublicIpChecker.cs",
]


def test_a_dotnet_frame_with_an_empty_pair_after_its_parameters_is_read() -> None:
    stack = parsed(PUBLISHER, packages=["VRChatContentPublisher"])
    assert stack.language == "dotnet"
    assert [(f.function, f.file, f.line) for f in stack.primary.frames[:3]] == [
        ("ThrowInvalidOperationException", "ThrowHelper.cs", 398),
        ("WaitForNextTickAsync", "PeriodicTimer.cs", 195),
        ("<ExecuteAsync>d__7.MoveNext", "PublicIpMonitorBackgroundService.cs", 46),
    ]
    first = _ranked(PUBLISHER, PUBLISHER_FILES, ["VRChatContentPublisher"])[0]
    assert (first.path, first.function) == (PUBLISHER_FILES[0], "ExecuteAsync")


def test_two_filled_parameter_lists_are_no_dotnet_frame() -> None:
    assert parse_stacktrace("   at Ns.T.M(Int32 a)(Int32 b) in T.cs:line 3\n   at Ns.T.N(x)(y)\n") is None


# node/node-red-node-red-4560: the runtime installed from npm; the repository keeps it in packages/node_modules
NODE_RED = """\
7 Feb 09:36:20 - [error] TypeError: Cannot set properties of undefined (setting 'cred1')
    at /Users/nol/code/node-red/archive/3.1.4/node_modules/@node-red/runtime/lib/nodes/credentials.js:402:55
    at Array.forEach (<anonymous>)
    at Object.extract (/Users/nol/code/node-red/archive/3.1.4/node_modules/@node-red/runtime/lib/nodes/credentials.js:397:35)
    at Object.setFlows (/Users/nol/code/node-red/archive/3.1.4/node_modules/@node-red/runtime/lib/flows/index.js:184:25)
    at /Users/nol/code/node-red/archive/3.1.4/node_modules/async-mutex/lib/Mutex.js:23:66
"""  # noqa: E501
NODE_RED_FILES = [
    "packages/node_modules/@node-red/runtime/lib/nodes/credentials.js",
    "packages/node_modules/@node-red/runtime/lib/flows/index.js",
    "packages/node_modules/@node-red/editor-api/lib/index.js",
    "test/unit/@node-red/runtime/lib/nodes/credentials_spec.js",
]


def test_a_package_the_repository_keeps_in_its_own_node_modules_folder_is_own_code() -> None:
    ranked = _ranked(NODE_RED, NODE_RED_FILES)
    # the anonymous callback at line 402 first: its enclosing `extract` is for the checkout's source to name
    assert (ranked[0].path, ranked[0].function) == (NODE_RED_FILES[0], "anonymous")
    assert (NODE_RED_FILES[0], "extract") in [(c.path, c.function) for c in ranked]
    assert "package @node-red/runtime is kept in the repository" in ranked[0].reason
    assert all("async-mutex" not in c.path for c in ranked)


def test_a_root_test_or_package_node_modules_folder_stays_a_dependency() -> None:
    committed = [f.removeprefix("packages/") for f in NODE_RED_FILES]  # a dependency tree committed at the root
    assert _ranked(NODE_RED, committed) == []
    fixtures = ["test/fixtures/node_modules/@node-red/runtime/lib/nodes/credentials.js"]
    assert _ranked(NODE_RED, fixtures) == []
    # a package's own installed dependencies, committed beside its package.json
    installed = ["packages/app/package.json", "packages/app/node_modules/@node-red/runtime/lib/nodes/credentials.js"]
    assert _ranked(NODE_RED, installed) == []
    assert _ranked(NODE_RED, [*NODE_RED_FILES, "package.json"])[0].path == NODE_RED_FILES[0]


# node/b310-digital-teammapper-239: copied from a log viewer listing the newest record first
TEAMMAPPER = """\
01/24/2024, 1:58:38 PM   ERROR [ExceptionsHandler] Cannot read properties of null (reading 'id')
2024-01-24 14:57:19.113\t
    at async WebSocketsController.pickResult (/home/node/app/teammapper-backend/node_modules/@nestjs/websockets/web-sockets-controller.js:96:24)
2024-01-24 14:57:19.113\t
    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)
2024-01-24 14:57:19.113\t
    at MapsService.exportMapToClient (/home/node/app/teammapper-backend/dist/map/services/maps.service.js:39:84)
2024-01-24 14:57:19.113\t
    at MapsService.getDeletedAt (/home/node/app/teammapper-backend/dist/map/services/maps.service.js:94:37)
2024-01-24 14:57:19.113\t
TypeError: Cannot read properties of null (reading 'id')
"""  # noqa: E501


def test_a_trace_from_a_newest_first_viewer_is_read_innermost_first() -> None:
    stack = parsed(TEAMMAPPER, source_roots=["teammapper-backend/src"])
    assert (stack.primary.type, stack.primary.message) == ("TypeError", "Cannot read properties of null (reading 'id')")
    assert [f.function for f in stack.primary.frames] == [
        "MapsService.getDeletedAt", "MapsService.exportMapToClient", "process.processTicksAndRejections",
        "WebSocketsController.pickResult"]  # fmt: skip
    files = ["teammapper-backend/src/map/services/maps.service.ts", "teammapper-backend/src/map/map.module.ts"]
    first = _ranked(TEAMMAPPER, files, source_roots=["teammapper-backend/src"])[0]
    assert (first.path, first.function) == (files[0], "getDeletedAt")


def test_frames_in_v8_order_or_without_stamp_lines_keep_their_order() -> None:
    printed = """\
TypeError: boom
2024-01-24 14:57:19.113
    at inner (/app/dist/a.js:1:1)
2024-01-24 14:57:19.113
    at outer (/app/dist/b.js:2:2)
TypeError: the next error
"""
    assert [f.function for f in parsed(printed).primary.frames] == ["inner"]  # the header above: no reversal
    unstamped = "    at inner (/app/dist/a.js:1:1)\n    at outer (/app/dist/b.js:2:2)\nTypeError: the next error\n"
    assert [f.function for f in parsed(unstamped).primary.frames] == ["inner", "outer"]


# node/webgme-webgme-1092: winston's uncaughtException record, its trace array and no `at` line
WEBGME = """\
2016-08-03T20:22:06.595Z - error: uncaughtException: Cannot read property 'warn' of undefined
{ date: 'Wed Aug 03 2016 15:22:06 GMT-0500 (CDT)',
  process:
   { pid: 10420,
     argv:
      [ '/Users/brian.broll/.nvm/versions/node/v6.2.0/bin/node',
        '/Users/brian.broll/projects/dfst/deepforge/app.js' ],
     memoryUsage: { rss: 138649600, heapTotal: 108204032, heapUsed: 60871400 } },
  os:
   { loadavg: [ 3.15380859375, 2.52880859375, 2.4697265625 ],
     uptime: 108455 },
  trace:
   [ { column: 19,
       file: '/Users/brian.broll/projects/webgme/src/utils.js',
       function: null,
       line: 114,
       method: null,
       native: false },
     { column: 5,
       file: '/Users/brian.broll/projects/webgme/node_modules/express/lib/response.js',
       function: 'SendStream.onerror',
       line: 993,
       method: 'onerror',
       native: false },
"""


def test_winstons_trace_array_reads_as_frames() -> None:
    stack = parsed(WEBGME, source_roots=["src"])
    assert stack.language == "node"
    assert stack.primary.message == "Cannot read property 'warn' of undefined"
    assert [(f.function, f.file, f.line, f.in_app) for f in stack.primary.frames] == [
        ("<anonymous>", "/Users/brian.broll/projects/webgme/src/utils.js", 114, True),
        ("SendStream.onerror", "/Users/brian.broll/projects/webgme/node_modules/express/lib/response.js", 993, False),
    ]


def test_a_record_without_a_trace_array_or_with_v8_frames_is_read_as_before() -> None:
    assert parse_stacktrace(WEBGME.split("  trace:", maxsplit=1)[0]) is None
    with_stack = "Error: boom\n    at go (/app/a.js:1:1)\n{ trace: [ { file: '/app/b.js', line: 2 } ] }\n"
    assert [f.file for f in parsed(with_stack).primary.frames] == ["/app/a.js"]


def test_the_new_shapes_read_the_same_behind_a_shippers_prefix() -> None:
    for trace in (JENKINS, WEBGME):
        prefixed = "\n".join("3|app  | " + line for line in trace.splitlines())
        assert parsed(prefixed) == parsed(trace)


# go/zalando-incubator-stackset-controller-619: a goroutine dump escaped onto one structured-log line
STACKSET = (
    "Encountered a panic while processing a stackset: assignment to entry in nil map\\ngoroutine 17341 [running]:"
    "\\ngithub.com/zalando-incubator/stackset-controller/controller.(*StackSetController).ReconcileStackSet.func1()"
    "\\n\\t/workspace/controller/stackset.go:1388 +0x1c9\\npanic({0x17918e0?, 0x1c22d40?})"
    "\\n\\t/usr/local/go/src/runtime/panic.go:770 +0x132\\n"
)


def test_an_escaped_trace_is_opened_under_a_log_line_or_inside_a_json_field() -> None:
    alone = parsed(STACKSET + "\n")
    assert alone.language == "go"
    assert [f.file for f in alone.primary.frames][:1] == ["/workspace/controller/stackset.go"]
    assert parsed("2024-05-13 15:06:38,123 ERROR [main] app.Worker - request failed\n" + STACKSET + "\n") == alone
    assert parsed(json.dumps({"level": "error", "msg": "request failed", "details": STACKSET + "\n"})) == alone


def test_a_few_escaped_newlines_in_a_message_above_a_printed_trace_stay_as_they_are() -> None:
    printed = 'Error: bad "a\\n  at b\\n  at c"\n    at parse (/app/dist/a.js:1:1)\n    at main (/app/b.js:2:2)\n'
    stack = parsed(printed)
    assert [f.function for f in stack.primary.frames] == ["parse", "main"]
