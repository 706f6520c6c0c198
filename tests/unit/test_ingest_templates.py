"""A skeleton's template matches a line exactly when the line has that skeleton, run kinds and constant
text (but for its stretches with digits), a shape's template exactly when splitting gives that shape, and a
line of a known skeleton is read as splitting it reads: the fast paths of `Ingest.parse` read the same runs
(and find the same shape) as the split they skip."""

from __future__ import annotations

import json
import random
import re

import pytest

from error_autopilot.domain.events import LogEntry
from error_autopilot.incidents.cards import card_check, card_spans
from error_autopilot.incidents.ingest import Ingest
from error_autopilot.incidents.layouts import Layouts, clock_certain, skeleton, varying_runs
from error_autopilot.incidents.runs import (
    CLOCK,
    CLOCK_WITHIN,
    RUN,
    find_clock,
    kinds,
    shape_template,
    skeleton_template,
    split,
)
from error_autopilot.incidents.shapes import Shape
from tests.support.grouping_corpus import SMAP, summarise
from tests.support.ingest_paths import ingested, luhn_digit, per_line

LINES = [
    "2026-11-25T03:17:42.123Z ERROR [order-service,4bf92f3577b34da6a3ce929d0e0e4736,00f067aa0ba902b7] failed",
    '{"time":"03:17:42","id":"4bf92f35","again":"4bf92f35","n":"1234","up":"ABCD1234EF"} 12:00:00',
    "ab12:34:56 a clock after a varying run, 1a2b3c4d5e and id 77aa88bb-00 order 123456",
    "12:34:56,abcd1234 a clock, then a comma and an id",
    "deadbeef12 at start, then cafe and face (words), id 0x1f2e3d4c, user 123456 done",
    "abc12:34:56 clock right after hex letters, then ABCDEF0123 upper and AbCd1234 mixed",
    "12:34:56,9 a clock first, then 1234 and 98765 and -abcd1234 and add1234 and 3.1415",
    'level=error msg="timeout after 1500 ms for order 424242" trace_id=0af7651916cd43dd8448eb211c80319c',
    "no runs at all here",
    "1234",
]
HEX = "0123456789abcdefABCDEF"
OTHER = "xyz :.-_/ \n\tQ"


def _variant(line: str, rng: random.Random) -> str:
    """The line with some characters replaced: hex runs that keep or change their length, hex letters
    next to runs, colons and digits near the clock."""
    chars = list(line)
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(chars))
        chars[i] = rng.choice(HEX if rng.random() < 0.7 else OTHER)
    return "".join(chars)


def _digit_stretches(consts: list[str]) -> list[tuple[int, int, int]]:
    """Where the constant text has a stretch of hex digits holding a digit (const, start, end): a skeleton's
    template lets those differ."""
    return [(n, *m.span()) for n, c in enumerate(consts) for m in re.finditer("[0-9a-fA-F]+", c)
            if not m.group().isalpha()]  # fmt: skip


def _blanked(consts: list[str], stretches: list[tuple[int, int, int]]) -> list[str]:
    """The constant text with those stretches blanked."""
    out = list(consts)
    for n, start, end in stretches:
        out[n] = out[n][:start] + "#" * (end - start) + out[n][end:]
    return out


@pytest.mark.parametrize("line", LINES)
def test_a_skeleton_template_matches_exactly_the_lines_of_its_skeleton_kinds_and_words(line: str) -> None:
    rng = random.Random(line)
    clock = CLOCK.search(line, 0, CLOCK_WITHIN)
    parts = split(line, clock)
    runs = parts[1::2]
    varying = _varying(parts)
    template, run_groups, key_groups = skeleton_template(parts, kinds(runs), varying)
    span = clock.span() if clock else None
    stretches = _digit_stretches(parts[0::2])
    matched = differed = 0
    for _ in range(3000):
        other = rng.choice((_variant(line, rng), _variant(_variant(line, rng), rng)))
        other_clock = CLOCK.search(other, 0, CLOCK_WITHIN)
        if (other_clock.span() if other_clock else None) != span:
            continue  # parse looks templates up by span
        other_parts = split(other, other_clock)
        other_runs = other_parts[1::2]
        same = (
            skeleton(other) == skeleton(line)
            and kinds(other_runs) == kinds(runs)
            and _blanked(other_parts[0::2], stretches) == _blanked(parts[0::2], stretches)
        )
        match = template.fullmatch(other)
        assert (match is not None) == same, (line, other)
        if match is not None:
            assert [match.group(g) for g in run_groups] == other_runs
            fixed = [r for i, r in enumerate(other_runs) if i not in varying]
            texts = [other_parts[2 * n][start:end] for n, start, end in stretches]
            assert sorted(match.group(g) for g in key_groups) == sorted(fixed + texts)
            matched += 1
        else:
            differed += 1
    assert matched and differed  # both sides of the equivalence were exercised


def _varying(parts: list[str]) -> tuple[int, ...]:
    runs = parts[1::2]
    return varying_runs(parts[0::2], kinds(runs), tuple(map(len, runs)))


def _shape(line: str) -> tuple[object, ...]:
    """What `Ingest.parse` finds a line's shape by: clock span, layout, kinds, the runs that must match."""
    clock = CLOCK.search(line, 0, CLOCK_WITHIN)
    parts = split(line, clock)
    runs = parts[1::2]
    varying = _varying(parts)
    fixed = tuple(r for i, r in enumerate(runs) if i not in varying)
    return (clock.span() if clock else None, parts[0::2], tuple(map(len, runs)), kinds(runs), fixed)


@pytest.mark.parametrize("line", LINES)
def test_a_shape_template_matches_exactly_the_lines_of_its_shape(line: str) -> None:
    rng = random.Random(line)
    clock = CLOCK.search(line, 0, CLOCK_WITHIN)
    parts = split(line, clock)
    runs = parts[1::2]
    varying = _varying(parts)
    groups: dict[str, list[int]] = {}
    for i in varying:
        groups.setdefault(runs[i], []).append(i)
    same = [g for g in groups.values() if len(g) > 1]  # equal in the shape's first line: must stay equal
    template = shape_template(parts, clock, varying, same)
    if template is None:  # a varying run of mixed case: such lines are split
        assert "m" in kinds([runs[i] for i in varying]), line
        return
    shape = _shape(line)
    matched = differed = 0
    for _ in range(3000):
        other = rng.choice((_variant(line, rng), _variant(_variant(line, rng), rng)))
        other_runs = split(other, CLOCK.search(other, 0, CLOCK_WITHIN))[1::2]
        of_shape = _shape(other) == shape and all(len({other_runs[i] for i in g}) == 1 for g in same)
        match = template.fullmatch(other)
        assert (match is not None) == of_shape, (line, other)
        if match is not None:
            assert list(match.groups()) == other_runs
            matched += 1
        else:
            differed += 1
    assert matched and differed


@pytest.mark.parametrize(
    ("line", "templated"),
    [
        ("id 12ab:00:00 then 12:34:56 the clock", True),  # `12ab` must match exactly: no clock can form there
        ("id -12ab:00:00 then 12:34:56 the clock", False),  # `-12ab` varies: `-1234:00:00` has its clock first
        ("a mixed-case id AbCd1234 varies", False),
    ],
)
def test_no_shape_template_where_a_regex_could_not_say_it_simply(line: str, templated: bool) -> None:
    clock = CLOCK.search(line, 0, CLOCK_WITHIN)
    parts = split(line, clock)
    assert (shape_template(parts, clock, _varying(parts), ()) is not None) == templated


def _runs_by_hand(text: str) -> list[str]:
    """`text` as constant text and runs, alternating, read one character at a time: a run is a stretch of four
    or more hex digits with none next to it."""
    parts: list[str] = []
    const_from = at = 0
    while at < len(text):
        end = at
        while end < len(text) and text[end] in HEX:
            end += 1
        if end - at >= 4:
            parts += [text[const_from:at], text[at:end]]
            const_from = end
        at = max(end, at + 1)
    return [*parts, text[const_from:]]


def test_runs_are_the_stretches_of_four_hex_digits_or_more() -> None:
    rng = random.Random(15)
    lines = [*LINES, *("".join(rng.choice(HEX + OTHER) for _ in range(rng.randint(0, 60))) for _ in range(5000))]
    for line in lines:
        assert RUN.split(line) == _runs_by_hand(line), line


@pytest.mark.parametrize("line", LINES)
def test_a_line_of_a_known_skeleton_is_read_as_splitting_it_reads(line: str) -> None:
    rng = random.Random(line)
    layouts = Layouts()
    by_key: dict[tuple[object, ...], Shape] = {}
    lines = [line]
    for _ in range(4000):  # variants of variants: most keep the skeleton, many past its template
        base = rng.choice(lines[-50:])
        chars = list(_variant(base, rng))
        if rng.random() < 0.5:  # the same skeleton: hex digits for hex digits (a storm's ids and numbers)
            chars = [rng.choice(HEX) if c in HEX and rng.random() < 0.3 else c for c in rng.choice(lines[:20])]
        elif rng.random() < 0.1:  # characters a skeleton's translation must not confuse with a hex digit
            chars[rng.randrange(len(chars))] = rng.choice(["x", "\x00", "\x01", "\x80", "é", "\u0660"])
        lines.append("".join(chars))
    for other in lines * 2:
        clock = CLOCK.search(other, 0, CLOCK_WITHIN)
        span = clock.span() if clock else None
        parts = split(other, clock)
        runs, by_kind, lengths, shape, _ = layouts.find(other, 0)
        assert list(runs) == parts[1::2], other
        assert lengths == tuple(map(len, parts[1::2]))
        assert (by_kind.kinds, by_kind.varying) == (kinds(runs), _varying(parts)), other
        # a shape is found by its skeleton and all that splitting says of the line but its varying runs' values
        key = (skeleton(other), span, *(tuple(p) if isinstance(p, list) else p for p in _shape(other)))
        if shape is None:
            assert key not in by_key, other
            shape = by_key[key] = Shape(str(len(by_key)))
            layouts.keep(other, by_kind, shape)
        assert by_key[key] is shape, other
    assert len(by_key) > 100
    assert layouts._templates or layouts._certain, "no skeleton was read by its template"


CLOCK_PIECES = ("7", "12", "12:34", ":56", "12:34:56", ".123", ",9", ":", "x", "a", " ", "\u0660\u0661", "1234567")


def test_the_clock_is_found_where_clock_finds_it() -> None:
    rng = random.Random(1515)
    for _ in range(20000):
        line = "".join(rng.choice(CLOCK_PIECES) for _ in range(rng.randint(0, 16)))
        found, expected = find_clock(line), CLOCK.search(line, 0, CLOCK_WITHIN)
        assert (found.span() if found else None) == (expected.span() if expected else None), line
    assert sum(find_clock(line) is not None for line in LINES) >= 5


def test_a_template_tried_before_the_clock_only_matches_lines_with_its_clock() -> None:
    """A skeleton's template whose clock is certain is tried before the clock is looked for: every line it
    matches has its clock (or none) where its first line had, however the digits and hex digits differ."""
    rng = random.Random(1516)
    pieces = (*CLOCK_PIECES, "ab", "1a", "cafe", "-", "Z", "T", "0")
    certain = 0
    for _ in range(3000):
        line = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 14)))
        clock = find_clock(line)
        if not clock_certain(line, clock):
            continue
        certain += 1
        parts = split(line, clock)
        found = kinds(parts[1::2])
        regex, _, _ = skeleton_template(parts, found, varying_runs(parts[0::2], found, list(map(len, parts[1::2]))))
        for _ in range(40):  # its hex digits and digits changed: those a template lets differ
            other = "".join(rng.choice(HEX) if c in HEX and rng.random() < 0.5 else c for c in line)
            if regex.fullmatch(other) is not None:
                found = find_clock(other)
                assert (found.span() if found else None) == (clock.span() if clock else None), (line, other)
    assert certain > 500


def _storm_line(rng: random.Random, bug: int) -> str:
    """A line of one of many bugs that share skeletons: bugs differ in a short number (`step 7`, a frame's
    `settle12`), a hex word of the same length (`bad`, `fed`), or a number joined to a name (`Settle1234`);
    ids, trace ids and 16-digit references (now and then a card number) vary on every line."""
    word = ("bad", "fed", "cab", "add")[bug // 4 % 4]
    ref = "".join(rng.choice("0123456789") for _ in range(15))
    ref = ("4" + ref[1:] + luhn_digit("4" + ref[1:])) if rng.random() < 0.05 else ref + rng.choice("0123456789")
    trace = f"{rng.getrandbits(128):032x}"
    lines = (
        f'level=error msg="{word} order {rng.randint(100000, 999999)} failed at step {bug % 97}" trace_id={trace}',
        f"ERROR Settle{1000 + bug} failed for payment {rng.randint(100000, 999999)} ref {ref} ({word})",
        json.dumps({"level": "error", "message": f"invoice {rng.randint(10000, 99999)} {word} in zone {bug % 9}",
                    "trace_id": trace, "line": bug % 50}),
        f"java.lang.IllegalStateException: order {rng.randint(100000, 999999)} {word} trace_id={trace}\n"
        f"\tat com.acme.pay.Ledger.settle{bug % 40}(Ledger.java:31)\n\tat com.acme.pay.Api.post(Api.java:12)",
    )  # fmt: skip
    return lines[bug % 4]


def test_a_line_a_template_says_holds_no_card_number_holds_none_its_shape_could_show() -> None:
    """A skeleton's template made with its first shape's card check says, by the same match, which lines pass
    that check's first test: only lines `CardSpans.within` says hold no card number, and only for shapes with
    that check."""
    rng = random.Random(1517)
    layouts = Layouts()
    passed = held = 0
    for _ in range(3000):
        ref = "".join(rng.choice("0123456789") for _ in range(15))
        ref = ("4" + ref[1:] + luhn_digit("4" + ref[1:])) if rng.random() < 0.1 else ref + rng.choice("0123456789")
        line = f"ERROR Settle{rng.choice((1234, 5678))} failed for {rng.randint(100000, 999999)} ref {ref} ({ref[:4]})"
        _, by_kind, _, shape, checked = layouts.find(line, 0)
        if shape is None:
            parts = split(line, None)
            shape = Shape("bug", cards=card_check(card_spans(parts, by_kind.varying)))
            layouts.keep(line, by_kind, shape)
        assert shape.cards is not None
        within = shape.cards.within(line)
        held += within
        if checked is not None:
            assert checked is shape.cards and not within, line
            passed += 1
    assert passed > 1000 and held > 100, (passed, held)


def test_lines_read_by_a_skeletons_template_are_counted_as_parsing_each_in_full_gives() -> None:
    rng = random.Random(1515)
    entries = [LogEntry(ts_ns=1_795_000_000_000_000_000 + i * 1000, line=_storm_line(rng, rng.randrange(60)),
                        labels={"service_name": "orders"}) for i in range(6000)]  # fmt: skip
    grouped, skipped = per_line(entries, SMAP)
    ingest = Ingest(SMAP)
    assert ingested(entries, ingest) == summarise(grouped.incidents(), skipped)
    assert len(grouped.incidents()) > 40
    assert ingest._layouts._templates or ingest._layouts._certain, "no skeleton was read by its template"
    assert ingest.parsed_in_full < 1000  # most lines were counted from their runs
