"""Payment card numbers: a 13-19 digit run that passes the Luhn check and is not the value of an id field."""

from __future__ import annotations

import re

from error_autopilot.redaction.pattern import TAG

# a colon right after the number ends a sentence (`card 4111 …: declined`) unless a field or port follows it;
# after a %-escape (`%204111…`) the number starts past the escape's two hex digits. The lookahead right after
# the first digit changes no match: it rules out at once (one scan of a character class) most places where
# the digits joined by spaces or dashes would fail further on, a repeat that costs far more to try
_CARD = re.compile(
    r"[2-6](?=\d{3}[\d -]{9})(?<!%[2-6])(?:(?<![\d.\-][2-6])|(?<=%[0-9A-Fa-f]{2}[2-6]))(?<!\d:[2-6])"
    r"\d{3}(?:[ -]?\d){9,15}(?![\d.\-]|:[\w/])"
)
# every number `_CARD` matches begins with a match of this: where one may start, and 12 more digits. Its
# first character a class, so a search skips to the next digit 2 to 6 in C; the lookahead as `_CARD`'s
CARD_START = r"[2-6](?=[\d -]{12})(?:(?<![\d.\-][2-6])|(?<=%..[2-6]))(?:[ -]?\d){12}"
_DIGIT = re.compile(r"\d")  # the card pattern needs one: most text is ruled out by a scan in C
# a number that is the value of an id field (`dd.trace_id`, `spanId`, `order_id`) is an id, Luhn or not
_ID_FIELD = re.compile(r"(?:id|ID|Id)\\{0,8}[\"']?[ \t]{0,8}[:=][ \t]{0,8}\\{0,8}[\"']?$")


def luhn_ok(text: str) -> bool:
    """True when the digits of `text` (13 to 19 of them) pass the Luhn check card numbers carry."""
    digits = re.sub(r"\D", "", text)
    if not 13 <= len(digits) <= 19:
        return False
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = int(ch)
        if i % 2 == parity:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def luhn_card(text: str) -> bool:
    """Whether card redaction could replace a number in `text`: one it matches passes the Luhn check
    (whether an id field holds it is not asked, so this may say yes where nothing is redacted)."""
    return _DIGIT.search(text) is not None and any(luhn_ok(m.group(0)) for m in _CARD.finditer(text))


def redact_cards(text: str) -> str:
    """Luhn-valid 13-19 digit numbers (spaces and dashes allowed), unless an id field holds them."""
    if _DIGIT.search(text) is None:
        return text

    def replace(match: re.Match[str]) -> str:
        if not luhn_ok(match.group(0)) or _ID_FIELD.search(text, max(0, match.start() - 24), match.start()):
            return match.group(0)
        return TAG.format("card-number")

    return _CARD.sub(replace, text)
