"""Where a card number could stand in the later lines of a shape (incidents/ingest.py), and the checks that
send such a line to a full parse: counted from its runs, it would carry what redaction replaces into the plan.

A shape's *card spans* are the stretches of its lines (the same in all of them) where a varying run could
make a number that card redaction reads: a line of the shape is parsed in full when card redaction could
replace a number there (`CardSpans.within`), and a shape's regex rules such lines out (`guard`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence

from error_autopilot.redaction import CARD_START, luhn_card

_CARD_AT = re.compile(CARD_START)
# where a card number could stand once any varying run's hex digits were digits: 13 digits or more joined by
# single spaces or dashes, each such stretch whole. Found as every stretch of digits so joined, the short ones
# then passed over: `\d(?:[ -]?\d){12,}` steps its group digit by digit (some 4 us a 32-digit stretch)
_DIGITS_JOINED = re.compile(r"\d+(?:[ -]\d+)*")
_ASCII_DIGITS_JOINED = re.compile(_DIGITS_JOINED.pattern, re.ASCII)  # the same in ASCII text, without Unicode's tables
_AS_DIGITS = str.maketrans("123456789abcdefABCDEF", "0" * 21)
# a line as `card_spans` reads it: ASCII digits as one, hex letters as another (the runs stay where they were)
_PROFILE = str.maketrans("123456789bcdefABCDEF", "0" * 9 + "a" * 11)
_CARD_DIGITS = 13
_MARKS = bytes(1 if chr(byte) in "0123456789 -" else 0 for byte in range(256))
_ROW = b"\x01" * _CARD_DIGITS
_FIRST_DIGITS = frozenset("23456")  # a card number's first digit (`CARD_START`)
_MAX_CARD_DIGITS = 19
_MAX_PLACES = 12  # places a shape's guard tries before the line is let through (`CardSpans.within`)

# (start, end, whether a number there could only start at its first character)
Span = tuple[int, int, bool]


class CardSpans:
    """A shape's card spans, and the check that a line of the shape holds no card number there."""

    __slots__ = ("_firsts", "_from", "_none", "_others", "_to", "places", "spans")

    def __init__(self, spans: tuple[Span, ...]) -> None:
        self.spans = spans
        self._none = _ruling_out(spans)
        # what `_none` rules out, for a regex of many shapes' lines to say whether a line is of it (a skeleton's
        # template: incidents/layouts.py); None when `_none` is
        self.places = card_places(spans, ascii_only=False) if self._none is not None else None
        self._firsts = tuple((start, end) for start, end, first in spans if first)
        others = [(start, end) for start, end, first in spans if not first]
        self._from = min((start for start, _ in others), default=0)  # the stretch of the line that holds them
        self._to = max((end for _, end in others), default=0)
        self._others = tuple((start, end, start - self._from, end - self._from) for start, end in others)

    def within(self, line: str) -> bool:
        """Whether card redaction could replace a number in this line of the shape.

        `_CARD_AT` searched in each span cost some 0.7 us a span (2 in 16 hex digits start an attempt), and
        with ten thousand bugs most lines are of shapes with a trace id: a span where a number could only
        start at its first character is ruled out by that character, and in ASCII text a span without 13
        digits, spaces or dashes in a row (every card number is such a row) by a search in C for 13 marks
        in the text's digits, spaces and dashes as marks. Most lines are let through before that by one match
        of the shape's `guard` (that costs a third of those searches): it finds no such row, nor a first digit
        of 2 to 6, in any span."""
        if self._none is not None and self._none.match(line) is not None:
            return False
        for start, end in self._firsts:
            if line[start] in _FIRST_DIGITS and _CARD_AT.search(line, start, end) is not None:
                return luhn_card(line)
        if self._others:
            text = line[self._from : self._to]
            marks = text.encode().translate(_MARKS) if text.isascii() else None
            for start, end, at, to in self._others:
                if (marks is None or marks.find(_ROW, at, to) >= 0) and _CARD_AT.search(line, start, end):
                    return luhn_card(line)
        return False


@functools.lru_cache(maxsize=4096)
def card_check(spans: tuple[Span, ...]) -> CardSpans | None:
    """The check of these spans (None when there are none), made once for the shapes that share them: the
    shapes of one skeleton mostly do, and with ten thousand bugs some 20,000 shapes are made."""
    return CardSpans(spans) if spans else None


def card_spans(parts: Sequence[str], varying: Sequence[int]) -> tuple[Span, ...]:
    """Where in a line of this shape a card number could stand that is not in its first line: stretches
    of digits joined by single spaces or dashes, 13 digits long or more once every varying run is taken
    as digits, that hold a varying run or stand within two characters of one (`_CARD` looks that far
    around a number). With each, whether a number there could only start at its first character: a run
    of digits alone (a millisecond timestamp, `1764…`, is never a card).

    Worked out once per line profile (`_PROFILE`): with ten thousand bugs, the shapes of a skeleton differ in
    the digits of their names and numbers, not in where digits stand, and some 20,000 shapes each cost some
    20 us here."""
    free = set(varying)
    runs = tuple(run.translate(_AS_DIGITS if i in free else _PROFILE) for i, run in enumerate(parts[1::2]))
    digit_runs = tuple(i for i in varying if parts[2 * i + 1].isdigit())
    consts = "".join(parts[0::2]).translate(_PROFILE)
    return _spans_of(consts, tuple(map(len, parts[0::2])), runs, tuple(varying), digit_runs)


@functools.lru_cache(maxsize=1024)
def _spans_of(
    consts: str, lengths: tuple[int, ...], runs: tuple[str, ...], varying: tuple[int, ...], numbers: tuple[int, ...]
) -> tuple[Span, ...]:
    """`card_spans` of a line of this constant text (its parts of these `lengths`) and `runs`, the varying ones
    of which are digits only when in `numbers`: all it reads of a line is which characters are digits (a
    varying run's hex digits are all taken as digits), and where spaces, dashes and `%` stand."""
    parts, at = [], 0
    for n, length in enumerate(lengths):
        parts += [consts[at : at + length], *runs[n : n + 1]]
        at += length
    free, all_digits = set(varying), set(numbers)
    texts: list[str] = []
    spans: list[tuple[int, int]] = []
    digit_runs: set[tuple[int, int]] = set()
    at = 0
    for n, part in enumerate(parts):
        if n % 2 and n // 2 in free:
            spans.append((at, at + len(part)))
            # `%2041…`: past a `%` and two characters (`CARD_START` takes any two for an escape's) a number may
            # start inside the run
            if n // 2 in all_digits and "%" not in texts[-1][-2:]:
                digit_runs.add((at, at + len(part)))
        texts.append(part.translate(_AS_DIGITS) if n % 2 and n // 2 in free else part)
        at += len(part)
    found: list[Span] = []
    for start, end, digits in _joined_digits("".join(texts)):
        if not any(a < end + 2 and b > start - 2 for a, b in spans):
            continue
        if (start, end) not in digit_runs:
            found.append((start, end, False))
        elif digits <= _MAX_CARD_DIGITS:  # its digits follow one another: a number ends where the run does
            found.append((start, end, True))
    return tuple(found)


def _joined_digits(text: str) -> list[tuple[int, int, int]]:
    """Each stretch of 13 digits or more joined by single spaces or dashes in the text: its start, end and
    digits. In ASCII text, looked for only where 13 digits, spaces or dashes stand in a row (every such
    stretch is such a row, and a search in C finds them): tried at every digit, it cost most of a shape's
    card spans."""
    if not text.isascii():
        return _long(_DIGITS_JOINED.finditer(text))
    marks = text.encode().translate(_MARKS)
    found: list[tuple[int, int, int]] = []
    at = marks.find(_ROW)
    while at >= 0:
        end = marks.find(b"\x00", at)
        end = len(marks) if end < 0 else end
        found += _long(_ASCII_DIGITS_JOINED.finditer(text, at, end))
        at = marks.find(_ROW, end)
    return found


def _long(matches: Iterator[re.Match[str]]) -> list[tuple[int, int, int]]:
    """(start, end, digits) of the stretches of joined digits that hold `_CARD_DIGITS` digits or more."""
    found = []
    for match in matches:
        text = match.group()
        digits = len(text) - text.count(" ") - text.count("-")
        if digits >= _CARD_DIGITS:
            found.append((*match.span(), digits))
    return found


@functools.lru_cache(maxsize=4096)  # the shapes of one skeleton share their spans: one regex for them all
def _ruling_out(spans: tuple[Span, ...]) -> re.Pattern[str] | None:
    """`guard` of these spans, for a line of any text, compiled; None when its places to try are too many to
    pay (long spans: the searches cost less)."""
    places = sum(1 if first else len(range(start, end - 6, 7)) for start, end, first in spans)
    return re.compile(guard(spans, ascii_only=False), re.DOTALL) if places <= _MAX_PLACES else None


def guard(spans: Sequence[Span], ascii_only: bool) -> str:
    """A lookahead ruling out the lines `card_places` finds (nothing when there are no `spans`)."""
    return f"(?!{card_places(spans, ascii_only)})" if spans else ""


def card_places(spans: Sequence[Span], ascii_only: bool) -> str:
    """A pattern, at a line's start, for the lines with 13 digits, spaces or dashes in a row in one of `spans`
    that starts as a card number may (every card number is such a row), or a first digit of 2 to 6 where a
    number could only start at the span's start. A row holds one of its span's 7-character blocks: only
    those few places are tried, and only a block made of them is looked around. `ascii_only`: no other
    digits stand in the spans."""
    digit = "[0-9 -]" if ascii_only else "[\\d -]"
    blocks = "|".join(f".{{{at}}}" for start, end, first in spans if not first for at in range(start, end - 6, 7))
    starts = "|".join(f".{{{start}}}[2-6]" for start, _, first in spans if first)
    # the row's first digit where a card number may start: 2 to 6, after no digit, dot or dash (or a %-escape)
    first = f"(?:(?<!{digit[:-3]}.\\-])|(?<=%..))[2-6]"
    around = "|".join(f"(?<={first}{digit}{{{6 + j}}})(?={digit}{{{6 - j}}})" for j in range(7))
    rows = f"(?:{blocks}){digit}{{7}}(?:{around})" if blocks else ""
    return "|".join(filter(None, (rows, starts)))
