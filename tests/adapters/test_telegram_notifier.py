"""TelegramNotifier against the fake Bot API: escaping, splitting, 429, failures, silent hours."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from error_autopilot.domain.decisions import RuleOutcome
from error_autopilot.domain.report import LifecycleEvent, PublishedIncident, RunReport
from error_autopilot.investigation.sanitize import Redactor
from error_autopilot.sinks.telegram import Span, TelegramNotifier, split_messages
from tests.support.fakes.telegram import FakeTelegram, parse_html, utf16_len

NOON = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CHAT = "-1001234567890"


@pytest.fixture(scope="module")
def shared_fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest.fixture
def fake(shared_fake: FakeTelegram) -> Iterator[FakeTelegram]:
    shared_fake.reset()
    shared_fake.server.unexpected.clear()
    yield shared_fake
    assert shared_fake.server.unexpected == []


def incident(n: int = 1, **overrides: object) -> PublishedIncident:
    fields: dict[str, object] = {
        "fingerprint": f"{n:016x}",
        "service": "user-service",
        "environment": "prod",
        "title": f"NullPointerException in findById #{n}",
        "status": "new",
        "count": 3,
        "issue_url": f"https://github.com/acme/user-service/issues/{n}",
        "issue_number": n,
        "issue_action": "created",
        "culprit": "user-service UserRepository.kt:42",
    }
    fields.update(overrides)
    return PublishedIncident.model_validate(fields)


def report(*incidents: PublishedIncident) -> RunReport:
    return RunReport(run_id="r1", trigger="schedule", started_at=NOON, finished_at=NOON, incidents=incidents)


def notifier(fake: FakeTelegram, sleeps: list[float] | None = None, **kw: object) -> TelegramNotifier:
    client = httpx.Client(base_url=f"{fake.api_url}/bot{fake.token}")
    defaults: dict[str, object] = {
        "chats": {"prod": CHAT},
        "silent_hours": None,
        "redactor": Redactor(),
        "clock": lambda: NOON,
        "sleep": (sleeps if sleeps is not None else []).append,
    }
    defaults.update(kw)
    return TelegramNotifier(client, **defaults)  # type: ignore[arg-type]


def test_new_incident_message_has_links_culprit_and_escaped_title(fake: FakeTelegram) -> None:
    hostile = incident(title="<script>alert('x')</script> & <b>bold</b> token=ghp_" + "a" * 36)
    pr = incident(
        2,
        status="regressed",
        pr_url="https://github.com/acme/user-service/pull/7",
        pr_number=7,
        policy_refusals=(RuleOutcome(rule="max_files", passed=False, detail="3 > 1"),),
    )
    recurring = incident(3, status="recurring", service="billing", count=12)
    lines = notifier(fake, run_url="https://github.com/acme/ops/actions/runs/1").notify(report(hostile, pr, recurring))
    assert lines == [f"telegram {CHAT} (prod): sent 1 message(s)"]
    [sent] = fake.sent
    assert sent["parse_mode"] == "HTML" and sent["chat_id"] == CHAT
    text = sent["text"]
    assert "&lt;script&gt;" in text and "<script>" not in text and "&amp; &lt;b&gt;bold" in text
    assert "ghp_" not in text
    visible = parse_html(text)
    assert visible.index("#1") < visible.index("#2") < visible.index("1 recurring: billing ×12")
    assert '<a href="https://github.com/acme/user-service/pull/7">draft PR #7</a>' in text
    assert "<code>user-service UserRepository.kt:42</code>" in text
    assert "1 auto-fix step(s) refused by policy" in visible and ">run</a>" in text
    first = visible.split("\n")[1:4]  # answer first: what and how often, where, then the links
    assert first[0].startswith("🆕 ") and first[0].endswith(" ×3 · user-service") and first[1].startswith("   at ")
    assert first[2].startswith("   issue #1")


def test_a_refused_fix_says_which_rule_in_one_line(fake: FakeTelegram) -> None:
    refused = incident(policy_refusals=(RuleOutcome(rule="environment allows auto-fix", passed=False,
                                                    detail="environment 'prod' has auto_fix=False"),))  # fmt: skip
    notifier(fake).notify(report(refused))
    assert "   no draft PR: environment allows auto-fix — environment 'prod' has auto_fix=False" in parse_html(
        fake.sent[0]["text"]
    ).split("\n")


def test_long_reports_are_split_at_line_boundaries_under_the_limit(fake: FakeTelegram) -> None:
    many = [incident(n, title=f"Error <{n}> " + "x" * 150) for n in range(1, 80)]
    lines = notifier(fake).notify(report(*many))
    assert len(fake.sent) >= 3
    assert lines == [f"telegram {CHAT} (prod): sent {len(fake.sent)} message(s)"]
    visible = [parse_html(m["text"]) for m in fake.sent]  # every part parses: no tag was cut
    assert all(utf16_len(v) <= 4096 for v in visible)
    joined = "\n".join(visible)
    assert all(f"Error <{n}>" in joined for n in range(1, 80))


def test_a_single_overlong_line_is_cut_before_markup() -> None:
    [only] = split_messages([(Span("a" * 5000, "b"),), (Span("tail"),)])[:1]
    assert only.startswith("<b>") and only.endswith("…</b>") and utf16_len(parse_html(only)) == 4096


def test_429_retry_after_is_honoured_then_sent(fake: FakeTelegram) -> None:
    fake.rate_limit("sendMessage", 7)
    sleeps: list[float] = []
    lines = notifier(fake, sleeps).notify(report(incident()))
    assert sleeps == [7.0] and len(fake.sent) == 1
    assert lines == [f"telegram {CHAT} (prod): sent 1 message(s)"]


def test_a_retry_after_longer_than_we_wait_fails_without_sleeping(fake: FakeTelegram) -> None:
    fake.rate_limit("sendMessage", 3600)
    sleeps: list[float] = []
    [line] = notifier(fake, sleeps).notify(report(incident()))
    assert sleeps == [] and fake.sent == []
    assert "failed: Too Many Requests: retry after 3600" in line


def test_failure_returns_a_line_and_never_raises(fake: FakeTelegram, caplog: pytest.LogCaptureFixture) -> None:
    fake.unknown_chats.add(int(CHAT))
    [line] = notifier(fake).notify(report(incident()))
    assert line == f"telegram {CHAT} (prod): sent 0 of 1 message(s); failed: Bad Request: chat not found"
    assert "chat not found" in caplog.text


def test_unreachable_telegram_returns_a_line(fake: FakeTelegram) -> None:
    dead = httpx.Client(base_url="http://127.0.0.1:9/bot1:x", timeout=0.5)
    sleeps: list[float] = []
    [line] = TelegramNotifier(
        dead, chats={"prod": CHAT}, silent_hours=None, redactor=Redactor(), sleep=sleeps.append
    ).notify(report(incident()))
    assert "failed: ConnectError" in line and len(sleeps) == 2


@pytest.mark.parametrize(("hours", "silent"), [((22, 7), False), ((11, 13), True), ((10, 2), True), ((0, 0), False)])
def test_silent_hours_set_disable_notification(fake: FakeTelegram, hours: tuple[int, int], silent: bool) -> None:
    [line] = notifier(fake, silent_hours=hours).notify(report(incident()))
    assert fake.sent[0].get("disable_notification", False) is silent
    assert line.endswith(" silently") is silent


def test_nothing_new_sends_nothing(fake: FakeTelegram) -> None:
    assert notifier(fake).notify(report()) == []
    lines = notifier(fake).notify(report(incident(status="recurring"), incident(2, status="muted")))
    assert lines == [f"telegram {CHAT} (prod): nothing new, no message"] and fake.sent == []


def test_one_message_per_environment_chat(fake: FakeTelegram) -> None:
    chats = {"prod": CHAT, "dev": "-100555"}
    lines = notifier(fake, chats=chats).notify(
        report(incident(), incident(2, environment="dev"), incident(3, environment="qa"))
    )
    assert sorted(m["chat_id"] for m in fake.sent) == sorted(chats.values())
    assert "telegram: no chat configured for qa; its news was not sent" in lines


def test_a_verified_fix_is_news_and_a_regression_names_its_fix(fake: FakeTelegram) -> None:
    verified = LifecycleEvent(kind="verified", fingerprint="a" * 16, service="orders", title="KeyError <in> orders",
                              issue_url="https://github.com/acme/orders/issues/1",
                              detail="verified fixed in 1.5.0 (prod)", environment="prod")  # fmt: skip
    quiet = report(incident(status="recurring")).model_copy(update={"lifecycle": (verified,)})
    assert notifier(fake).notify(quiet) == [f"telegram {CHAT} (prod): sent 1 message(s)"]
    visible = parse_html(fake.sent[0]["text"])
    assert "✅ KeyError <in> orders — verified fixed in 1.5.0 (prod)" in visible.split("\n")
    fake.reset()
    back = incident(2, status="regressed", note="fix 1a2b3c4d5e6f is in 1.5.0 and the error came back")
    notifier(fake).notify(report(back))
    assert "   fix 1a2b3c4d5e6f is in 1.5.0 and the error came back" in parse_html(fake.sent[0]["text"]).split("\n")
