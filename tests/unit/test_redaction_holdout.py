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
from tests.support.linearity import MAX_LARGE_S, costs, linear_bound

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


SECRET = "Zq8vK2mP9xL4tR7wN3bY"


@pytest.mark.parametrize(
    "line",
    [
        f"<password>{SECRET}</password>",
        f"{{'password': b'{SECRET}', 'user': 'app'}}",
        f"redirect=https%3A%2F%2Fapp.example%2Fcb%3Faccess_token%3D{SECRET}%26state%3Dx",
        f"forwarded=Authorization%3A%20Bearer%20{SECRET}",
        f"exec failed: ['deploy', '--refresh-token', '{SECRET}', '--region', 'eu']",
        f"/usr/bin/sync --heroku-api-key {SECRET} --app orders",
        f"Set-Cookie: PHPSESSID={SECRET.lower()}abc; path=/",
        f"cookie connect.sid=s%3A{SECRET}.{SECRET[::-1]}",
        f'{{"session_id": "{SECRET}"}}',
        f"card 4111 1111 1111 1111: declined ({SECRET[:0]})",
        f"auth {SECRET[:0]}7276100933:AAaFZLvIzIghYklESWhSVPQeKwgHThRg_tB rejected",
        f"GET /v1/users?email={SECRET.lower()}%40gmail.com&page=2 -> 500",
        f"POST https://acme.webhook.office.com/webhookb2/{SECRET}@x/IncomingWebhook/abc failed",
        json.dumps({"level": "error", "msg": "pod spec invalid", "env": [{"name": "DB_PASSWORD", "value": SECRET}]}),
        f"stack failed: [{{ParameterKey: DbPassword, ParameterValue: {SECRET}}}]",
        f"Access denied for user 'app'@'10.0.0.4' (using password: YES) pw={SECRET}",
    ],
)
def test_quoting_levels_and_option_shapes_beyond_the_corpus(line: str) -> None:
    out = Redactor().redact(line)
    for secret in (SECRET, SECRET.lower(), "4111 1111 1111 1111", "AAaFZLvIzIghYklESWhSVPQeKwgHThRg_tB"):
        assert secret[:PIECE] not in out or secret[:PIECE] not in line, out


@pytest.mark.parametrize(
    "line",
    [
        "exec: /usr/bin/tool --token-file /var/run/secrets/token --session-timeout 3600 --secret-name orders-db",
        "tool --passes 3 --auth-type oauth --api-key-id 42 --sid 12345 --sessionid-file /tmp/sid",
        "<secretName>orders-db-credentials</secretName><password>required</password><tokens>5</tokens>",
        "<Error><Code>NoSuchKey</Code><Key>orders/2026/inv-123.pdf</Key></Error>",
        "inside=3 side_effects=none session_count=5 sessions=12 session_id=0b7e8f1c-3c7a-4b2a-9d2e-6f5a4c3b2a10",
        "redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback%3Fstate%3Dabc",
        "npm ERR! 404 https://registry.npmjs.org/%40acme%2forders-client - Not found",
        "tls: cannot load --private-key /etc/ssl/private/orders-api.pem: permission denied",
        "java.sql.SQLException: Access denied for user 'app'@'10.0.0.4' (using password: YES)",
        '[{"name": "SECRET_NAME", "value": "orders-db-credentials"}, {"name": "TOKEN_TTL", "value": "3600"}]',
        '{"object_key": "Exports/2026/Orders-Q4-Final.csv", "publicKey": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE4xYzQ"}',
    ],
)
def test_names_and_options_that_are_not_secrets_are_kept(line: str) -> None:
    assert Redactor().redact(line) == line


@pytest.mark.parametrize(
    "unit",
    [
        "--refresh-token ",
        "-a b ",
        "<password>",
        "%3D",
        "b'",
        "cfut_",
        "A",
        "AAAA:APA91b",
        "connect.sid=",
        "sid",
        "name=a,value=",
        "pw=",
    ],
)
def test_hostile_megabyte_lines_stay_linear_for_the_new_rules(unit: str) -> None:
    small, large = costs(Redactor().redact, unit)
    assert large < MAX_LARGE_S, f"{unit!r}: {large:.1f}s for 1 MB"
    assert large < linear_bound(small), f"{unit!r}: 64 KB {small:.3f}s, 1 MB {large:.3f}s"


def _bare_tokens() -> list[dict[str, Any]]:
    """One secret per format whose value is a token recognised on its own (not a password, DSN or key file)."""
    firsts = {s["format"]: s for s in reversed(CORPUS["secrets"])}
    return [
        s
        for s in firsts.values()
        if not any(c in s["value"] for c in "%/:@;=\n ") and not _leaks(s, Redactor().redact(s["value"]))
    ]


@pytest.mark.parametrize("secret", _bare_tokens(), ids=lambda s: s["format"])
def test_a_token_behind_a_percent_escape_is_still_a_token(secret: dict[str, Any]) -> None:
    """In a URL-encoded URL a token follows `%3D` or `%20` (`next=%2Fcb%3Fx%3Dghp_…`): a shape recognised on
    its own is recognised there too."""
    value = secret["value"]
    out = Redactor().redact(f"GET /login?next=%2Fcb%3Fx%3D{value}%26y%3D1 q=auth%20{value}%20x")
    assert not _leaks(secret, out), out
