"""Trace formats no runtime's own printer wrote, and the rules that name a function the trace does not:
each test quotes trace text pasted in a public GitHub issue (the URL above it) — none of them is a
corpus case, so the rules are checked on material they were not tuned on. Only trace text is quoted;
the source snippets are our own, written to the shape the rule reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from error_autopilot.domain.stack import Language
from error_autopilot.incidents.stacktrace import parse_stacktrace
from error_autopilot.investigation import beyond, blame
from error_autopilot.investigation.framenames import enclosing_function
from error_autopilot.investigation.stackmap import rank
from tests.support.corpus import build_repo

# https://github.com/kubernetes/kubernetes/issues/21934 (apimachinery's HandleCrash, 2016 wording)
K8S_RECOVERED = """\
E0224 23:32:04.633090       6 runtime.go:58] Recovered from panic: "invalid memory address or nil pointer dereference" (runtime error: invalid memory address or nil pointer dereference)
/go/src/k8s.io/kubernetes/_output/dockerized/go/src/k8s.io/kubernetes/pkg/util/runtime/runtime.go:52
/go/src/k8s.io/kubernetes/_output/dockerized/go/src/k8s.io/kubernetes/pkg/util/runtime/runtime.go:40
/usr/src/go/src/runtime/asm_amd64.s:402
/usr/src/go/src/runtime/panic.go:387
/usr/src/go/src/runtime/panic.go:42
/usr/src/go/src/runtime/sigpanic_unix.go:26
/go/src/k8s.io/kubernetes/_output/dockerized/go/src/k8s.io/kubernetes/pkg/util/deployment/deployment.go:337
/go/src/k8s.io/kubernetes/_output/dockerized/go/src/k8s.io/kubernetes/pkg/controller/deployment/deployment_controller.go:1066
/go/src/k8s.io/kubernetes/_output/dockerized/go/src/k8s.io/kubernetes/pkg/controller/deployment/deployment_controller.go:596
"""  # noqa: E501
K8S_FILES = ["pkg/util/runtime/runtime.go", "pkg/util/deployment/deployment.go",
             "pkg/controller/deployment/deployment_controller.go", "pkg/controller/deployment/sync.go"]  # fmt: skip

# https://github.com/kubernetes/kubernetes/issues/57209 (syslog prefix, each position behind `: `)
K8S_SYSLOG = """\
Dec 07 17:03:19 iip-foobar.internal atomic-openshift-master-controllers[10401]: E1207 17:03:19.535968   10401 runtime.go:66] Observed a panic: "invalid memory address or nil pointer dereference" (runtime error: invalid memory address or nil pointer dereference)
Dec 07 17:03:19 iip-foobar.internal atomic-openshift-master-controllers[10401]: /home/shared/go_projects/src/github.com/openshift/origin/_output/local/go/src/github.com/openshift/origin/vendor/k8s.io/apimachinery/pkg/util/runtime/runtime.go:72
Dec 07 17:03:19 iip-foobar.internal atomic-openshift-master-controllers[10401]: /home/shared/go_projects/src/github.com/openshift/origin/_output/local/go/src/github.com/openshift/origin/vendor/k8s.io/apimachinery/pkg/util/runtime/runtime.go:65
"""  # noqa: E501

# https://github.com/aws/karpenter-provider-aws/issues/463 (newer apimachinery: a goroutine dump follows)
K8S_GOROUTINE = """\
E0618 20:55:19.602094       1 runtime.go:78] Observed a panic: "invalid memory address or nil pointer dereference" (runtime error: invalid memory address or nil pointer dereference)
goroutine 321 [running]:
k8s.io/apimachinery/pkg/util/runtime.logPanic(0x1d1d5e0, 0x30ea700)
        k8s.io/apimachinery@v0.19.7/pkg/util/runtime/runtime.go:74 +0xa6
k8s.io/apimachinery/pkg/util/runtime.HandleCrash(0x0, 0x0, 0x0)
        k8s.io/apimachinery@v0.19.7/pkg/util/runtime/runtime.go:48 +0x89
panic(0x1d1d5e0, 0x30ea700)
        runtime/panic.go:969 +0x1b9
"""  # noqa: E501


def test_kubernetes_handle_crash_with_bare_positions_is_a_go_trace() -> None:
    trace = parse_stacktrace(K8S_RECOVERED, packages=("k8s.io/kubernetes",))
    assert trace is not None and trace.language == "go"
    assert trace.primary.type == "panic" and trace.primary.message.startswith('"invalid memory address')
    assert [(f.file or "").rsplit("/", 1)[-1] for f in trace.primary.frames][6:8] == [
        "deployment.go", "deployment_controller.go"]  # fmt: skip
    ranked = rank(trace, K8S_FILES, packages=("k8s.io/kubernetes",)).candidates
    # the handler that recovered is the innermost own frame, above the runtime's `panic.go`: the frame that
    # panicked comes first, then the handler (the eighth round, tests/fixtures/realworld/README.md)
    assert [c.path for c in ranked][:3] == ["pkg/util/deployment/deployment.go", "pkg/util/runtime/runtime.go",
                                            "pkg/controller/deployment/deployment_controller.go"]  # fmt: skip


def test_kubernetes_positions_behind_a_syslog_prefix() -> None:
    trace = parse_stacktrace(K8S_SYSLOG)
    assert trace is not None and trace.language == "go" and trace.primary.type == "panic"
    assert [f.line for f in trace.primary.frames] == [72, 65]
    assert all(f.file and f.file.startswith("/home/shared/") for f in trace.primary.frames)


def test_kubernetes_observed_panic_then_a_goroutine_dump() -> None:
    trace = parse_stacktrace(K8S_GOROUTINE)
    assert trace is not None and trace.primary.type == "panic"
    assert [f.function for f in trace.primary.frames] == ["logPanic", "HandleCrash", "panic"]


# https://github.com/traccar/traccar/issues/1410, /1537, /1945, /5933: traccar's one-line `Log.exceptionStack`
@pytest.mark.parametrize(
    ("text", "exc_type", "frames"),
    [
        ("2015-09-18 14:21:50  WARN: [34EBE2A0] error - NullPointerException (... < Gl200ProtocolDecoder.java:117 < "
         "ExtendedObjectDecoder.java:39 < ...)", "NullPointerException",
         [("Gl200ProtocolDecoder", 117), ("ExtendedObjectDecoder", 39)]),
        ("2015-11-18 09:42:58  WARN: [FB8EC65E] error - NullPointerException (... < MainEventHandler:43 < ... < "
         "ExtendedObjectDecoder:42 < ... < *:49 < ...)", "NullPointerException",
         [("MainEventHandler", 43), ("ExtendedObjectDecoder", 42), ("ExtendedObjectDecoder", 49)]),
        ("2016-05-15 01:09:18 WARN: [30C47E5D] error – NullPointerException (ConnectionManager:115 < "
         "BaseProtocolDecoder:107 < ExtendedObjectDecoder:60 < …)", "NullPointerException",
         [("ConnectionManager", 115), ("BaseProtocolDecoder", 107), ("ExtendedObjectDecoder", 60)]),
        ('WARN: Cannot invoke "java.util.List.get(int)" because the return value of \n'
         '"java.util.Map.get(Object)" is null - NullPointerException\n(PathAwayProtocolDecoder:67 < '
         "ExtendedObjectDecoder:72)", "NullPointerException",
         [("PathAwayProtocolDecoder", 67), ("ExtendedObjectDecoder", 72)]),
        ("2015-11-18 09:43:27  WARN: Data truncation: Incorrect datetime value: '1970-01-01 08:00:00' for column "
         "'deviceTime' at row 1 - MysqlDataTruncation (... < QueryBuilder:428 < DataManager:351 < "
         "DefaultDataHandler:31 < ...)", "MysqlDataTruncation",
         [("QueryBuilder", 428), ("DataManager", 351), ("DefaultDataHandler", 31)]),
    ],
    ids=["file-names", "elided-and-star", "unicode-ellipsis", "message-before-wrapped", "not-an-exception-suffix"],
)  # fmt: skip
def test_a_compact_one_line_jvm_chain(text: str, exc_type: str, frames: list[tuple[str, int]]) -> None:
    trace = parse_stacktrace(text, packages=("org.traccar",))
    assert trace is not None and trace.language == "jvm" and trace.primary.type == exc_type
    assert [(f.module, f.line) for f in trace.primary.frames] == frames
    assert all(f.in_app for f in trace.primary.frames)  # no package printed: nothing to hold against `org.traccar`


def test_a_compact_chain_maps_by_class_and_the_source_names_the_method(tmp_path: Path) -> None:
    text = ("2016-05-15 01:09:18 WARN: [30C47E5D] error – NullPointerException (ConnectionManager:115 < "
            "BaseProtocolDecoder:107 < ExtendedObjectDecoder:60 < …)")  # fmt: skip
    files = ["src/org/traccar/database/ConnectionManager.java", "src/org/traccar/BaseProtocolDecoder.java",
             "src/org/traccar/ExtendedObjectDecoder.java"]  # fmt: skip
    trace = parse_stacktrace(text, packages=("org.traccar",))
    assert trace is not None
    first = rank(trace, files, packages=("org.traccar",)).candidates[0]
    assert first.path == "src/org/traccar/database/ConnectionManager.java"
    source = [""] * 130
    source[99] = "    public void updateDevice(long deviceId) {"
    source[109] = "        if (device.getStatus() == null) {"
    source[111] = "        }"
    source[114] = "        device.getStatus().update();"
    assert enclosing_function(source, 115, "jvm") == "updateDevice"


# https://github.com/cookiecutter/cookiecutter-django/issues/444 (Django < 2's plain-text technical 500)
DJANGO = """\
File "/usr/local/lib/python3.5/site-packages/django/core/handlers/base.py" in get_response
  149.                     response = self.process_exception_by_middleware(e, request)

File "/usr/local/lib/python3.5/site-packages/django/core/handlers/base.py" in get_response
  147.                     response = wrapped_callback(request, *callback_args, **callback_kwargs)

File "/usr/local/lib/python3.5/contextlib.py" in inner
  30.                 return func(*args, **kwds)

File "/usr/local/lib/python3.5/site-packages/django/utils/decorators.py" in _wrapped_view
  149.                     response = view_func(request, *args, **kwargs)

Exception Type: TypeError at /404/
Exception Value: page_not_found() missing 1 required positional argument: 'exception'
"""


def test_django_plain_text_traceback() -> None:
    trace = parse_stacktrace(DJANGO)
    assert trace is not None and trace.language == "python"
    assert trace.primary.type == "TypeError"
    assert trace.primary.message == "page_not_found() missing 1 required positional argument: 'exception'"
    assert [(f.function, f.line) for f in trace.primary.frames] == [
        ("_wrapped_view", 149), ("inner", 30), ("get_response", 147), ("get_response", 149)]  # fmt: skip


def test_django_traceback_header_and_a_dot_dot_path() -> None:
    library = "/usr/local/lib/python3.5/site-packages/django/utils/decorators.py"
    text = "Traceback:\n" + DJANGO.replace(library, "/srv/site/backoffice/../shop/views.py")
    trace = parse_stacktrace(text, packages=("shop",))
    assert trace is not None
    ranked = rank(trace, ["shop/views.py", "backoffice/views.py"], packages=("shop",)).candidates
    assert [(c.path, c.function) for c in ranked] == [("shop/views.py", "_wrapped_view")]


def test_positions_only_still_name_files() -> None:
    text = "crash report\n  /srv/app/billing/invoice.py:88\n  /srv/app/billing/api.py:12\n"
    trace = parse_stacktrace(text)
    assert trace is not None and trace.language == "python"
    assert [f.line for f in trace.primary.frames] == [12, 88]  # Python prints the innermost last
    assert parse_stacktrace("see /srv/app/billing/invoice.py:88 for details") is None  # one mention is no trace
    sentences = "config read from settings.py:12 at startup\nrules from rules.py:40 are stale, reloading"
    assert parse_stacktrace(sentences) is None  # mentions inside sentences are not positions


JS_SOURCE = """\
function getTemplatesListing(req, res, next) {
  function config(cb) {
    return cb(null, {});
  }
  async.parallel({config: config}, function (err, results) {
    results.views.map(function (view) {
      return view.replace('.tpl', '');
    });
  });
}""".splitlines()
PY_SOURCE = """\
def handle(rows):
    def key(row):
        return row.id

    return sorted(rows, key=lambda r: r.total)""".splitlines()
GO_SOURCE = """\
func DecodeCertificate(raw []byte) (*x509.Certificate, error) {
\tblock, _ := pem.Decode(raw)
\treturn x509.ParseCertificate(block.Bytes)
}""".splitlines()


@pytest.mark.parametrize(
    ("lines", "line", "language", "name"),
    [(JS_SOURCE, 7, "node", "getTemplatesListing"), (PY_SOURCE, 5, "python", "handle"),
     (GO_SOURCE, 3, "go", "DecodeCertificate"), (JS_SOURCE, 3, "node", "config")],
    ids=["callback-after-a-closed-sibling", "python-after-a-nested-def", "go-position-only", "inside-the-sibling"],
)  # fmt: skip
def test_a_sibling_definition_that_closed_before_the_line_is_not_the_function(
    lines: list[str], line: int, language: Language, name: str
) -> None:
    assert enclosing_function(lines, line, language) == name


def test_compiled_javascript_lines_do_not_name_a_source_function() -> None:
    # https://github.com/felixmosh/bull-board/issues/391: the installed package's compiled dist/*.js
    text = ("TypeError: Cannot read property 'attemptsMade' of null\n"
            "    at /app/node_modules/@bull-board/api/dist/src/queueAdapters/bull.js:29:13\n"
            "    at Array.map (<anonymous>)")  # fmt: skip
    trace = parse_stacktrace(text)
    assert trace is not None
    first = rank(trace, ["packages/api/src/queueAdapters/bull.ts"]).candidates[0]
    assert first.path == "packages/api/src/queueAdapters/bull.ts"
    assert "line numbers from compiled code" in first.reason


def test_a_class_renamed_since_the_build_is_found_by_its_method(tmp_path: Path) -> None:
    # https://github.com/stevencohn/OneMore/issues/2363 (French frames; the class is TwoWayLinkCommand today)
    text = ("System.NullReferenceException\n"
            "   à River.OneMoreAddIn.Commands.BiLinkCommand.ApplyHyperlink(Page page, SelectionRange range, "
            "String link)\n"
            "   à River.OneMoreAddIn.Commands.BiLinkCommand.<CreateLinks>d__9.MoveNext()")  # fmt: skip
    files = ["OneMore/Commands/References/TwoWayLinkCommand.cs", "OneMore/Commands/References/CopyLinkCommand.cs"]
    symbols = {"OneMore/Commands/References/TwoWayLinkCommand.cs": [
        {"line": 25, "col": 4, "kind": "class", "name": "TwoWayLinkCommand", "end": 400},
        {"line": 62, "col": 8, "kind": "method", "name": "CreateLinks", "end": 180},
        {"line": 299, "col": 8, "kind": "method", "name": "ApplyHyperlink", "end": 330}]}  # fmt: skip
    repo = tmp_path / "repo.git"
    head = build_repo(files, repo, symbols)
    trace = parse_stacktrace(text, packages=("River.OneMoreAddIn",))
    assert trace is not None
    first = rank(trace, files, packages=("River.OneMoreAddIn",),
                 grep=lambda pattern: blame.grep(repo, head, pattern)).candidates[0]  # fmt: skip
    assert (first.path, first.function) == ("OneMore/Commands/References/TwoWayLinkCommand.cs", "ApplyHyperlink")
    assert "renamed since the build" in first.reason


# https://github.com/linkerd/linkerd2/issues/1157: a Go unit test panics; its only own frame is the test
LINKERD_TEST = """\
=== RUN   TestVersionCheck/Passes_when_versions_are_latest
panic: runtime error: index out of range [recovered]
  panic: runtime error: index out of range
goroutine 27 [running]:
testing.tRunner.func1(0xc4203641e0)
  /home/travis/.gimme/versions/go1.10.2.linux.amd64/src/testing/testing.go:742 +0x567
panic(0x1753c00, 0x2272af0)
  /home/travis/.gimme/versions/go1.10.2.linux.amd64/src/runtime/panic.go:502 +0x24a
github.com/runconduit/conduit/pkg/version_test.TestVersionCheck.func2(0xc4203641e0)
  /home/travis/gopath/src/github.com/runconduit/conduit/pkg/version/version_test.go:31 +0xca1
testing.tRunner(0xc4203641e0, 0x19378a8)
  /home/travis/.gimme/versions/go1.10.2.linux.amd64/src/testing/testing.go:777 +0x16e
"""


def test_a_failing_test_points_at_the_code_it_exercises_next() -> None:
    files = ["pkg/version/version.go", "pkg/version/version_test.go", "cli/cmd/version.go"]
    trace = parse_stacktrace(LINKERD_TEST, packages=("github.com/runconduit/conduit",))
    assert trace is not None
    ranked = rank(trace, files, packages=("github.com/runconduit/conduit",)).candidates
    assert [c.path for c in ranked] == ["pkg/version/version_test.go", "pkg/version/version.go"]
    assert "version_test.go exercises" in ranked[1].reason


@pytest.mark.parametrize(
    ("test", "listed", "subjects"),
    [
        ("storage/http_service_test.go", ["storage/http_service.go", "http/service.go"], ["storage/http_service.go"]),
        ("tests/test_billing.py", ["shop/billing.py", "tests/test_billing.py"], ["shop/billing.py"]),
        ("core/src/test/java/com/acme/OrderServiceTest.java",
         ["core/src/main/java/com/acme/OrderService.java", "web/src/main/java/com/acme/OrderService.java"],
         ["core/src/main/java/com/acme/OrderService.java"]),
        ("src/cart.spec.ts", ["src/cart.ts"], ["src/cart.ts"]),
        ("tests/client/congressvoting_test.go", ["lib/client/client.go", "lib/client/response.go"],
         ["lib/client/client.go"]),
        ("tests/e2e_test.go", ["lib/e2e.go.bak"], []),
    ],
    ids=["go", "pytest", "maven", "jest", "mirrored-package", "nothing"],
)  # fmt: skip
def test_the_code_under_test_follows_the_runners_naming(test: str, listed: list[str], subjects: list[str]) -> None:
    assert beyond.test_subjects(test, listed) == subjects


def test_the_library_that_raised_and_names_in_the_message(tmp_path: Path) -> None:
    # BlockHound's error as its issue tracker shows it (https://github.com/reactor/BlockHound/issues/187)
    text = ("reactor.blockhound.BlockingOperationError: Blocking call! java.lang.Thread.sleep\n"
            "\tat java.base/java.lang.Thread.sleep(Thread.java)\n"
            "\tat com.acme.feed.Poller.poll(Poller.java:40)")  # fmt: skip
    files = ["feed/src/main/java/com/acme/feed/Poller.java",
             "feed/src/main/java/com/acme/AcmeBlockHoundIntegration.java",
             "feed/src/test/java/com/acme/BlockHoundTest.java"]  # fmt: skip
    trace = parse_stacktrace(text, packages=("com.acme",))
    assert trace is not None
    ranked = rank(trace, files, packages=("com.acme",)).candidates
    assert [c.path for c in ranked] == files[:2]  # below the frame, never a test
    assert "named after blockhound" in ranked[1].reason and "not on the stack" in ranked[1].reason
    text = ("Traceback (most recent call last):\n  File \"/srv/shop/api.py\", line 3, in pay\n"
            "AttributeError: module 'shop.billing' has no attribute 'compute_total_due'")  # fmt: skip
    files = ["shop/api.py", "shop/billing.py", "shop/legacy/ledger.py"]
    repo = tmp_path / "repo.git"
    head = build_repo(files, repo, {"shop/legacy/ledger.py": [{"line": 9, "col": 0, "kind": "function",
                                                              "name": "compute_total_due", "end": 20}]})  # fmt: skip
    trace = parse_stacktrace(text, packages=("shop",))
    assert trace is not None
    ranked = rank(trace, files, packages=("shop",), grep=lambda p: blame.grep(repo, head, p)).candidates
    assert [c.path for c in ranked] == ["shop/api.py", "shop/legacy/ledger.py"]
    assert "defines compute_total_due" in ranked[1].reason


# https://github.com/CarlosACepeda/LiveDisplay/issues/108 (App Center's GitHub issue for a Xamarin crash)
APP_CENTER = """\
### Version 1.0.6(27) ###

### Stacktrace ###

LiveDisplay.Services.NotificationHijackerService.RetrieveNotificationFromStatusBar () [0x0005f] in C:\\Users\\SD04\\Source\\Repos\\LiveDisplay\\LiveDisplay\\Services\\Notifications\\NotificationHijackerService.cs:167;LiveDisplay.Services

LiveDisplay.Services.NotificationHijackerService.OnListenerConnected () [0x0000f] in C:\\Users\\SD04\\Source\\Repos\\LiveDisplay\\LiveDisplay\\Services\\Notifications\\NotificationHijackerService.cs:64;LiveDisplay.Services

### Reason ###

System.NullReferenceException: Object reference not set to an instance of an object.
"""  # noqa: E501
# https://github.com/CarlosACepeda/LiveDisplay/issues/93 (release build: an assembly hash instead of a file)
APP_CENTER_NO_FILE = """\
### Stacktrace ###

LiveDisplay.Models.OpenNotification.get_Messages () [0x00091] in <6057d55fe7134aa39db0f3ad49b1473f>:0;LiveDisplay.Models

LiveDisplay.Services.Notifications.NotificationStyle.MessagingStyleNotification.SetPreviousMessages () [0x00006] in <6057d55fe7134aa39db0f3ad49b1473f>:0;LiveDisplay.Services.Notifications.NotificationStyle

### Reason ###

System.NullReferenceException: Object reference not set to an instance of an object
"""  # noqa: E501


def test_app_center_crash_reports() -> None:
    trace = parse_stacktrace(APP_CENTER, packages=("LiveDisplay",))
    assert trace is not None and trace.language == "dotnet"
    assert trace.primary.type == "System.NullReferenceException"
    assert [(f.function, f.line) for f in trace.primary.frames] == [
        ("RetrieveNotificationFromStatusBar", 167), ("OnListenerConnected", 64)]  # fmt: skip
    files = ["LiveDisplay/Services/Notifications/NotificationHijackerService.cs",
             "LiveDisplay/Models/OpenNotification.cs",
             "LiveDisplay/Services/Notifications/NotificationStyle/MessagingStyleNotification.cs"]  # fmt: skip
    first = rank(trace, files, packages=("LiveDisplay",)).candidates[0]
    assert (first.path, first.function) == (files[0], "RetrieveNotificationFromStatusBar")
    trace = parse_stacktrace(APP_CENTER_NO_FILE, packages=("LiveDisplay",))
    assert trace is not None
    first = rank(trace, files, packages=("LiveDisplay",)).candidates[0]
    assert (first.path, first.function) == ("LiveDisplay/Models/OpenNotification.cs", "Messages")


@pytest.mark.parametrize(
    ("text", "exc_type", "frames"),
    [
        # https://github.com/pytest-dev/pytest/issues/1944: pytest's report, `E` marking the exception
        ("_______________________ ERROR collecting test.py _______________________\n"
         "/usr/lib/python3.5/site-packages/_pytest/python.py:209: in fget\n"
         "    return self._obj\n"
         "E   AttributeError: 'Module' object has no attribute '_obj'\n", "AttributeError", [("fget", 209)]),
        # https://github.com/pytest-dev/pytest/issues/995: every line behind pytest's `INTERNALERROR> `
        ("INTERNALERROR>   File \".../.tox/py27/local/lib/python2.7/site-packages/_pytest/python.py\", line 49, "
         "in filter_traceback\n"
         "INTERNALERROR>     return entry.path != cutdir1 and not entry.path.relto(cutdir2)\n"
         "INTERNALERROR> AttributeError: 'str' object has no attribute 'relto'", "AttributeError",
         [("filter_traceback", 49)]),
    ],
    ids=["pytest-report", "pytest-internalerror"],
)  # fmt: skip
def test_pytest_renderings(text: str, exc_type: str, frames: list[tuple[str, int]]) -> None:
    trace = parse_stacktrace(text)
    assert trace is not None and trace.primary.type == exc_type
    assert [(f.function, f.line) for f in trace.primary.frames] == frames


def test_a_stack_trace_label_in_front_of_the_first_frame() -> None:
    # the shape of an exception's properties dumped one per line (Message, Source, StackTrace), behind pm2's prefix
    text = ("3|app  | System.NullReferenceException\n3|app  | Message: Object reference not set.\n"
            "3|app  | Source: Acme.Notes\n3|app  | StackTrace:    at Acme.Notes.Links.Apply(Page page)\n"
            "3|app  |    at Acme.Notes.Commands.Execute()")  # fmt: skip
    trace = parse_stacktrace(text, packages=("Acme",))
    assert trace is not None and trace.primary.type == "System.NullReferenceException"
    assert [f.function for f in trace.primary.frames] == ["Apply", "Execute"]
