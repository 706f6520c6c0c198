"""A layout's template matches a line exactly when splitting the line gives that layout: the fast path
of `Ingest.parse` reads the same runs as the split it skips."""

from __future__ import annotations

import random

import pytest

from error_autopilot.incidents.ingest import _CLOCK, _CLOCK_WITHIN, _split, _template

LINES = [
    "2026-11-25T03:17:42.123Z ERROR [order-service,4bf92f3577b34da6a3ce929d0e0e4736,00f067aa0ba902b7] failed",
    "deadbeef12 at start, then cafe and face (words), id 0x1f2e3d4c, user 123456 done",
    "abc12:34:56 clock right after hex letters, then ABCDEF0123 upper and AbCd1234 mixed",
    "12:34:56,9 a clock first, then 1234 and 98765 and -abcd1234 and add1234 and 3.1415",
    'level=error msg="timeout after 1500 ms for order 424242" trace_id=0af7651916cd43dd8448eb211c80319c',
    "no runs at all here",
    "1234",
]
HEX = "0123456789abcdefABCDEF"
OTHER = "xyz :.-_/ \n\tQ"


def _variant(line: str, rng: random.Random) -> str:
    """The line with some characters replaced: hex runs that keep or change their length, hex letters
    next to runs, colons and digits near the clock."""
    chars = list(line)
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(chars))
        chars[i] = rng.choice(HEX if rng.random() < 0.7 else OTHER)
    return "".join(chars)


def _layout(line: str) -> tuple[list[str], tuple[int, ...], tuple[int, int] | None]:
    clock = _CLOCK.search(line, 0, _CLOCK_WITHIN)
    parts = _split(line, clock)
    return parts[0::2], tuple(len(r) for r in parts[1::2]), clock.span() if clock else None


@pytest.mark.parametrize("line", LINES)
def test_a_template_matches_exactly_the_lines_of_its_layout(line: str) -> None:
    rng = random.Random(line)
    clock = _CLOCK.search(line, 0, _CLOCK_WITHIN)
    template = _template(_split(line, clock))
    consts, lengths, span = _layout(line)
    matched = differed = 0
    for _ in range(3000):
        other = _variant(line, rng)
        other_consts, other_lengths, other_span = _layout(other)
        same = (other_consts, other_lengths) == (consts, lengths)
        match = template.fullmatch(other) if other_span == span else None  # parse looks templates up by span
        if other_span == span:
            assert (match is not None) == same, (line, other)
        if match is not None:
            assert list(match.groups()) == _split(other, _CLOCK.search(other, 0, _CLOCK_WITHIN))[1::2]
            matched += 1
        else:
            differed += 1
    assert matched and differed  # both sides of the equivalence were exercised
