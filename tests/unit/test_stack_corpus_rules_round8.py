"""Rules added after the eighth held-out set was read (issue 11). Each rule is checked on the real lines of
the corpus case that showed it (`tests/fixtures/realworld/<ecosystem>/<case>/trace.txt`, quoted here so the
test does not move when the corpus does) and on variants it must leave alone."""

from __future__ import annotations

from collections.abc import Sequence

from error_autopilot.config.service_map import ServiceMap
from error_autopilot.domain.events import ErrorEvent, LogEntry
from error_autopilot.domain.stack import Frame, Language
from error_autopilot.incidents.events import parse_entry
from error_autopilot.incidents.stacktrace import parse_stacktrace
from error_autopilot.investigation.framenames import bare_function
from error_autopilot.investigation.stackmap import Candidate, rank

SMAP = ServiceMap.model_validate(
    {
        "environments": {"prod": {"loki": {"url": "http://loki", "selector": '{env="prod"}'}}},
        "services": {
            "kkp": {"repo": "kubermatic/kubermatic", "packages": ["k8c.io/kubermatic/v2"]},
            "prysm": {"repo": "OffchainLabs/prysm", "packages": ["github.com/prysmaticlabs/prysm"]},
            "pressure": {"repo": "fastify/under-pressure", "packages": ["@fastify/under-pressure"]},
        },
    }
)

# go/kubermatic-kubermatic-12783: controller-runtime logs the panic at info, then re-panics to stderr
KUBERMATIC = """\
{"level":"info","time":"2023-10-25T09:26:55.720Z","caller":"runtime/panic.go:914","msg":"Observed a panic in \
reconciler: runtime error: invalid memory address or nil pointer dereference","controller":"kkp-addon-controller"}
panic: runtime error: invalid memory address or nil pointer dereference [recovered]
	panic: runtime error: invalid memory address or nil pointer dereference
[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x1ade069]

goroutine 1067 [running]:
sigs.k8s.io/controller-runtime/pkg/internal/controller.(*Controller).Reconcile.func1()
	sigs.k8s.io/controller-runtime@v0.16.2/pkg/internal/controller/controller.go:116 +0x1e5
panic({0x3dcfb40?, 0x7248af0?})
	runtime/panic.go:914 +0x21f
k8c.io/kubermatic/v2/pkg/controller/seed-controller-manager/addon.(*Reconciler).Reconcile(0xc000178d80, \
{0x4da99d8, 0xc00a1cf2f0}, {{{0xc000b0aaf8, 0x12}, {0xc000b0aae0, 0x15}}})
	k8c.io/kubermatic/v2/pkg/controller/seed-controller-manager/addon/addon_controller.go:237 +0x729
"""

# go/offchainlabs-prysm-4986: logrus's `stack="…"` value holds the goroutine dump over many lines
PRYSM = """\
level=error msg="gRPC panicked!" error="runtime error: index out of range [28812] with length 0" \
stack="goroutine 12853 [running]:
runtime/debug.Stack(0xc0000e8690, 0x1815065, 0x5)
	GOROOT/src/runtime/debug/stack.go:24 +0x9d
github.com/prysmaticlabs/prysm/shared/traceutil.RecoveryHandlerFunc(0x1bc9dc0, 0xc02a61c810, 0x1714b00, \
0xc023728040, 0x3, 0xc00001f2e0)
	shared/traceutil/recovery_interceptor_option.go:29 +0x155
github.com/grpc-ecosystem/go-grpc-middleware/recovery.recoverFrom(0x1bc9dc0, 0xc02a61c810, 0x1714b00, \
0xc023728040, 0x19daab8, 0x43e8b6, 0xc00001f368)
	external/com_github_grpc_ecosystem_go_grpc_middleware/recovery/interceptors.go:52 +0x5a
panic(0x1714b00, 0xc023728040)
	GOROOT/src/runtime/panic.go:679 +0x1b2
github.com/prysmaticlabs/prysm/beacon-chain/rpc/beacon.(*Server).GetValidatorPerformance(0xc017c7a0f0, \
0x1bc9dc0, 0xc02a61ca80, 0xc0226bb480, 0xc017c7a0f0, 0x0, 0x0)
	beacon-chain/rpc/beacon/validators.go:610 +0x1374
"""
PRYSM_FILES = ["beacon-chain/rpc/beacon/validators.go", "shared/traceutil/recovery_interceptor_option.go",
               "beacon-chain/rpc/beacon/server.go"]  # fmt: skip

# node/fastify-under-pressure-232: a pino-style error object pretty-printed, its `stack` unquoted
UNDER_PRESSURE = """\
{
    "type": "TypeError",
     "message": "Cannot read properties of undefined (reading 'pressureHandler')",
     "stack":
          TypeError: Cannot read properties of undefined (reading 'pressureHandler')
              at Object.onRequest (/Users/tweekus/projects/platformeco/platformeco-fastify-connector/\
node_modules/@fastify/under-pressure/index.js:224:54)
              at hookIterator (/Users/tweekus/projects/platformeco/platformeco-fastify-connector/\
node_modules/fastify/lib/hooks.js:251:10)
              at process.processTicksAndRejections (node:internal/process/task_queues:95:5)
}
"""


def _event(line: str, service: str) -> ErrorEvent | None:
    return parse_entry(LogEntry(ts_ns=1, line=line, labels={"service_name": service}, metadata={}), "prod", SMAP)


def test_a_go_crash_below_an_info_json_record_is_an_error_with_its_stack() -> None:
    event = _event(KUBERMATIC, "kkp")
    assert event is not None and event.level == "error"
    assert event.stack is not None and event.stack.primary.type == "panic"
    own = [f for f in event.stack.primary.frames if f.in_app]
    assert [f.function for f in own] == ["(*Reconciler).Reconcile"]


def test_an_info_json_record_alone_or_over_plain_lines_stays_info() -> None:
    record = KUBERMATIC.split("\n", 1)[0]
    assert _event(record, "kkp") is None
    assert _event(record + "\nreconcile finished in 3s\n", "kkp") is None
    # a Python traceback under a JSON warning is that warning's (`logger.warning(..., exc_info=True)`)
    warned = '{"level":"warning","msg":"retrying"}\nTraceback (most recent call last):\n'
    assert _event(warned + '  File "/app/x.py", line 3, in f\nKeyError: 1\n', "kkp") is None


def test_a_logfmt_value_broken_over_lines_is_read_from_the_whole_entry() -> None:
    event = _event(PRYSM, "prysm")
    assert event is not None and event.level == "error" and event.stack is not None
    functions = [f.function for f in event.stack.primary.frames if f.in_app]
    assert functions == ["RecoveryHandlerFunc", "(*Server).GetValidatorPerformance"]


def test_a_logfmt_stack_field_that_parses_is_kept_as_it_is() -> None:
    # logrus quotes a value with `%q`: the field holds the whole stack on the record's line
    quoted = ('level=error msg="boom" stack="goroutine 1 [running]:\\nmain.run()\\n\\t/app/run.go:9 +0x1d'
              '\\nmain.main()\\n\\t/app/main.go:3 +0x1"')  # fmt: skip
    below = "\ngoroutine 2 [running]:\nmain.other()\n\t/app/other.go:5 +0x1\n"
    event = _event(quoted + below, "prysm")
    assert event is not None and event.stack is not None
    assert [f.line for f in event.stack.primary.frames] == [9, 3]


def test_a_pretty_printed_error_object_with_an_unquoted_stack_is_read() -> None:
    event = _event(UNDER_PRESSURE, "pressure")
    assert event is not None and event.stack is not None
    assert (event.stack.primary.type, event.stack.primary.frames[0].function) == ("TypeError", "Object.onRequest")


def test_a_multi_line_json_document_without_frames_has_no_stack() -> None:
    pretty = '{\n  "level": "error",\n  "msg": "upstream refused the connection",\n  "code": 503\n}\n'
    event = _event(pretty, "pressure")
    assert event is not None and event.stack is None


def _ranked(text: str, files: Sequence[str], packages: Sequence[str]) -> tuple[Candidate, ...]:
    stack = parse_stacktrace(text, packages=packages)
    assert stack is not None
    return rank(stack, files, packages=packages).candidates


def test_below_a_go_recover_handler_the_frame_that_panicked_comes_first() -> None:
    first, second, *_ = _ranked(PRYSM, PRYSM_FILES, ["github.com/prysmaticlabs/prysm"])
    assert (first.path, first.function) == ("beacon-chain/rpc/beacon/validators.go", "GetValidatorPerformance")
    assert first.reasons[0].startswith("where the panic happened")
    assert (second.path, second.function) == ("shared/traceutil/recovery_interceptor_option.go",
                                              "RecoveryHandlerFunc")  # fmt: skip
    assert "a deferred handler that recovered a panic" in second.reason


def test_a_recover_handler_with_no_own_frame_below_the_panic_keeps_the_first_place() -> None:
    above_panic = PRYSM.split("panic(0x1714b00", 1)[0]
    handler_only = above_panic + "panic(0x1714b00, 0xc023728040)\n\tGOROOT/src/runtime/panic.go:679 +0x1b2\n"
    first, *_ = _ranked(handler_only, PRYSM_FILES, ["github.com/prysmaticlabs/prysm"])
    assert (first.path, first.function) == ("shared/traceutil/recovery_interceptor_option.go", "RecoveryHandlerFunc")
    assert "panic" not in first.reason


def test_an_own_frame_under_a_library_recover_handler_is_first_as_before() -> None:
    first, *_ = _ranked(KUBERMATIC, ["pkg/controller/seed-controller-manager/addon/addon_controller.go"],
                        ["k8c.io/kubermatic/v2"])  # fmt: skip
    assert first.function == "Reconcile"
    assert all("recovered a panic" not in r for r in first.reasons)


# python/inyokaproject-inyoka-1285: Sentry's raw view, each exception's line above its frames
INYOKA = """\
KeyError: 'username'
  File "django/utils/datastructures.py", line 76, in __getitem__
    list_ = super().__getitem__(key)

MultiValueDictKeyError: 'username'
  File "django/core/handlers/exception.py", line 47, in inner
    response = get_response(request)
  File "django/utils/deprecation.py", line 116, in __call__
    response = self.process_request(request)
  File "inyoka/middlewares/services.py", line 40, in process_request
    response = call(request, parts[1])
  File "inyoka/utils/services.py", line 33, in __call__
    return self.methods[name](request)
  File "inyoka/ikhaya/services.py", line 22, in change_suggestion_assignment
    username, suggestion = post['username'], post['suggestion']
  File "django/utils/datastructures.py", line 78, in __getitem__
    raise MultiValueDictKeyError(key)
"""


def test_an_exception_line_above_its_frames_names_them_as_cpython_would() -> None:
    trace = parse_stacktrace(INYOKA, packages=["inyoka"])
    assert trace is not None and trace.language == "python"
    final, cause = trace.exceptions
    assert (final.type, final.message) == ("MultiValueDictKeyError", "'username'")
    assert [f.function for f in final.frames][:2] == ["__getitem__", "change_suggestion_assignment"]
    assert [f.line for f in final.frames] == [78, 22, 33, 40, 116, 47]
    assert (cause.type, [f.line for f in cause.frames]) == ("KeyError", [76])


def test_frames_that_end_on_their_exception_keep_cpythons_reading() -> None:
    # a log line that reads like an exception above a headerless traceback: the line below the frames names it
    logged = 'ERROR:app: failed\n  File "/app/x.py", line 3, in f\n    g()\nKeyError: 1\n'
    trace = parse_stacktrace(logged)
    assert trace is not None and (trace.primary.type, trace.primary.message) == ("KeyError", "1")
    assert len(trace.exceptions) == 1


def test_a_traceback_header_is_never_moved() -> None:
    cpython = 'Traceback (most recent call last):\n  File "/app/x.py", line 3, in f\n    g()\nKeyError: 1\n'
    # an exception line over frames in a paste that also holds CPython's header: CPython's layout throughout
    mixed = 'ValueError: bad\n  File "/app/y.py", line 9, in h\n    k()\n\n' + cpython
    trace = parse_stacktrace(mixed)
    assert trace is not None and trace.primary.type == "KeyError"
    assert [f.line for f in trace.primary.frames] == [3]
    # a tool's `Traceback:` label over the frames is no exception
    labelled = parse_stacktrace('Traceback:\n  File "/app/x.py", line 3, in f\n    g()\n')
    assert labelled is not None and labelled.primary.type == "<unknown>"


def test_a_lambda_in_a_constructor_is_named_after_the_class() -> None:
    # dotnet/bonsai-rx-bonsai-676: Roslyn names a constructor's lambda `<.ctor>b__N`
    bonsai = ("System.InvalidOperationException: Nullable object must have a value.\n"
              "   at System.ThrowHelper.ThrowInvalidOperationException(ExceptionResource resource)\n"
              "   at Bonsai.Vision.Design.ImageEllipseRoiPicker.<>c__DisplayClass11_5.<.ctor>b__34()\n")  # fmt: skip
    trace = parse_stacktrace(bonsai, packages=["Bonsai"])
    assert trace is not None
    assert bare_function(trace.primary.frames[1], "dotnet") == "ImageEllipseRoiPicker"
    javac = Frame(function="lambda$new$0", module="com.acme.OrderQueue", in_app=True, raw="")
    assert bare_function(javac, "jvm") == "OrderQueue"


def test_lambdas_and_local_functions_of_named_methods_keep_their_names() -> None:
    def named(function: str, module: str, language: Language) -> str:
        return bare_function(Frame(function=function, module=module, in_app=True, raw=""), language)

    assert named("<>c__DisplayClass3_0.<ItemAddedHandler>b__0", "Jellyfin.Plugin.ItemAddedService", "dotnet") == (
        "ItemAddedHandler"
    )
    assert named("<.ctor>g__Load|0_0", "Acme.Settings", "dotnet") == "Load"  # a local function: its own name
    assert named("lambda$newOrder$0", "com.acme.Orders", "jvm") == "newOrder"
    assert named("lambda$statistics$2", "com.acme.Orders", "jvm") == "statistics"


def test_an_indented_paste_of_the_tracker_layout_reads_the_same() -> None:
    indented = "\n".join("    " + line for line in INYOKA.splitlines())
    plain, shifted = parse_stacktrace(INYOKA, packages=["inyoka"]), parse_stacktrace(indented, packages=["inyoka"])
    assert plain is not None and shifted is not None
    assert [(e.type, [f.line for f in e.frames]) for e in shifted.exceptions] == [
        (e.type, [f.line for f in e.frames]) for e in plain.exceptions
    ]


# dotnet/kareadita-kavita-2759 and go/flux-iac-tofu-controller-242: one frame, every line behind a prefix
KAVITA = """\
kavita            | [Kavita] [2024-03-04 13:06:01.116 +11:00  6] [Error] API.Services.BookService There was an issue
kavita            | System.NullReferenceException: Object reference not set to an instance of an object.
kavita            |    at API.Services.BookService.InlineStyles(HtmlDocument doc, EpubBookRef book, String apiBase, \
HtmlNode body) in C:\\Users\\Will\\github\\Kavita\\API\\Services\\BookService.cs:line 390
"""
TOFU = """\
2022-05-26T14:03:06.464566440Z panic: runtime error: invalid memory address or nil pointer dereference
2022-05-26T14:03:06.464588821Z [signal SIGSEGV: segmentation violation code=0x1 addr=0x28 pc=0x15c0b26]
2022-05-26T14:03:06.464590542Z
2022-05-26T14:03:06.464592638Z goroutine 251 [running]:
2022-05-26T14:03:06.471823113Z github.com/weaveworks/tf-controller/controllers.(*TerraformReconciler).setupTerraform()
2022-05-26T14:03:06.471834094Z     /workspace/controllers/terraform_controller.go:685 +0x6e6
"""
ABOVE = "2024-05-13 15:06:38,123 ERROR [main] app.Worker - request failed\n"


def _located(text: str, packages: Sequence[str]) -> list[tuple[str, str | None, int | None]]:
    trace = parse_stacktrace(text, packages=packages)
    assert trace is not None
    return [(trace.primary.type, f.file, f.line) for f in trace.primary.frames]


def test_a_line_above_a_one_frame_trace_behind_a_prefix_leaves_the_prefix_found() -> None:
    for trace, packages in ((KAVITA, ["API"]), (TOFU, ["github.com/weaveworks/tf-controller"])):
        alone = _located(trace, packages)
        assert alone and alone[0][2] in (390, 685)
        assert _located(ABOVE + trace, packages) == alone
        assert _located("ERROR request 7 failed\n" + trace, packages) == alone


def test_a_one_frame_trace_without_a_prefix_is_read_as_it_stands() -> None:
    bare = "System.InvalidOperationException: boom\n   at Acme.Orders.Place() in /src/Orders.cs:line 12\n"
    expected = [("System.InvalidOperationException", "/src/Orders.cs", 12)]
    assert _located(ABOVE + bare, ["Acme"]) == _located(bare, ["Acme"]) == expected


# Rich's traceback as `rich.traceback.install()` (and Typer) print it, chained, one frame path wrapped by the box
RICH = """\
╭───────────────────── Traceback (most recent call last) ─────────────────────╮
│ /app/svc/store.py:12 in load                                                 │
│                                                                              │
│   11 │   with open(path) as fh:                                              │
│ ❱ 12 │   │   return json.load(fh)["orders"]                                  │
╰──────────────────────────────────────────────────────────────────────────────╯
KeyError: 'orders'

The above exception was the direct cause of the following exception:

╭───────────────────── Traceback (most recent call last) ─────────────────────╮
│ /app/svc/main.py:3 in <module>                                               │
│                                                                              │
│ ❱ 3 run()                                                                    │
│                                                                              │
│ /usr/local/lib/python3.12/site-packages/svc_plugins/very/long/path/to/the/mo │
│ dule.py:40 in run                                                            │
│                                                                              │
│ ❱ 40 │   raise RuntimeError("cannot load orders") from error                 │
╰──────────────────────────────────────────────────────────────────────────────╯
RuntimeError: cannot load orders
"""


def test_a_rich_traceback_reads_as_cpythons() -> None:
    trace = parse_stacktrace(RICH, packages=["svc"])
    assert trace is not None and trace.language == "python"
    final, cause = trace.exceptions
    assert (final.type, final.message) == ("RuntimeError", "cannot load orders")
    assert [(f.function, f.line) for f in final.frames] == [("run", 40), ("<module>", 3)]
    assert final.frames[0].file == "/usr/local/lib/python3.12/site-packages/svc_plugins/very/long/path/to/the/module.py"
    assert (cause.type, [(f.file, f.line) for f in cause.frames]) == ("KeyError", [("/app/svc/store.py", 12)])


def test_a_box_drawn_around_other_text_is_no_traceback() -> None:
    panel = "╭──── Settings ────╮\n│ path: /app/x.py:3 in run │\n╰──────────────────╯\n"
    assert parse_stacktrace(panel) is None


def test_a_rich_traceback_behind_a_process_managers_prefix_reads_the_same() -> None:
    prefixed = "\n".join("3|app  | " + line for line in RICH.splitlines())
    plain, shipped = parse_stacktrace(RICH, packages=["svc"]), parse_stacktrace(prefixed, packages=["svc"])
    assert plain is not None and shipped is not None
    assert [(e.type, [(f.file, f.line) for f in e.frames]) for e in shipped.exceptions] == [
        (e.type, [(f.file, f.line) for f in e.frames]) for e in plain.exceptions
    ]
