"""Directory-driven golden tests: every `<lang>/<case>.txt` beside its `<case>.expected.json`.

An optional `<case>.options.json` holds `packages`/`source_roots`. Run with `UPDATE_GOLDEN=1` to
rewrite the expected files after an intended parser change, then review the diff.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from error_autopilot.incidents.stackparse.common import MAX_EXCEPTIONS, MAX_FRAMES, MAX_MESSAGE
from error_autopilot.incidents.stacktrace import parse_stacktrace
from tests.conftest import SHARED_FIXTURES, TEST_FIXTURES

GOLDEN = TEST_FIXTURES / "stacktraces"
CASES = sorted(GOLDEN.glob("*/*.txt"))
LANGUAGES = ("jvm", "python", "go", "node", "dotnet")


def _parse(case: Path) -> dict[str, object] | None:
    options_file = case.with_suffix(".options.json")
    options = json.loads(options_file.read_text(encoding="utf-8")) if options_file.exists() else {}
    trace = parse_stacktrace(case.read_text(encoding="utf-8"), **options)
    return trace.model_dump(mode="json") if trace else None


def test_every_language_has_at_least_three_cases() -> None:
    counts = {lang: len(list((GOLDEN / lang).glob("*.txt"))) for lang in LANGUAGES}
    assert all(n >= 3 for n in counts.values()), counts


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_golden(case: Path) -> None:
    expected_file = case.with_suffix(".expected.json")
    actual = _parse(case)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        expected_file.write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert expected_file.exists(), f"no golden file for {case.name}: run with UPDATE_GOLDEN=1 and review it"
    assert actual == json.loads(expected_file.read_text(encoding="utf-8"))
    assert actual is not None and actual["language"] == case.parent.name


def test_real_loki_case_is_the_captured_line() -> None:
    """The JVM golden case is byte-for-byte the order-service line a real Loki returned."""
    capture = json.loads((SHARED_FIXTURES / "loki-server" / "mt_loki_query_range_streams_error_regex.json").read_text())
    lines = [v[1] for s in capture["response"]["body_json"]["data"]["result"] for v in s["values"]]
    order_line = next(line for line in lines if "order-service" in line)
    assert (GOLDEN / "jvm" / "real_loki_order_service.txt").read_text(encoding="utf-8") == order_line + "\n"


# --- behaviour beyond the golden files: in-app marking, detection, hostile input -----------------

DEEP = 10_000
DEEP_TRACES = {
    "jvm": "java.lang.StackOverflowError: deep\n"
    + "".join(f"\tat com.acme.Rec.call(Rec.java:{i})\n" for i in range(DEEP)),
    "python": "Traceback (most recent call last):\n"
    + "".join(f'  File "/app/rec.py", line {i}, in call\n    call()\n' for i in range(DEEP))
    + "RecursionError: deep\n",
    "go": "panic: deep\n\ngoroutine 1 [running]:\n"
    + "".join(f"main.call(0x1)\n\t/app/main.go:{i} +0x1d\n" for i in range(DEEP)),
    "node": "RangeError: Maximum call stack size exceeded\n"
    + "".join(f"    at call (/app/x.js:{i}:5)\n" for i in range(DEEP)),
    "dotnet": "System.StackOverflowException: deep\n"
    + "".join(f"   at Acme.Rec.Call() in /src/Rec.cs:line {i}\n" for i in range(DEEP)),
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_ten_thousand_frames_are_capped_quickly(language: str) -> None:
    started = time.perf_counter()
    trace = parse_stacktrace(DEEP_TRACES[language])
    elapsed = time.perf_counter() - started
    assert trace is not None and trace.language == language
    assert elapsed < 5.0, f"{language}: {elapsed:.3f}s"  # a blow-up guard, not a benchmark
    primary = trace.primary
    assert trace.truncated and len(primary.frames) == MAX_FRAMES and primary.omitted_frames == DEEP - MAX_FRAMES
    # the kept frames are the ones nearest the throw: the top of the trace, the bottom for Python
    assert primary.frames[0].line == (DEEP - 1 if language == "python" else 0)


def test_exception_chain_is_capped() -> None:
    text = "a.B: top\n\tat a.B.c(B.java:1)\n" + "Caused by: a.C: again\n\tat a.C.d(C.java:2)\n" * 500
    trace = parse_stacktrace(text)
    assert trace is not None and trace.truncated and len(trace.exceptions) == MAX_EXCEPTIONS


@pytest.mark.parametrize(
    "text",
    [
        "",
        "just a log line with ERROR in it",
        "x" * 3_000_000,
        "\x00\x01\ud800 binary \xff junk\n" * 1000,
        ("at (" * 1000 + "\n") * 500,
        "\tat " + "a." * 100_000 + "(X.java:1)",
        ("\tat " + ".go:1" * 819 + "\n") * 480,
        '  File "no-line-number.py", in f',
        "panic: nothing else",
        "Traceback (most recent call last):",
        # the shapes rounds 13-15 read (tests/fixtures/realworld/README.md), a megabyte of each
        "System.Exception: x at\n" + "Ns.T.M() in C:\\x.cs:line 3 at\n" * 20_000,
        "x at\n" * 200_000,
        ("e at " + "a.b " * 3) * 50_000 + " at\nz",
        "in Ns.T.M(String s) in C:\\x\\T.cs:riga 174\n" * 20_000,
        "    at fn\n    (/app/x.js:1:2)\n" * 50_000,
        ("at " * 100_000 + "\n(" + "x" * 1000 + ")\n") * 3,
        "KeyError at /path\n'x'\n/app/views.py in get, line 12\n" * 20_000,
        "http: panic serving 1.2.3.4:5: boom\ngoroutine 1 [running]:\n" * 20_000,
        '  File "x.js", line 97, col 14, in f\n' * 50_000,
        "java.lang.X: y\\\\n\\\\tat a.B.c(B.java:1)" * 50_000,
        "panic: x\n\ngoroutine 1 [running]:\n" + "main.f(0x1)\n" * 100_000 + "...\n",
        "\tat a.B.c(B.java:1)\n" * 30_000 + "java.lang.X: y\n" + "\tat a.B.c(B.java:1)\n" * 30_000,
        "\tat a.B.c(B.\njava:1)\n" * 30_000,
        # the shapes rounds 16-19 read, a megabyte of each
        'System.Exception: x\n  Module "Ns.T", line 1, in M\n    Void M(System.Object, ' + "A, " * 300_000 + ")\n",
        'Module "Ns.T", line 1, in M\n    Void M()\n' * 30_000,
        "problemId\ttype\nmethod\t" + "a." * 200_000 + "\ntype\tX\nouterType\tY\nmessage\n" * 1000,
        "Django Version:\t1.0\n" + "Exception Location:\t/app/x.py in f, line 1\n" * 20_000,
        '  File "/app/x.py", line 1, in f,\n' * 40_000,
        "  at a.B.c (B.java:12)\n" * 50_000,
        "  at a.B.c (B.java:12" + "1" * 1_000_000 + ")\n",
        "  at Ns.T.M (bool) <0x006bd>\n" * 40_000,
        "  at Ns.T.M (bool) <0x" + "0" * 1_000_000 + " + 0x1>\n",
        "   at Ns.T.M(String) + 0x6b\n" * 40_000,
        "Ns.Type.Method () (at Assets/x.cs:44)\n" * 30_000,
        "UnityEngine.Debug:Log(Object)\n" * 40_000,
        "Traceback (most recent call last):" + '  File "/app/x.py", line 1, in f    x()' * 30_000 + "KeyError: 1",
        "    at ClientRequest. (/app/x.js:1:2)\n" * 30_000,
        "    at Client.bot.on.msg (/app/x.js:1:2)\n" * 30_000,
    ],
    ids=[
        "empty",
        "log-line",
        "3MB-no-newline",
        "binary",
        "at-paren-flood",
        "huge-frame-line",
        "2MB-of-near-frames",
        "bad-python",
        "panic-only",
        "traceback-only",
        "dotnet-rewrapped-flood",
        "trailing-at-flood",
        "inline-at-flood",
        "italian-in-flood",
        "v8-wrapped-flood",
        "v8-name-flood",
        "django-summary-flood",
        "http-panic-flood",
        "sentry-column-flood",
        "escaped-twice-flood",
        "go-cut-calls-flood",
        "jvm-headless-halves",
        "jvm-wrapped-flood",
        "sentry-dotnet-long-signature",
        "sentry-dotnet-flood",
        "app-insights-long-method",
        "django-version-row-flood",
        "python-comma-flood",
        "play-console-flood",
        "play-console-long-line",
        "mono-offset-flood",
        "mono-offset-long",
        "dotnet-native-offset-flood",
        "unity-frame-flood",
        "unity-colon-flood",
        "python-one-line-flood",
        "v8-dropped-anonymous-flood",
        "v8-inferred-name-flood",
    ],
)
def test_hostile_text_never_raises(text: str) -> None:
    started = time.perf_counter()
    trace = parse_stacktrace(text)
    assert time.perf_counter() - started < 20.0  # measured ≤ 0.4 s: a blow-up guard, not a benchmark
    assert trace is None or trace.exceptions


def test_no_trace_is_none() -> None:
    assert parse_stacktrace("2026-01-01 ERROR order 4711 failed: timeout") is None
    assert parse_stacktrace("x" * 3_000_000) is None


def test_panic_without_goroutine_still_reports_the_panic() -> None:
    trace = parse_stacktrace("panic: nothing else\n\ngoroutine 1 [running]:\n")
    assert trace is not None and (trace.primary.type, trace.primary.message, trace.primary.frames) == (
        "panic",
        "nothing else",
        (),
    )


def test_mixed_languages_pick_the_dominant_trace() -> None:
    python_case = (GOLDEN / "python" / "direct_cause_chain.txt").read_text(encoding="utf-8")
    text = "java.lang.IllegalStateException: x\n\tat com.acme.A.b(A.java:1)\n" + python_case
    trace = parse_stacktrace(text)
    assert trace is not None and trace.language == "python"
    assert trace.primary.type == "orders.payments.errors.PaymentError"


def test_enormous_message_is_capped() -> None:
    text = "java.lang.IllegalStateException: " + "m" * 1_000_000 + "\n\tat com.acme.A.b(A.java:1)\n"
    trace = parse_stacktrace(text)
    assert trace is not None and trace.primary.type == "java.lang.IllegalStateException"
    assert len(trace.primary.message) <= MAX_MESSAGE
    text = "java.lang.IllegalStateException: first\n" + "more message\n" * 10_000 + "\tat com.acme.A.b(A.java:1)\n"
    trace = parse_stacktrace(text)
    assert trace is not None and len(trace.primary.message) <= MAX_MESSAGE


IN_APP = [
    ("jvm package", "jvm", "\tat com.acme.user.Repo.find(Repo.java:3)", {"packages": ["com.acme.user"]}, True),
    ("jvm package boundary", "jvm", "\tat com.acme.username.X.y(X.java:3)", {"packages": ["com.acme.user"]}, False),
    (
        "jvm inner class",
        "jvm",
        "\tat com.acme.user.Repo$1.run(Repo.java:3)",
        {"packages": ["com.acme.user.Repo"]},
        True,
    ),
    ("jvm other package", "jvm", "\tat com.other.X.y(X.java:3)", {"packages": ["com.acme"]}, False),
    ("jvm library heuristic", "jvm", "\tat java.base/java.lang.Thread.run(Thread.java:3)", {}, False),
    ("jvm app heuristic", "jvm", "\tat com.acme.X.y(X.java:3)", {}, True),
    ("jvm library beats package", "jvm", "\tat org.springframework.A.b(A.java:1)", {"packages": ["org"]}, False),
    ("python source root", "python", '  File "/srv/app/svc/h.py", line 3, in f', {"source_roots": ["/srv/app/"]}, True),
    (
        "python site-packages",
        "python",
        '  File "/srv/app/lib/site-packages/x/y.py", line 3, in f',
        {"source_roots": ["/srv/app/"]},
        False,
    ),
    ("python stdlib", "python", '  File "/usr/lib/python3.12/json/decoder.py", line 3, in f', {}, False),
    (
        "go package path",
        "go",
        "github.com/acme/orders/api.(*H).Get(...)\n\t/app/api/h.go:5 +0x1",
        {"packages": ["github.com/acme/orders"]},
        True,
    ),
    (
        "go stdlib",
        "go",
        "net/http.HandlerFunc.ServeHTTP(...)\n\t/usr/local/go/src/net/http/server.go:5 +0x1",
        {},
        False,
    ),
    (
        "go module cache",
        "go",
        "github.com/lib/pq.(*conn).query(...)\n\t/go/pkg/mod/github.com/lib/pq@v1/conn.go:5",
        {},
        False,
    ),
    ("node source root", "node", "    at f (/app/src/a.js:1:2)", {"source_roots": ["/app/src/"]}, True),
    (
        "node_modules under source root",
        "node",
        "    at f (/app/node_modules/x/a.js:1:2)",
        {"source_roots": ["/app/"]},
        False,
    ),
    ("node internal", "node", "    at f (node:internal/process/task_queues:95:5)", {}, False),
    ("dotnet namespace", "dotnet", "   at Acme.Orders.S.M() in /src/S.cs:line 3", {"packages": ["Acme.Orders"]}, True),
    ("dotnet system", "dotnet", "   at System.Linq.Enumerable.First() in /x.cs:line 1", {}, False),
]


@pytest.mark.parametrize(
    ("language", "frame", "options", "in_app"), [c[1:] for c in IN_APP], ids=[c[0] for c in IN_APP]
)
def test_in_app_marking(language: str, frame: str, options: dict[str, list[str]], in_app: bool) -> None:
    headers = {
        "jvm": "java.lang.RuntimeException: x",
        "python": "Traceback (most recent call last):",
        "go": "panic: x\n\ngoroutine 1 [running]:",
        "node": "Error: x",
        "dotnet": "System.Exception: x",
    }
    footer = "\nValueError: x" if language == "python" else ""
    trace = parse_stacktrace(f"{headers[language]}\n{frame}{footer}", **options)
    assert trace is not None and trace.language == language
    [parsed] = trace.primary.frames
    assert parsed.in_app is in_app
