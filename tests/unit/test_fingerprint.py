"""Fingerprints: one bug → one value whatever varies between occurrences; another bug → another value."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from error_autopilot.domain.events import ErrorEvent
from error_autopilot.incidents.fingerprint import ALGORITHM_VERSION, fingerprint_event, normalise_symbol
from error_autopilot.incidents.stacktrace import parse_stacktrace
from tests.conftest import REPO_ROOT, TEST_FIXTURES

ORDER_TRACE = (TEST_FIXTURES / "stacktraces" / "jvm" / "real_loki_order_service.txt").read_text(encoding="utf-8")


def event(
    text: str,
    *,
    service: str = "order-service",
    message: str = "boom",
    packages: tuple[str, ...] = (),
    line_id: str = "line-1",
    exception_type: str | None = None,
) -> ErrorEvent:
    """An event as incidents/events.py builds it: the stack parsed from the line."""
    return ErrorEvent(
        line_id=line_id,
        ts_ns=1_767_225_600_000_000_000,
        environment="dev",
        service=service,
        message=message,
        line=text,
        stack=parse_stacktrace(text, packages=packages),
        exception_type=exception_type,
    )


def value(text: str, **kwargs: object) -> str:
    return fingerprint_event(event(text, **kwargs)).value  # type: ignore[arg-type]


JVM = """java.lang.IllegalStateException: Payment authorization failed for order {order}
\tat org.springframework.retry.support.RetryTemplate.doExecute(RetryTemplate.java:{lib_line})
\tat com.example.order.PaymentClient.authorize(PaymentClient.java:{line})
\tat com.example.order.PaymentClient.lambda$authorize$0(PaymentClient.java:{line})
\tat com.example.order.{caller}.placeOrder(OrderService.java:42)
\tat com.example.order.OrderController.create(OrderController.java:27)
"""


def jvm(order: int = 4711, line: int = 88, lib_line: int = 329, caller: str = "OrderService") -> str:
    return JVM.format(order=order, line=line, lib_line=lib_line, caller=caller)


def test_pinned_value_of_the_real_loki_trace() -> None:
    """Changing the algorithm changes this value: bump ALGORITHM_VERSION (a migration), then update it."""
    fp = fingerprint_event(event(ORDER_TRACE, packages=("com.example.order",), message="Failed to place order 4711"))
    assert (fp.value, fp.algorithm, ALGORITHM_VERSION) == ("fecc5dfdc251bbf0", 1, 1)
    assert [(p.name, p.value, p.contributes) for p in fp.parts] == [
        ("service", "order-service", True),
        ("exception_type", "java.lang.IllegalStateException", True),
        ("root_cause", "java.net.SocketTimeoutException", True),
        ("frame", "com.example.order.PaymentClient.authorize", True),
        ("frame", "com.example.order.OrderService.placeOrder", True),
        ("frame", "com.example.order.OrderController.create", True),
    ]
    assert all("line number ignored" in p.hint for p in fp.parts if p.name == "frame")


SAME_BUG = [
    ("line numbers moved", jvm(line=88), jvm(line=91)),
    ("different ids in the message", jvm(order=4711), jvm(order=12)),
    ("library frame changed", jvm(lib_line=329), jvm(lib_line=1)),
    (
        "kotlin coroutine/lambda numbering",
        "java.lang.IllegalStateException: x\n\tat com.acme.A$run$2.invokeSuspend(A.kt:3)\n"
        "\tat com.acme.B.lambda$go$0(B.kt:1)\n\tat com.acme.C$$Lambda$12/0x0000000800c3b440.apply(Unknown Source)",
        "java.lang.IllegalStateException: y\n\tat com.acme.A$run$5.invokeSuspend(A.kt:9)\n"
        "\tat com.acme.B.lambda$go$3(B.kt:2)\n\tat com.acme.C$$Lambda$98/0x0000000801ffff00.apply(Unknown Source)",
    ),
    (
        "go closure numbering and arguments",
        "panic: x\n\ngoroutine 1 [running]:\nmain.run.func1(0xc000010000)\n\t/src/main.go:31 +0x4c\n",
        "panic: x\n\ngoroutine 7 [running]:\nmain.run.func2(0xc000099999)\n\t/src/main.go:35 +0x10\n",
    ),
    (
        ".net async state machine numbering",
        "System.Exception: x\n   at Acme.Importer.<ImportAsync>d__5.MoveNext() in /app/I.cs:line 61\n",
        "System.Exception: x\n   at Acme.Importer.<ImportAsync>d__7.MoveNext() in /app/I.cs:line 64\n",
    ),
    (
        "python deploy path",
        "Traceback (most recent call last):\n  File \"/app/billing/invoice.py\", line 12, in total\nKeyError: 'a'\n",
        "Traceback (most recent call last):\n  File \"/srv/billing/invoice.py\", line 14, in total\nKeyError: 'a'\n",
    ),
    (
        "recursion depth",
        "java.lang.StackOverflowError\n"
        + "\tat com.acme.Tree.walk(Tree.java:5)\n" * 3
        + "\tat com.acme.Main.main(M.java:1)",
        "java.lang.StackOverflowError\n"
        + "\tat com.acme.Tree.walk(Tree.java:5)\n" * 9
        + "\tat com.acme.Main.main(M.java:1)",
    ),
]


@pytest.mark.parametrize(("a", "b"), [c[1:] for c in SAME_BUG], ids=[c[0] for c in SAME_BUG])
def test_same_bug_same_fingerprint(a: str, b: str) -> None:
    assert value(a) == value(b)


DIFFERENT_BUG = [
    ("different in-app caller", {"text": jvm(caller="OrderService")}, {"text": jvm(caller="CartService")}),
    ("different service", {"text": jvm(), "service": "order-service"}, {"text": jvm(), "service": "cart-service"}),
    (
        "different exception type",
        {"text": jvm()},
        {"text": jvm().replace("IllegalStateException", "IllegalArgumentException")},
    ),
    (
        "different root cause",
        {"text": ORDER_TRACE},
        {"text": ORDER_TRACE.replace("java.net.SocketTimeoutException", "java.net.ConnectException")},
    ),
]


@pytest.mark.parametrize(("a", "b"), [c[1:] for c in DIFFERENT_BUG], ids=[c[0] for c in DIFFERENT_BUG])
def test_different_bug_different_fingerprint(a: dict[str, str], b: dict[str, str]) -> None:
    assert value(**a) != value(**b)


def test_library_frames_are_listed_but_do_not_count() -> None:
    fp = fingerprint_event(event(jvm(), packages=("com.example.order",)))
    library = [p for p in fp.parts if p.hint == "library frame"]
    assert [p.value for p in library] == ["org.springframework.retry.support.RetryTemplate.doExecute"]
    assert not any(p.contributes for p in library)
    frames = [p.value for p in fp.parts if p.name == "frame" and p.contributes]
    assert frames == [
        "com.example.order.PaymentClient.authorize",
        "com.example.order.PaymentClient.lambda$authorize$",
        "com.example.order.OrderService.placeOrder",
    ]
    more = [p for p in fp.parts if p.value.startswith("+")]
    assert [(p.value, p.contributes) for p in more] == [("+1 more in-app frames", False)]


def test_only_library_frames_fall_back_to_all_frames() -> None:
    text = "java.lang.OutOfMemoryError: Java heap space\n\tat java.util.Arrays.copyOf(Arrays.java:3332)\n"
    fp = fingerprint_event(event(text))
    frames = [p for p in fp.parts if p.name == "frame"]
    assert [(p.value, p.contributes) for p in frames] == [("java.util.Arrays.copyOf", True)]
    assert frames[0].hint.startswith("no in-app frames: using all frames")


def test_no_stack_uses_the_parameterised_message() -> None:
    a = fingerprint_event(event("plain line", message="Failed to place order 4711 for bob@example.com"))
    b = fingerprint_event(event("plain line", message="Failed to place order 12 for eve@example.org"))
    assert a.value == b.value
    message = [p for p in a.parts if p.name == "message"]
    assert [(p.value, p.contributes, p.hint) for p in message] == [
        ("Failed to place order <int> for <email>", True, "no stack trace: parameterised message")
    ]
    assert a.value != value("plain line", message="Failed to cancel order 4711")


def test_exception_type_without_stack_counts() -> None:
    a = value("plain", message="timeout", exception_type="TimeoutError")
    assert a != value("plain", message="timeout", exception_type="ConnectionError")


def test_value_is_16_hex_and_stable_across_processes() -> None:
    """No hash(): another interpreter with another hash seed computes the same value."""
    here = value(jvm())
    code = "from tests.unit.test_fingerprint import value, jvm\nprint(value(jvm()))\n"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=True, timeout=30
    )
    assert out.stdout.strip() == here
    assert len(here) == 16 and int(here, 16) >= 0


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("lambda$placeOrder$12", "lambda$placeOrder$"),
        ("UserService$getUser$2", "UserService$getUser$"),
        ("Foo$$Lambda$1234/0x0000000800c3b440", "Foo$$Lambda"),
        ("Svc$$EnhancerBySpringCGLIB$$6f3c2a1b", "Svc$$EnhancerBySpringCGLIB"),
        ("handler$lambda-3", "handler$lambda"),
        ("run.func2.1", "run.func"),
        ("<ImportAsync>d__5.MoveNext", "<ImportAsync>d.MoveNext"),
        ("<>c__DisplayClass7_0.<Main>b__0_0", "<>c.<Main>b"),
        ("lambda_method42", "lambda_method"),
        ("<lambda>", "<lambda>"),
    ],
)
def test_generated_names_are_normalised(raw: str, normal: str) -> None:
    assert normalise_symbol(raw) == normal


# Known-wrong groupings, kept honest: each xfail documents a case the algorithm gets wrong today.
KNOWN_WRONG = [
    pytest.param(
        "Traceback (most recent call last):\n  File \"/app/billing/invoice.py\", line 12, in total\nKeyError: 'amount'",
        "Traceback (most recent call last):\n  File \"/app/billing/invoice.py\", line 12, in total\nKeyError: 'email'",
        "different",
        marks=pytest.mark.xfail(
            strict=True,
            reason="messages never count once there are frames: two missing keys raised in one function merge",
        ),
        id="two-missing-keys-same-function",
    ),
    pytest.param(
        "java.lang.NullPointerException\n\tat com.acme.Money.add(Money.java:9)\n"
        "\tat com.acme.Cart.total(Cart.java:20)\n\tat com.acme.CartController.get(CartController.java:5)",
        "java.lang.NullPointerException\n\tat com.acme.Money.add(Money.java:9)\n"
        "\tat com.acme.Invoice.total(Invoice.java:31)\n\tat com.acme.InvoiceJob.run(InvoiceJob.java:8)",
        "same",
        marks=pytest.mark.xfail(
            strict=True,
            reason="one bug in a shared helper reached from two callers splits, "
            "because the top 3 in-app frames include the callers",
        ),
        id="shared-helper-two-callers",
    ),
    pytest.param(
        "TypeError: x is undefined\n    at getUser (/app/dist/users.js:10:5)",
        "TypeError: x is undefined\n    at getUser (webpack://api/./src/users.ts:31:11)",
        "same",
        marks=pytest.mark.xfail(
            strict=True,
            reason="node modules come from file paths: a bundled and a source-mapped trace of the same code differ",
        ),
        id="node-bundle-vs-source-map",
    ),
]


@pytest.mark.parametrize(("a", "b", "expected"), KNOWN_WRONG)
def test_known_wrong(a: str, b: str, expected: str) -> None:
    assert (value(a) == value(b)) == (expected == "same")
