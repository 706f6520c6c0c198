"""Card numbers in the runs of a later line of a shape: counted from its runs, such a line would carry
what a full parse redacts (a trace id, a message value) into the plan."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from error_autopilot.domain.events import LogEntry
from error_autopilot.incidents.cards import CardSpans, _spans_of, card_spans
from error_autopilot.incidents.ingest import Ingest
from error_autopilot.incidents.layouts import varying_runs
from error_autopilot.incidents.runs import find_clock, kinds, split
from error_autopilot.redaction import CARD_START, luhn_card
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


def test_a_card_number_in_a_shapes_first_line_leaves_its_later_lines_counted_from_their_runs() -> None:
    rng = random.Random(8)
    first = f'level=error msg="charge 4000 held" ref={_card(rng)}'
    entries = [LogEntry(ts_ns=BASE, line=first, labels={"service_name": "orders"})]
    entries += [LogEntry(ts_ns=BASE + n, line=_lookalike(n, rng)[0], labels={"service_name": "orders"})
                for n in range(1, 400)]  # fmt: skip
    ingest = Ingest(SMAP)
    figures = ingested(entries, ingest)
    grouped, skipped = per_line(entries, SMAP)
    assert skipped == 0
    assert figures == summarise(grouped.incidents(), 0)
    assert ingest.parsed_in_full == 2  # the card's line, and the next one, which makes the shape


def test_lines_that_each_hold_a_card_number_are_each_parsed_in_full() -> None:
    rng = random.Random(9)
    entries = [LogEntry(ts_ns=BASE + n, line=f'level=error msg="charge {4000 + n} held" ref={_card(rng)}',
                        labels={"service_name": "orders"}) for n in range(50)]  # fmt: skip
    ingest = Ingest(SMAP)
    figures = ingested(entries, ingest)
    grouped, _ = per_line(entries, SMAP)
    assert figures == summarise(grouped.incidents(), 0)
    assert ingest.parsed_in_full == len(entries)


# lines of a shape: `d` a varying run of digits, `l` of hex digits and letters (each as long as the braces say)
SHAPES = (
    "ref %+{d17} failed",
    "%20{d16} at start, then {d6}",
    "card {d4} {d4}-{d4} {d4} declined",
    'level=error ts={d13} trace_id={l32} span_id={l16} msg="x"',
    "traceparent=00-{l32}-{l16}-01 and 12345-{d9}",
    "order {d9}{d4}",
    "id 41-{d12} and 5-{d8} 1234",
)


def _fill(shape: str, rng: random.Random) -> str:
    """The shape with every run filled at random: some runs of digits hold a card number, some hex runs 13
    digits or more in a row."""
    out, at = [], 0
    while (start := shape.find("{", at)) >= 0:
        end = shape.index("}", start)
        kind, length = shape[start + 1], int(shape[start + 2 : end])
        if kind == "d":
            run = "".join(rng.choice("0123456789") for _ in range(length))
            if length >= 4 and rng.random() < 0.3:  # a card number's start, or all of it
                body = rng.choice("23456") + "".join(rng.choice("0123456789") for _ in range(14))
                run = (body + luhn_digit(body))[:length] + run[16:]
            run = rng.choice("123456789") + run[1:] if rng.random() < 0.5 else run
        else:
            run = "".join(rng.choice("0123456789" if rng.random() < 0.8 else "abcdef") for _ in range(length))
            run = run[:-1] + "a" if run.isdigit() else run
        out += [shape[at:start], run]
        at = end + 1
    return "".join([*out, shape[at:]])


def _searched_span_by_span(line: str, spans: tuple[tuple[int, int, bool], ...]) -> bool:
    """What the card check said before its shortcuts: `CARD_START` searched in each span, then Luhn."""
    for start, end, _ in spans:
        if re.compile(CARD_START).search(line, start, end) is not None:
            return luhn_card(line)
    return False


def test_a_lines_card_check_says_what_searching_each_span_says() -> None:
    rng = random.Random(1504)
    checked = carded = 0
    for shape in SHAPES:
        first = _fill(shape, rng)
        parts = split(first, find_clock(first))
        runs = parts[1::2]
        varying = varying_runs(parts[0::2], kinds(runs), tuple(map(len, runs)))
        spans = card_spans(parts, varying)
        assert spans, shape
        check = CardSpans(spans)
        for _ in range(3000):
            line = _fill(shape, rng)
            other = split(line, find_clock(line))
            if other[0::2] != parts[0::2] or kinds(other[1::2]) != kinds(runs):
                continue  # of another shape
            expected = _searched_span_by_span(line, spans)
            assert check.within(line) == expected, line
            checked += 1
            carded += expected
    assert checked > 10000 and carded > 100


def test_a_shapes_card_spans_are_where_a_search_of_the_whole_line_finds_joined_digits() -> None:
    """`card_spans` looks for joined digits only in rows of 13 digits, spaces or dashes: it finds what a search
    of the whole line finds."""
    rng = random.Random(1515)
    pieces = ("1", "4242", "0" * 7, "9" * 13, "x", "x", " ", "-", "--", "  ", "é", "\u0660", "ab", "12 34", "5-6")
    for _ in range(3000):
        parts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 12))) for _ in range(rng.choice((1, 3, 5)))]
        varying = tuple(i for i in range(len(parts) // 2) if rng.random() < 0.7)
        assert card_spans(parts, varying) == _spans_searching_the_whole_line(parts, varying), parts


def _spans_searching_the_whole_line(parts: list[str], varying: tuple[int, ...]) -> tuple[tuple[int, int, bool], ...]:
    """`card_spans` as it was written first: one search over the whole line."""
    as_digits = str.maketrans("123456789abcdefABCDEF", "0" * 21)
    texts: list[str] = []
    spans: list[tuple[int, int]] = []
    digit_runs: set[tuple[int, int]] = set()
    at = 0
    for n, part in enumerate(parts):
        free = n % 2 and n // 2 in varying
        if free:
            spans.append((at, at + len(part)))
            if part.isdigit() and "%" not in texts[-1][-2:]:
                digit_runs.add((at, at + len(part)))
        texts.append(part.translate(as_digits) if free else part)
        at += len(part)
    found = []
    for match in re.finditer(r"\d(?:[ -]?\d){12,}", "".join(texts)):
        start, end = match.span()
        digits = sum(c.isdigit() for c in match.group())
        if any(a < end + 2 and b > start - 2 for a, b in spans):
            if (start, end) not in digit_runs:
                found.append((start, end, False))
            elif digits <= 19:
                found.append((start, end, True))
    return tuple(found)


def test_card_spans_remembered_by_a_lines_profile_are_those_of_the_line_itself() -> None:
    """Lines that differ in one character keep their own card spans when that character is read (a digit for a
    hex letter or another character, a space, dash or `%` for another), and share them when it is not."""
    rng = random.Random(1518)
    pieces = ("4111", "1111", "12", "7", " ", "-", "%", "%2", "a", "bcd", "ABC", "x", "é", "\u0661\u0662", "=", "0000")
    for _ in range(4000):
        line = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 16)))
        if rng.random() < 0.5:  # one character changed: most lines have their profile's spans remembered
            at = rng.randrange(len(line))
            line = line[:at] + rng.choice("09aF -%x\u0661") + line[at + 1 :]
        parts = split(line, find_clock(line))
        varying = tuple(i for i in range(len(parts) // 2) if rng.random() < 0.7)
        digits = tuple(i for i in varying if parts[2 * i + 1].isdigit())
        as_written = _spans_of.__wrapped__("".join(parts[0::2]), tuple(map(len, parts[0::2])), tuple(parts[1::2]),
                                           varying, digits)  # fmt: skip
        assert card_spans(parts, varying) == as_written, (line, varying)
