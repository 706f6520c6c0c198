"""Redaction over a corpus written blind to the rules (tests/fixtures/secrets/holdout_generate.py).

Every line goes through parse_entry, as a polled line does, and through Redactor.redact. A secret is
caught only when neither its value nor any 12-character piece of its random part is in any text of
the event (message, line, labels, exception, stack frames) or of the redacted line; a look-alike is
kept when it is still in both.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from error_autopilot.config.service_map import ServiceMap
from error_autopilot.domain.events import LogEntry
from error_autopilot.incidents.events import parse_entry
from error_autopilot.redaction import Redactor

CORPUS = json.loads((Path(__file__).parents[1] / "fixtures" / "secrets" / "holdout.json").read_text())
SMAP = ServiceMap.model_validate(
    {
        "environments": {"prod": {"loki": {"url": "http://loki", "selector": '{env="prod"}'}}},
        "services": {"orders": {"repo": "acme/orders", "packages": ["com.acme"]}},
    }
)
PIECE = 12


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _texts(item: dict[str, Any]) -> str:
    """Everything parsing keeps of the line, and the line as the redactor alone leaves it."""
    entry = LogEntry(ts_ns=1, line=item["line"], labels={"service_name": "orders"}, metadata=item.get("metadata", {}))
    event = parse_entry(entry, "prod", SMAP)
    assert event is not None, f"not read as an error: {item['line'][:120]!r}"
    return "\n".join([*_strings(event.model_dump()), Redactor().redact(item["line"])])


def _leaks(secret: dict[str, Any], text: str) -> bool:
    if secret["value"] in text or json.dumps(secret["value"])[1:-1] in text:  # as written, or JSON-escaped
        return True
    for part in secret["random"]:
        if len(part) < PIECE:
            if part in text:
                return True
            continue
        if any(part[i : i + PIECE] in text for i in range(len(part) - PIECE + 1)):
            return True
    return False


def measure() -> tuple[float, float, Counter[str], Counter[str]]:
    """(recall, look-alikes kept, misses per format, losses per look-alike kind)."""
    misses: Counter[str] = Counter()
    for secret in CORPUS["secrets"]:
        if _leaks(secret, _texts(secret)):
            misses[secret["format"]] += 1
    lost: Counter[str] = Counter()
    for look in CORPUS["lookalikes"]:
        entry = LogEntry(ts_ns=1, line=look["line"], labels={"service_name": "orders"})
        event = parse_entry(entry, "prod", SMAP)
        assert event is not None, f"not read as an error: {look['line'][:120]!r}"
        forms = (look["value"], json.dumps(look["value"])[1:-1])  # as written, or JSON-escaped in a JSON line
        if not any(f in event.line or f in event.message for f in forms) or not any(
            f in Redactor().redact(look["line"]) for f in forms
        ):
            lost[look["kind"]] += 1
    recall = 1 - sum(misses.values()) / len(CORPUS["secrets"])
    kept = 1 - sum(lost.values()) / len(CORPUS["lookalikes"])
    return recall, kept, misses, lost


def test_the_holdout_corpus_is_what_it_claims() -> None:
    assert len(CORPUS["secrets"]) >= 250
    assert len({s["format"] for s in CORPUS["secrets"]}) >= 60
    assert len(CORPUS["lookalikes"]) >= 80


@pytest.mark.xfail(strict=True, reason="holdout misses before the fixes: recall 91.2%")
def test_no_holdout_secret_survives_parsing_and_look_alikes_do() -> None:
    recall, kept, misses, lost = measure()
    report = f"recall {recall:.1%}, look-alikes kept {kept:.1%}; missed {dict(misses)}; lost {dict(lost)}"
    assert not misses, report
    assert kept >= 0.97, report


@pytest.mark.parametrize("secret", CORPUS["secrets"][:1], ids=lambda s: s["format"])
def test_a_leak_is_detected_when_nothing_is_redacted(secret: dict[str, Any]) -> None:
    """The measure can fail: the raw line leaks its own secret."""
    assert _leaks(secret, secret["line"] + json.dumps(secret.get("metadata", {})))


if __name__ == "__main__":
    r, k, m, lo = measure()
    print(f"recall {r:.2%} ({sum(m.values())} missed of {len(CORPUS['secrets'])}); "
          f"look-alikes kept {k:.2%} ({sum(lo.values())} lost of {len(CORPUS['lookalikes'])})")  # fmt: skip
    for name, n in sorted(m.items()):
        print(f"  missed {name}: {n}")
    for name, n in sorted(lo.items()):
        print(f"  lost {name}: {n}")
    if "-v" in sys.argv:
        for s in CORPUS["secrets"]:
            if _leaks(s, _texts(s)):
                print(s["format"], "|", s["line"][:400])
