"""The card patterns' fast forms find exactly what their plain forms find: the lookahead that lets a search
skip most places changes no match (redaction and ingest's card checks rely on every match)."""

from __future__ import annotations

import random
import re

import pytest

from error_autopilot.redaction.cards import _CARD, CARD_START

# the patterns as they were written before the lookaheads: the reference
PLAIN_CARD = re.compile(
    r"[2-6](?<!%[2-6])(?:(?<![\d.\-][2-6])|(?<=%[0-9A-Fa-f]{2}[2-6]))(?<!\d:[2-6])"
    r"\d{3}(?:[ -]?\d){9,15}(?![\d.\-]|:[\w/])"
)
PLAIN_START = re.compile(r"(?:(?<![\d.\-])|(?<=%..))[2-6](?:[ -]?\d){12}")
FAST_START = re.compile(CARD_START)
# digits (ASCII and others), separators, what may stand around a number, escapes
ALPHABET = "0123456789" * 4 + "23456" * 2 + "  --..::%%/\nabcdefF_٣۴" + "\u00a0"


def _text(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(1, 8)):
        if rng.random() < 0.4:  # a run of digits, sometimes grouped, sometimes a card number's length
            digits = "".join(rng.choice("0123456789") for _ in range(rng.choice([4, 12, 13, 15, 16, 19, 20, 25])))
            sep = rng.choice(["", " ", "-", "  "])
            parts.append(sep.join(digits[i : i + 4] for i in range(0, len(digits), 4)))
        else:
            parts.append("".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 12))))
    return "".join(parts)


@pytest.mark.parametrize("seed", range(4))
def test_the_fast_card_patterns_match_exactly_where_the_plain_ones_do(seed: int) -> None:
    rng = random.Random(seed)
    found = 0
    for _ in range(3000):
        text = _text(rng)
        assert [m.span() for m in _CARD.finditer(text)] == [m.span() for m in PLAIN_CARD.finditer(text)], text
        for _ in range(3):
            start = rng.randint(0, len(text))
            end = rng.randint(start, len(text))
            fast, plain = FAST_START.search(text, start, end), PLAIN_START.search(text, start, end)
            assert (fast and fast.span()) == (plain and plain.span()), (text, start, end)
            found += plain is not None
    assert found > 100  # numbers were there to find
