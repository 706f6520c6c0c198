"""Parsing rules added after the fifth held-out set was read (issue 11). Each rule is checked on the real
lines of the corpus case that showed it (`tests/fixtures/realworld/<ecosystem>/<case>/trace.txt`, quoted
here so the test does not move when the corpus does) and on variants it must leave alone."""

from __future__ import annotations

from error_autopilot.incidents.stacktrace import parse_stacktrace

# node/jamieslome-node-gitlab-hook-5: pm2's error log kept only Node's fatal-exception header
GITLAB_HOOK = """\
/root/test-webhook/node_modules/gitlabhook/gitlabhook.js:113
    '%i': lastCommit.id,
                    ^
TypeError: Cannot read property 'id' of undefined
"""


def test_node_crash_header_without_frames_names_the_throwing_line() -> None:
    trace = parse_stacktrace(GITLAB_HOOK)
    assert trace is not None and trace.language == "node"
    assert (trace.primary.type, trace.primary.message) == ("TypeError", "Cannot read property 'id' of undefined")
    [frame] = trace.primary.frames
    assert (frame.file, frame.line) == ("/root/test-webhook/node_modules/gitlabhook/gitlabhook.js", 113)


def test_node_crash_header_keeps_the_at_frames_when_they_are_there() -> None:
    frames = "    at executeShellCmds (/srv/hook/gitlabhook.js:113:21)\n    at reply (/srv/hook/gitlabhook.js:90:5)\n"
    trace = parse_stacktrace(GITLAB_HOOK + frames)
    assert trace is not None
    assert [f.line for f in trace.primary.frames] == [113, 90]
    assert trace.primary.frames[0].function == "executeShellCmds"


def test_a_caret_under_a_line_without_an_error_is_not_a_crash() -> None:
    build_log = "src/app.js:12\n  const x = ;\n            ^\nexpected an expression\n"
    assert parse_stacktrace(build_log) is None
    python_like = "/srv/app/views.py:12\n  x = y[0]\n      ^\nIndexError: list index out of range\n"
    assert parse_stacktrace(python_like) is None
