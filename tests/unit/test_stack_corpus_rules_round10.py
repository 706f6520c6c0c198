"""Rules added after the eleventh held-out set was read (issue 11). Each rule is checked on the real lines of
the corpus case that showed it (`tests/fixtures/realworld/<ecosystem>/<case>/trace.txt`, quoted here so the
test does not move when the corpus does) and on variants it must leave alone."""

from __future__ import annotations

from collections.abc import Sequence

from error_autopilot.incidents.stackparse.common import InApp
from error_autopilot.incidents.stacktrace import parse_stacktrace
from error_autopilot.investigation.pathmap import index_files, map_frame_explained
from error_autopilot.investigation.stackmap import Candidate, rank

# go/kardianos-govendor-5: the tool's old import path is github.com/kardianos/vendor (GOPATH)
GOVENDOR = """\
jb@syno:~/src/github.com/syncthing/syncthing (vendor) $ vendor add -status ext
panic: runtime error: invalid memory address or nil pointer dereference
[signal 0xb code=0x1 addr=0x0 pc=0x6847f]

goroutine 1 [running]:
github.com/kardianos/vendor/rewrite.addUpdateImportPath(0x208480ece, 0x28, 0x237a00, 0x0, 0x0)
	/Users/jb/src/github.com/kardianos/vendor/rewrite/command.go:345 +0x181f
github.com/kardianos/vendor/rewrite.CmdAdd(0x208480ece, 0x28, 0x0, 0x0)
	/Users/jb/src/github.com/kardianos/vendor/rewrite/command.go:195 +0x50
main.main()
	/Users/jb/src/github.com/kardianos/vendor/main.go:137 +0x9bf
"""
GOVENDOR_FILES = ["main.go", "rewrite/command.go", "rewrite/copy.go", "context/context.go"]


def _ranked(trace: str, files: Sequence[str], packages: Sequence[str]) -> list[Candidate]:
    stack = parse_stacktrace(trace)
    assert stack is not None
    return list(rank(stack, files, packages=packages).candidates)


def test_a_vendor_segment_of_the_configured_package_is_no_vendor_folder() -> None:
    first = _ranked(GOVENDOR, GOVENDOR_FILES, ["github.com/kardianos/vendor"])[0]
    assert (first.path, first.function) == ("rewrite/command.go", "addUpdateImportPath")
    assert "in configured package github.com/kardianos/vendor" in first.reason


def test_a_vendor_folder_below_the_configured_package_stays_library_code() -> None:
    verdicts = InApp(language="go", packages=("github.com/kardianos/vendor",))
    vendored = verdicts.classify(
        "github.com/kardianos/vendor/vendor/github.com/pkg/errors",
        "/Users/jb/src/github.com/kardianos/vendor/vendor/github.com/pkg/errors/errors.go",
    )
    assert not vendored.in_app
    app = InApp(language="go", packages=("github.com/acme/app",))
    vendored_dep = "github.com/acme/app/vendor/github.com/x/y", "/go/src/github.com/acme/app/vendor/github.com/x/y/a.go"
    assert not app.classify(*vendored_dep).in_app
    assert app.classify("github.com/acme/app/orders", "/go/src/github.com/acme/app/orders/a.go").in_app


def test_without_configuration_a_vendor_segment_still_reads_as_vendored() -> None:
    frame = ("github.com/kardianos/vendor/rewrite", "/Users/jb/src/github.com/kardianos/vendor/rewrite/command.go")
    assert not InApp(language="go").classify(*frame).in_app


# go/whyrusleeping-natest-2: a one-frame panic in package main, built under GOPATH
NATEST = """\
panic: runtime error: invalid memory address or nil pointer dereference
[signal SIGSEGV: segmentation violation code=0x1 addr=0x48 pc=0x7fbaf9]

goroutine 1 [running]:
main.main()
	/home/kubuxu/go/src/github.com/whyrusleeping/natest/main.go:238 +0xc29
"""
NATEST_FILES = ["LICENSE", "main.go", "natest-server/main.go", "natinfo/info.go"]


def test_the_path_below_the_configured_go_package_settles_a_tie() -> None:
    stack = parse_stacktrace(NATEST)
    assert stack is not None
    frame = stack.primary.frames[0]
    mapping = map_frame_explained(frame, index_files(NATEST_FILES), "go", ["github.com/whyrusleeping/natest"])
    assert (mapping.path, mapping.ambiguous) == ("main.go", False)
    assert "below the configured Go package" in mapping.note


def test_the_configured_go_package_never_overrides_a_longer_path_match() -> None:
    # a subpackage configured: the path below it is no repository path, and more shared segments still win
    trace = NATEST.replace("natest/main.go", "natest/natest-server/main.go")
    stack = parse_stacktrace(trace)
    assert stack is not None
    frame = stack.primary.frames[0]
    mapping = map_frame_explained(frame, index_files(NATEST_FILES), "go", ["github.com/whyrusleeping/natest"])
    assert mapping.path == "natest-server/main.go"


# go/gogs-gogs-2646: the nil git logger's methods run on a nil pointer; runUpdate used it before setting it up
GOGS = """\
remote: panic: runtime error: invalid memory address or nil pointer dereference
remote: [signal 0xb code=0x1 addr=0x18 pc=0x61545b]
remote:
remote: goroutine 1 [running]:
remote: github.com/gogits/gogs/modules/log.(*Logger).writerMsg(0x0, 0x0, 0x0, 0xc820259cb0, 0x21, 0x0, 0x0)
remote:         /home/git/gopath/src/github.com/gogits/gogs/modules/log/log.go:197 +0x4b
remote: github.com/gogits/gogs/modules/log.(*Logger).Trace(0x0, 0x1034ea0, 0x1d, 0x0, 0x0, 0x0)
remote:         /home/git/gopath/src/github.com/gogits/gogs/modules/log/log.go:279 +0xd0
remote: github.com/gogits/gogs/cmd.runUpdate(0xc820267b00)
remote:         /home/git/gopath/src/github.com/gogits/gogs/cmd/update.go:33 +0x100
remote: github.com/codegangsta/cli.Command.Run(0xf7e338, 0x6, 0x0, 0x0, 0x0, 0x0, 0x0, 0x1082e80, 0x2f, 0x1083000, ...)
remote:         /home/git/gopath/src/github.com/codegangsta/cli/command.go:131 +0x1055
"""
GOGS_FILES = ["cmd/serve.go", "cmd/update.go", "modules/log/log.go", "modules/log/console.go", "main.go"]


def test_a_method_called_on_a_nil_pointer_yields_to_the_caller_that_held_the_nil() -> None:
    ranked = _ranked(GOGS, GOGS_FILES, ["github.com/gogits/gogs"])
    assert [(c.path, c.function) for c in ranked[:2]] == [("cmd/update.go", "runUpdate"),
                                                          ("modules/log/log.go", "writerMsg")]  # fmt: skip
    assert "called a method on a nil pointer" in ranked[0].reason


# go/asciimoo-wuzz-86: the status line was never set, and Layout calls its Update
WUZZ = """\
panic: runtime error: invalid memory address or nil pointer dereference
[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x12e9b1a]

goroutine 1 [running]:
main.(*StatusLine).Update(0x0, 0xc42011a690, 0xc420016460)
	/Users/akc/go/src/github.com/asciimoo/wuzz/status-line.go:31 +0x6a
main.(*App).Layout(0xc420016460, 0xc4200f2090, 0xc4200d68e0, 0xc420049aa0)
	/Users/akc/go/src/github.com/asciimoo/wuzz/wuzz.go:589 +0x3c9
main.main()
	/Users/akc/go/src/github.com/asciimoo/wuzz/wuzz.go:1616 +0x94f
"""
WUZZ_FILES = ["config/config.go", "status-line.go", "wuzz.go"]


def test_the_nil_receivers_caller_in_package_main_comes_first() -> None:
    ranked = _ranked(WUZZ, WUZZ_FILES, ["github.com/asciimoo/wuzz"])
    assert [c.path for c in ranked[:2]] == ["wuzz.go", "status-line.go"]


def test_a_receiver_that_is_not_nil_or_not_exact_or_another_panic_keeps_the_innermost_frame() -> None:
    variants = {
        "live receiver": WUZZ.replace("Update(0x0,", "Update(0xc420016460,"),
        "Go 1.18+ inexact value": WUZZ.replace("Update(0x0,", "Update(0x0?,"),
        "another panic": WUZZ.replace("invalid memory address or nil pointer dereference", "index out of range [2]"),
        "plain function": WUZZ.replace("main.(*StatusLine).Update(0x0,", "main.update(0x0,"),
    }
    for name, trace in variants.items():
        assert _ranked(trace, WUZZ_FILES, ["github.com/asciimoo/wuzz"])[0].path == "status-line.go", name


def test_a_nil_receivers_caller_outside_the_service_leaves_the_first_place() -> None:
    trace = GOGS.replace("github.com/gogits/gogs/cmd.runUpdate", "github.com/other/tool.runUpdate").replace(
        "gogits/gogs/cmd/update.go", "other/tool/update.go"
    )
    assert _ranked(trace, GOGS_FILES, ["github.com/gogits/gogs"])[0].path == "modules/log/log.go"


def test_the_nil_receivers_call_line_is_kept_as_evidence_other_frames_keep_their_position_line() -> None:
    stack = parse_stacktrace(WUZZ)
    assert stack is not None
    first, second = stack.primary.frames[:2]
    assert first.raw.splitlines() == ["main.(*StatusLine).Update(0x0, 0xc42011a690, 0xc420016460)",
                                      "/Users/akc/go/src/github.com/asciimoo/wuzz/status-line.go:31 +0x6a"]  # fmt: skip
    assert second.raw == "/Users/akc/go/src/github.com/asciimoo/wuzz/wuzz.go:589 +0x3c9"


# python/inducer-relate-18: a Django debug page pasted from its summary, the traceback cut two frames in
RELATE = """\
Exception Value: 'restrict_to_same_tag'

Exception Location:\tE:\\git-trial\\course\\relate-upstream\\course\\views.py in grant_exception_stage_3, line 767

Environment:


Request Method: POST
Django Version: 1.8.1

Traceback:
File "d:\\Python27\\lib\\site-packages\\django\\core\\handlers\\base.py" in get_response
  132.                     response = wrapped_callback(request, *callback_args, **callback_kwargs)
File "E:\\git-trial\\course\\relate-upstream\\course\\utils.py" in wrapper
"""

# python/learningequality-ka-lite-2464: only the debug page's summary, no traceback at all
KALITE = """\
KeyError at /coachreports/table/

'x_pos'

Request Method:     GET
Django Version:     1.5.1
Exception Type:     KeyError
Exception Value:    

'x_pos'

Exception Location:     /Users/cyril/w/fle/ka-lite/kalite/coachreports/views.py in <lambda>, line 236
Python Executable:  /Users/cyril/.virtualenvs/kalite/bin/python
"""  # noqa: W291


def _frames(trace: str) -> list[tuple[str, str | None, int | None]]:
    stack = parse_stacktrace(trace)
    assert stack is not None and stack.language == "python"
    return [(f.function, f.file, f.line) for f in stack.primary.frames]


def test_the_debug_pages_exception_location_is_the_innermost_frame_a_cut_traceback_lacks() -> None:
    assert _frames(RELATE)[0] == ("grant_exception_stage_3", "E:\\git-trial\\course\\relate-upstream\\course\\views.py",
                                  767)  # fmt: skip
    assert [f[0] for f in _frames(RELATE)] == ["grant_exception_stage_3", "wrapper", "get_response"]


def test_the_exception_location_alone_is_a_one_frame_traceback() -> None:
    stack = parse_stacktrace(KALITE)
    assert stack is not None
    assert stack.primary.type == "KeyError"
    assert _frames(KALITE) == [("<lambda>", "/Users/cyril/w/fle/ka-lite/kalite/coachreports/views.py", 236)]
    # Django 3.1+ writes the location `<file>, line <n>, in <function>`
    newer = KALITE.replace("views.py in <lambda>, line 236", "views.py, line 236, in <lambda>")
    assert _frames(newer) == _frames(KALITE)


def test_the_debug_pages_summary_behind_a_shippers_prefix_is_read_the_same() -> None:
    # no frame was pasted, so no prefix is learnt from frames: the labels are found behind it
    for prefix in ("3|app  | ", "May 13 15:06:38 host app[7]: "):
        prefixed = "\n".join(prefix + line for line in KALITE.splitlines())
        stack = parse_stacktrace(prefixed)
        assert stack is not None and stack.primary.type == "KeyError", prefix
        assert _frames(prefixed) == _frames(KALITE), prefix


def test_an_exception_location_the_traceback_already_ends_on_adds_no_frame() -> None:
    views = 'File "E:\\git-trial\\course\\relate-upstream\\course\\views.py" in grant_exception_stage_3\n'
    whole = RELATE.replace('utils.py" in wrapper\n', f"utils.py\" in wrapper\n  40. return f()\n{views}  767. x = 1\n")
    assert [f[0] for f in _frames(whole)] == ["grant_exception_stage_3", "wrapper", "get_response"]


def test_prose_that_mentions_an_exception_location_is_no_frame() -> None:
    assert parse_stacktrace("Exception Location: unknown, see the log above\n") is None
