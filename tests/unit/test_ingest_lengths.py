"""Digit runs that change length within a shape (incidents/lengths.py): lines that differ from a shape's
first only there are counted from a shape derived from it, never parsed again, and the grouping is
exactly what parsing every line in full gives, whatever the run's neighbours make of its length: card
numbers of every length, tokens that grow past a rule's threshold, values named by a secret word, parts
of dates, ports, uuids and line numbers, quoted values near their bound."""

from __future__ import annotations

import json
import random

from error_autopilot.domain.events import LogEntry
from error_autopilot.incidents.ingest import Ingest
from error_autopilot.incidents.lengths import MAX_DIGITS, free_runs
from error_autopilot.incidents.runs import split
from tests.support.grouping_corpus import SMAP, summarise
from tests.support.ingest_paths import ingested, luhn_digit, per_line

BASE = 1_795_000_000_000_000_000
LABELS = {"service_name": "orders"}
TEMPLATES = 16


def _digits(rng: random.Random, low: int = 4, high: int = 9) -> str:
    """A number of `low` to `high` digits (past `MAX_DIGITS` at times), never starting with 0."""
    n = rng.randint(low, high)
    return rng.choice("123456789") + "".join(rng.choice("0123456789") for _ in range(n - 1))


def _card_split(rng: random.Random) -> tuple[str, str]:
    """A Luhn-valid card number of 13 to 19 digits, cut in two at a random place (each part 4 digits or more);
    half of them 13 or 14 digits in two parts of at most `MAX_DIGITS`, the lengths a shape's runs may take."""
    short = rng.random() < 0.5
    length = rng.randint(13, 14) if short else rng.randint(13, 19)
    body = rng.choice("3456") + "".join(rng.choice("0123456789") for _ in range(length - 2))
    number = body + luhn_digit(body)
    cut = rng.randint(length - MAX_DIGITS, MAX_DIGITS) if short else rng.randint(4, length - 4)
    return number[:cut], number[cut:]


def _hostile(rng: random.Random, kind: int) -> str:
    """A line of template `kind`; its run `n` takes 4 to 9 digits, and where a rule reads its length the
    rule's answer changes within that range (noted beside each). The first templates put two runs side by
    side that now and then make a card number of 13 to 19 digits between them."""
    n, m = _digits(rng), _digits(rng)
    if kind % TEMPLATES < 3 and rng.random() < 0.3:
        n, m = _card_split(rng)
    trace = f"{rng.getrandbits(128):032x}"
    lines = (
        f'level=error msg="order {n} failed for {m}" trace_id={trace}',  # a card across the two runs
        f'level=error msg="charge {n}-{m} failed" trace_id={trace}',
        f"ERROR refund {n} {m} declined",
        f'level=error msg="post to xoxb-xyz-{n} failed"',  # a Slack token from 10 characters on: 6 digits
        f'level=error msg="auth with Bearer abcdefghij-{n} failed"',  # a bearer token from 16: 5 digits
        f'level=error msg="login failed token=-{n}"',  # named by a secret word: a secret from 6 characters
        f'level=error msg="connect 10.0.0.1:{n} refused"',  # an ip's port has at most 5 digits
        f'level=error msg="batch {n}-11-25 failed"',  # a date's year has 4
        f'level=error msg="at 2026-11-25T03:17:42+{n} failed"',  # a zone offset has 4
        f'level=error msg="lookup deadbeef-{n}-4a5b-8c9d-0123456789ab failed"',  # a uuid's group has 4
        f'level=error msg="addr fe80::{n} down"',  # an IPv6 group has at most 4
        f"level=error msg=\"say '{'x' * 193} {n}z' failed\"",  # a quoted value has at most 200 characters: 5
        f"ERROR job {'y' * 184} {n} Traceback (most recent call last):\n"  # a header at most 200 in: 4 digits
        '  File "/app/jobs/run.py", line 3, in go\n    x()\nValueError: bad',
        f"ERROR boom: failed\n  /app/src/a.php in run at line {n}\n  /app/src/b.php in go at line 34",  # 7 digits
        f'level=error msg="mail to user-{n}@example.com failed" trace_id={trace}',
        json.dumps({"level": "error", "message": f"invoice inv-{n} failed", "order_id": int(m),
                    "exc_info": 'Traceback (most recent call last):\n  File "/app/billing/api.py", line 12, in h\n'
                                "    x()\nKeyError: 'currency'"}),
    )  # fmt: skip
    assert len(lines) == TEMPLATES
    return lines[kind % TEMPLATES]


def test_lines_whose_runs_change_length_are_counted_as_parsing_each_in_full_gives() -> None:
    rng = random.Random(1510)
    entries = [LogEntry(ts_ns=BASE + i * 1000, line=_hostile(rng, i), labels=LABELS) for i in range(5000)]
    grouped, skipped = per_line(entries, SMAP)
    ingest = Ingest(SMAP)
    assert ingested(entries, ingest) == summarise(grouped.incidents(), skipped)
    assert len(grouped.incidents()) > 10


def test_an_id_that_changes_digit_count_costs_no_parse_of_its_own() -> None:
    rng = random.Random(7)
    entries = [LogEntry(ts_ns=BASE + i, line=f"ERROR order {_digits(rng, 4, MAX_DIGITS)} failed: stock gone",
                        labels=LABELS) for i in range(400)]  # fmt: skip
    ingest = Ingest(SMAP)
    figures = ingested(entries, ingest)
    grouped, skipped = per_line(entries, SMAP)
    assert figures == summarise(grouped.incidents(), skipped)
    assert ingest.parsed_in_full == 1  # four lengths, one shape: every other line is counted from its runs


def _free(line: str) -> tuple[int, ...]:
    parts = split(line, None)
    return free_runs(line, parts, range(len(parts) // 2), message_counts=True)


def test_a_run_stays_fixed_in_length_where_a_rule_reads_its_length() -> None:
    assert _free("ERROR order 12345 failed") == (0,)
    assert _free("ERROR fetch /users/12345 failed") == (0,)  # a short path: no token rule reaches 15
    assert _free("ERROR hook xoxb-12345 failed") == ()  # slack: `xoxb-` and ten more
    assert _free("ERROR login failed token=12345") == ()  # a value named by a secret word
    assert _free("ERROR batch 2026-12345 failed") == ()  # a date's year, across a dash from a digit
    assert _free("ERROR host 10.0.0.1:12345 down") == ()  # a port
    assert _free("ERROR ref 12345678 failed") == ()  # past 7 digits: a stack line number would not read
    assert _free("ERROR run 12345 " + "x" * 900) == ()  # a long line: near the caps
    assert _free('{"message": "order 12345", "k": "\\u0074oken"}') == ()  # an escape could spell a name
