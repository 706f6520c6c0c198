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
