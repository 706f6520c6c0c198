"""ExceptionGroups (`asyncio.TaskGroup`, anyio task groups under Starlette/FastAPI, trio) are drawn as a tree
whose sub-exceptions hold the code that failed: they become the group's causes, the first one drawn the
root cause, so the location is where the task failed, not the `async with` that collected it. Checked on
the drawings as reporters pasted them (`tests/fixtures/exception_groups/SOURCES.md`) and on hostile ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from error_autopilot.domain.stack import StackTrace
from error_autopilot.incidents.stackparse.common import MAX_EXCEPTIONS
from error_autopilot.incidents.stacktrace import parse_stacktrace
from error_autopilot.investigation.stackmap import rank

DRAWINGS = Path(__file__).resolve().parent.parent / "fixtures" / "exception_groups"
GOLDEN = Path(__file__).resolve().parent.parent / "fixtures" / "stacktraces" / "python" / "exception_group.txt"


def _parse(text: str) -> StackTrace:
    trace = parse_stacktrace(text)
    assert trace is not None and trace.language == "python"
    return trace


def _chain(trace: StackTrace) -> list[tuple[str, list[tuple[str, int | None, str]]]]:
    return [
        (e.type, [((f.file or "").rsplit("/", 1)[-1], f.line, f.function) for f in e.frames]) for e in trace.exceptions
    ]


def test_the_sub_exceptions_become_the_groups_causes_the_first_drawn_the_root_cause() -> None:
    trace = _parse(GOLDEN.read_text(encoding="utf-8"))
    assert [e.type for e in trace.exceptions] == ["ExceptionGroup", "ValueError", "ConnectionError"]
    assert trace.root_cause.message == "upstream 10.0.0.7:8080 refused"
    assert [(f.file, f.line, f.function) for f in trace.root_cause.frames] == [("/app/worker/jobs.py", 12, "fetch")]


def test_the_location_is_the_task_that_failed_not_the_async_with_that_collected_it() -> None:
    trace = _parse(GOLDEN.read_text(encoding="utf-8"))
    ranking = rank(trace, ["worker/main.py", "worker/jobs.py", "worker/__init__.py"])
    first_two = [(c.path, c.function) for c in ranking.candidates[:2]]
    assert first_two == [("worker/jobs.py", "fetch"), ("worker/main.py", "run")]


def test_nested_groups_cut_at_the_top_then_a_second_group_while_handling_it() -> None:
    trace = _parse((DRAWINGS / "anyio-863-nested.txt").read_text(encoding="utf-8"))
    assert _chain(trace) == [
        ("<unknown>", [("test_tb.py", 15, "<module>")]),  # the second group, cut after its first frame
        ("ExceptionGroup", [("_asyncio.py", 771, "__aexit__"), ("test_tb.py", 5, "main")]),
        ("ExceptionGroup", [("_asyncio.py", 771, "__aexit__"), ("test_tb.py", 5, "main")]),
        ("Exception", [("test_tb.py", 12, "main")]),
    ]


def test_a_relayed_server_group_with_two_sub_exceptions_is_the_direct_cause_of_a_plain_traceback() -> None:
    trace = _parse((DRAWINGS / "gel-6919-server.txt").read_text(encoding="utf-8"))
    types = [e.type for e in trace.exceptions]
    assert types == ["<unknown>", "ExceptionGroup", "ZeroDivisionError", "ZeroDivisionError"]
    assert _chain(trace)[0][1][:2] == [("taskgroups.py", 145, "__aexit__"), ("binary.pyx", 863, "execute")]
    assert _chain(trace)[-1] == ("ZeroDivisionError", [("binary.pyx", 861, "err")])


def test_a_sub_exception_cut_before_its_exception_line_keeps_its_frames() -> None:
    trace = _parse((DRAWINGS / "anycorn-89-cut.txt").read_text(encoding="utf-8"))
    assert _chain(trace)[0] == ("ExceptionGroup", [("_asyncio.py", 847, "__aexit__")])
    assert trace.root_cause.type == "<unknown>"
    assert [f.function for f in trace.root_cause.frames] == ["_send_error_response", "app_send", "_handle", "_run_coro"]


def test_a_group_of_many_sub_exceptions_stays_within_the_caps_and_says_it_was_cut() -> None:
    subs = "".join(
        f"  {'+-' if n == 1 else '  '}+---------------- {n} ----------------\n"
        f"    | Traceback (most recent call last):\n"
        f'    |   File "/app/jobs/task{n}.py", line {n}, in run{n}\n'
        f"    | KeyError: 'k{n}'\n"
        for n in range(1, 1001)
    )
    text = (
        "  + Exception Group Traceback (most recent call last):\n"
        '  |   File "/app/main.py", line 3, in main\n'
        "  | ExceptionGroup: many (1000 sub-exceptions)\n" + subs + "    +------------------------------------\n"
    )
    trace = _parse(text)
    assert len(trace.exceptions) <= MAX_EXCEPTIONS and trace.truncated
    assert trace.root_cause.frames[0].file == "/app/jobs/task1.py"


def test_a_hostile_drawing_nested_deeper_than_the_recursion_limit_is_read_to_ten_levels() -> None:
    depth = 1500  # past Python's default recursion limit: the tree is kept to CPython's own ten levels
    text = "  + Exception Group Traceback (most recent call last):\n  | ExceptionGroup: g (1 sub-exception)\n"
    for d in range(1, depth):
        text += " " * (2 * d) + "+-+---------------- 1 ----------------\n"
        text += " " * (2 * d + 2) + "| ExceptionGroup: g (1 sub-exception)\n"
    trace = _parse(text + 'File "/app/x.py", line 1, in f\n')
    assert len(trace.exceptions) <= MAX_EXCEPTIONS
    assert {e.type for e in trace.exceptions} == {"ExceptionGroup"}


def test_lines_that_only_look_like_a_drawing_are_left_alone() -> None:
    pm2 = (
        "0|api  | Traceback (most recent call last):\n"
        '0|api  |   File "/app/api/views.py", line 9, in get\n'
        "0|api  | KeyError: 'id'\n"
    )
    table = "| step | result |\n+-+---------------- 1 ----------------\nTraceback (most recent call last):\n"
    table += "  File \"/app/api/views.py\", line 9, in get\nKeyError: 'id'\n"
    for text in (pm2, table):
        trace = parse_stacktrace(text)
        assert trace is not None
        assert trace.primary.type == "KeyError"
        assert [(f.file, f.line) for f in trace.primary.frames] == [("/app/api/views.py", 9)]


@pytest.mark.parametrize(
    "prefix",
    [
        "Sep 05 11:48:04 ubuntu22lts bash[20364]: ",  # journald/syslog, as in vllm-project/vllm#8226
        "2024-05-13T15:06:38.123Z stderr F ",  # CRI (containerd, kubectl logs of a node's files)
        "web_1  | ",  # docker compose
        "0|api  | ",  # pm2
    ],
)
def test_a_drawing_under_a_shippers_prefix_on_every_line_is_read_the_same(prefix: str) -> None:
    text = "".join(f"{prefix}{line}\n" for line in GOLDEN.read_text(encoding="utf-8").splitlines())
    assert _chain(_parse(text)) == _chain(_parse(GOLDEN.read_text(encoding="utf-8")))
