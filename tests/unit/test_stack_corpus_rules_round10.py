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
