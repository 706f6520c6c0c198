"""Whether a run of characters looks like a token rather than a word: the shape tests the checks of
several rules share (a rule's own check lives beside the rule)."""

from __future__ import annotations


def has_digit_and_letter(value: str) -> bool:
    """True when `value` holds at least one digit and one letter."""
    return any(c.isdigit() for c in value) and any(c.isalpha() for c in value)


def opaque(value: str) -> bool:
    """A token rather than a word: digits and letters, or a long mixed-case run."""
    return has_digit_and_letter(value) or (len(value) >= 20 and not value.islower() and not value.isupper())
