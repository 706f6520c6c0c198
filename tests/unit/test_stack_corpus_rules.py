"""Parsing and mapping rules added after the second held-out set was read (issue 11), each checked on
the real lines of the corpus case that showed the gap (`tests/fixtures/realworld/<eco>/<case>/trace.txt`,
quoted here so the rule's test does not move when the corpus does) and on a variant the rule must
leave alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from error_autopilot.incidents.stacktrace import parse_stacktrace
from error_autopilot.investigation import blame
from error_autopilot.investigation.pathmap import index_files, map_frame_explained, resolve_links
from error_autopilot.investigation.stackmap import rank
from tests.support.corpus import build_repo

# python/evilhero-mylar-304: a Windows traceback pasted outside a code block, every line flushed left
MYLAR = """\
05-Apr-2013 15:46:53 - INFO :: Thread-13 : Now checking files for Jennifer Blood (2011) in R:\\eComics\\Jennifer Blood

Exception in thread Thread-13:
Traceback (most recent call last):
File "C:\\Program Files (x86)\\Python 2.73\\lib\\threading.py", line 551, in __bootstrap_inner
self.run()
File "C:\\Program Files (x86)\\Python 2.73\\lib\\threading.py", line 504, in run
self.__target(_self.__args, *_self.__kwargs)
File "C:\\Program Files (x86)\\Mylar\\mylar\\updater.py", line 365, in forceRescan
if 'au' in fcnew[som+1].lower():
IndexError: list index out of range
"""
MYLAR_FILES = ["mylar/__init__.py", "mylar/updater.py", "mylar/helpers.py", "Mylar.py"]


def test_a_traceback_flushed_left_keeps_every_frame() -> None:
    trace = parse_stacktrace(MYLAR, packages=("mylar",))
    assert trace is not None and trace.language == "python"
    assert (trace.primary.type, trace.primary.message) == ("IndexError", "list index out of range")
    assert [f.function for f in trace.primary.frames] == ["forceRescan", "run", "__bootstrap_inner"]
    first = rank(trace, MYLAR_FILES, packages=("mylar",)).candidates[0]
    assert (first.path, first.function) == ("mylar/updater.py", "forceRescan")


def test_a_flushed_left_frame_without_its_source_line_still_ends_at_the_exception() -> None:
    """No source line (the file was not there to read): the line after the frame is the exception."""
    text = "\n".join(line for line in MYLAR.splitlines() if not line.startswith(("self.", "if ")))
    trace = parse_stacktrace(text, packages=("mylar",))
    assert trace is not None and trace.primary.type == "IndexError"
    assert [f.function for f in trace.primary.frames] == ["forceRescan", "run", "__bootstrap_inner"]


def test_a_source_line_that_reads_like_a_keyword_is_not_the_exception() -> None:
    text = MYLAR.replace("self.run()", "raise")
    trace = parse_stacktrace(text, packages=("mylar",))
    assert trace is not None and trace.primary.type == "IndexError" and len(trace.primary.frames) == 3


def test_the_flushed_traceback_indented_as_a_whole_reads_the_same() -> None:
    indented = "\n".join("    " + line for line in MYLAR.splitlines())
    trace, flat = parse_stacktrace(indented, packages=("mylar",)), parse_stacktrace(MYLAR, packages=("mylar",))
    assert trace is not None and flat is not None
    assert trace.primary.type == flat.primary.type == "IndexError"
    assert [f.function for f in trace.primary.frames] == [f.function for f in flat.primary.frames]


# jvm/rogermiranda1000-portalgun-88: frames copied from Sentry's issue page ("<class> in <method> at line
# N"), the exception in markdown bold above them
PORTALGUN = """\
**ClassCastException**: class java.lang.Long cannot be cast to class java.lang.Integer (java.lang.Long and java.lang.Integer are in module java.base of loader 'bootstrap')

com.rogermiranda1000.portalgun.files.Config in getInteger at line 79
com.rogermiranda1000.portalgun.events.onUse in playerUsedPortalGun at line 78
com.rogermiranda1000.portalgun.events.onUse in onPlayerUse at line 51
"""  # noqa: E501
PORTALGUN_FILES = [
    "src/main/java/com/rogermiranda1000/portalgun/PortalGun.java",
    "src/main/java/com/rogermiranda1000/portalgun/events/onUse.java",
    "src/main/java/com/rogermiranda1000/portalgun/files/Config.java",
    "src/main/resources/config.yml",
]


def test_error_tracker_frame_titles_are_a_trace() -> None:
    trace = parse_stacktrace(PORTALGUN, packages=("com.rogermiranda1000.portalgun",))
    assert trace is not None and trace.language == "jvm"
    assert trace.primary.type == "ClassCastException"
    assert trace.primary.message.startswith("class java.lang.Long cannot be cast")
    assert [(f.module, f.function, f.line) for f in trace.primary.frames] == [
        ("com.rogermiranda1000.portalgun.files.Config", "getInteger", 79),
        ("com.rogermiranda1000.portalgun.events.onUse", "playerUsedPortalGun", 78),
        ("com.rogermiranda1000.portalgun.events.onUse", "onPlayerUse", 51),
    ]
    ranked = rank(trace, PORTALGUN_FILES, packages=("com.rogermiranda1000.portalgun",)).candidates
    assert [(c.path, c.function) for c in ranked][:2] == [
        ("src/main/java/com/rogermiranda1000/portalgun/files/Config.java", "getInteger"),
        ("src/main/java/com/rogermiranda1000/portalgun/events/onUse.java", "playerUsedPortalGun"),
    ]


def test_error_tracker_titles_naming_files_take_the_files_runtime() -> None:
    text = "\n".join(line.replace("com.rogermiranda1000.portalgun.files.Config", "app/config.py")
                     .replace("com.rogermiranda1000.portalgun.events.onUse", "app/events.py")
                     for line in PORTALGUN.splitlines())  # fmt: skip
    trace = parse_stacktrace(text)
    assert trace is not None and trace.language == "python"
    assert [(f.file, f.function) for f in trace.primary.frames][:2] == [
        ("app/config.py", "getInteger"), ("app/events.py", "playerUsedPortalGun")]  # fmt: skip


def test_one_sentence_in_that_shape_is_not_a_trace() -> None:
    text = "**ClassCastException**: boom\n\ncom.rogermiranda1000.portalgun.files.Config in getInteger at line 79\n"
    assert parse_stacktrace(text) is None
    assert parse_stacktrace("Syntax error in foo at line 3\nParse error in bar at line 9\n") is None


# node/slavcodev-coverage-monitor-action-21: a GitHub Action runs the ncc bundle it commits as dist/index.js
COVERAGE_MONITOR = """\
Run slavcodev/coverage-monitor-action@1.1.1
(node:2943) UnhandledPromiseRejectionWarning: HttpError: No commit found for SHA: label,MyOrg:Foo,ref,Foo,repo,[object Object],sha,abcde01,user,[object Object]
    at /home/runner/work/_actions/slavcodev/coverage-monitor-action/1.1.1/dist/index.js:13587:23
    at processTicksAndRejections (internal/process/task_queues.js:93:5)
"""  # noqa: E501


def test_a_committed_bundle_is_the_file_its_frame_names() -> None:
    files = ["action.yml", "dist/index.js", "package.json", "src/functions.js", "src/index.js"]
    trace = parse_stacktrace(COVERAGE_MONITOR, source_roots=("src",))
    assert trace is not None
    mapping = map_frame_explained(trace.primary.frames[0], index_files(files), trace.language)
    assert (mapping.path, mapping.alternatives) == ("dist/index.js", ("src/index.js",))


def test_a_committed_build_with_a_typescript_twin_still_maps_to_the_source() -> None:
    # built in a workspace, not run from the runner's `_actions/` copy of the action (round 21 maps that copy's
    # file to itself: an action's committed `dist/index.js` is ncc's bundle of every module)
    files = ["action.yml", "dist/index.js", "package.json", "src/index.ts"]
    built = COVERAGE_MONITOR.replace("_actions/slavcodev/coverage-monitor-action/1.1.1", "app/app")
    trace = parse_stacktrace(built, source_roots=("src",))
    assert trace is not None
    assert map_frame_explained(trace.primary.frames[0], index_files(files), trace.language).path == "src/index.ts"


# go/leukipp-cortile-25 and go/grafana-loki-249: the innermost own frame is one the compiler inlined
# (`(...)`, no `+0x` offset); the fix is in the caller right above it
CORTILE = """\
panic: runtime error: invalid memory address or nil pointer dereference
[signal SIGSEGV: segmentation violation code=0x1 addr=0x20 pc=0x5e9403]

goroutine 3212 [running]:
github.com/leukipp/cortile/store.(*Client).UnLock(...)
        /home/runner/work/cortile/cortile/store/client.go:78
github.com/leukipp/cortile/desktop.(*Tracker).onPointerUpdate.func1()
        /home/runner/work/cortile/cortile/desktop/tracker.go:439 +0xc3
created by time.goFunc
        /opt/hostedtoolcache/go/1.18.10/x64/src/time/sleep.go:176 +0x32
"""
CORTILE_FILES = ["desktop/tracker.go", "desktop/workspace.go", "main.go", "store/client.go", "ui/gui.go"]
LOKI = """\
panic: close of closed channel

goroutine 207 [running]:
github.com/grafana/loki/pkg/promtail.(*Positions).Stop(...)
	/go/src/github.com/grafana/loki/pkg/promtail/position.go:65
github.com/grafana/loki/pkg/promtail.(*Target).run.func1(0xc000d42de0)
	/go/src/github.com/grafana/loki/pkg/promtail/target.go:142 +0x13b
github.com/grafana/loki/pkg/promtail.(*Target).run(0xc000d42de0)
	/go/src/github.com/grafana/loki/pkg/promtail/target.go:197 +0x116e
created by github.com/grafana/loki/pkg/promtail.NewTarget
	/go/src/github.com/grafana/loki/pkg/promtail/target.go:125 +0x8b6
"""
LOKI_FILES = ["pkg/promtail/position.go", "pkg/promtail/promtail.go", "pkg/promtail/target.go"]


@pytest.mark.parametrize(
    ("text", "files", "package", "first_two"),
    [
        (CORTILE, CORTILE_FILES, "github.com/leukipp/cortile",
         [("store/client.go", "UnLock"), ("desktop/tracker.go", "onPointerUpdate")]),
        (LOKI, LOKI_FILES, "github.com/grafana/loki",
         [("pkg/promtail/position.go", "Stop"), ("pkg/promtail/target.go", "run")]),
    ],
    ids=["cortile", "loki"],
)  # fmt: skip
def test_an_inlined_go_frames_caller_comes_second(
    text: str, files: list[str], package: str, first_two: list[tuple[str, str]]
) -> None:
    trace = parse_stacktrace(text, packages=(package,))
    assert trace is not None
    ranked = rank(trace, files, packages=(package,)).candidates
    assert [(c.path, c.function) for c in ranked][:2] == first_two
    assert "inlined" in ranked[0].reason and "inlined" in ranked[1].reason


def test_no_inlining_is_read_when_the_paste_dropped_every_offset() -> None:
    """Without any `+0x` in the trace, a missing offset says nothing about inlining."""
    text = "\n".join(line.split(" +0x")[0] for line in CORTILE.splitlines())
    trace = parse_stacktrace(text, packages=("github.com/leukipp/cortile",))
    assert trace is not None
    ranked = rank(trace, CORTILE_FILES, packages=("github.com/leukipp/cortile",)).candidates
    assert (ranked[0].path, ranked[0].function) == ("store/client.go", "UnLock")
    assert not any("inlined" in c.reason for c in ranked)


def test_an_inlined_library_frame_leaves_the_innermost_own_frame_first() -> None:
    """go/diodechain-diode_client-7: gorilla/websocket's inlined `Close` is library code."""
    text = """\
goroutine 1 [running]:
github.com/gorilla/websocket.(*Conn).Close(...)
        /go/pkg/mod/github.com/gorilla/websocket@v1.4.1/conn.go:344
github.com/diodechain/diode_go_client/rpc.(*ProxyServer).pipeProxy(0xc0003cec40, 0xa03900, 0xc0000d6620, 0xc0000dea00)
        /diode_go_client/rpc/proxy.go:119 +0x3eb
"""
    trace = parse_stacktrace(text, packages=("github.com/diodechain/diode_go_client",))
    assert trace is not None
    first = rank(trace, ["main.go", "rpc/proxy.go"], packages=("github.com/diodechain/diode_go_client",)).candidates[0]
    assert (first.path, first.function) == ("rpc/proxy.go", "pipeProxy")


# dotnet/justarchinet-archisteamfarm-139: the logger's prefix and a `StackTrace:` label before the first frame
ARCHISTEAMFARM = """\
06.03.2016 15:43:43 [!] EXCEPTION: UnhandledExceptionHandler() <Main> Object reference not set to an instance of an object.
06.03.2016 15:43:43 [!] StackTrace:    at ArchiSteamFarm.Bot.ResponseStatus()
   at ArchiSteamFarm.Bot.ResponseStatusAll()
   at ArchiSteamFarm.Bot.<HandleMessage>d__34.MoveNext()
"""  # noqa: E501


def test_a_stack_trace_label_behind_a_log_prefix_keeps_the_first_frame() -> None:
    trace = parse_stacktrace(ARCHISTEAMFARM, packages=("ArchiSteamFarm",))
    assert trace is not None and trace.language == "dotnet"
    assert [f.function for f in trace.primary.frames] == ["ResponseStatus", "ResponseStatusAll",
                                                          "<HandleMessage>d__34.MoveNext"]  # fmt: skip


def test_the_words_stack_trace_in_a_sentence_are_no_label() -> None:
    text = "See the Stack trace: at the bottom of the page\n   at ArchiSteamFarm.Bot.ResponseStatusAll()\n"
    trace = parse_stacktrace(text, packages=("ArchiSteamFarm",))
    assert trace is not None and [f.function for f in trace.primary.frames] == ["ResponseStatusAll"]


# python/archivebox-archivebox-139: the caller frames ran `./archive`, a symbolic link at the root of the
# repository to the package's module (via bin/archivebox)
ARCHIVEBOX = """\
Traceback (most recent call last):
  File "./archive", line 184, in <module>
    links = merge_links(archive_path=out_dir, import_path=source, only_new=ONLY_NEW)
  File "./archive", line 78, in merge_links
    pretty_path(import_path),
  File "/path/to/ArchiveBox/archivebox/util.py", line 182, in pretty_path
    return path.replace(REPO_DIR + '/', '')
AttributeError: 'NoneType' object has no attribute 'replace'
"""
ARCHIVEBOX_FILES = ["archive", "archivebox/__init__.py", "archivebox/archive.py", "archivebox/purge.py",
                    "archivebox/util.py", "bin/archivebox", "bin/archivebox-purge", "bin/bookmark-archiver",
                    "bin/archivebox-setup", "setup"]  # fmt: skip
ARCHIVEBOX_LINKS = {"archive": "bin/archivebox", "bin/archivebox": "../archivebox/archive.py",
                    "bin/archivebox-purge": "../archivebox/purge.py", "bin/bookmark-archiver": "archivebox",
                    "setup": "bin/archivebox-setup"}  # fmt: skip


def test_links_resolve_through_chains_to_listed_files_only() -> None:
    outside = {**ARCHIVEBOX_LINKS, "etc/hosts": "/etc/hosts", "up": "../../elsewhere.py", "loop": "loop"}
    assert resolve_links(outside, [*ARCHIVEBOX_FILES, "etc/hosts", "up", "loop"]) == {
        "archive": "archivebox/archive.py", "bin/archivebox": "archivebox/archive.py",
        "bin/archivebox-purge": "archivebox/purge.py", "bin/bookmark-archiver": "archivebox/archive.py",
        "setup": "bin/archivebox-setup",
    }  # fmt: skip


def test_a_frame_that_ran_a_linked_script_lands_on_the_linked_module() -> None:
    trace = parse_stacktrace(ARCHIVEBOX, packages=("archivebox",))
    assert trace is not None
    plain = rank(trace, ARCHIVEBOX_FILES, packages=("archivebox",)).candidates
    # `./archive` is printed relative, so the checkout's own file ran (round 21); only the link says which module
    assert [c.path for c in plain] == ["archivebox/util.py", "archive", "archive"]  # merge_links, <module>
    linked = rank(trace, ARCHIVEBOX_FILES, packages=("archivebox",), symlinks=ARCHIVEBOX_LINKS).candidates
    assert [(c.path, c.function) for c in linked][:2] == [("archivebox/util.py", "pretty_path"),
                                                          ("archivebox/archive.py", "merge_links")]  # fmt: skip
    assert "archive is a link to archivebox/archive.py" in linked[1].reason


def test_git_hands_over_the_links_of_the_tree(tmp_path: Path) -> None:
    head = build_repo(ARCHIVEBOX_FILES, tmp_path / "repo.git", symlinks=ARCHIVEBOX_LINKS)
    assert blame.symlinks(tmp_path / "repo.git", head) == ARCHIVEBOX_LINKS
