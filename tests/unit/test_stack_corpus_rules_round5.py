"""Parsing rules added after the fifth held-out set was read (issue 11). Each rule is checked on the real
lines of the corpus case that showed it (`tests/fixtures/realworld/<ecosystem>/<case>/trace.txt`, quoted
here so the test does not move when the corpus does) and on variants it must leave alone."""

from __future__ import annotations

from error_autopilot.config.service_map import ServiceMap
from error_autopilot.domain.events import LogEntry
from error_autopilot.incidents.events import parse_entry
from error_autopilot.incidents.stacktrace import parse_stacktrace

SMAP = ServiceMap.model_validate(
    {
        "environments": {"prod": {"loki": {"url": "http://loki", "selector": '{env="prod"}'}}},
        "services": {"pagespeed": {"repo": "foomo/pagespeed_exporter", "packages": ["github.com/foomo"]}},
    }
)

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


def test_node_crash_header_under_a_process_managers_prefix() -> None:
    trace = parse_stacktrace("\n".join("3|app  | " + line for line in GITLAB_HOOK.splitlines()))
    assert trace is not None and [f.line for f in trace.primary.frames] == [113]
    shifted = GITLAB_HOOK.replace("                    ^", "3|app  |             ^")  # the prefix on one line only
    assert parse_stacktrace(shifted) is None


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


# go/foomo-pagespeed_exporter-60: logrus's start-up record, then the panic, in one entry
PAGESPEED = """\
time="2024-05-10T08:29:50Z" level=info msg="starting pagespeed exporter version 1a13ba6 on address :9271 for 4 targets"
panic: runtime error: invalid memory address or nil pointer dereference
[signal SIGSEGV: segmentation violation code=0x1 addr=0x48 pc=0x9844e1]

goroutine 112 [running]:
github.com/foomo/pagespeed_exporter/collector.collectLighthouseResults({0xaeee7a, 0xa}, 0xc0002621e0, \
0x405d3d?, 0xc0000b03c0?)
  /app/collector/collector.go:181 +0x3e1
github.com/foomo/pagespeed_exporter/collector.collect(0xc0002480c0, 0x2?)
  /app/collector/collector.go:127 +0xbe
"""


def _entry(line: str) -> LogEntry:
    return LogEntry(ts_ns=1, line=line, labels={"service_name": "pagespeed"}, metadata={})


def test_a_go_panic_below_an_info_logfmt_record_is_an_error() -> None:
    event = parse_entry(_entry(PAGESPEED), "prod", SMAP)
    assert event is not None and event.level == "error"
    assert event.stack is not None and event.stack.primary.frames[0].function.endswith("collectLighthouseResults")


def test_an_info_logfmt_record_stays_info_without_a_go_crash_below_it() -> None:
    alone = PAGESPEED.split("\n", 1)[0]
    assert parse_entry(_entry(alone), "prod", SMAP) is None
    # the record's own words are its message, not a crash below it
    said = 'time="2024-05-10T08:29:50Z" level=warn msg="panic: recovered in handler"\nretrying in 5s'
    assert parse_entry(_entry(said), "prod", SMAP) is None
    # a Python traceback under a warning record is that warning's (`logger.warning(..., exc_info=True)`)
    warned = 'level=warning msg="retrying"\nTraceback (most recent call last):\n  File "/app/x.py", line 3, in f\n'
    warned += "KeyError: 1"
    assert parse_entry(_entry(warned), "prod", SMAP) is None
