"""The second and third places after the sixteenth round's look at file top-3 (issue 11): the function the innermost
own Python frame's printed source line calls, when nothing ran below that line. Checked on the real lines of the
corpus cases that showed it (`tests/fixtures/realworld/python/<case>/trace.txt`, quoted here so the test does not
move when the corpus does) and on variants it must leave alone."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from error_autopilot.investigation import blame
from error_autopilot.investigation.beyond import printed_callees, printed_source
from error_autopilot.investigation.stackmap import Candidate, rank
from tests.support.corpus import build_repo
from tests.support.stackrules import parsed

# python/cylc-cylc-uiserver-305: tornado's callback log, the traceback cut after the innermost frame's source line
CYLC = """\
[E 2022-02-08 11:48:59.931 CylcHubApp ioloop:761] Exception in callback functools.partial(
    <bound method IOLoop._discard_future_result of <tornado.platform.asyncio.AsyncIOMainLoop object at 0x7f23b2ad6460>>,
    <Task finished name='Task-1187248' coro=<WorkflowsManager.update() done,
            defined at ~/github/cylc-uiserver/cylc/uiserver/workflows_mgr.py:224>
        exception=KeyError('~rdutta/cit-20220208T205639+0935/integration.test_scan/test_scan_sigstop/4bbd6b9d')>)
    Traceback (most recent call last):
      File "~/.conda/envs/cylc8/lib/python3.9/site-packages/tornado/ioloop.py", line 741, in _run_callback
        ret = callback()
      File "~/.conda/envs/cylc8/lib/python3.9/site-packages/tornado/ioloop.py", line 765, in _discard_future_result
        future.result()
      File "~/github/cylc-uiserver/cylc/uiserver/workflows_mgr.py", line 263, in update
        await self._unregister(wid)
      File "~/github/cylc-uiserver/cylc/uiserver/workflows_mgr.py", line 215, in _unregister
        await self.uiserver.data_store_mgr.unregister_workflow(wid)
"""
CYLC_PACKAGES = ("cylc.uiserver",)
CYLC_FILES = ["cylc/uiserver/__init__.py", "cylc/uiserver/app.py", "cylc/uiserver/data_store_mgr.py",
              "cylc/uiserver/resolvers.py", "cylc/uiserver/workflows_mgr.py"]  # fmt: skip
CYLC_SYMBOLS: dict[str, list[dict[str, Any]]] = {
    "cylc/uiserver/data_store_mgr.py": [
        {"line": 59, "col": 0, "kind": "class", "name": "DataStoreMgr", "end": 409},
        {"line": 191, "col": 4, "kind": "method", "name": "unregister_workflow", "end": 199},
    ],
    "cylc/uiserver/workflows_mgr.py": [
        {"line": 92, "col": 0, "kind": "class", "name": "WorkflowsManager", "end": 328},
        {"line": 207, "col": 4, "kind": "method", "name": "_unregister", "end": 216},
        {"line": 224, "col": 4, "kind": "method", "name": "update", "end": 270},
    ],
}

# python/mrjoes-sockjs-tornado-9: runit's timestamp before every line, the paste cut after the source line
SOCKJS = """\
2012-03-27_08:48:56.81816 Traceback (most recent call last):
2012-03-27_08:48:56.81816   File "libs/tornado/tornado/web.py", line 1074, in wrapper
2012-03-27_08:48:56.81817     return method(self, _args, *_kwargs)
2012-03-27_08:48:56.81818   File "libs/sockjs-tornado/sockjs/tornado/transports/htmlfile.py", line 60, in get
2012-03-27_08:48:56.81820     if not self._attach_session(session_id):
2012-03-27_08:48:56.81821   File "libs/sockjs-tornado/sockjs/tornado/transports/pollingbase.py", line 30, in \
_attach_session
2012-03-27_08:48:56.81822     if not session.set_handler(self, start_heartbeat):
"""
SOCKJS_PACKAGES = ("sockjs",)
SOCKJS_FILES = ["sockjs/tornado/session.py", "sockjs/tornado/transports/htmlfile.py",
                "sockjs/tornado/transports/pollingbase.py", "sockjs/tornado/router.py"]  # fmt: skip
SOCKJS_SYMBOLS: dict[str, list[dict[str, Any]]] = {
    "sockjs/tornado/session.py": [  # two session classes, each with its own set_handler: one file still
        {"line": 50, "col": 0, "kind": "class", "name": "BaseSession", "end": 200},
        {"line": 76, "col": 4, "kind": "method", "name": "set_handler", "end": 91},
        {"line": 210, "col": 0, "kind": "class", "name": "Session", "end": 400},
        {"line": 238, "col": 4, "kind": "method", "name": "set_handler", "end": 275},
    ],
}

# python/kludex-uvicorn-1533: the innermost own frame called into h11, whose frame is below it
UVICORN = """\
Traceback (most recent call last):
  File "/.../python3.9/asyncio/selector_events.py", line 870, in _read_ready__data_received
    self._protocol.data_received(data)
  File "/.../venv/lib/python3.9/site-packages/uvicorn/protocols/http/h11_impl.py", line 161, in data_received
    self.handle_events()
  File "/.../venv/lib/python3.9/site-packages/uvicorn/protocols/http/h11_impl.py", line 166, in handle_events
    event = self.conn.next_event()
  File "/.../venv/lib/python3.9/site-packages/h11/_connection.py", line 471, in next_event
    if len(self._receive_buffer) > self._max_incomplete_event_size:
TypeError: '>' not supported between instances of 'int' and 'NoneType'
"""
UVICORN_FILES = ["uvicorn/protocols/http/h11_impl.py", "uvicorn/protocols/http/flow_control.py", "uvicorn/main.py"]


def _candidates(
    tmp_path: Path, trace: str, files: Sequence[str], symbols: dict[str, list[dict[str, Any]]],
    packages: Sequence[str], printed: Sequence[str] | None = None,
) -> list[Candidate]:  # fmt: skip
    repo = tmp_path / "repo.git"
    head = build_repo(files, repo, symbols)
    return list(rank(parsed(trace, packages), files, packages=packages, printed=[trace] if printed is None else printed,
                     grep=lambda pattern: blame.grep(repo, head, pattern)).candidates)  # fmt: skip


def test_the_function_a_cut_tracebacks_last_source_line_calls_fills_the_free_second_place(tmp_path: Path) -> None:
    candidates = _candidates(tmp_path, CYLC, CYLC_FILES, CYLC_SYMBOLS, CYLC_PACKAGES)
    assert [(c.path, c.function) for c in candidates] == [
        ("cylc/uiserver/workflows_mgr.py", "_unregister"),  # the first place is the innermost own frame's, as before
        ("cylc/uiserver/data_store_mgr.py", "unregister_workflow"),
        ("cylc/uiserver/workflows_mgr.py", "update"),
    ]  # fmt: skip
    assert "defines unregister_workflow, which the innermost own frame's printed line calls" in candidates[1].reason
    assert candidates[1].score < min(c.score for c in candidates if c.frame.raw)  # below every frame


def test_behind_a_shippers_prefix_the_callee_takes_the_third_place_the_frames_leave(tmp_path: Path) -> None:
    candidates = _candidates(tmp_path, SOCKJS, SOCKJS_FILES, SOCKJS_SYMBOLS, SOCKJS_PACKAGES)
    assert [(c.path, c.function) for c in candidates] == [
        ("sockjs/tornado/transports/pollingbase.py", "_attach_session"),
        ("sockjs/tornado/transports/htmlfile.py", "get"),
        ("sockjs/tornado/session.py", "set_handler"),
    ]  # fmt: skip


def test_without_the_log_text_the_ranking_is_the_frames_alone(tmp_path: Path) -> None:
    candidates = _candidates(tmp_path, CYLC, CYLC_FILES, CYLC_SYMBOLS, CYLC_PACKAGES, printed=())
    assert [c.path for c in candidates] == ["cylc/uiserver/workflows_mgr.py"] * 2
    other = "  File \"~/github/cylc-uiserver/cylc/uiserver/app.py\", line 9, in start\n    run(app)\n"
    assert [c.path for c in _candidates(tmp_path / "b", CYLC, CYLC_FILES, CYLC_SYMBOLS, CYLC_PACKAGES,
                                        printed=[other])] == ["cylc/uiserver/workflows_mgr.py"] * 2  # fmt: skip


def test_a_frame_that_ran_below_the_innermost_own_one_leaves_its_callee_out(tmp_path: Path) -> None:
    # even with `next_event` defined in the repository: h11's frame ran it, the traceback shows where it failed
    symbols = {"uvicorn/protocols/http/flow_control.py": [{"line": 10, "col": 4, "kind": "method",
                                                           "name": "next_event", "end": 20}]}  # fmt: skip
    candidates = _candidates(tmp_path, UVICORN, UVICORN_FILES, symbols, ("uvicorn",))
    assert "uvicorn/protocols/http/flow_control.py" not in [c.path for c in candidates]
    cut = UVICORN.split('  File "/.../venv/lib/python3.9/site-packages/h11', maxsplit=1)[0]  # the paste ends here
    assert "uvicorn/protocols/http/flow_control.py" in [c.path for c in _candidates(
        tmp_path / "cut", cut, UVICORN_FILES, symbols, ("uvicorn",))]  # fmt: skip


def test_a_callee_defined_in_more_than_three_files_says_nothing(tmp_path: Path) -> None:
    files = [*CYLC_FILES, *(f"cylc/uiserver/stores/s{n}.py" for n in range(3))]
    elsewhere = [{"line": 5, "col": 4, "kind": "method", "name": "unregister_workflow", "end": 9}]
    symbols = {**CYLC_SYMBOLS, **{f"cylc/uiserver/stores/s{n}.py": elsewhere for n in range(3)}}
    candidates = _candidates(tmp_path, CYLC, files, symbols, CYLC_PACKAGES)
    assert [c.path for c in candidates] == ["cylc/uiserver/workflows_mgr.py"] * 2


def test_only_calls_of_names_the_language_does_not_define_are_callees() -> None:
    assert printed_callees("if not isinstance(x, int) and len(y) > helper_call (z) or obj.method(q):") == [
        "helper_call", "method"
    ]  # fmt: skip
    assert printed_callees("self.correlation_id = framework.context.get_correlation_id(request)") == [
        "get_correlation_id"
    ]
    assert printed_callees("return x[0]") == []


def test_the_printed_source_is_the_line_right_under_the_frame_and_never_another_frame() -> None:
    raw = 'File "app/jobs.py", line 4, in run'
    assert printed_source(raw, ['  File "app/jobs.py", line 4, in run\n    helper(job)\n']) == "helper(job)"
    assert printed_source(raw, ['  File "app/jobs.py", line 4, in run\n  File "app/x.py", line 1, in f\n']) is None
    assert printed_source(raw, ['  File "app/jobs.py", line 4, in run\n']) is None  # nothing printed under it
    assert printed_source("", ["helper(job)"]) is None
