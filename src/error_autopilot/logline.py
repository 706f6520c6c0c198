"""One log record, one physical line: the text in a record is often a stranger's (log lines, exception
messages, Telegram messages, git output), and a line break in it must not forge a second record —
nor, under a GitHub Actions runner, a workflow command (`::…` at the start of a line, `##[` anywhere)."""

from __future__ import annotations

import logging
import re

# Every control character but tab (line breaks, ANSI escapes) and the Unicode line/paragraph separators:
# only \r and \n break a line for the runner, the rest could make a log line *look* like two.
_UNSAFE_CHARS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r"}
# What .NET's TrimStart() removes before the runner looks for `::`, widened to the characters older
# Unicode tables called whitespace: a wrong guess here only adds a harmless backslash.
LEADING_SPACE = re.compile("^[\\s\u180e\u200b\ufeff]*")
V1_PREFIX = "##["  # the old `##[command]` syntax, matched anywhere in a line
V1_DEFUSED = "# #["


def one_line(text: str) -> str:
    """`text` as one physical line: line breaks and other control characters become visible escapes."""
    return _UNSAFE_CHARS.sub(lambda m: _NAMED_ESCAPES.get(m.group()) or f"\\x{ord(m.group()):02x}"
                             if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text)  # fmt: skip


def defuse(line: str) -> str:
    """One physical line the runner cannot read as a workflow command (a backslash before a leading
    `::`, a space inside any `##[`); an ordinary line comes back unchanged."""
    line = line.replace(V1_PREFIX, V1_DEFUSED)
    indent = LEADING_SPACE.match(line)
    cut = indent.end() if indent else 0
    return line[:cut] + "\\" + line[cut:] if line.startswith("::", cut) else line


class OneLineFormatter(logging.Formatter):
    """Every log record as one defused physical line, traceback included: a record carries untrusted
    text (incident titles, exception messages, git and test output) and must never become two lines."""

    def format(self, record: logging.LogRecord) -> str:
        return defuse(one_line(super().format(record)))
