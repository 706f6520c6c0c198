"""`Redactor.redact` picks the steps a text needs from the hints it holds (a table, not a test per step): it
must replace exactly what the steps applied one by one in order replace, each testing its own hints on the
text as the steps before it left it and on every text before that (a replaced token keeps its context)."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from error_autopilot.redaction import Redactor
from tests.conftest import TEST_FIXTURES

SECRETS = TEST_FIXTURES / "secrets"


def _one_by_one(redactor: Redactor, text: str) -> str:
    """Every step in order, each with its own hint test on the texts so far: what `redact` must equal."""
    seen = [text]
    for step in redactor.steps:
        if not step.hints or any(
            hint in (t.lower() if step.fold else t) for t in seen for hint in step.hints
        ):
            text = step.rule(text)
            if text != seen[-1]:
                seen.append(text)
    return text


def _lines(path: Path) -> list[str]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return [item["line"] for key, items in data.items() if isinstance(items, list) for item in items]


def _must_have() -> list[tuple[str, str]]:
    """(secret, the corpus line it is in) of every format that must be caught."""
    data = json.loads((SECRETS / "corpus.json").read_text(encoding="utf-8"))
    return [(p["secret"], p["line"]) for p in data["positives"] if p["must_have"]]


def _hostile(secret: str, line: str) -> list[str]:
    """A secret where a gate could miss it: its line alone, with text before or after it, in JSON (escaped once
    and twice); the bare secret at either end of a text, URL-encoded, after a %-escape, between dashes."""
    encoded = urllib.parse.quote(secret, safe="")
    return [
        line,
        f"{line} (retry 3 of 5)",
        f"worker-7 | {line}",
        json.dumps({"level": "error", "msg": line}),
        secret,
        f"{secret} failed",
        f"token rejected: {secret}",
        json.dumps(json.dumps({"auth": f"Bearer {secret}"})),
        f"GET /cb?next=%2Fcb%3Ftoken%3D{encoded} 401",
        f"next=%2F{secret}",
        f"aws key {secret}\nsecret {secret}",
        f"-{secret}-",
        f"x-api-key: {secret}.",
    ]


HOSTILE = [text for secret, line in _must_have() for text in _hostile(secret, line)]
# a tag brings a hint in (`aws-access-key`: the AWS pair's), or a replaced token takes the only one away
CHAINED = [
    "AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG/bPxRfiCYzz9PLE8Q2d",
    "key-0123456789abcdef0123456789abcdef wJalrXUtnFEMI/K7MDENG/bPxRfiCYzz9PLE8Q2d",
    "AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY1",
    "creds AKIAIOSFODNN7EXAMPLE then wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY1",
    "ghp_OsgquBXbenoyMAERIm7uf3B7ZoIQpYrQWYNy wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY1",
    "password=hunter2-Xy9 and Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
]
# an assignment's word found only once the text is lowered, or lowered to more letters than it has (`İ`)
LOWERED = [
    "PASSWORD=Hunter2Xy9Q",
    "\u212aey=AbC123dEf456gHi789",  # KELVIN SIGN lowers to `k`
    "İ SİD=AbC123dEf456gHi789 İ",
    "passİ=AbC123dEf456gHi789",
    "İpassword=AbC123dEf456gHi789",
    "ΣΑΣ client_secret: AbC123dEf456gHi789 ΣΑΣ",
    '{"apiKey": "AbC123dEf456gHi789"} İ',
]


@pytest.mark.parametrize("name", ["corpus.json", "generated.json", "holdout.json"])
def test_redact_equals_the_rules_one_by_one_on_the_corpora(name: str) -> None:
    redactor = Redactor()
    lines = _lines(SECRETS / name)
    assert len(lines) >= 50
    for text in lines + lines:  # the second time round every set of hints is known
        assert redactor.redact(text) == _one_by_one(redactor, text), text


def test_redact_equals_the_rules_one_by_one_on_hostile_texts() -> None:
    redactor = Redactor()
    for text in HOSTILE + CHAINED + LOWERED + HOSTILE:
        assert redactor.redact(text) == _one_by_one(redactor, text), text


def test_no_must_have_secret_survives_at_the_gates_edges() -> None:
    redactor = Redactor()
    for secret, line in _must_have():
        for text in _hostile(secret, line)[:4]:  # the line's own words kept: every must-have format is caught
            assert secret not in redactor.redact(text), text


def test_a_known_set_of_hints_does_not_hide_a_secret() -> None:
    """Two texts with the same hints: a clean one first, then one whose rule replaces something."""
    redactor = Redactor()
    clean = "upload failed for key-holder at 10:42"
    assert redactor.redact(clean) == clean
    secret = "key-" + "0123456789abcdef" * 2
    redacted = redactor.redact(f"upload failed for {secret} at 10:42")
    assert redacted == "upload failed for [REDACTED:vendor-token] at 10:42"


def test_user_patterns_run_on_every_text() -> None:
    redactor = Redactor(extra_patterns=[r"ACME-[0-9]{6}"])
    for text in ("ACME-123456", "x ACME-123456 y", "plain words"):
        assert redactor.redact(text) == _one_by_one(redactor, text)
    assert "ACME-123456" not in redactor.redact("order ACME-123456 failed")


@pytest.mark.parametrize(
    "text",
    [
        "key-0123456789abcdef0123456789abcdef wJalrXUtnFEMI/K7MDENG/bPxRfiCYzz9PLE8Q2d",
        "mailgun pubkey-0123456789abcdef0123456789abcdef then wJalrXUtnFEMI/K7MDENG/bPxRfiCYzz9PLE8Q2d",
        '{"msg": "send failed", "mg": "key-0123456789abcdef0123456789abcdef",'
        ' "s3": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzz9PLE8Q2d"}',
    ],
)
def test_a_replaced_token_keeps_the_word_a_later_rule_needs(text: str) -> None:
    """Mailgun's `key-<hex>` is the only `key` on the line: replaced first, it must not take the AWS secret's
    context away (it did: the secret half was posted as it was)."""
    redacted = Redactor().redact(text)
    assert "wJalrXUtnFEMI" not in redacted and "0123456789abcdef" not in redacted
    assert "[REDACTED:aws-secret-key]" in redacted
