"""Rules added after the twenty-fifth held-out set was read (issue 11). Each rule is checked on the real lines of
the corpus case that showed it (`tests/fixtures/realworld/<ecosystem>/<case>/trace.txt`, quoted here so the
test does not move when the corpus does) and on variants it must leave alone."""

from __future__ import annotations

import pytest

from error_autopilot.incidents.stackparse.common import InApp
from error_autopilot.incidents.stackparse.python import module_of
from tests.support.stackrules import first_of, parsed

# python/patois-idacyber-9: an IDA plug-in, a single-file module installed in IDA's plugins folder, quoted in
# Markdown (`> ` on every line) under IDAPython's own line
IDACYBER = """\
> IDAPython: Error while calling Python callback <OnCreate>:
> Traceback (most recent call last):
>   File "D:/IDA 7.x/plugins/idacyber.py", line 1083, in OnCreate
>     self.pw.set_filter(self.filterlist[0][1], 0)
> IndexError: list index out of range
"""
IDACYBER_FILES = ["idacyber.py", "README.md", "cyber/autoxor.py", "cyber/dbgview.py", "screenshots/idacyber.png"]


def test_a_configured_single_file_module_is_own_code_where_it_is_installed() -> None:
    frame = parsed(IDACYBER, packages=["idacyber"]).exceptions[0].frames[0]
    assert (frame.module, frame.in_app) == ("idacyber", True)
    first = first_of(IDACYBER, IDACYBER_FILES, packages=["idacyber"])
    assert (first.path, first.function) == ("idacyber.py", "OnCreate")


@pytest.mark.parametrize(
    ("path", "module"),
    [
        ("D:\\IDA 7.x\\plugins\\idacyber.py", "idacyber"),  # backslashes as Windows prints them
        ("/opt/tools/ida/plugins/idacyber.py", "idacyber"),
        ("/srv/tools/shop/orders.py", "shop.orders"),  # a dotted package as its single file
        ("/usr/lib/python3/dist-packages/idacyber.py", "idacyber"),  # the library marker read it already
    ],
)
def test_the_single_file_reading_names_the_configured_module(path: str, module: str) -> None:
    assert module_of(path, InApp("python", packages=("idacyber", "shop.orders"))) == module


@pytest.mark.parametrize(
    ("path", "module"),
    [
        ("/srv/tools/notidacyber.py", "tools.notidacyber"),  # a longer name ending in the package's
        ("/srv/tools/idacyber_extra.py", "tools.idacyber_extra"),
        ("/srv/tools/idacyber.pyc", None),  # not a source file
        ("/srv/tools/orders.py", "tools.orders"),  # only the dotted package's last part
        ("/srv/idacyber/core.py", "idacyber.core"),  # the folder reading is unchanged
        ("/usr/lib/python3.11/site-packages/other/idacyber.py", "other.idacyber"),  # inside a library's package
    ],
)
def test_the_single_file_reading_leaves_other_paths_alone(path: str, module: str | None) -> None:
    assert module_of(path, InApp("python", packages=("idacyber", "shop.orders"))) == module


def test_without_the_package_configured_the_plugin_file_is_not_own_code() -> None:
    frame = parsed(IDACYBER, packages=["cyber"]).exceptions[0].frames[0]
    assert frame.in_app is False


# python/tgalal-wazapp-11: the maintainer's paste, every `File` line at the header's column and no source lines
WAZAPP = """\
Traceback (most recent call last):
File "./waxmpp.py", line 384, in run
File "./waxmpp.py", line 442, in parseMessage
File "./Models/model.py", line 176, in create
File "./Models/model.py", line 47, in setStore
File "./Models/model.py", line 20, in setConnection
File "./Models/model.py", line 262, in runQuery
sqlite3.OperationalErrorOperationalError: cannot commit - no transaction is active
"""


def _indented(text: str, by: str = "    ") -> str:
    return "\n".join(by + line for line in text.splitlines())


def test_frames_at_the_header_column_end_on_the_exception_line_at_that_column_too() -> None:
    for text in (WAZAPP, _indented(WAZAPP)):  # a shipper or a quoting editor indents every line alike
        exc = parsed(text, source_roots=["src/client"]).exceptions[0]
        assert exc.type == "sqlite3.OperationalErrorOperationalError"
        assert exc.message == "cannot commit - no transaction is active"
        assert [f.function for f in exc.frames] == ["runQuery", "setConnection", "setStore", "create", "parseMessage",
                                                    "run"]  # fmt: skip


def test_frames_two_columns_right_of_the_header_keep_their_source_lines() -> None:
    text = _indented(
        'Traceback (most recent call last):\n  File "app/x.py", line 3, in f\n    Error\n'
        '  File "app/y.py", line 9, in g\n    raise KeyError(1)\nKeyError: 1'
    )
    exc = parsed(text).exceptions[0]
    # CPython's own layout: `Error`, right of the frames, is frame one's source line, never the exception
    assert (exc.type, exc.message, [f.function for f in exc.frames]) == ("KeyError", "1", ["g", "f"])


def test_frames_at_the_header_column_still_take_a_source_line_that_reads_as_no_exception() -> None:
    text = _indented('Traceback (most recent call last):\nFile "app/x.py", line 3, in f\nself.run()\nValueError: bad')
    exc = parsed(text).exceptions[0]
    assert (exc.type, exc.message, [f.function for f in exc.frames]) == ("ValueError", "bad", ["f"])


def test_a_header_behind_a_log_prefix_gives_no_column_to_compare() -> None:
    # the prefix puts `Traceback` right of the frames; their column says nothing about lost indentation
    text = 'ERROR worker: Traceback (most recent call last):\n    File "app/x.py", line 3, in f\n    Error\n'
    exc = parsed(text).exceptions[0]
    assert exc.type == "<unknown>" and [f.function for f in exc.frames] == ["f"]
