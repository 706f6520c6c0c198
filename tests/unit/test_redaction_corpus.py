"""Recall and false positives of the redactor on a corpus of real-format (fake) secrets and look-alikes."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from error_autopilot.investigation.sanitize import Redactor, sanitize
from tests.conftest import TEST_FIXTURES

CORPUS: dict[str, Any] = json.loads((TEST_FIXTURES / "secrets" / "corpus.json").read_text(encoding="utf-8"))
POSITIVES: list[dict[str, Any]] = CORPUS["positives"]
NEGATIVES: list[dict[str, Any]] = CORPUS["negatives"]


def _leaked(sample: dict[str, Any]) -> bool:
    return sample["secret"] in sanitize(sample["line"], Redactor())


def test_corpus_is_substantial() -> None:
    assert len(POSITIVES) >= 80 and len(NEGATIVES) >= 20
    assert {p["provider"] for p in POSITIVES} >= {"GitHub", "AWS", "Slack", "Stripe", "Google", "GitLab", "Telegram",
                                                 "JWT", "PEM", "DSN", "HTTP", "Anthropic", "OpenAI", "npm",
                                                 "SendGrid", "Grafana", "PII"}  # fmt: skip


def test_recall_and_false_positives(capsys: pytest.CaptureFixture[str]) -> None:
    missed = [f"{p['provider']} {p['pattern']}" for p in POSITIVES if _leaked(p)]
    false_positives = [n["kind"] for n in NEGATIVES if n["value"] not in sanitize(n["line"], Redactor())]
    recall = 1 - len(missed) / len(POSITIVES)
    fp_rate = len(false_positives) / len(NEGATIVES)
    with capsys.disabled():
        print(f"\nredaction recall {recall:.3f} ({len(POSITIVES) - len(missed)}/{len(POSITIVES)}), "
              f"false positives {fp_rate:.3f} ({len(false_positives)}/{len(NEGATIVES)}); missed: {missed}")  # fmt: skip
    assert recall >= 0.95, missed
    assert not false_positives, false_positives


@pytest.mark.parametrize(
    "sample", [p for p in POSITIVES if p["must_have"]], ids=lambda p: f"{p['provider']}-{p['pattern']}"
)
def test_must_have_format_is_redacted(sample: dict[str, Any]) -> None:
    out = sanitize(sample["line"], Redactor())
    assert sample["secret"] not in out
    assert "[REDACTED:" in out


@pytest.mark.parametrize("sample", NEGATIVES, ids=lambda n: n["kind"])
def test_look_alike_is_kept(sample: dict[str, Any]) -> None:
    assert sample["value"] in sanitize(sample["line"], Redactor())


def test_findings_name_patterns_never_values() -> None:
    line = next(p for p in POSITIVES if p["provider"] == "GitHub")
    names = Redactor().findings(line["line"])
    assert names == ["github-token"]
    assert all(line["secret"] not in n for n in names)


def test_custom_pattern_applies() -> None:
    assert Redactor([r"ACME-\d{6}"]).redact("ticket ACME-123456 leaked") == "ticket [REDACTED:custom-1] leaked"


def test_redact_is_every_rule_applied_in_order() -> None:
    """`redact` skips a pattern by its hints on a text it lowers once: the same as each rule on its own,
    in order, on every corpus line, also upper-cased and with two secrets of different kinds in one text."""
    redactor = Redactor(["acct-[0-9]{6}"])
    lines = [s["line"] for s in (*POSITIVES, *NEGATIVES)]
    texts = [*lines, *(line.upper() for line in lines), *(a + " | " + b for a, b in itertools.pairwise(lines)),
             "acct-123456 password=Hunter2Hunter2 card 4111 1111 1111 1111"]  # fmt: skip
    for text in texts:
        expected = text
        for _, rule in redactor.rules:
            expected = rule(expected)
        assert redactor.redact(text) == expected, text
