"""The log formatter and the stream guard that keep untrusted text from becoming workflow commands."""

from __future__ import annotations

import io
import logging
import re
import sys

import pytest

from error_autopilot import actions_io
from error_autopilot.actions_io import CommandGuard
from error_autopilot.logline import OneLineFormatter, defuse, one_line

# The runner: lines end at \n, \r or \r\n; a line is a command when, after leading whitespace, it starts
# with `::`, or when `##[` appears anywhere in it.
_LEADING_SPACE = re.compile("^[\\s\u180e\u200b\ufeff]*")
ATTACKS = [
    "\n::error title=pwned::x",
    "\r::stop-commands::abc",
    "\r\n::set-output name=issues::[]",
    "\n \t\u00a0\u3000::add-mask::hidden",
    "\n\u200b::warning::zero-width space first",
    "\nx ##[set-output name=prs;]99",
    "\n###[error]three hashes",
]


def _runner_commands(text: str) -> list[str]:
    lines = re.split("\r\n|\r|\n", text)
    return [line for line in lines if _LEADING_SPACE.sub("", line).startswith("::") or "##[" in line]


def _record(message: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc else None
    return logging.LogRecord("error_autopilot.x", logging.INFO, __file__, 1, message, args, exc_info)


@pytest.mark.parametrize("attack", ATTACKS)
def test_a_formatted_record_is_one_line_the_runner_ignores(attack: str) -> None:
    formatted = OneLineFormatter("%(levelname)s %(name)s: %(message)s").format(_record("title %s", f"boom{attack}"))
    assert re.split("\r\n|\r|\n", formatted) == [formatted]
    assert _runner_commands(formatted) == []
    assert formatted.startswith("INFO error_autopilot.x: title boom")


def test_every_line_separator_and_control_character_is_escaped_visibly() -> None:
    text = "a\nb\rc\x0bd\x0ce\x1cf\x1dg\x1eh\x85i\u2028j\u2029k\x1b[31ml\tm"
    assert one_line(text) == "a\\nb\\rc\\x0bd\\x0ce\\x1cf\\x1dg\\x1eh\\x85i\\u2028j\\u2029k\\x1b[31ml\tm"
    assert one_line("ordinary text: 100% fine") == "ordinary text: 100% fine"


def test_a_traceback_with_a_hostile_message_stays_on_the_records_line() -> None:
    try:
        raise ValueError("bad\n::error title=pwned::x\r::stop-commands::abc")
    except ValueError as e:
        formatted = OneLineFormatter("%(levelname)s %(name)s: %(message)s").format(_record("failed", exc=e))
    assert "\n" not in formatted and "\r" not in formatted
    assert "Traceback (most recent call last):" in formatted
    assert "ValueError: bad\\n::error title=pwned::x\\r::stop-commands::abc" in formatted


def test_defuse_changes_only_what_the_runner_would_run() -> None:
    assert defuse("::error::x") == "\\::error::x"
    assert defuse("  \u00a0::warning::x") == "  \u00a0\\::warning::x"
    assert defuse("a ##[error]x") == "a # #[error]x"
    for ordinary in ("INFO x: a::b", ": :x", "#[x]", "## heading", "|  ::  |"):
        assert defuse(ordinary) == ordinary


@pytest.mark.parametrize("attack", ATTACKS)
def test_the_guard_defuses_printed_lines(attack: str) -> None:
    inner = io.StringIO()
    guard = CommandGuard(inner)
    print(f"error: boom{attack}", file=guard)
    guard.finish()
    assert _runner_commands(inner.getvalue()) == []
    assert "boom" in inner.getvalue()


def test_the_guard_holds_a_line_start_split_across_writes() -> None:
    inner = io.StringIO()
    guard = CommandGuard(inner)
    for piece in ("ok\n", "  ", ":", ":", "error::x\n", "y #", "#", "[warning]z", "\n", ":"):
        guard.write(piece)
        guard.flush()
    guard.finish()
    assert inner.getvalue() == "ok\n  \\::error::x\ny # #[warning]z\n:"
    assert _runner_commands(inner.getvalue()) == []


def test_our_own_commands_go_around_the_guard_on_a_line_of_their_own() -> None:
    inner = io.StringIO()
    guard = CommandGuard(inner)
    guard.write("half a line")
    guard.write_command("::add-mask::s3cret")
    guard.write("::not ours::x\n")
    assert inner.getvalue().splitlines() == ["half a line", "::add-mask::s3cret", "\\::not ours::x"]


def test_guarded_streams_cover_print_and_restore_the_streams(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    before = sys.stdout, sys.stderr
    with actions_io.guarded_streams():
        actions_io.mask(["s3cret-value"])
        print("title\n::error title=pwned::x")
        print("trace\r::stop-commands::abc", file=sys.stderr)
    assert (sys.stdout, sys.stderr) == before
    out, err = capsys.readouterr()
    assert _runner_commands(out) == _runner_commands(err) == ["::add-mask::s3cret-value"]
    assert "\\::error title=pwned::x" in out and "trace\\r::stop-commands::abc" in err


def test_outside_actions_the_streams_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    before = sys.stdout, sys.stderr
    with actions_io.guarded_streams():
        assert (sys.stdout, sys.stderr) == before
