"""Rules added after the twenty-fourth held-out set was read (issue 11). Each rule is checked on the real lines of
the case that showed it (`tests/fixtures/realworld/<ecosystem>/<case>/trace.txt`, quoted here so the test does
not move when the corpus does) and on variants it must leave alone."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from error_autopilot.incidents.stacktrace import parse_stacktrace
from error_autopilot.investigation import blame
from error_autopilot.investigation.stackmap import Candidate, rank
from tests.support.corpus import build_repo
from tests.support.stackrules import first_of, parsed

# python/matiasb-python-unidiff-12: IPython's verbose traceback (before 8.0), cut to its last frame (the blank
# source lines' trailing space dropped)
UNIDIFF = """\
/usr/local/lib/python2.7/dist-packages/unidiff/patch.pyc in __str__(self)
     75
     76     def __str__(self):
---> 77         return "%s%s" % (self.line_type, self.value)
     78
     79     @property

UnicodeDecodeError: 'ascii' codec can't decode byte 0xc3 in position 8: ordinal not in range(128)
"""
UNIDIFF_FILES = ["setup.py", "unidiff/__init__.py", "unidiff/constants.py", "unidiff/patch.py", "tests/test_patch.py"]

# the same record as IPython prints it whole: the rule, the header without a colon, the cell's frame first
IPYTHON_WHOLE = """\
---------------------------------------------------------------------------
UnicodeDecodeError                        Traceback (most recent call last)
<ipython-input-4-0f6cba3c9e57> in <module>()
      1 patch = PatchSet(diff)
----> 2 print(str(patch[0][0][3]))

/usr/local/lib/python2.7/dist-packages/unidiff/patch.pyc in __str__(self)
     75
     76     def __str__(self):
---> 77         return "%s%s" % (self.line_type, self.value)
     78
     79     @property

UnicodeDecodeError: 'ascii' codec can't decode byte 0xc3 in position 8: ordinal not in range(128)
"""

# go/twmb-franz-go-76: a runtime throw pasted with a blank line after every line
FRANZ = """\
goroutine 114 [running]:

runtime.throw(0x13823a4, 0x26)

 /usr/local/go/src/runtime/panic.go:1116 +0x72 fp=0xc000393cc8 sp=0xc000393c98 pc=0x445332

runtime.mapiternext(0xc000393e30)

 /usr/local/go/src/runtime/map.go:853 +0x554 fp=0xc000393d48 sp=0xc000393cc8 pc=0x41e514

github.com/twmb/franz-go/pkg/kgo.(*groupConsumer).getUncommittedLocked(0xc00018e380, 0x1, 0x1366fb9)

 github.com/twmb/franz-go/pkg/kgo/consumer_group.go:1709 +0x495 fp=0xc000393f00 sp=0xc000393d68 pc=0xa8a335

github.com/twmb/franz-go/pkg/kgo.(*groupConsumer).loopCommit(0xc00018e380)

github.com/twmb/franz-go/pkg/kgo/consumer_group.go:1571 +0x291 fp=0xc000393fd8 sp=0xc000393f00 pc=0xa89251
"""
FRANZ_PACKAGES = ["github.com/twmb/franz-go"]
FRANZ_FILES = ["go.mod", "pkg/kgo/client.go", "pkg/kgo/consumer_group.go", "pkg/kgo/producer.go"]

# node/tinyhttp-tinyhttp-259: the CLI's rollup bundle run from a pnpm global store
_STORE = "file:///home/v1rtl/n/pnpm-global/5/node_modules/.pnpm/@tinyhttp+cli@1.3.0/node_modules/@tinyhttp/cli"
TINYHTTP = f"""\
TypeError: Cannot convert undefined or null to object
    at Function.keys (<anonymous>)
    at installPackages ({_STORE}/dist/index.js:63:85)
    at CAC.<anonymous> ({_STORE}/dist/index.js:221:11)
"""
TINYHTTP_SYMBOLS: dict[str, list[dict[str, Any]]] = {
    "packages/cli/src/index.ts": [{"col": 4, "end": 110, "kind": "function", "line": 97, "name": "setupPrettier"}],
    "packages/cli/src/utils.ts": [
        {"col": 0, "end": None, "kind": "function", "line": 13, "name": "install"},
        {"col": 0, "end": 89, "kind": "function", "line": 53, "name": "installPackages"},
    ],
    "packages/app/src/index.ts": [{"col": 0, "end": 40, "kind": "function", "line": 10, "name": "createApp"}],
    "packages/cli/rollup.config.js": [],
    "packages/cli/package.json": [],
}

# node/launchdarkly-ld-vscode-17: a webpack bundle, the innermost function minified to `k`
_EXTENSION = "/Users/garth/.vscode/extensions/launchdarkly.launchdarkly-2.1.1/dist/extension.js"
LAUNCHDARKLY = f"""\
[2019-09-19 14:26:12.845] [exthost] [error] TypeError: Cannot read property 'start' of undefined
\tat k ({_EXTENSION}:127:32319)
\tat module.exports.t.LDFlagManager.LaunchDarklyCompletionItemProvider.provideCompletionItems ({_EXTENSION}:127:35483)
"""
LAUNCHDARKLY_SYMBOLS: dict[str, list[dict[str, Any]]] = {
    "src/extension.ts": [{"col": 0, "end": 21, "kind": "function", "line": 11, "name": "activate"}],
    "src/flags.ts": [
        {"col": 0, "end": 99, "kind": "function", "line": 88, "name": "isPrecedingCharStringDelimeter"},
        {"col": 0, "end": 260, "kind": "class", "line": 108, "name": "LDFlagManager"},
        {"col": 4, "end": 250, "kind": "function", "line": 240, "name": "provideCompletionItems"},
    ],
    "webpack.config.js": [],
    "package.json": [],
}


def _ranked(
    tmp_path: Path, trace: str, symbols: dict[str, list[dict[str, Any]]], source_roots: Sequence[str] = ()
) -> tuple[Candidate, ...]:
    """The candidates of `trace` over a real git repository holding `symbols`' definitions."""
    files = sorted(symbols)
    repo = tmp_path / "repo.git"
    head = build_repo(files, repo, symbols)
    return rank(parsed(trace, source_roots=source_roots), files, source_roots=source_roots,
                grep=lambda pattern: blame.grep(repo, head, pattern)).candidates  # fmt: skip


# IPython's verbose frames


def test_an_ipython_verbose_frame_is_read_with_the_line_its_arrow_marks() -> None:
    stack = parsed(UNIDIFF, packages=["unidiff"])
    assert stack.language == "python"
    (exc,) = stack.exceptions
    assert exc.type == "UnicodeDecodeError"
    assert [(f.function, f.file, f.line) for f in exc.frames] == [
        ("__str__", "/usr/local/lib/python2.7/dist-packages/unidiff/patch.py", 77)
    ]
    first = first_of(UNIDIFF, UNIDIFF_FILES, packages=["unidiff"])
    assert (first.path, first.function) == ("unidiff/patch.py", "__str__")


def test_a_whole_ipython_record_keeps_its_frames_in_order_and_its_exception() -> None:
    (exc,) = parsed(IPYTHON_WHOLE, packages=["unidiff"]).exceptions
    assert [(f.function, f.line) for f in exc.frames] == [("__str__", 77), ("<module>", 2)]
    assert exc.message.startswith("'ascii' codec can't decode byte 0xc3")


def test_verbose_mode_variables_below_the_arrow_stay_inside_the_frame() -> None:
    trace = UNIDIFF.replace(
        '---> 77         return "%s%s" % (self.line_type, self.value)\n',
        '---> 77         return "%s%s" % (self.line_type, self.value)\n'
        "        self = <unidiff.patch.Line object at 0x7f>\n",
    )
    (exc,) = parsed(trace, packages=["unidiff"]).exceptions
    assert (exc.type, [f.line for f in exc.frames]) == ("UnicodeDecodeError", [77])


def test_ipython_frames_behind_a_process_managers_prefix_are_read_alike() -> None:
    shipped = "\n".join("3|app  | " + line for line in UNIDIFF.splitlines())
    assert [f.line for f in parsed(shipped, packages=["unidiff"]).exceptions[0].frames] == [77]
    assert parsed(shipped, packages=["unidiff"]) == parsed(UNIDIFF, packages=["unidiff"])


def test_an_ipython_frame_without_its_arrow_is_no_frame() -> None:
    # the line number is printed nowhere but on the arrow: without it the header is a sentence
    trace = UNIDIFF.replace("---> 77", "     77")
    assert parse_stacktrace(trace, packages=["unidiff"]) is None


def test_prose_that_names_a_python_file_above_a_numbered_list_is_left_alone() -> None:
    text = "Run setup.py in main(args) as follows:\n 1 install\n 2 configure\n\nKeyError: 'x'\n"
    assert parse_stacktrace(text) is None


def test_a_cpython_traceback_with_an_arrow_in_its_source_is_read_as_before() -> None:
    trace = (
        "Traceback (most recent call last):\n"
        '  File "/app/run.py", line 3, in <module>\n'
        "    main()  # ---> 3 retries\n"
        '  File "/app/lib.py", line 9, in main\n'
        "    raise KeyError('x')\n"
        "KeyError: 'x'\n"
    )
    (exc,) = parsed(trace).exceptions
    assert [(f.file, f.line) for f in exc.frames] == [("/app/lib.py", 9), ("/app/run.py", 3)]


# a blank line after every line


def test_a_trace_double_spaced_in_transit_is_read_whole() -> None:
    frames = parsed(FRANZ, FRANZ_PACKAGES).exceptions[0].frames
    assert [f.function for f in frames] == [
        "throw", "mapiternext", "(*groupConsumer).getUncommittedLocked", "(*groupConsumer).loopCommit"
    ]  # fmt: skip
    first = first_of(FRANZ, FRANZ_FILES, packages=FRANZ_PACKAGES)
    assert (first.path, first.function) == ("pkg/kgo/consumer_group.go", "getUncommittedLocked")


def test_the_same_trace_single_spaced_reads_the_same_frames() -> None:
    single = "\n".join(line for line in FRANZ.splitlines() if line.strip())
    assert parsed(single, FRANZ_PACKAGES) == parsed(FRANZ, FRANZ_PACKAGES)


def test_a_double_spaced_trace_behind_a_shippers_prefix_or_under_a_log_line_is_read_whole() -> None:
    cri = "\n".join(f"2024-05-13T15:06:38.{n:03d}Z stderr F {x}" for n, x in enumerate(FRANZ.splitlines()))
    logged = "2024-05-13 15:06:38,123 ERROR [main] consumer - commit loop died\n" + FRANZ
    whole = parsed(FRANZ, FRANZ_PACKAGES)
    assert len(whole.exceptions[0].frames) == 4
    assert parsed(cri, FRANZ_PACKAGES) == whole
    assert parsed(logged, FRANZ_PACKAGES).exceptions[0].frames == whole.exceptions[0].frames


def test_two_lines_touching_above_the_double_spaced_ones_keep_every_blank_line() -> None:
    # one log line may sit right above a paste; two that touch are the text's own, and so are its blank lines
    head = "consumer - commit loop died\nstack of the goroutine that failed:\n"
    assert len(parsed(head + FRANZ, FRANZ_PACKAGES).exceptions[0].frames) < 4


def test_two_adjacent_lines_keep_every_blank_line() -> None:
    # one pair of lines that touch: the blank lines are the text's own, and the paste reads as before (one frame)
    touching = FRANZ.replace(
        "runtime.mapiternext(0xc000393e30)\n\n /usr", "runtime.mapiternext(0xc000393e30)\n /usr"
    )
    frames = parsed(touching, FRANZ_PACKAGES).exceptions[0].frames
    assert len(frames) < 4


def test_a_chain_of_bare_python_exceptions_between_blank_lines_reads_the_same() -> None:
    # CPython writes a blank line around each chain message: five lines that never touch, read alike either way
    chain = (
        "ValueError: a\n\nThe above exception was the direct cause of the following exception:\n\n"
        "RuntimeError: b\n\nDuring handling of the above exception, another exception occurred:\n\nKeyError: 'c'\n"
    )
    single = "\n".join(line for line in chain.splitlines() if line.strip())
    assert parse_stacktrace(chain) == parse_stacktrace(single)


# a bundle's function found in the module that defines it


def test_a_bundled_function_lands_on_the_module_that_defines_it(tmp_path: Path) -> None:
    first, *_ = _ranked(tmp_path, TINYHTTP, TINYHTTP_SYMBOLS)
    assert (first.path, first.function) == ("packages/cli/src/utils.ts", "installPackages")


def test_a_function_its_stem_source_defines_stays_there(tmp_path: Path) -> None:
    # tsc writes one `.js` per `.ts`: the function is where the file's name says
    symbols = {**TINYHTTP_SYMBOLS, "packages/cli/src/index.ts": [
        {"col": 0, "end": 89, "kind": "function", "line": 53, "name": "installPackages"}]}  # fmt: skip
    assert _ranked(tmp_path, TINYHTTP, symbols)[0].path == "packages/cli/src/index.ts"


def test_a_function_two_modules_define_leaves_the_frame_where_its_name_put_it(tmp_path: Path) -> None:
    symbols = {**TINYHTTP_SYMBOLS, "packages/cli/src/legacy.ts": [
        {"col": 0, "end": 30, "kind": "function", "line": 20, "name": "installPackages"}]}  # fmt: skip
    assert _ranked(tmp_path, TINYHTTP, symbols)[0].path == "packages/cli/src/index.ts"


def test_a_function_defined_only_outside_the_sources_folder_is_another_package(tmp_path: Path) -> None:
    symbols = {**TINYHTTP_SYMBOLS, "packages/cli/src/utils.ts": [], "packages/app/src/index.ts": [
        {"col": 0, "end": 30, "kind": "function", "line": 20, "name": "installPackages"}]}  # fmt: skip
    assert _ranked(tmp_path, TINYHTTP, symbols)[0].path == "packages/cli/src/index.ts"


def test_a_frame_that_ran_the_typescript_itself_is_no_bundle(tmp_path: Path) -> None:
    trace = TINYHTTP.replace(f"{_STORE}/dist/index.js", "/home/u/tinyhttp/packages/cli/src/index.ts")
    assert _ranked(tmp_path, trace, TINYHTTP_SYMBOLS)[0].path == "packages/cli/src/index.ts"


def test_a_minified_name_stays_on_its_stem_and_a_named_method_finds_its_module(tmp_path: Path) -> None:
    first, second, *_ = _ranked(tmp_path, LAUNCHDARKLY, LAUNCHDARKLY_SYMBOLS, source_roots=["src"])
    assert (first.path, first.function) == ("src/extension.ts", "k")
    assert second.path == "src/flags.ts"
