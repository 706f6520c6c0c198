"""Card numbers in the runs of a later line of a shape: counted from its runs, such a line would carry
what a full parse redacts (a trace id, a message value) into the plan."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from error_autopilot.domain.events import LogEntry
from error_autopilot.incidents.ingest import Ingest
from error_autopilot.state.store import ReadOnlyStateStore
from tests.support.grouping_corpus import SMAP, summarise
from tests.support.ingest_paths import LABELS, ORDERS, ingested, luhn_digit, per_line, plan_over_loki
from tests.support.stores import empty_state_store

BASE = 1_795_000_000_000_000_000
PER_TEMPLATE = 300  # past the 256 lines after which a shape is matched by its own regex


def _card(rng: random.Random, luhn: bool = True) -> str:
    """A 16-digit Visa-like number; with `luhn` False, one whose check digit is wrong."""
    body = "4" + "".join(rng.choice("0123456789") for _ in range(14))
    check = int(luhn_digit(body))
    return body + str(check if luhn else (check + 1) % 10)


def _grouped(number: str, sep: str) -> str:
    return sep.join(number[i : i + 4] for i in range(0, 16, 4))


def _letters_hex(rng: random.Random, n: int) -> str:
    """A hex id whose digits never make 13 in a row (a digit after every few letters)."""
    return "".join(rng.choice("abcdef") if i % 3 else rng.choice("0123456789") for i in range(n))


def _line(kind: int, n: int, rng: random.Random, card: bool) -> tuple[str, str | None]:
    """A line of template `kind`; with `card`, its varying runs hold a Luhn-valid card number (returned)."""
    number = _card(rng) if card else "1" + "".join(rng.choice("0123456789") for _ in range(15))
    if kind == 0:  # inside the trace id: `ab` + 16 digits + 14 letters, 32 hex characters
        trace = f"ab{number}abcdefabcdefab" if card else _letters_hex(rng, 32)
        return f'level=error msg="payment {4000 + n} failed" trace_id={trace}', number if card else None
    if kind == 1:  # four runs of 4 digits, spaces between: the first line's start with 1, no card
        return f'level=error msg="refund {4000 + n} failed for card {_grouped(number, " ")}"', number if card else None
    # dashes between
    return f'level=error msg="hold {4000 + n} failed on {_grouped(number, "-")}" zone=eu', number if card else None


def _lookalike(n: int, rng: random.Random) -> tuple[str, str]:
    """A line whose number has a card's shape and fails the Luhn check: kept as it is."""
    number = _card(rng, luhn=False)
    return f'level=error msg="charge {4000 + n} held" ref={number}', number


@pytest.fixture
def state_store(tmp_path: Path) -> ReadOnlyStateStore:
    return empty_state_store(tmp_path)


def test_a_card_number_in_a_later_lines_runs_never_reaches_the_plan(state_store: ReadOnlyStateStore) -> None:
    rng = random.Random(15)
    lines: list[str] = []
    cards: list[str] = []
    lookalikes: list[str] = []
    # card lines early (the shape is split) and late (matched by the shape's regex; the newest is shown)
    card_at = {5, 100, 270, 290, PER_TEMPLATE - 1}
    for n in range(PER_TEMPLATE):
        for kind in range(3):
            line, card = _line(kind, n, rng, n in card_at)
            lines.append(line)
            cards += [card] if card else []
        line, number = _lookalike(n, rng)
        lines.append(line)
        lookalikes.append(number)
    the_plan = plan_over_loki(lines, state_store)
    written = the_plan.model_dump_json()
    digits = "".join(c for c in written if c.isdigit() or c in " -")
    leaked = [c for c in cards if any(form in text for form in (c, _grouped(c, " "), _grouped(c, "-"))
                                      for text in (written, digits))]  # fmt: skip
    assert not leaked, f"{len(leaked)} of {len(cards)} card numbers in the plan, e.g. {leaked[0]}"
    assert any(number in written for number in lookalikes)  # not a card: the newest charge line shows it
    grouped, skipped = per_line([LogEntry(ts_ns=BASE + i, line=line, labels=LABELS) for i, line in enumerate(lines)],
                                ORDERS)  # fmt: skip
    assert skipped == 0
    expected = {i.fingerprint: i.count for i in grouped.incidents()}
    assert the_plan.windows[0].lines == len(lines)
    assert {p.incident.fingerprint: p.incident.count for p in the_plan.incidents} == expected
    assert sum(expected.values()) == len(lines) == 4 * PER_TEMPLATE


def _random_line(rng: random.Random, n: int) -> str:
    """A line of one of a few templates whose ids are random, with card numbers, look-alikes and long digit
    stretches (some Luhn-valid) turning up in its runs at random."""
    kind = n % 5
    roll = rng.random()
    if roll < 0.1:
        number = _card(rng)
    elif roll < 0.2:
        number = _card(rng, luhn=False)
    else:
        number = rng.choice("123456789") + "".join(rng.choice("0123456789") for _ in range(15))
    if kind == 0:
        at = rng.randrange(0, 17)
        trace = "".join(rng.choice("0123456789abcdef") for _ in range(32))
        if roll < 0.3:
            trace = trace[:at] + number + trace[at + 16 :]
        return f'level=error msg="payment {4000 + n} failed" trace_id={trace} span_id={rng.getrandbits(64):016x}'
    if kind == 1:
        return f'level=error msg="refund {4000 + n} failed for card {_grouped(number, " ")}"'
    if kind == 2:
        return f'level=error msg="hold {4000 + n} failed on {_grouped(number, "-")}" zone=eu'
    if kind == 3:
        stamp = 1_764_000_000_000 + n * 1237  # 13 digits starting with 1: never a card
        return json.dumps({"@timestamp": stamp, "level": "ERROR", "message": f"charge {number} failed",
                           "trace_id": f"{rng.getrandbits(128):032x}"})  # fmt: skip
    return f"ERROR order {4000 + n} failed card={number[:4]} {number[4:8]}-{number[8:]} code={rng.randrange(10**4)}"


def test_lines_with_card_like_runs_are_counted_as_parsing_each_in_full_gives() -> None:
    rng = random.Random(1515)
    entries = [LogEntry(ts_ns=BASE + n, line=_random_line(rng, n), labels={"service_name": "orders"})
               for n in range(3000)]  # fmt: skip
    grouped, skipped = per_line(entries, SMAP)
    assert (
        ingested(entries, Ingest(SMAP)) == summarise(grouped.incidents(), skipped) == summarise(grouped.incidents(), 0)
    )


def test_a_number_that_fails_the_luhn_check_is_counted_from_its_runs() -> None:
    rng = random.Random(7)
    entries = [LogEntry(ts_ns=BASE + n, line=_lookalike(n, rng)[0], labels={"service_name": "orders"})
               for n in range(400)]  # fmt: skip
    ingest = Ingest(SMAP)
    figures = ingested(entries, ingest)
    grouped, skipped = per_line(entries, SMAP)
    assert skipped == 0
    assert figures == summarise(grouped.incidents(), 0)
    assert ingest.parsed_in_full == 1  # the shape's first line: every other is counted from its runs
