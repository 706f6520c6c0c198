"""`Literals.found` (one pass for every hint of the redactor) must say exactly what `in` says, for every
literal: overlapping ones, one the prefix of another, at either end of a text, next to non-ASCII text and
lone surrogates."""

from __future__ import annotations

import random

import pytest

from error_autopilot.redaction import catalogue
from error_autopilot.redaction.literals import Literals
from error_autopilot.redaction.vendors import VENDOR_HINTS

_PATTERNS = (*catalogue.BUILTIN_PATTERNS, catalogue.HEX_KEYS, catalogue.VAULT_LEGACY, catalogue.AWS_PAIR,
             catalogue.GO_DSN, catalogue.URL_CODE, catalogue.CLI_FLAG, catalogue.EMAIL)  # fmt: skip


def _every_hint() -> tuple[str, ...]:
    """The hints of every pattern the Redactor tests, the issuers' literals included."""
    return tuple(dict.fromkeys([*(h for p in _PATTERNS for h in p.hints), *VENDOR_HINTS]))


def _by_in(words: tuple[str, ...], text: str) -> frozenset[str]:
    return frozenset(w for w in words if w in text)


def test_overlapping_and_prefix_literals_are_each_found() -> None:
    literals = Literals(["sk-", "sk-ant-", "-", "://", "/api/webhooks/", "s.", "hooks.slack", "eyJ", "eyJrIjoi"])
    text = "https://api/webhooks/1 sk-ant-x hooks.slack eyJrIjoiZ"
    assert literals.found(text) == _by_in(literals.words, text) == frozenset(literals.words)


@pytest.mark.parametrize(
    "text",
    ["sk-ant-", "xsk-ant-", "sk-ant-x", "\ud800sk-ant-\udfff", "é sk-ant- ü", "sk-an", "k-ant-", "", "\x00sk-ant-\n"],
)
def test_a_literal_at_the_edges_of_odd_texts(text: str) -> None:
    literals = Literals(["sk-ant-", "sk-", "-"])
    assert literals.found(text) == _by_in(literals.words, text)


def test_every_redaction_hint_is_found_exactly_in_random_texts() -> None:
    words = _every_hint()
    literals = Literals(words)
    rng = random.Random(15)
    pieces = [*words, *VENDOR_HINTS, " ", "\n", '"', "\\", "é", "\ud83d", "%3D", "KEY", "x"]
    for _ in range(3000):
        # fragments of hints glued together: hints cut, joined across a boundary, or made by two halves
        parts = [rng.choice(pieces) for _ in range(rng.randint(0, 12))]
        parts = [p[rng.randint(0, len(p)) :] if rng.random() < 0.3 else p for p in parts]
        text = "".join(parts)
        assert literals.found(text) == _by_in(literals.words, text), text


def test_only_ascii_literals_are_taken() -> None:
    with pytest.raises(ValueError):
        Literals(["tökén"])
    with pytest.raises(ValueError):
        Literals([""])
    assert Literals([]).found("anything") == frozenset()


def test_literals_far_into_a_long_varied_text_are_found() -> None:
    """The set's automaton is bounded by its literals, not by the text: 300,000 characters of every kind of character
    (each hint's pieces, non-ASCII, lone surrogates) does not make it give up before the end."""
    words = _every_hint()
    literals = Literals(words)
    rng = random.Random(16)
    noise = "".join(rng.choice([*"".join(words), "é", "ß", "\u212a", "\ud800", "\n", " "]) for _ in range(300_000))
    for tail in ("", "sk-ant-", "AKIA", "glsa_", "hooks.slack", "-----BEGIN"):
        text = noise + tail
        assert literals.found(text) == _by_in(literals.words, text)
