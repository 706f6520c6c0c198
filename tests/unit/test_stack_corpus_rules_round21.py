"""Rules added after the twenty-first held-out set was read (issue 11). Each rule is checked on the real lines of
the case that showed it (`tests/fixtures/realworld/<ecosystem>/<case>/trace.txt`, quoted here so the test does
not move when the corpus does) and on variants it must leave alone."""

from __future__ import annotations

from error_autopilot.investigation.stackmap import rank
from tests.support.stackrules import first_of, parsed

# python/sopel-irc-sopel-105: an IRC client's lines, then a traceback whose inner frame is a relative path
SOPEL = """\
[0356.24] Tyrope [Tyrope@staff.dftba.net] has set mode +ooo Elly306 Embolalia lior
[0356.25] < Boomer> IndexError: list index out of range (source unknown)

Traceback (most recent call last):
  File "D:\\Programming\\Willie\\bot.py", line 316, in call
    func(willie, trigger)
  File "coretasks.py", line 87, in track_modes
    mode = modes[index]
IndexError: list index out of range
"""
SOPEL_FILES = ["__init__.py", "bot.py", "config.py", "coretasks.py", "irc.py", "modules/admin.py", "tools.py"]

# node/snyk-release-notes-preview-28: a GitHub Action's committed ncc bundle, run from the runner's `_actions/`
_ACTION = "/home/runner/work/_actions/snyk/release-notes-preview/v1.6.1"
RELEASE_NOTES = f"""\
(node:2588) UnhandledPromiseRejectionWarning: TypeError: Cannot read property 'endsWith' of undefined
processing line:{" "}
    at processCommits ({_ACTION}/dist/index.js:9586:23)
    at Object.getCommits ({_ACTION}/dist/index.js:9559:12)
"""
RELEASE_NOTES_FILES = ["action.yaml", "dist/index.js", "dist/commit.js.map", "dist/index.js.map", "src/commit.ts",
                       "src/index.ts", "src/config.ts", "package.json"]  # fmt: skip


def test_a_relative_python_path_that_is_a_repository_path_is_the_checkout_that_ran() -> None:
    first = first_of(SOPEL, SOPEL_FILES, packages=["willie"])
    assert (first.path, first.function) == ("coretasks.py", "track_modes")


def test_a_relative_python_path_with_a_dot_segment_is_read_alike() -> None:
    trace = SOPEL.replace('File "coretasks.py"', 'File "./coretasks.py"')
    assert first_of(trace, SOPEL_FILES, packages=["willie"]).path == "coretasks.py"


def test_an_absolute_python_path_outside_the_package_still_needs_two_segments() -> None:
    trace = SOPEL.replace('File "coretasks.py"', 'File "/usr/lib/python2.7/dist-packages/coretasks.py"')
    stack = parsed(trace, packages=["willie"])
    assert rank(stack, SOPEL_FILES, packages=["willie"]).candidates == ()


def test_a_relative_python_path_that_only_ends_like_a_repository_file_is_left_out() -> None:
    trace = SOPEL.replace('File "coretasks.py"', 'File "plugins/coretasks.py"')
    stack = parsed(trace, packages=["willie"])
    assert rank(stack, SOPEL_FILES, packages=["willie"]).candidates == ()


def test_a_relative_path_is_no_evidence_outside_a_python_traceback() -> None:
    trace = "TypeError: x is undefined\n    at track (coretasks.js:87:5)\n    at call (bot.js:316:3)\n"
    files = ["coretasks.js", "bot.js"]
    stack = parsed(trace, source_roots=["src"])
    assert stack.language == "node"
    assert rank(stack, files, source_roots=["src"]).candidates == ()


def test_an_actions_checkout_runs_the_committed_bundle_not_a_source_of_the_same_stem() -> None:
    first = first_of(RELEASE_NOTES, RELEASE_NOTES_FILES, source_roots=["src"])
    assert (first.path, first.function) == ("dist/index.js", "processCommits")


def test_the_same_bundle_built_in_a_workspace_still_maps_to_its_typescript_source() -> None:
    trace = RELEASE_NOTES.replace(_ACTION, "/home/runner/work/release-notes-preview/release-notes-preview")
    assert first_of(trace, RELEASE_NOTES_FILES, source_roots=["src"]).path == "src/index.ts"


def test_an_actions_checkout_whose_file_is_not_committed_falls_back_to_the_name() -> None:
    files = [f for f in RELEASE_NOTES_FILES if f != "dist/index.js"]
    assert first_of(RELEASE_NOTES, files, source_roots=["src"]).path == "src/index.ts"


def test_an_actions_folder_deeper_in_a_path_than_the_runner_puts_it_is_no_checkout() -> None:
    trace = RELEASE_NOTES.replace(_ACTION, "/srv/app/_actions/v1.6.1")
    assert first_of(trace, RELEASE_NOTES_FILES, source_roots=["src"]).path == "src/index.ts"
