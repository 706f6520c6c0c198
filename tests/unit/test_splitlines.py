"""Which single lines are pieces of a split stack trace, and which neighbouring lines make each trace
again (`incidents/splitlines.py`), on the real traces of the corpus written one line per entry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from error_autopilot.domain.stack import StackTrace
from error_autopilot.incidents.splitlines import JOIN_GAP_NS, Line, Piece, may_head, piece, records, unwrap
from error_autopilot.incidents.stacktrace import parse_stacktrace, strip_line_prefix

CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "realworld"


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("Traceback (most recent call last):", Piece.START),
        ('  File "/app/billing/api.py", line 12, in handle', Piece.CONTINUATION),
        ("    total = invoice_total(payload)", Piece.CONTINUATION),
        ("KeyError: 'currency'", Piece.START),
        ("During handling of the above exception, another exception occurred:", Piece.CONTINUATION),
        ("java.lang.NullPointerException: Cannot invoke \"String.length()\"", Piece.START),
        ("\tat com.acme.user.UserService.displayName(UserService.kt:31)", Piece.CONTINUATION),
        ("Caused by: java.sql.SQLException: Connection refused", Piece.CONTINUATION),
        ("\t... 15 more", Piece.CONTINUATION),
        ('Exception in thread "main" java.lang.IllegalStateException: boom', Piece.START),
        ("panic: runtime error: invalid memory address or nil pointer dereference", Piece.START),
        ("[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a2b3c]", Piece.CONTINUATION),
        ("goroutine 1 [running]:", Piece.CONTINUATION),
        ("github.com/acme/inventory/stock.(*Store).Reserve(0x0, {0xc000123, 0x5})", Piece.CONTINUATION),
        ("panic({0x6d5e40, 0x8a2b30})", Piece.CONTINUATION),
        ("\t/src/stock/store.go:88 +0x1d", Piece.CONTINUATION),
        ("created by net/http.(*Server).Serve in goroutine 1", Piece.CONTINUATION),
        ("TypeError: Cannot read properties of undefined (reading 'id')", Piece.START),
        ("Error [ERR_STREAM_DESTROYED]: Cannot call write after a stream was destroyed", Piece.START),
        ("    at renderCart (/app/src/cart.js:41:17)", Piece.CONTINUATION),
        ("Unhandled exception. System.InvalidOperationException: Sequence contains no elements", Piece.START),
        ("   at Acme.Payments.Ledger.Settle(Int32 id) in /src/Payments/Ledger.cs:line 57", Piece.CONTINUATION),
        ("--- End of stack trace from previous location ---", Piece.CONTINUATION),
        ("at com.acme.Foo.bar(Foo.java:3)", Piece.CONTINUATION),  # a frame whose indentation was trimmed
    ],
)
def test_a_line_of_a_trace_is_a_piece(line: str, kind: Piece) -> None:
    assert piece(line) is kind


@pytest.mark.parametrize(
    "line",
    [
        '{"level":"error","msg":"boom","stack":"TypeError: x\\n    at f (/app/a.js:1:1)"}',
        'level=error msg="reconcile batch 12 failed: KeyError: \'amount\'" trace_id=abc',
        "2024-05-13 15:06:38.123 ERROR 1 --- [main] c.a.OrderService : Failed to place order 42",
        "[2024-09-02 22:01:32] error: z2m: EventBus error 'Publish/mqttMessage'",
        "Request failed with status 500",
        "java.lang.NullPointerException: x\n\tat com.acme.A.b(A.java:1)",  # already whole
        "",
        "   ",
    ],
)
def test_a_line_that_stands_alone_is_no_piece(line: str) -> None:
    assert piece(line) is None


def test_a_loggers_line_naming_an_exception_may_head_a_trace_a_structured_record_never() -> None:
    assert may_head("[2012-01-26 14:22:57.822] [ERROR] console - TypeError: Cannot read property 'author' of undefined")
    assert may_head("verdaccio_1  |  error--- error loading a plugin openid-connect: TypeError: Cannot set property")
    assert not may_head('level=error msg="failed: KeyError: \'amount\'"')
    assert not may_head('{"msg": "TypeError: x"}')
    assert not may_head("2024-05-13 ERROR request failed: connection reset by peer")


def _best(lines: list[Line]) -> StackTrace | None:
    """The trace with the most frames among the records found."""
    best: StackTrace | None = None
    for record in records(lines):
        found = parse_stacktrace("\n".join(line.text for line in lines[record.first : record.last + 1]))
        if found is not None and (best is None or _frames(found) > _frames(best)):
            best = found
    return best


def _frames(stack: StackTrace | None) -> list[tuple[str | None, str | None]]:
    return [(f.file, f.function) for e in stack.exceptions for f in e.frames] if stack else []


WRAPS = {
    "as written": lambda text: text,
    # a Kubernetes node's file under /var/log/pods, read with no `cri` stage
    "CRI": lambda text: f"2024-05-13T15:06:38.123456789Z stderr F {text}",
    # Docker's json-file log, read with no `docker` stage
    "Docker json-file": lambda text: json.dumps({"log": f"{text}\n", "stream": "stderr", "time": "2024-05-13T15:06Z"}),
}


@pytest.mark.parametrize("wrap", WRAPS)
def test_split_real_traces_come_back_whole(wrap: str) -> None:
    """Every corpus trace, one entry per line as a shipper without a multiline stage sends it (the
    shipper's own per-line prefix gone, as Loki holds it; or wrapped by the container runtime's log file
    when no stage unwrapped it): the rejoined trace parses to the same frames and exception type as the
    whole for nearly all. Those that do not are pastes that lost the runtime's shape (frames'
    indentation, blank lines or em dashes the reporter's editor put in); the floor is the measured
    figure less a case."""
    cases = sorted(CORPUS.glob("*/*/trace.txt"))
    same = 0
    for path in cases:
        text = path.read_text(encoding="utf-8")
        written = strip_line_prefix(text.splitlines())
        lines = [Line(n * 1000, unwrap(WRAPS[wrap](t))) for n, t in enumerate(written)]
        assert [line.text for line in lines] == written
        whole, rejoined = parse_stacktrace(text), _best(lines)
        if whole and rejoined and _frames(whole) == _frames(rejoined) and whole.primary.type == rejoined.primary.type:
            same += 1
    assert len(cases) >= 290
    # 579 / 656 with held-out 25 (19 of its 20 come back whole: abearcodes-valheim-9, a BepInEx/Unity log, does not;
    # not looked into further).
    # 560 / 636 with held-out 22, 23 and 24 (19, 16 and 17 of their 20: set 22's files-13663, an App Center view with
    # a namespace line above each frame, is no piece; set 24's notchsolution-52, franz-go-76 and unidiff-12 not looked
    # into); 524 / 596 with held-out 23 alone (16 of its 20 come back whole: Sm4sh-Tools-21's frame wrapped inside
    # its path, gootstrap-2, zgrab-87 and Hardcode-Tray-160 not; not looked into further); 508 / 576 with held-out
    # 21 (17 of its 20 come back whole); 491 / 556 with held-out 18 and 19
    # (468 / 531 with either; 445 + 23 + 23); 468 / 531 with held-out 18 (467 on
    # the engine before round 18's rules: its Mono frames parse now; two of its
    # pastes do not come back whole, jablotron80-46's traceback run onto one logger line and firecrawl-1541's stack
    # inside a winston JSON line, each read whole only); 445 / 506 when measured with held-out 16 and 17 (398 of the
    # 453 cases before rounds 16 and 17, unchanged by them;
    # held-out 16's buttplug-csharp-269 read by round 16 only); six of held-out 12's pastes do not come back whole (an
    # `at` moved to the line above, a newest-first viewer's copy, winston's trace array, a trace escaped onto one line),
    # nor five of held-out 13's (sidecar-1508's whole trace is its headed copy, the rejoined one its headless tail), nor
    # two of held-out 10's (supersonic-1312 as sidecar-1508, with JVM frames; muckrock-151, a Heroku e-mail with every
    # frame unindented), nor four of held-out 14's (nsqsharp-21, regclient-164, joplin-7479 which is no trace either
    # way, geokey-246, a Django summary with no line a rejoiner can tie to the next), nor five of held-out 15's
    # (sentinel-1184 escaped twice and windows-tweaker-23 run into wrapped lines are read whole only; dex-130 loses its
    # frame above a blank line, efb-telegram-master-51 its exception line, spring-cloud-gateway-1467's error-tracker
    # rows are no pieces), nor five of held-out 16's (blazam-236 rejoined keeps only its first frame, convox-2045 and
    # panda-700 lose frames; every-1's Application Insights record and vpsand.com-1's Django summary table are read
    # whole only: their lines are no pieces), nor one of held-out 17's (k0rdent-kcm-799, whose Go call lines are
    # GitHub's markdown auto-links: one frame fewer rejoined)
    assert same / len(cases) >= 0.881, f"{same}/{len(cases)}"


@pytest.mark.parametrize("wrap", ["CRI", "Docker json-file"])
def test_a_wrapped_piece_is_read_through_its_wrapping(wrap: str) -> None:
    assert piece(WRAPS[wrap]("\tat com.acme.A.b(A.java:1)")) is Piece.CONTINUATION
    assert piece(WRAPS[wrap]("Traceback (most recent call last):")) is Piece.START
    assert piece(WRAPS[wrap]("request 42 served in 12 ms")) is None
    assert may_head(WRAPS[wrap]("[ERROR] console - TypeError: x is undefined"))


def test_a_logger_line_written_with_the_trace_is_kept_an_older_one_is_not() -> None:
    trace = ["TypeError: x is undefined", "    at f (/app/a.js:1:1)", "    at g (/app/a.js:2:1)"]
    close = [Line(0, "[ERROR] handler failed"), *(Line(JOIN_GAP_NS + n, t) for n, t in enumerate(trace))]
    assert [(r.first, r.last) for r in records(close)] == [(0, 3)]
    far = [Line(0, "[INFO] request started"), *(Line(JOIN_GAP_NS + 1 + n, t) for n, t in enumerate(trace))]
    assert [(r.first, r.last) for r in records(far)] == [(1, 3)]


def test_chained_python_tracebacks_and_a_go_dump_stay_one_trace_each() -> None:
    python = [
        "Traceback (most recent call last):", '  File "/app/a.py", line 3, in f', "    d['k']", "KeyError: 'k'", "",
        "During handling of the above exception, another exception occurred:", "",
        "Traceback (most recent call last):", '  File "/app/a.py", line 5, in f', "    raise ValueError()",
        "ValueError", "INFO next request",
    ]  # fmt: skip
    go = [
        "panic: boom", "", "goroutine 1 [running]:", "main.f(...)", "\t/app/main.go:3 +0x1d", "main.main()",
        "\t/app/main.go:9 +0x25", "exit status 2",
    ]  # fmt: skip
    lines = [Line(n, t) for n, t in enumerate(python)] + [Line(10**9 + n, t) for n, t in enumerate(go)]
    assert [(r.first, r.last) for r in records(lines)] == [(0, 10), (12, 18)]


def test_two_traces_back_to_back_are_two() -> None:
    text = ["java.lang.IllegalStateException: a", "\tat a.B.c(B.java:1)", "java.lang.IllegalStateException: b",
            "\tat a.B.d(B.java:2)"]  # fmt: skip
    assert [(r.first, r.last) for r in records([Line(n, t) for n, t in enumerate(text)])] == [(0, 1), (2, 3)]
