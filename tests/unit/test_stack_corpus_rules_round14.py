"""Rules added after the fourteenth held-out set was read (issue 11). Each rule is checked on the real lines of the
corpus case that showed it (`tests/fixtures/realworld/<ecosystem>/<case>/trace.txt`, quoted here so the test does
not move when the corpus does) and on variants it must leave alone."""

from __future__ import annotations

from error_autopilot.config.service_map import ServiceMap
from error_autopilot.domain.events import LogEntry
from error_autopilot.incidents.events import parse_entry
from error_autopilot.incidents.stackparse.common import InApp
from error_autopilot.incidents.stacktrace import parse_stacktrace
from tests.support.stackrules import first_of, parsed

# node/sebhildebrandt-systeminformation-758: Sentry's raw stack trace of a Node error, frames innermost first
SENTRY_NODE = """\
RangeError: Invalid time value
  ?, in Date.toISOString
  File "/opt/iobroker/node_modules/systeminformation/lib/processes.js", line 97, col 14, in parseElapsedTime
    return res.toISOString().substring(0, 10) + ' ' + res.toISOString().substring(11, 19);
  File "/opt/iobroker/node_modules/systeminformation/lib/processes.js", line 556, col 31, in parseLine
    const started = !_sunos ? parseElapsedTime(line.substring(parsedhead[8].from + offset, parsedhead[8].to + \
offset2).trim()) : parseTimeUn {snip}
  File "/opt/iobroker/node_modules/systeminformation/lib/processes.js", line 647, col 23, in <anonymous>
    result.push(parseLine(line));
  ?, in Array.forEach
  File "/opt/iobroker/node_modules/systeminformation/lib/processes.js", line 645, col 13, in parseProcesses
    lines.forEach(function (line) {
  File "/opt/iobroker/node_modules/systeminformation/lib/processes.js", line 734, col 30, in <anonymous>
    result.list = (parseProcesses(stdout.toString().split('\\n'))).slice();
  File "node:child_process", line 404, col 7, in ChildProcess.exithandler
  File "node:events", line 513, col 28, in ChildProcess.emit
  File "node:domain", line 489, col 12, in ChildProcess.emit
"""
SENTRY_FILES = ["lib/processes.js", "lib/index.js", "lib/util.js", "package.json"]

# go/puma-puma-dev-45: a GOPATH-era tree (no go.mod) whose import path `puma/dev` has no dot
PUMA = """\
2016/08/05 21:51:01 http: panic serving 127.0.0.1:50479: runtime error: invalid memory address or nil pointer \
dereference
goroutine 36 [running]:
net/http.(*conn).serve.func1(0xc820184400)
\t/usr/local/Cellar/go/1.6.3/libexec/src/net/http/server.go:1389 +0xc1
panic(0x4438e00, 0xc8200100b0)
\t/usr/local/Cellar/go/1.6.3/libexec/src/runtime/panic.go:443 +0x4e9
puma/dev.(*AppPool).App(0xc820015410, 0xc82017a1c0, 0x7, 0x0, 0x0, 0x0)
\t/Users/evan/git/puma-dev/src/puma/dev/app.go:318 +0x349
puma/dev.(*HTTPServer).hostForApp(0xc8201423f0, 0xc82017a1c0, 0x7, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0)
\t/Users/evan/git/puma-dev/src/puma/dev/http.go:46 +0x82
net/http.serverHandler.ServeHTTP(0xc820135380, 0x62c4080, 0xc8201884e0, 0xc8201822a0)
\t/usr/local/Cellar/go/1.6.3/libexec/src/net/http/server.go:2081 +0x19e
"""
PUMA_FILES = ["src/puma/dev/app.go", "src/puma/dev/http.go", "src/puma/httputil/reverseproxy.go", "Makefile"]

# python/excites-geokey-246: the Django debug page's summary copied without its labels
GEOKEY = """\
AttributeError at /api/projects/9/data-groupings/all-contributions/contributions/77/comments/187/

'NoneType' object has no attribute 'get'

/usr/local/geokey/geokey/contributions/models.py in update_display_field, line 230
"""
GEOKEY_FILES = ["geokey/contributions/models.py", "geokey/contributions/views.py", "geokey/core/settings.py"]


# go/mirceanton-external-dns-provider-mikrotik-87: logrus' JSON records, then net/http's record of a recovered panic
MIKROTIK = """\
{"level":"debug","msg":"RecordType set to: A","time":"2024-10-15T06:05:52Z"}
{"level":"debug","msg":"Converting Mikrotik TTL to Endpoint TTL: 1d","time":"2024-10-15T06:05:52Z"}
2024/10/15 06:05:52 http: panic serving 127.0.0.1:41884: runtime error: invalid memory address or nil pointer \
dereference
goroutine 155 [running]:
net/http.(*conn).serve.func1()
        /opt/hostedtoolcache/go/1.23.2/x64/src/net/http/server.go:1947 +0xbe
panic({0xc1f960?, 0x14df280?})
        /opt/hostedtoolcache/go/1.23.2/x64/src/runtime/panic.go:785 +0x132
github.com/mirceanton/external-dns-provider-mikrotik/internal/mikrotik.(*MikrotikProvider).Records(0xc00018f220, \
{0xc000000005?, 0xc0004b5848?})
        /home/runner/work/external-dns-provider-mikrotik/external-dns-provider-mikrotik\
/internal/mikrotik/provider.go:46 +0x195
"""
MIKROTIK_PACKAGE = "github.com/mirceanton/external-dns-provider-mikrotik"






def test_sentrys_frames_with_a_column_read_as_the_node_frames_they_render() -> None:
    stack = parsed(SENTRY_NODE, source_roots=["lib"])
    assert stack.language == "node"
    assert (stack.primary.type, stack.primary.message) == ("RangeError", "Invalid time value")
    frames = stack.primary.frames
    assert [(f.function, f.line) for f in frames[:3]] == [("parseElapsedTime", 97), ("parseLine", 556),
                                                          ("<anonymous>", 647)]  # fmt: skip
    first = first_of(SENTRY_NODE, SENTRY_FILES, source_roots=["lib"])
    assert (first.path, first.function) == ("lib/processes.js", "parseElapsedTime")


def test_a_column_is_read_only_where_sentry_writes_it() -> None:
    python = 'Traceback (most recent call last):\n  File "/app/x.py", line 3, col 7, in f\nKeyError: 1\n'
    assert [f.line for f in parsed(python).primary.frames] == [3]
    for other in ('  File "/app/x.py", col 7, line 3, in f', '  File "/app/x.py", line 3, column 7, in f',
                  '  File "/app/x.py", line 3, col x, in f'):  # fmt: skip
        assert parsed(f"Traceback (most recent call last):\n{other}\nKeyError: 1\n").primary.frames == ()


def test_a_configured_dotless_go_package_is_own_code_not_the_standard_library() -> None:
    stack = parsed(PUMA, ["puma"], ["src"])
    own = [(f.function, f.in_app) for f in stack.primary.frames]
    assert own[:4] == [("(*conn).serve.func1", False), ("panic", False), ("(*AppPool).App", True),
                       ("(*HTTPServer).hostForApp", True)]  # fmt: skip
    first = first_of(PUMA, PUMA_FILES, ["puma"], ["src"])
    assert (first.path, first.function) == ("src/puma/dev/app.go", "App")


def test_the_standard_library_stays_the_standard_library_whatever_is_configured() -> None:
    app = InApp(language="go", packages=("puma",))
    assert not app.classify("net/http", "/opt/go/src/net/http/server.go").in_app
    assert not app.classify("pumas/dev", "/src/pumas/dev/app.go").in_app  # `puma` does not cover `pumas`
    assert InApp(language="go", packages=("puma",)).classify("puma", "/src/puma/x.go").in_app
    unconfigured = InApp(language="go")
    assert not unconfigured.classify("puma/dev", "/Users/evan/git/puma-dev/src/puma/dev/app.go").in_app
    verdict = InApp(language="go", packages=("github.com/acme/app",)).classify("puma/dev", "/src/puma/dev/app.go")
    assert not verdict.in_app and verdict.runtime


def test_the_django_summary_without_its_labels_is_a_one_frame_traceback() -> None:
    stack = parsed(GEOKEY, ["geokey"])
    assert stack.language == "python"
    assert (stack.primary.type, stack.primary.message) == ("AttributeError", "'NoneType' object has no attribute 'get'")
    assert [(f.function, f.line) for f in stack.primary.frames] == [("update_display_field", 230)]
    first = first_of(GEOKEY, GEOKEY_FILES, ["geokey"])
    assert (first.path, first.function) == ("geokey/contributions/models.py", "update_display_field")
    newer = GEOKEY.replace(" in update_display_field, line 230", ", line 230, in update_display_field")  # Django 3.1+
    assert [(f.function, f.line) for f in parsed(newer, ["geokey"]).primary.frames] == [("update_display_field", 230)]


def test_the_django_summary_behind_a_shippers_prefix_reads_the_same() -> None:
    lines = GEOKEY.splitlines()
    syslog = "\n".join(f"May 13 15:06:{n:02d} host app[7]: {line}" for n, line in enumerate(lines))
    stack = parsed(syslog, ["geokey"])
    assert (stack.primary.type, stack.primary.message) == ("AttributeError", "'NoneType' object has no attribute 'get'")
    assert [(f.function, f.line) for f in stack.primary.frames] == [("update_display_field", 230)]
    other = "\n".join(("web_1  | " if n else "db_1   | ") + line for n, line in enumerate(lines))
    assert parse_stacktrace(other) is None  # the heading and the location behind two prefixes: two streams


def test_a_location_line_without_the_pages_heading_or_under_a_traceback_is_left_alone() -> None:
    no_heading = GEOKEY.replace("AttributeError at /api/", "AttributeError raised on /api/")
    assert parse_stacktrace(no_heading) is None
    location_first = "/app/x/models.py in f, line 3\nKeyError at /api/x/\n\n'k'\n"
    assert parse_stacktrace(location_first) is None
    not_a_path = "KeyError at /api/x/\n\n'k'\n\nsee models in f, line 3\n"
    assert parse_stacktrace(not_a_path) is None
    traceback = (
        "KeyError at /api/x/\nTraceback (most recent call last):\n"
        '  File "/app/x/views.py", line 9, in get\n    return models.f()\n'
        '  File "/app/x/models.py", line 3, in f\n    return d["k"]\n'
        "KeyError: 'k'\n/app/x/other.py in g, line 7\n"
    )
    assert [f.function for f in parsed(traceback).primary.frames] == ["f", "get"]


def test_net_https_record_of_a_recovered_panic_names_the_panic() -> None:
    stack = parsed(MIKROTIK, [MIKROTIK_PACKAGE])
    assert (stack.language, stack.primary.type) == ("go", "panic")
    assert stack.primary.message == "runtime error: invalid memory address or nil pointer dereference"
    assert [f.function for f in stack.primary.frames] == ["(*conn).serve.func1", "panic", "(*MikrotikProvider).Records"]
    ipv6 = PUMA.replace("127.0.0.1:50479", "[::1]:50479")
    assert parsed(ipv6).primary.message.startswith("runtime error: invalid memory address")


def test_the_runtimes_own_panic_line_names_the_panic_before_net_https_record() -> None:
    both = PUMA.replace("goroutine 36 [running]:", "panic: boom [recovered]\n\ngoroutine 36 [running]:")
    assert [(e.type, e.message) for e in parsed(both).exceptions] == [("panic", "boom")]
    first = PUMA.splitlines()[0]
    for other in ("2016/08/05 21:51:01 http: panic serving stopped", "2016/08/05 21:51:01 https: panic serving x: y"):
        assert parsed(PUMA.replace(first, other)).primary.type == "goroutine"  # not net/http's record


def test_a_recovered_panic_below_a_debug_record_is_still_an_error() -> None:
    smap = ServiceMap.model_validate({
        "environments": {"prod": {"loki": {"url": "http://loki", "selector": '{env="prod"}'}}},
        "services": {"dns": {"repo": "acme/dns", "packages": [MIKROTIK_PACKAGE]}},
    })  # fmt: skip
    event = parse_entry(LogEntry(ts_ns=1, line=MIKROTIK, labels={"service_name": "dns"}, metadata={}), "prod", smap)
    assert event is not None and event.level == "error"
    assert (event.exception_type, event.stack is not None) == ("panic", True)
    debug_only = "\n".join(MIKROTIK.splitlines()[:2])
    assert parse_entry(LogEntry(ts_ns=1, line=debug_only, labels={"service_name": "dns"}, metadata={}), "prod",
                       smap) is None  # fmt: skip
