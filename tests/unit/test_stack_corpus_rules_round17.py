"""Rules added after the seventeenth held-out set was read (issue 11). Each rule is checked on the real lines of
the corpus case that showed it (`tests/fixtures/realworld/<ecosystem>/<case>/trace.txt`, quoted here so the
test does not move when the corpus does) and on variants it must leave alone."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from error_autopilot.domain.stack import StackTrace
from error_autopilot.investigation.framenames import inferred_name
from error_autopilot.investigation.investigator import _named
from error_autopilot.investigation.stackmap import Candidate, rank
from error_autopilot.ports import CheckedOut
from tests.support.stackrules import first_of, parsed

# node/mcollina-autocannon-177: Node 8–11 name the arrow passed to `instance.on('done', () => …)` after the call
AUTOCANNON = """\
TypeError: Cannot read property 'tick' of undefined
    at EventEmitter.instance.on (/usr/local/lib/node_modules/autocannon/lib/progressTracker.js:67:57)
"""
AUTOCANNON_FILES = ["lib/progressTracker.js", "lib/run.js", "autocannon.js", "package.json"]


def _shape(definition_at: int, definition: str, line_67: str) -> str:
    """A source file shaped like the case's: a definition, statements, and the crashing line at 67."""
    lines = ["'use strict'"] * (definition_at - 1) + [definition]
    lines += ["  const step = 1"] * (66 - definition_at) + [line_67, "  }", "}", ""]
    return "\n".join(lines)


# progressTracker.js at the fix's parent: `function track` from line 19 to 130, the listeners registered inside it
TRACKER = _shape(19, "function track (instance, opts) {", "    instance.on('done', () => { bar.tick(total - 1) })")


def _candidate_named(tmp_path: Path, trace: str, source: str, files: Sequence[str], at: str) -> Candidate:
    """The first candidate of the trace, named as the investigator names it from the checked-out `source` at `at`."""
    (tmp_path / at).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / at).write_text(source, encoding="utf-8")
    stack: StackTrace = parsed(trace)
    candidate = rank(stack, files).candidates[0]
    checkout = CheckedOut(repo="acme/app", path=tmp_path, commit="0" * 40, ref_source="test")
    return _named(checkout, candidate, stack)


def test_a_v8_name_inferred_from_the_call_a_literal_was_passed_to_is_named_after_the_function_around_it(
    tmp_path: Path,
) -> None:
    frame = parsed(AUTOCANNON).exceptions[0].frames[0]
    assert (frame.function, frame.line) == ("EventEmitter.instance.on", 67)
    assert inferred_name(frame)
    named = _candidate_named(tmp_path, AUTOCANNON, TRACKER, AUTOCANNON_FILES, "lib/progressTracker.js")
    assert (named.path, named.function) == ("lib/progressTracker.js", "track")
    assert "named `EventEmitter.instance.on` by V8" in named.reason


def test_a_literal_assigned_to_a_property_keeps_the_name_it_was_assigned(tmp_path: Path) -> None:
    # `exports.setupServices = function (app) {`: V8 infers `exports.setupServices`, the source calls it so
    trace = AUTOCANNON.replace("EventEmitter.instance.on", "Object.exports.setupServices")
    source = _shape(40, "exports.setupServices = function (app) {", "    app.use(services[name].tick)")
    named = _candidate_named(tmp_path, trace, source, AUTOCANNON_FILES, "lib/progressTracker.js")
    assert named.function == "setupServices"
    assert "by V8" not in named.reason


def test_a_compiled_bundles_line_names_no_source_function(tmp_path: Path) -> None:
    # the frame ran `dist/…js`, the repository holds the `.ts` source: line 67 of the bundle is not the source's
    trace = AUTOCANNON.replace("/autocannon/lib/progressTracker.js", "/autocannon/dist/progressTracker.js")
    named = _candidate_named(tmp_path, trace, TRACKER, ["src/progressTracker.ts"], "src/progressTracker.ts")
    assert (named.path, named.function) == ("src/progressTracker.ts", "on")


@pytest.mark.parametrize(
    "printed",
    ["EventEmitter.onTick", "onTick", "Object.<anonymous>", "new Tracker", "async Promise.all",
     "Tracker.tick [as onTick]", "Object.<anonymous>.x"],
)  # fmt: skip
def test_a_declared_name_or_a_method_call_is_no_inferred_name(printed: str) -> None:
    frame = parsed(AUTOCANNON.replace("EventEmitter.instance.on", printed)).exceptions[0].frames[0]
    assert not inferred_name(frame), frame.function


def test_an_inferred_name_behind_an_as_clause_is_still_inferred() -> None:
    frame = parsed(AUTOCANNON.replace("EventEmitter.instance.on", "Socket.socket.on [as onData]")).exceptions[0]
    assert inferred_name(frame.frames[0])


# go/docker-cli-2916: a -trimpath GOPATH build; every frame of the paste is Go's runtime or the vendored mergo
DOCKER = """\
panic: reflect: reflect.Value.Set using unaddressable value

goroutine 1 [running]:
reflect.flag.mustBeAssignableSlow(0x95)
\treflect/value.go:260 +0x13f
reflect.flag.mustBeAssignable(...)
\treflect/value.go:247
reflect.Value.Set(0x55b2de3046e0, 0xc0000a5b50, 0x95, 0x55b2de3046e0, 0xc000579cb0, 0x15)
\treflect/value.go:1558 +0x3d
github.com/docker/cli/vendor/github.com/imdario/mergo.deepMerge(0x55b2de3046e0, 0xc0000a5b50, 0x95, \
0x55b2de3046e0, 0xc0000a5b00, 0x95, 0xc000131660, 0x2, 0xc00059a0e0, 0x0, ...)
\tgithub.com/docker/cli/vendor/github.com/imdario/mergo/merge.go:90 +0x1646
github.com/docker/cli/vendor/github.com/imdario/mergo.deepMerge(0x55b2de466160, 0xc0000a5b30, 0x99, \
0x55b2de466160, 0xc0000a5ae0, 0x99, 0xc000131660, 0x1, 0xc00059a0e0, 0x0, ...)
\tgithub.com/docker/cli/vendor/github.com/imdario/mergo/merge.go:79 +0x27f9
github.com/docker/cli/vendor/github.com/imdario/mergo.deepMerge(0x55b2de302460, 0xc000118e70, 0x195, \
0x55b2de302460, 0xc000118e78, 0x195, 0xc000131660, 0x0, 0xc00059a0e0, 0x195, ...)
\tgithub.com/docker/cli/vendor/github.com/imdario/mergo/merge.go:122 +0xa3b
"""
DOCKER_FILES = [
    "vendor/github.com/imdario/mergo/merge.go", "vendor/github.com/imdario/mergo/map.go",
    "vendor/github.com/imdario/mergo/mergo.go", "cli/compose/loader/merge.go", "cli/compose/loader/loader.go",
    "cli/command/stack/deploy.go", "vendor.conf",
]  # fmt: skip
DOCKER_PACKAGES = ("github.com/docker/cli",)


def _docker(trace: str, files: Sequence[str] = DOCKER_FILES) -> list[Candidate]:
    return list(rank(parsed(trace, DOCKER_PACKAGES), files, packages=DOCKER_PACKAGES).candidates)


def test_a_go_trace_whose_only_repository_code_is_its_vendor_folder_names_the_vendored_copy() -> None:
    candidates = _docker(DOCKER)
    assert [(c.path, c.function, c.frame.line) for c in candidates] == [
        ("vendor/github.com/imdario/mergo/merge.go", "deepMerge", 90)
    ]  # one candidate for the recursion  # fmt: skip
    assert "innermost vendored frame" in candidates[0].reason
    assert "vendored copy in the repository: no other frame names a file of it" in candidates[0].reason
    assert "own frame" not in candidates[0].reason


def test_an_own_frame_keeps_the_vendored_copy_out() -> None:
    own = DOCKER + (
        "github.com/docker/cli/cli/compose/loader.merge(0xc000118e70, 0x2, 0x2, 0x0, 0x0, 0x0)\n"
        "\tgithub.com/docker/cli/cli/compose/loader/merge.go:25 +0x1b4\n"
    )
    candidates = _docker(own)
    assert (candidates[0].path, candidates[0].function) == ("cli/compose/loader/merge.go", "merge")
    assert all(not c.path.startswith("vendor/") for c in candidates)


def test_a_dependency_built_from_elsewhere_is_not_the_repositorys_vendored_copy() -> None:
    # the same panic from a GOPATH build that read `$GOPATH/src/github.com/imdario/mergo`: its path matches the
    # repository's vendored copy segment for segment, but that copy did not run
    gopath = DOCKER.replace("github.com/docker/cli/vendor/github.com/imdario/mergo.deepMerge",
                            "github.com/imdario/mergo.deepMerge")  # fmt: skip
    gopath = gopath.replace("\tgithub.com/docker/cli/vendor/github.com/imdario/mergo/merge.go",
                            "\t/go/src/github.com/imdario/mergo/merge.go")  # fmt: skip
    assert _docker(gopath) == []
    cached = gopath.replace("/go/src/github.com/imdario/mergo/", "/go/pkg/mod/github.com/imdario/mergo@v0.3.8/")
    assert _docker(cached) == []


def test_a_vendored_frame_the_repository_does_not_hold_is_no_candidate() -> None:
    ranking = rank(parsed(DOCKER, DOCKER_PACKAGES), [f for f in DOCKER_FILES if not f.startswith("vendor/")],
                   packages=DOCKER_PACKAGES)  # fmt: skip
    assert ranking.candidates == ()
    assert "library frames" in ranking.no_location_reason()


def test_a_node_trace_in_a_committed_node_modules_folder_stays_a_library() -> None:
    # npm installs a package's dependencies from the registry: the repository's committed copy need not be what ran
    trace = (
        "TypeError: Cannot read properties of undefined (reading 'x')\n"
        "    at deepMerge (/srv/app/node_modules/mergo/vendor/merge.js:90:3)\n"
        "    at deepMerge (/srv/app/node_modules/mergo/vendor/merge.js:79:5)\n"
    )
    assert rank(parsed(trace), ["node_modules/mergo/vendor/merge.js", "index.js"]).candidates == ()


def test_the_vendored_copy_of_the_case_is_first() -> None:
    first = first_of(DOCKER, DOCKER_FILES, DOCKER_PACKAGES)
    assert (first.path, first.function) == ("vendor/github.com/imdario/mergo/merge.go", "deepMerge")
