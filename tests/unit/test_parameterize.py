"""The named-regex table: each placeholder on its own, the order between them, and what is left alone."""

from __future__ import annotations

import time

import pytest

from error_autopilot.incidents.parameterize import MAX_INPUT, PATTERNS, parameterize

CASES = [
    ("int", "Failed to place order 4711", "Failed to place order <int>"),
    ("negative int", "balance -42 below zero", "balance <int> below zero"),
    ("int after dash", "order-4711 not found", "order-<int> not found"),
    ("float", "ratio 0.75 exceeds 1.5e3", "ratio <float> exceeds <float>"),
    ("uuid", "user 550e8400-E29B-41d4-a716-446655440000 missing", "user <uuid> missing"),
    ("hex hash", "blob 3f2a1b9c8d7e not in store", "blob <hex> not in store"),
    ("hex 0x", "bad pointer 0x7ffe12", "bad pointer <hex>"),
    ("ipv4 with port", "dial tcp 10.0.0.12:5432: connection refused", "dial tcp <ip>: connection refused"),
    ("ipv6", "no route to fe80::1ff:fe23:4567:890a", "no route to <ip>"),
    ("ipv6 loopback", "listen on ::1 failed", "listen on <ip> failed"),
    ("email", "no account for bob.smith+x@example.co.uk", "no account for <email>"),
    ("url", "GET https://api.example.com/v1/users/42?expand=true failed", "GET <url> failed"),
    ("timestamp", "job at 2026-01-01T00:00:00.123Z overdue", "job at <timestamp> overdue"),
    ("timestamp offset", "since 2026-01-01 10:15:00+02:00", "since <timestamp>"),
    ("date", "report for 2026-03-02 empty", "report for <date> empty"),
    ("time", "window 10:15:30 closed", "window <time> closed"),
    ("duration ms", "query took 1500ms", "query took <duration>"),
    ("duration go", "deadline 1m30s exceeded", "deadline <duration> exceeded"),
    ("duration words", "retry in 2.5 seconds", "retry in <duration>"),
    ("path with number", "open /var/data/2026/part-0003.parquet failed", "open <path> failed"),
    ("single quoted", "KeyError: 'amount'", "KeyError: <quoted>"),
    ("double quoted", 'column "user_id" does not exist', "column <quoted> does not exist"),
]


@pytest.mark.parametrize(("message", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_named_case(message: str, expected: str) -> None:
    assert parameterize(message) == expected


UNCHANGED = [
    ("apostrophes are not quotes", "Can't load user, isn't it there"),
    ("digits inside words", "utf8 sha256 http2 log4j"),
    ("hex-letters-only words", "deadbeef accepted"),
    ("c++ scope", "std::vector overflow"),
    ("path without digits", "open /etc/app/config.yaml failed"),
]


@pytest.mark.parametrize("message", [c[1] for c in UNCHANGED], ids=[c[0] for c in UNCHANGED])
def test_left_alone(message: str) -> None:
    assert parameterize(message) == message


def test_every_pattern_has_a_case() -> None:
    names = {p.name for p in PATTERNS}
    covered = {expected for _, _, out in CASES for expected in names if f"<{expected}>" in out}
    assert covered == names


def test_specific_shapes_win_over_generic_numbers() -> None:
    """Order matters: an IP is one <ip>, not four <int>s; a uuid is not cut into hex and ints."""
    assert parameterize("from 192.168.1.20 id 550e8400-e29b-41d4-a716-446655440000") == "from <ip> id <uuid>"


def test_same_bug_different_values_same_text() -> None:
    a = parameterize("Payment 4711 for alice@example.com timed out after 30s (trace 4bf92f3577b34da6)")
    b = parameterize("Payment 12 for bob@example.org timed out after 5s (trace 00f067aa0ba902b7)")
    assert a == b == "Payment <int> for <email> timed out after <duration> (trace <hex>)"


def test_enormous_message_is_capped_and_fast() -> None:
    started = time.perf_counter()
    out = parameterize("order 1 " * 500_000)
    assert time.perf_counter() - started < 10.0  # a blow-up guard, not a benchmark
    assert out.count("<int>") == MAX_INPUT // len("order 1 ")  # only the first MAX_INPUT characters


def test_remembered_answers_are_each_texts_own() -> None:
    """Answers are remembered per capped text: asked again, in any order, each text gets its own answer, and
    texts that differ only past the cap share one."""
    texts = [f"order {n} for user{n}@example.com failed" if n % 2 else f"'item-{n}' missing" for n in range(3000)]
    first = [parameterize(t) for t in texts]
    assert [parameterize(t) for t in reversed(texts)] == first[::-1]
    assert {first[0], first[1]} == {"<quoted> missing", "order <int> for <email> failed"}
    head = "x" * MAX_INPUT
    assert parameterize(head + " 42") == parameterize(head + " abc") == head


@pytest.mark.parametrize("hostile", [":" * 100_000, "'" * 100_000, "/1" * 100_000, "a@" * 100_000, "\x00\ud800é"])
def test_hostile_input_never_crashes(hostile: str) -> None:
    assert isinstance(parameterize(hostile), str)
