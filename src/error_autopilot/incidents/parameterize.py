"""Messages with their variable parts replaced by named placeholders, Sentry-style.

`Failed to place order 4711 for bob@example.com` and `Failed to place order 12 for a@b.org` are one
bug: both become `Failed to place order <int> for <email>`. The table below is applied top to
bottom, so a pattern sees the text after every earlier replacement: specific shapes (urls, uuids,
timestamps) run before the generic ones (hex, numbers) that would otherwise eat them piecemeal,
and quoted values run last so `'42'` and `'abc'` end up the same.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

MAX_INPUT = 1024  # longer messages are cut first: the tail of a huge message is rarely what identifies a bug


class Pattern(NamedTuple):
    """One named replacement."""

    name: str
    regex: re.Pattern[str]
    placeholder: str


def _p(name: str, regex: str, flags: int = 0) -> Pattern:
    return Pattern(name, re.compile(regex, flags), f"<{name}>")


_UNIT = r"(?:ns|us|µs|ms|h|m|s)"
PATTERNS: tuple[Pattern, ...] = (
    # scheme://anything-up-to-whitespace-or-quote: hosts, paths and query strings vary together
    _p("url", r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+"),
    _p("email", r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"),
    _p("uuid", r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE),
    # 2026-01-01T00:00:00.123Z, 2026-01-01 00:00:00+02:00
    _p(
        "timestamp",
        r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?(?![\w:])",
    ),
    _p("date", r"\b\d{4}-\d{2}-\d{2}\b"),
    _p("time", r"\b\d{2}:\d{2}:\d{2}(?:[.,]\d+)?\b"),
    _p("ip", r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?(?![\w.])"),
    # IPv6: eight groups, or a `::` compressed form with a hex digit: ::1, fe80::1ff:fe23:4567:890a
    _p(
        "ip",
        r"(?<![\w:.])(?:(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}|(?=[0-9a-f:]*::)(?=[0-9a-f:]*[0-9a-f])"
        r"(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4})(?![\w:])",
        re.IGNORECASE,
    ),
    # 0x-prefixed, or 8+ hex characters mixing letters and digits (hashes, object ids, trace ids)
    _p("hex", r"\b0x[0-9a-f]+\b|\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b", re.IGNORECASE),
    # 150ms, 2.5s, 1m30s, 10 seconds
    _p(
        "duration",
        rf"(?<![\w.])\d+(?:\.\d+)?(?:{_UNIT}(?:\d+(?:\.\d+)?{_UNIT})*|\s?(?:ms|milliseconds?|sec(?:ond)?s?|"
        r"min(?:ute)?s?|hours?))(?!\w)",
    ),
    # a file or URL path (two segments or more) containing a digit: ids, dates, temp names
    _p("path", r"(?<![\w/.:<])(?=/[\w.+%@~-]*(?:/[\w.+%@~-]*)*\d)/[\w.+%@~-]+(?:/[\w.+%@~-]*)+"),
    _p("float", r"(?<![\w.])-?\d+\.\d+(?:[eE][-+]?\d+)?(?![\w.])"),
    _p("int", r"(?<![\w.])-?\d+(?!\w)"),
    # quotes must not touch a word, so the apostrophes of "can't ... isn't" are not a quoted value
    _p("quoted", r"(?<![\w'])'[^'\n]{1,200}'(?![\w'])|(?<![\w\"])\"[^\"\n]{1,200}\"(?![\w\"])"),
)


def parameterize(message: str) -> str:
    """`message` (capped at `MAX_INPUT` characters) with every table match replaced by its placeholder."""
    return _parameterized(message[:MAX_INPUT])


# a new bug's message is parameterised for its fingerprint, its template and its title (some 25 us each, the
# same text two or three times), and messages without a variable part repeat across bugs
@functools.lru_cache(maxsize=1024)
def _parameterized(text: str) -> str:
    for pattern in PATTERNS:
        text = pattern.regex.sub(pattern.placeholder, text)
    return text
