"""The ingest path: grouping identical to parsing every line (recorded from the per-line path before the
ingest path existed), each shape parsed once, and no secret of a varying part reaching the plan."""

from __future__ import annotations

import base64
import json
import random
import string
from pathlib import Path

import pytest

from error_autopilot.domain.events import LogEntry
from error_autopilot.incidents.ingest import Admission, Ingest
from error_autopilot.state.store import ReadOnlyStateStore
from tests.support.grouping_corpus import RECORDED, SMAP, _storm, corpora, summarise
from tests.support.ingest_paths import ingested, luhn_digit, per_line, plan_over_loki
from tests.support.stores import empty_state_store

CORPORA = corpora()
BASE = 1_795_000_000_000_000_000
RECORDED_FIGURES = json.loads(RECORDED.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(CORPORA))
def test_grouping_is_what_parsing_every_line_gave(name: str) -> None:
    expected = RECORDED_FIGURES[name]
    assert ingested(CORPORA[name], Ingest(SMAP)) == expected
    grouped, skipped = per_line(CORPORA[name], SMAP)  # the recording still describes the per-line path
    assert summarise(grouped.incidents(), skipped) == expected


def test_a_storm_is_parsed_once_per_shape_and_counted_exactly() -> None:
    entries = list(_storm(4000, 8, repeat_every=5))
    ingest = Ingest(SMAP)
    figures = ingested(entries, ingest)
    incidents = figures["incidents"]
    assert isinstance(incidents, list) and len(incidents) == 8
    assert sum(i["count"] for i in incidents) == len(entries)
    # a shape per bug, per length of its ids and per minute of the JVM bug's text: far fewer than the lines
    assert ingest.parsed_in_full < len(entries) / 20, ingest.parsed_in_full


def test_a_name_or_number_that_only_looks_like_an_id_still_splits_incidents() -> None:
    lines = [
        'Traceback (most recent call last):\n  File "/app/jobs/run.py", line 3, in add1234\n    x()\nValueError: bad',
        'Traceback (most recent call last):\n  File "/app/jobs/run.py", line 3, in add5678\n    x()\nValueError: bad',
        'Traceback (most recent call last):\n  File "/app/2024/run.py", line 3, in go\n    x()\nValueError: bad',
        'Traceback (most recent call last):\n  File "/app/2025/run.py", line 3, in go\n    x()\nValueError: bad',
        '{"level": "error", "message": "payment failed", "service": "svc-4711"}',
        '{"level": "error", "message": "payment failed", "service": "svc-4712"}',
    ]
    entries = [LogEntry(ts_ns=1_000 + n, line=line, labels={}) for n, line in enumerate(lines * 3)]
    grouped, skipped = per_line(entries, SMAP)
    assert skipped == 0
    assert ingested(entries, Ingest(SMAP)) == summarise(grouped.incidents(), 0)
    assert len(grouped.incidents()) == 6


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def _hostile(rng: random.Random, n: int) -> tuple[str, list[str]]:
    """One line of a few fixed templates whose varying part is a secret; the line and its secrets."""
    kind = n % 5
    if kind == 0:
        secret = _hex(rng, 40)
        return f'level=error msg="cannot refresh order {4000 + n}" token={secret}', [secret]
    if kind == 1:
        part = base64.urlsafe_b64encode(rng.randbytes(30)).decode().rstrip("=")
        jwt = f"eyJhbGciOiJIUzI1NiJ9.{part}.{_hex(rng, 43)}"
        return f"ERROR call {4000 + n} failed: Authorization: Bearer {jwt}", [jwt]
    if kind == 2:
        key = "AKIA" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(16))
        secret = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(40))
        line = f'level=error msg="s3 upload {4000 + n} failed" aws_access_key_id={key} aws_secret_access_key={secret}'
        return line, [key, secret]
    if kind == 3:  # the first of this shape is not a card number (Luhn), the others are
        body = "4" + "".join(rng.choice(string.digits) for _ in range(14))
        check = luhn_digit(body) if n > 3 else str((int(luhn_digit(body)) + 1) % 10)
        return f'level=error msg="charge {4000 + n} declined" card={body}{check}', [body + check]
    secret = _hex(rng, 32)
    trace = _hex(rng, 32)
    return json.dumps({"level": "error", "message": f"job {4000 + n} failed", "api_key": secret,
                       "trace_id": trace}), [secret]  # fmt: skip


@pytest.fixture
def state_store(tmp_path: Path) -> ReadOnlyStateStore:
    return empty_state_store(tmp_path)


def test_no_secret_in_a_varying_part_reaches_the_plan(state_store: ReadOnlyStateStore) -> None:
    rng = random.Random(16)
    secrets: list[str] = []
    lines: list[str] = []
    total = 1500  # 300 lines a template: past the 256 after which a shape is matched by its own regex
    for n in range(total):
        line, found = _hostile(rng, n)
        secrets += found
        lines.append(line)
    the_plan = plan_over_loki(lines, state_store)
    written = the_plan.model_dump_json()
    assert the_plan.windows[0].lines == total and sum(p.incident.count for p in the_plan.incidents) == total
    leaked = [s for s in secrets if s in written or any(s[i : i + 12] in written for i in range(0, len(s) - 12, 6))]
    assert not leaked, f"{len(leaked)} secrets in the plan, e.g. {leaked[0]}"
    shown = [s.text for p in the_plan.incidents for s in p.incident.sample]
    assert len(shown) == 5 * len(the_plan.incidents) and all("[REDACTED:" in text for text in shown)


def test_the_default_loki_limits_read_a_storm_of_a_million_lines_per_half_hour_in_one_run() -> None:
    environment = SMAP.environments["prod"]
    loki = environment.loki
    per_run = 1_000_000 * (1800 + environment.overlap_s) / 1800  # a half-hour schedule re-reads the overlap
    assert loki.page_limit == 5000  # Loki's own cap: fewer lines a page means more round trips
    assert loki.page_limit * loki.max_pages >= 2 * per_run  # room to catch up after a missed run


def test_text_lines_stamped_to_the_millisecond_share_a_shape() -> None:
    entries = []
    for i in range(3000):
        ms = 1_000_000 + i * 1237
        stamp = f"2026-11-25T03:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}Z"
        line = (f"{stamp} ERROR [order-service,{(i + 1) * 7919:032x},{i + 77:016x}] c.a.OrderService - Failed to place "
                f"order {4000 + i}\ncom.acme.order.UserServiceException: no user {5000 + i * 7}\n"
                "\tat com.acme.order.UserClient.getUser(UserClient.java:17)\n"
                "\tat com.acme.order.OrderService.placeOrder(OrderService.java:20)")  # fmt: skip
        entries.append(LogEntry(ts_ns=BASE + ms * 1_000_000, line=line, labels={"service_name": "order-service"}))
    ingest = Ingest(SMAP)
    figures = ingested(entries, ingest)
    grouped, skipped = per_line(entries, SMAP)
    assert skipped == 0
    assert figures == summarise(grouped.incidents(), 0)
    assert ingest.parsed_in_full < 30, ingest.parsed_in_full


def test_a_users_own_redaction_pattern_is_applied_to_every_line() -> None:
    # it reads the digits: some accounts match it and some do not, though their lines have one shape
    smap = SMAP.model_copy(update={"redaction": SMAP.redaction.model_copy(update={"patterns": (r"ACCT-1[0-4]\d{4}",)})})
    entries = [
        LogEntry(ts_ns=BASE + n, labels={"service_name": "orders"},
                 line=f'level=error msg="payment refused for ACCT-{100000 + n * 737}" attempt={4000 + n}')
        for n in range(200)
    ]  # fmt: skip
    grouped, skipped = per_line(entries, smap)
    assert skipped == 0
    ingest = Ingest(smap)
    assert ingested(entries, ingest) == summarise(grouped.incidents(), 0)
    shown = json.dumps([i.model_dump(mode="json") for i in ingest.grouper.incidents()])
    assert len(grouped.incidents()) == 2  # the redacted message and the other one
    assert not [n for n in range(200) if f"ACCT-{100000 + n * 737}" in shown and 100000 + n * 737 < 150000]


def test_a_poll_counts_only_the_errors_its_admission_lets_in() -> None:
    entries = list(_storm(2400, 8))  # 300 lines a bug: the later ones matched by their shape's own regex
    replay_before = entries[1200].ts_ns
    earlier = Ingest(SMAP)
    for entry in entries[:8]:  # one line of each bug
        assert earlier.take(entry, "prod", Admission()) == "counted"
    known = {i.fingerprint: i.service for i in earlier.incidents()}  # bugs counted before: older lines re-read
    ingest = Ingest(SMAP)
    admission = Admission(("web", "payments"), replay_before, known)
    taken = [(ingest.take(e, "prod", admission), e) for e in entries]
    admitted = [(t, e) for t, e in taken if e.labels["service_name"] in ("web", "payments")]
    assert {t for t, e in taken if (t, e) not in admitted} == {"left out"}
    assert {t for t, e in admitted if e.ts_ns < replay_before} == {"replayed"}
    assert {t for t, e in admitted if e.ts_ns >= replay_before} == {"counted"}
    assert sum(i.count for i in ingest.incidents()) == sum(t == "counted" for t, _ in taken) == 2 * 150
    not_an_error = LogEntry(ts_ns=BASE, line="INFO all good", labels={"service_name": "web"})
    assert ingest.take(not_an_error, "prod", Admission()) == "not an error"
