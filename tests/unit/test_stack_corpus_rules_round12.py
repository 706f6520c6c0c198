"""Rules added after the thirteenth held-out set was read (issue 11). Each rule is checked on the real lines of
the corpus case that showed it (`tests/fixtures/realworld/<ecosystem>/<case>/trace.txt`, quoted here so the
test does not move when the corpus does) and on variants it must leave alone."""

from __future__ import annotations

from error_autopilot.incidents.stackparse.dotnet_renderings import from_developer_page
from tests.support.stackrules import first_of, parsed

# python/locustio-locust-53: locust's stderr logger writes every `write()` as a record of its own
LOCUST = """\
$ locust -f locust_file.py --slave --master-host=some.master.server.com
ERROR/stderr: Traceback (most recent call last):
ERROR/stderr: File "/usr/bin/locust", line 8, in <module>
ERROR/stderr:{SPACE}
ERROR/stderr: load_entry_point('locustio==0.6.1', 'console_scripts', 'locust')()
ERROR/stderr: File "/usr/lib/python2.6/site-packages/locustio-0.6.1-py2.6.egg/locust/main.py", line 365, in main
ERROR/stderr: runners.locust_runner = SlaveLocustRunner(locust_classes, options.hatch_rate)
ERROR/stderr: File "/usr/lib/python2.6/site-packages/locustio-0.6.1-py2.6.egg/locust/runners.py", line 330, in **init**
ERROR/stderr: self.greenlet.spawn(self.worker).link_exception()
ERROR/stderr: File "build/bdist.linux-x86_64/egg/gevent/greenlet.py", line 370, in link_exception

ERROR/stderr: File "build/bdist.linux-x86_64/egg/gevent/greenlet.py", line 355, in link
ERROR/stderr: File "build/bdist.linux-x86_64/egg/gevent/greenlet.py", line 23, in **init**
ERROR/stderr: TypeError
ERROR/stderr: Expected callable: None
""".replace("{SPACE}", " ")  # the logger's record of the bare newline keeps the space after its prefix
LOCUST_FILES = ["locust/__init__.py", "locust/main.py", "locust/runners.py", "locust/core.py", "setup.py"]

# node/paritytech-substrate-api-sidecar-1508: the log window starts inside an earlier copy of the error
SIDECAR = """\
    at next (/usr/src/app/node_modules/router/lib/route.js:159:13)
    at Route.dispatch (/usr/src/app/node_modules/router/lib/route.js:119:3)
    at processParams (/usr/src/app/node_modules/router/index.js:575:12)
    at next (/usr/src/app/node_modules/router/index.js:289:5)
2024-10-10 07:36:04 error: GET / 500 1ms
2024-10-10 07:36:14 error: Cannot read properties of undefined (reading 'stack')
 TypeError: Cannot read properties of undefined (reading 'stack')
    at App.getRoutes (/usr/src/app/build/src/App.js:93:33)
    at /usr/src/app/build/src/App.js:83:30
    at Layer.handleRequest (/usr/src/app/node_modules/router/lib/layer.js:145:17)
    at next (/usr/src/app/node_modules/router/lib/route.js:159:13)
2024-10-10 07:36:14 error: GET / 500
"""
SIDECAR_FILES = ["src/App.ts", "src/main.ts", "src/controllers/index.ts", "package.json"]

# dotnet/luckypennysoftware-automapper-2894: ASP.NET Core's developer exception page, copied as text
AUTOMAPPER = """\
NullReferenceException: Object reference not set to an instance of an object.
AutoMapper.PathMap.get_SourceType() in PathMap.cs, line 24

AutoMapper.PathMap.get_SourceType() in PathMap.cs
AutoMapper.Execution.TypeMapPlanBuilder.<CheckForCycles>g__ResolveMemberTypeMap|17_4(IMemberMap memberMap) \
in TypeMapPlanBuilder.cs
System.Linq.Enumerable+WhereSelectEnumerableIterator<TSource, TResult>.MoveNext()
AutoMapper.Execution.TypeMapPlanBuilder.CheckForCycles(HashSet<TypeMap> typeMapsPath) in TypeMapPlanBuilder.cs
AutoMapper.MapperConfiguration..ctor(MapperConfigurationExpression configurationExpression) in MapperConfiguration.cs
"""
AUTOMAPPER_FILES = ["src/AutoMapper/PathMap.cs", "src/AutoMapper/Execution/TypeMapPlanBuilder.cs",
                    "src/AutoMapper/MapperConfiguration.cs", "src/AutoMapper/TypeMap.cs"]  # fmt: skip






def test_a_blank_write_between_a_file_line_and_its_source_line_keeps_the_frames_together() -> None:
    frames = parsed(LOCUST, ["locust"]).exceptions[0].frames
    assert [f.function for f in frames] == ["__init__", "link", "link_exception", "__init__", "main", "<module>"]
    first = first_of(LOCUST, LOCUST_FILES, ["locust"])
    assert (first.path, first.function) == ("locust/runners.py", "__init__")


def test_a_blank_line_before_anything_but_a_source_line_and_a_frame_still_ends_the_frames() -> None:
    cut = 'Traceback (most recent call last):\n  File "/app/x.py", line 3, in run\n\nError handling request\n'
    stack = parsed(cut)
    assert stack.exceptions[0].message == "Error handling request"
    raised = 'Traceback (most recent call last):\nFile "/app/x.py", line 3, in run\n\nKeyError: 1\n'
    raised += 'File "/b.py", line 1\n'
    assert parsed(raised).exceptions[0].type == "KeyError"


def test_an_egg_folder_under_site_packages_is_no_part_of_the_module_name() -> None:
    frame = parsed(LOCUST, ["locust"]).exceptions[0].frames[3]
    assert frame.module == "locust.runners" and frame.in_app
    other = LOCUST.replace("locustio-0.6.1-py2.6.egg", "locustio-0.7.0-py2.7.egg")
    assert parsed(other, ["locust"]).exceptions[0].frames[3].module == "locust.runners"
    wheel = "Traceback (most recent call last):\n"
    wheel += '  File "/venv/lib/python3.12/site-packages/acme.egg_info/x.py", line 1, in f\nKeyError: 1\n'
    assert parsed(wheel).exceptions[0].frames[0].module == "acme.egg_info.x"


def test_markdown_bold_only_turns_back_into_a_dunder_name_when_it_is_the_whole_function() -> None:
    frames = parsed(LOCUST, ["locust"]).exceptions[0].frames
    assert frames[0].function == "__init__" and "**init**" in frames[0].raw
    starred = 'Traceback (most recent call last):\n  File "/app/x.py", line 3, in **init**x\nKeyError: 1\n'
    assert parsed(starred).exceptions[0].frames[0].function == "**init**x"


def test_a_headless_run_of_node_frames_gives_way_to_the_whole_error_logged_after_it() -> None:
    exc = parsed(SIDECAR).exceptions[0]
    assert exc.type == "TypeError" and exc.frames[0].function == "App.getRoutes"
    first = first_of(SIDECAR, SIDECAR_FILES)
    assert (first.path, first.function) == ("src/App.ts", "getRoutes")


def test_node_frames_under_their_header_or_with_no_whole_error_after_them_are_read_first() -> None:
    headed = "Error: first\n    at a (/app/a.js:1:1)\nlog line\nTypeError: second\n    at b (/app/b.js:2:2)\n"
    assert parsed(headed).exceptions[0].frames[0].function == "a"
    headless_only = "    at a (/app/a.js:1:1)\nlog line\n    at b (/app/b.js:2:2)\n"
    assert parsed(headless_only).exceptions[0].frames[0].function == "a"


def test_the_developer_exception_page_reads_as_a_dotnet_trace() -> None:
    stack = parsed(AUTOMAPPER, ["AutoMapper"])
    assert stack.language == "dotnet"
    exc = stack.exceptions[0]
    assert exc.type == "NullReferenceException"
    assert [(f.function, f.file, f.line) for f in exc.frames[:2]] == [
        ("get_SourceType", "PathMap.cs", 24),
        ("<CheckForCycles>g__ResolveMemberTypeMap|17_4", "TypeMapPlanBuilder.cs", 0),  # .NET's own `:line 0`
    ]
    assert [f.function for f in exc.frames] == [
        "get_SourceType", "<CheckForCycles>g__ResolveMemberTypeMap|17_4", "MoveNext", "CheckForCycles", ".ctor"
    ]  # fmt: skip
    assert not exc.frames[2].in_app
    first = first_of(AUTOMAPPER, AUTOMAPPER_FILES, ["AutoMapper"])
    assert first.path == "src/AutoMapper/PathMap.cs"


def test_the_developer_page_behind_a_shippers_prefix_reads_the_same() -> None:
    prefixed = "\n".join(f"May 13 15:06:{n:02d} host app[7]: {line}" for n, line in enumerate(AUTOMAPPER.splitlines()))
    plain, shipped = parsed(AUTOMAPPER, ["AutoMapper"]), parsed(prefixed, ["AutoMapper"])
    assert shipped.exceptions[0].type == "NullReferenceException"
    assert [f.function for f in shipped.exceptions[0].frames] == [f.function for f in plain.exceptions[0].frames]


def test_one_method_in_file_line_alone_is_no_developer_page() -> None:
    lines = ["System.Exception: boom", "Acme.Orders.Service.Place() in Service.cs, line 3", "see above"]
    assert from_developer_page(lines) is lines
    prose = ["We call Acme.Orders.Service.Place(order) in Service.cs and it fails", "Acme.X.Y() in Y.cs, line 2"]
    assert from_developer_page(prose) is prose
