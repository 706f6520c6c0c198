"""Rules added after the tenth held-out set was read (issue 11). Each rule is checked on the real lines of the
corpus case that showed it (`tests/fixtures/realworld/<ecosystem>/<case>/trace.txt`, quoted here so the
test does not move when the corpus does) and on variants it must leave alone."""

from __future__ import annotations

from error_autopilot.incidents.stackparse.jvm import unwrapped
from error_autopilot.investigation.framenames import callback_caller
from error_autopilot.investigation.stackmap import rank
from tests.support.stackrules import first_of, parsed

# jvm/tencentmusic-supersonic-1312: a scheduled task fails every run; the copy starts inside an earlier trace's tail
SUPERSONIC = """\

\tat java.base/java.lang.reflect.Method.invoke(Method.java:566)
\tat org.springframework.scheduling.support.ScheduledMethodRunnable.run(ScheduledMethodRunnable.java:84)
\tat org.springframework.scheduling.support.DelegatingErrorHandlingRunnable.run(DelegatingErrorHandlingRunnable.java:54)
\tat java.base/java.util.concurrent.Executors$RunnableAdapter.call(Executors.java:515)
\tat java.base/java.util.concurrent.FutureTask.runAndReset(FutureTask.java:305)
\tat java.base/java.util.concurrent.ThreadPoolExecutor$Worker.run(ThreadPoolExecutor.java:628)
\tat java.base/java.lang.Thread.run(Thread.java:834)
16:43:56 [scheduling-1] ERROR o.s.s.s.TaskUtils$LoggingErrorHandler 95 - Unexpected error occurred in scheduled task
java.lang.NullPointerException: null
\tat com.tencent.supersonic.chat.server.memory.MemoryReviewTask.lambda$review$0(MemoryReviewTask.java:57)
\tat java.base/java.util.ArrayList$ArrayListSpliterator.forEachRemaining(ArrayList.java:1655)
\tat java.base/java.util.stream.ReferencePipeline$Head.forEach(ReferencePipeline.java:658)
\tat com.tencent.supersonic.chat.server.memory.MemoryReviewTask.review(MemoryReviewTask.java:51)
"""
SUPERSONIC_FILES = [
    "chat/server/src/main/java/com/tencent/supersonic/chat/server/memory/MemoryReviewTask.java",
    "chat/server/src/main/java/com/tencent/supersonic/chat/server/service/AgentService.java",
]

# jvm/themoah-klag-27: a 100-column terminal wrapped each frame inside its file name, padding after the rest
KLAG = """\
  java.lang.NullPointerException: Cannot invoke
  "io.vertx.kafka.client.consumer.OffsetAndMetadata.getOffset()" because "offsetAndMetadata" is null
      at io.github.themoah.klag.kafka.KafkaClientServiceImpl.lambda$getConsumerGroupOffsets$8(KafkaC
  lientServiceImpl.java:195){PAD}
      at java.base/java.util.HashMap.forEach(Unknown Source)
      at io.github.themoah.klag.kafka.KafkaClientServiceImpl.lambda$getConsumerGroupOffsets$9(KafkaC
  lientServiceImpl.java:193){PAD}
      ...{PAD}
""".replace("{PAD}", " " * 72)
KLAG_FILES = ["src/main/java/io/github/themoah/klag/kafka/KafkaClientServiceImpl.java",
              "src/main/java/io/github/themoah/klag/kafka/KafkaClientService.java"]  # fmt: skip

# node/appy-one-acebase-server-66: the published CommonJS build inside the user's node_modules
ACEBASE = """\
TypeError: Cannot read properties of undefined (reading 'version')
at node_modules/acebase-server/dist/cjs/routes/meta-info.js:12:45
"""
ACEBASE_FILES = ["dist/cjs/routes/meta-info.js", "dist/cjs/routes/meta-info.js.map", "dist/esm/routes/meta-info.js",
                 "dist/types/routes/meta-info.d.ts", "src/routes/meta-info.ts", "src/routes/meta-info.yaml",
                 "src/server.ts"]  # fmt: skip

# node/owl1n-nest-queue-5: Node 10 names a callback passed to `instanceWrappers.map(…)` after that call
NEST_QUEUE = """\
(node:98239) UnhandledPromiseRejectionWarning: TypeError: Cannot convert undefined or null to object
    at Function.getPrototypeOf (<anonymous>)
    at instanceWrappers.map (/Users/dany/Desktop/工作/dfocus-remind-backend-system/node_modules/nest-queue/dist/queue.provider.js:45:46)
    at Array.map (<anonymous>)
    at QueueProvider.getEventConsumers (/Users/dany/Desktop/工作/dfocus-remind-backend-system/node_modules/nest-queue/dist/queue.provider.js:44:14)
    at QueueModule.onModuleInit (/Users/dany/Desktop/工作/dfocus-remind-backend-system/node_modules/nest-queue/dist/queue.module.js:34:41)
    at process._tickCallback (internal/process/next_tick.js:68:7)
"""  # noqa: E501

# jvm/open-learning-exchange-myplanet-6459: the getter Kotlin generates for a lateinit property throws
MYPLANET = """\
kotlin.UninitializedPropertyAccessException: lateinit property lblLastSyncDate has not been initialized
at org.ole.planet.myplanet.ui.sync.SyncActivity.getLblLastSyncDate(SyncActivity.kt:73)
at org.ole.planet.myplanet.ui.sync.SyncActivity.forceSyncTrigger(SyncActivity.kt:582)
at org.ole.planet.myplanet.ui.sync.SyncActivity$onSyncComplete$1$2.invokeSuspend(SyncActivity.kt:456)
at kotlin.coroutines.jvm.internal.BaseContinuationImpl.resumeWith(ContinuationImpl.kt:33)
at android.os.Handler.handleCallback(Handler.java:958)
"""
MYPLANET_FILES = ["app/src/main/java/org/ole/planet/myplanet/ui/sync/SyncActivity.kt",
                  "app/src/main/java/org/ole/planet/myplanet/ui/sync/LoginActivity.kt"]  # fmt: skip
MYPLANET_PACKAGES = ["org.ole.planet.myplanet"]






def test_a_headless_run_of_jvm_frames_gives_way_to_the_whole_trace_logged_after_it() -> None:
    exc = parsed(SUPERSONIC).exceptions[0]
    assert exc.type == "java.lang.NullPointerException"
    assert [f.function for f in exc.frames] == ["lambda$review$0", "forEachRemaining", "forEach", "review"]
    first = first_of(SUPERSONIC, SUPERSONIC_FILES, ["com.tencent.supersonic"])
    assert first.path == SUPERSONIC_FILES[0] and first.function == "review"


def test_jvm_frames_under_their_header_or_a_cause_or_with_no_whole_trace_after_them_are_read_first() -> None:
    headed = "java.lang.IllegalStateException: a\n\tat a.A.f(A.java:1)\nlog line\n"
    headed += "java.lang.RuntimeException: b\n\tat b.B.g(B.java:2)\n"
    assert parsed(headed).exceptions[0].frames[0].function == "f"
    behind_a_log_line = "12:00 ERROR Worker - failed: java.io.IOException: x\n\tat a.A.f(A.java:1)\nnext\n"
    behind_a_log_line += "java.lang.RuntimeException: b\n\tat b.B.g(B.java:2)\n"
    assert parsed(behind_a_log_line).exceptions[0].frames[0].function == "f"
    headless_only = "\tat a.A.f(A.java:1)\nlog line\n\tat b.B.g(B.java:2)\n"
    assert parsed(headless_only).exceptions[0].frames[0].function == "f"
    # a trace cut at its top still has its causes: they are the same trace, not a later one
    cut_with_cause = "\tat a.A.f(A.java:1)\n\tat a.A.g(A.java:2)\nCaused by: java.io.IOException: inner\n"
    cut_with_cause += "\tat b.B.h(B.java:3)\n\t... 2 more\n"
    excs = parsed(cut_with_cause).exceptions
    assert [f.function for f in excs[0].frames] == ["f", "g"]
    assert [e.type for e in excs] == ["<unknown>", "java.io.IOException"]


def test_a_frame_a_terminal_wrapped_inside_its_location_is_joined_back() -> None:
    exc = parsed(KLAG).exceptions[0]
    assert exc.type == "java.lang.NullPointerException" and "offsetAndMetadata" in exc.message
    assert [(f.function, f.file, f.line) for f in exc.frames] == [
        ("lambda$getConsumerGroupOffsets$8", "KafkaClientServiceImpl.java", 195),
        ("forEach", None, None),
        ("lambda$getConsumerGroupOffsets$9", "KafkaClientServiceImpl.java", 193),
    ]
    first = first_of(KLAG, KLAG_FILES, ["io.github.themoah.klag"])
    assert (first.path, first.function) == (KLAG_FILES[0], "getConsumerGroupOffsets")


def test_only_the_rest_of_a_location_with_file_and_line_is_joined_to_a_cut_frame() -> None:
    cut = "\tat a.b.C.run(C.ja"
    assert unwrapped([cut, "va:12)"]) == ["\tat a.b.C.run(C.java:12)"]
    assert unwrapped([cut, "va)"]) == [cut, "va)"]  # no line: no frame the JVM prints so
    assert unwrapped([cut, "and a sentence)"]) == [cut, "and a sentence)"]
    assert unwrapped(["\tat a.b.C.run(C.java:12)", "va:12)"]) == ["\tat a.b.C.run(C.java:12)", "va:12)"]
    assert unwrapped([cut]) == [cut]  # the entry's last line: the cut-location rule of round 11 reads it


def test_a_build_folder_per_module_format_stands_for_the_one_source_folder() -> None:
    first = first_of(ACEBASE, ACEBASE_FILES)
    assert first.path == "src/routes/meta-info.ts"
    esm = ACEBASE.replace("/cjs/", "/esm/")
    assert first_of(esm, ACEBASE_FILES).path == "src/routes/meta-info.ts"


def test_a_format_folder_without_a_source_twin_or_outside_a_build_folder_keeps_the_named_file() -> None:
    built_only = [f for f in ACEBASE_FILES if not f.startswith("src/")]
    assert first_of(ACEBASE, built_only).path == "dist/cjs/routes/meta-info.js"
    # a bundle whose source twin is JavaScript too is the file the frame names (a committed GitHub Action)
    js_twin = [*built_only, "src/routes/meta-info.js"]
    assert first_of(ACEBASE, js_twin).path == "dist/cjs/routes/meta-info.js"
    # `cjs` not inside `dist/`: a folder of the project's own, no second build folder to stand for
    own = "TypeError: x\n    at f (/app/cjs/routes/meta-info.js:3:1)\n"
    assert first_of(own, ["cjs/routes/meta-info.js", "src/routes/meta-info.ts"]).path == "cjs/routes/meta-info.js"


def test_a_callback_named_after_the_call_it_was_passed_to_is_named_after_its_caller() -> None:
    stack = parsed(NEST_QUEUE)
    frame = stack.exceptions[0].frames[1]
    assert frame.function == "instanceWrappers.map"
    assert callback_caller(stack, frame) == "getEventConsumers"
    assert callback_caller(stack, stack.exceptions[0].frames[3]) is None  # a method, not a callback


def test_a_method_not_run_by_a_builtin_of_its_name_or_a_caller_elsewhere_keeps_its_name() -> None:
    other_builtin = NEST_QUEUE.replace("at Array.map (<anonymous>)", "at Array.forEach (<anonymous>)")
    stack = parsed(other_builtin)
    assert callback_caller(stack, stack.exceptions[0].frames[1]) is None
    positioned = NEST_QUEUE.replace("at Array.map (<anonymous>)", "at Mapper.map (/app/mapper.js:3:1)")
    stack = parsed(positioned)
    assert callback_caller(stack, stack.exceptions[0].frames[1]) is None
    elsewhere = NEST_QUEUE.replace("nest-queue/dist/queue.provider.js:44:14", "nest-queue/dist/other.js:44:14")
    stack = parsed(elsewhere)
    assert callback_caller(stack, stack.exceptions[0].frames[1]) is None


def test_a_lateinit_getter_yields_to_the_function_that_read_the_property_in_its_file() -> None:
    ranking = rank(parsed(MYPLANET, MYPLANET_PACKAGES), MYPLANET_FILES, packages=MYPLANET_PACKAGES)
    first, second = ranking.candidates[:2]
    assert (first.path, first.function) == (MYPLANET_FILES[0], "forceSyncTrigger")
    assert second.function == "getLblLastSyncDate"


def test_a_lateinit_getter_stays_first_for_another_property_or_a_reader_in_another_file() -> None:
    other = MYPLANET.replace("lateinit property lblLastSyncDate", "lateinit property adapter")
    assert first_of(other, MYPLANET_FILES, MYPLANET_PACKAGES).function == "getLblLastSyncDate"
    elsewhere = MYPLANET.replace(
        "SyncActivity.forceSyncTrigger(SyncActivity.kt:582)", "LoginActivity.forceSyncTrigger(LoginActivity.kt:582)"
    )
    ranking = rank(parsed(elsewhere, MYPLANET_PACKAGES), MYPLANET_FILES, packages=MYPLANET_PACKAGES)
    first, second = ranking.candidates[:2]
    assert first.function == "getLblLastSyncDate"
    assert (second.path, second.function) == (MYPLANET_FILES[1], "forceSyncTrigger")
