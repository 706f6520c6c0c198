"""The Telegram bridge against the fake Bot API and a fake GitHub dispatch endpoint.

Every kind of update a hostile or careless chat can produce has a tested, logged outcome.
`FakeGitHubDispatch` is a minimal stand-in (the shared GitHub fake did not exist when this was
written): `POST /repos/{o}/{r}/dispatches` with GitHub's limits and `GET …/actions/runs`.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from error_autopilot.bridge.config import BridgeConfig
from error_autopilot.bridge.dispatcher import GitHubDispatcher, github_client
from error_autopilot.bridge.service import Bridge, run_bridge
from error_autopilot.bridge.state import load_state
from error_autopilot.bridge.telegram_api import TelegramApi, TelegramConflict
from error_autopilot.demo.httpserver import LoopbackServer, Request, Response
from error_autopilot.domain.errors import ConfigError
from error_autopilot.sources.http import RetryPolicy
from tests.conftest import SHARED_FIXTURES
from tests.support.fakes.telegram import FakeTelegram

REPO = "acme/ops"
ALICE = {"id": 111, "is_bot": False, "first_name": "Alice", "username": "alice"}
MALLORY = {"id": 999, "is_bot": False, "first_name": "Mallory"}
GRAFANA_BOT = {"id": 555, "is_bot": True, "first_name": "Grafana", "username": "grafana_bot"}
PRIVATE = {"id": 111, "type": "private", "first_name": "Alice"}
GROUP = {"id": -100200, "type": "supergroup", "title": "oncall"}
OTHER_GROUP = {"id": -100666, "type": "supergroup", "title": "random"}
CHANNEL = {"id": -100300, "type": "channel", "title": "alerts"}
ALERT = (
    (SHARED_FIXTURES / "grafana" / "telegram-text-single-alert.txt")
    .read_text()
    .replace(" - lbl1 = val1", " - lbl1 = val1\n - service_name = user-service")
)
SEED = "🚨 legacy-service - ERROR LOG!!! is Firing\nDescription: Pls Check it ASAP"


@dataclass
class FakeGitHubDispatch:
    """repository_dispatch + actions/runs, following GitHub's status codes and limits."""

    token: str = "gh-test-token"
    dispatches: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    fail_next: deque[int] = field(default_factory=deque)
    hold_at: int | None = None  # the n-th dispatch (1-based) blocks until `release`, then is dropped
    holding: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    attempts: int = 0

    def app(self, req: Request) -> Response | None:
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return Response.json(
                {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}, 401
            )
        if req.method == "POST" and req.path == f"/repos/{REPO}/dispatches":
            return self._dispatch(req.json())
        if req.method == "GET" and req.path == f"/repos/{REPO}/actions/runs":
            per_page = int(req.param("per_page", "30") or 30)
            return Response.json({"total_count": len(self.runs), "workflow_runs": self.runs[:per_page]})
        return None

    def _dispatch(self, body: Any) -> Response:
        self.attempts += 1
        if self.hold_at == self.attempts:
            self.holding.set()
            self.release.wait(10)
            return Response.json({"message": "Server Error"}, 502)
        if self.fail_next:
            return Response.json({"message": "Server Error"}, self.fail_next.popleft())
        event_type, payload = body.get("event_type"), body.get("client_payload", {})
        if not isinstance(event_type, str) or not 0 < len(event_type) <= 100:
            return Response.json({"message": "Invalid request.\n\nevent_type is too long"}, 422)
        if not isinstance(payload, dict) or len(payload) > 10:
            return Response.json({"message": "Invalid request.\n\nNo more than 10 properties are allowed"}, 422)
        self.dispatches.append(body)
        return Response(204)


@pytest.fixture(scope="module")
def github_server() -> Iterator[tuple[list[FakeGitHubDispatch], LoopbackServer]]:
    current = [FakeGitHubDispatch()]  # one server per module (shutdown costs 0.5 s), a fresh fake per test
    with LoopbackServer(lambda req: current[0].app(req)) as server:  # noqa: PLW0108 - late binding on purpose
        yield current, server


@pytest.fixture
def github(
    github_server: tuple[list[FakeGitHubDispatch], LoopbackServer],
) -> Iterator[tuple[FakeGitHubDispatch, LoopbackServer]]:
    current, server = github_server
    current[0] = FakeGitHubDispatch()
    server.unexpected.clear()
    yield current[0], server
    assert server.unexpected == []


@pytest.fixture(scope="module")
def telegram_server() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def telegram(telegram_server: FakeTelegram, caplog: pytest.LogCaptureFixture) -> Iterator[FakeTelegram]:
    caplog.set_level(logging.INFO, logger="error_autopilot")
    telegram_server.reset()
    telegram_server.server.unexpected.clear()
    yield telegram_server
    assert telegram_server.server.unexpected == []


class Clock:
    """Unix time the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_760_000_000.0

    def __call__(self) -> float:
        return self.now


def make_config(tmp_path: Path, telegram: FakeTelegram, gh_url: str, **overrides: Any) -> BridgeConfig:
    fields: dict[str, Any] = {
        "repo": REPO,
        "allowed_user_ids": [111],
        "allowed_chat_ids": [GROUP["id"]],
        "channel_chat_ids": [CHANNEL["id"]],
        "default_environment": "prod",
        "environments": ["prod", "dev"],
        "bot_username": "acme_autopilot_bot",
        "telegram_api_url": telegram.api_url,
        "github_api_url": gh_url,
        "state_file": str(tmp_path / "state.json"),
        "poll_timeout_s": 0,
    }
    fields.update(overrides)
    return BridgeConfig.model_validate(fields)


def make_bridge(config: BridgeConfig, telegram: FakeTelegram, clock: Clock | None = None) -> Bridge:
    tg = TelegramApi(httpx.Client(base_url=f"{telegram.api_url}/bot{telegram.token}"), sleep=lambda s: None)
    gh = GitHubDispatcher(
        github_client(config.github_api_url, "gh-test-token"),
        config.repo,
        retry=RetryPolicy(max_attempts=2, sleep=lambda s: None),
    )
    return Bridge(config, tg, gh, clock=clock or Clock(), sleep=lambda s: None)


@pytest.fixture
def world(tmp_path: Path, telegram: FakeTelegram, github: tuple[FakeGitHubDispatch, LoopbackServer]) -> Any:
    fake_gh, server = github
    config = make_config(tmp_path, telegram, server.url)
    return config, telegram, fake_gh


def actions(bridge: Bridge) -> list[tuple[str, str]]:
    return [(o.action, o.reason) for o in bridge.outcomes]


def test_forwarded_alert_dispatches_once_and_replies_with_the_runs_page(world: Any, caplog: Any) -> None:
    config, tg, gh = world
    origin = {"type": "user", "date": 1, "sender_user": GRAFANA_BOT}
    update_id = tg.add_update("message", tg.message(PRIVATE, ALERT, user=ALICE, forward_origin=origin))
    bridge = make_bridge(config, tg)
    assert bridge.run(once=True) == 1
    assert gh.dispatches == [
        {
            "event_type": "error-alert",
            "client_payload": {
                "environment": "prod",
                "service": "user-service",
                "text": gh.dispatches[0]["client_payload"]["text"],
            },
        }
    ]
    assert "alertname = alert1" in gh.dispatches[0]["client_payload"]["text"]
    [reply] = tg.sent
    assert reply["chat_id"] == PRIVATE["id"] and "https://github.com/acme/ops/actions" in reply["text"]
    assert load_state(config.state_file).offset == update_id + 1
    assert tg.allowed_updates == ["message", "channel_post"]
    assert f"update {update_id}: dispatched" in caplog.text


def test_channel_post_dispatches_without_replying(world: Any) -> None:
    config, tg, gh = world
    tg.add_update("channel_post", tg.message(CHANNEL, SEED))
    tg.add_update("channel_post", tg.message({**CHANNEL, "id": -100999}, SEED.replace("legacy", "other")))
    bridge = make_bridge(config, tg)
    bridge.run(once=True)
    assert [d["client_payload"]["service"] for d in gh.dispatches] == ["legacy-service"]
    assert tg.sent == []
    assert ("ignored", "channel -100999 not allowlisted") in actions(bridge)


@pytest.mark.parametrize(
    ("chat", "user", "reason"),
    [
        (PRIVATE | {"id": 999}, MALLORY, "user 999 not allowlisted (chat 999)"),  # a stranger's own chat
        (GROUP, MALLORY, "user 999 not allowlisted (chat -100200)"),  # a stranger in an allowed chat
        (OTHER_GROUP, ALICE, "chat -100666 not allowlisted (user 111)"),  # a friend in a foreign chat
        (GROUP, GRAFANA_BOT, "bot-authored message"),
    ],
)
def test_who_is_not_heard(world: Any, caplog: Any, chat: dict[str, Any], user: dict[str, Any], reason: str) -> None:
    config, tg, gh = world
    update_id = tg.add_update(
        "message",
        tg.message(chat, ALERT, user=user, forward_origin={"type": "hidden_user", "date": 1, "sender_user_name": "x"}),
    )
    bridge = make_bridge(config, tg)
    bridge.run(once=True)
    assert actions(bridge) == [("ignored", reason)]
    assert gh.dispatches == [] and tg.sent == []
    assert f"update {update_id}: ignored — {reason}" in caplog.text
    assert load_state(config.state_file).offset == update_id + 1  # confirmed: never read again


def test_edited_messages_are_not_requested_and_ignored_if_they_come(world: Any, caplog: Any) -> None:
    config, tg, gh = world
    tg.add_update("edited_message", tg.message(PRIVATE, ALERT, user=ALICE))
    bridge = make_bridge(config, tg)
    assert bridge.run(once=True) == 0  # allowed_updates keeps Telegram from sending it at all
    bridge.handle_batch([{"update_id": 7, "edited_message": tg.message(PRIVATE, ALERT, user=ALICE)}])
    assert actions(bridge) == [("ignored", "edited message (only new messages start runs)")]
    assert gh.dispatches == [] and "update 7: ignored — edited message" in caplog.text


def test_a_message_over_4096_characters_is_ignored_unread(world: Any, caplog: Any) -> None:
    config, tg, gh = world
    tg.add_update("message", tg.message(PRIVATE, ALERT + "\n" + "A" * 10_240, user=ALICE))
    tg.add_update("message", tg.message(PRIVATE, "/run " + "x" * 4_092, user=ALICE))
    tg.add_update("message", tg.message(PRIVATE, ALERT, user=ALICE))
    bridge = make_bridge(config, tg)
    bridge.run(once=True)
    long_alert = len(ALERT) + 10_241
    assert actions(bridge)[:2] == [
        ("ignored", f"text of {long_alert} characters is over the 4096 limit: not read"),
        ("ignored", "text of 4097 characters is over the 4096 limit: not read"),
    ]
    assert actions(bridge)[2][0] == "dispatched"
    assert len(gh.dispatches) == 1, "only the message within Telegram's limit starts a run"
    assert not any("x" * 100 in m["text"] for m in tg.sent), "nothing of the long text is echoed back"


def test_forward_with_hidden_origin_is_accepted_from_an_allowlisted_person(world: Any, caplog: Any) -> None:
    config, tg, gh = world
    origin = {"type": "hidden_user", "date": 1, "sender_user_name": "Grafana"}
    tg.add_update("message", tg.message(GROUP, SEED, user=ALICE, forward_origin=origin))
    tg.add_update("message", tg.message(GROUP, SEED.replace("legacy", "old"), user=ALICE, forward_from=GRAFANA_BOT))
    bridge = make_bridge(config, tg)
    bridge.run(once=True)
    assert [d["client_payload"]["service"] for d in gh.dispatches] == ["legacy-service", "old-service"]
    assert "forward with hidden origin, accepted from allowlisted user 111" in caplog.text


def test_group_chatter_is_ignored_but_private_text_is_parsed(world: Any) -> None:
    config, tg, gh = world
    tg.add_update("message", tg.message(GROUP, SEED, user=ALICE))
    tg.add_update("message", tg.message(PRIVATE, SEED, user=ALICE))
    bridge = make_bridge(config, tg)
    bridge.run(once=True)
    assert actions(bridge)[0] == ("ignored", "group message that is neither a command nor a forward")
    assert len(gh.dispatches) == 1


def test_a_burst_of_forwards_becomes_one_dispatch(world: Any) -> None:
    config, tg, gh = world
    clock = Clock()
    for _ in range(3):
        tg.add_update(
            "message",
            tg.message(
                PRIVATE, SEED, user=ALICE, forward_origin={"type": "user", "date": 1, "sender_user": GRAFANA_BOT}
            ),
        )
    bridge = make_bridge(config, tg, clock)
    bridge.run(once=True)
    assert len(gh.dispatches) == 1
    assert [a for a, _ in actions(bridge)] == ["dispatched", "coalesced", "coalesced"]
    assert "Already started for prod/legacy-service" in tg.sent[1]["text"]
    clock.now += 61
    tg.add_update("message", tg.message(PRIVATE, SEED, user=ALICE))
    make_bridge(config, tg, clock).run(once=True)  # a restart keeps the coalescing clock
    assert len(gh.dispatches) == 2


def test_resolved_alerts_start_nothing(world: Any) -> None:
    config, tg, gh = world
    tg.add_update("message", tg.message(PRIVATE, SEED.replace("Firing", "Resolved"), user=ALICE))
    bridge = make_bridge(config, tg)
    bridge.run(once=True)
    assert gh.dispatches == [] and actions(bridge) == [("ignored", "only resolved alerts: nothing to start")]


def test_commands(world: Any) -> None:
    config, tg, gh = world
    gh.runs = [
        {
            "name": "error-autopilot",
            "status": "completed",
            "conclusion": "success",
            "event": "schedule",
            "html_url": "https://github.com/acme/ops/actions/runs/1",
            "created_at": "2026-01-01T00:00:00Z",
        }
    ]
    for text in (
        "/autopilot prod user-service 2h",
        "/autopilot@acme_autopilot_bot qa",
        "/status",
        "/help",
        "/help@someone_else_bot",
    ):
        tg.add_update("message", tg.message(GROUP, text, user=ALICE))
    bridge = make_bridge(config, tg)
    bridge.run(once=True)
    assert gh.dispatches == [
        {
            "event_type": "error-autopilot",
            "client_payload": {"environment": "prod", "service": "user-service", "since": "2h"},
        }
    ]
    replies = [m["text"] for m in tg.sent]
    assert len(replies) == 4
    assert "Started error-autopilot for prod/user-service" in replies[0]
    assert "unknown environment 'qa'" in replies[1]
    assert "success · error-autopilot" in replies[2] and "actions/runs/1" in replies[2]
    assert "/autopilot <env>" in replies[3]
    assert actions(bridge)[-1] == ("ignored", "group message that is neither a command nor a forward")


def test_github_refusal_is_reported_in_the_chat_and_not_journaled(world: Any) -> None:
    config, tg, gh = world
    gh.fail_next.append(403)
    tg.add_update("message", tg.message(PRIVATE, SEED, user=ALICE))
    bridge = make_bridge(config, tg)
    bridge.run(once=True)
    assert gh.dispatches == [] and actions(bridge)[0][0] == "failed"
    assert "Could not start error-autopilot for prod/legacy-service" in tg.sent[0]["text"]
    assert load_state(config.state_file).recent == {}


def test_unreadable_updates_are_skipped_and_confirmed(world: Any) -> None:
    config, tg, _gh = world
    bridge = make_bridge(config, tg)
    bridge.handle_batch([{"update_id": 41, "message": {"text": "no chat"}}, {"update_id": 42, "poll": {}}])
    assert actions(bridge) == [(("ignored"), "unreadable update"), ("ignored", "update kind other not requested")]
    assert load_state(config.state_file).offset == 43


def test_get_updates_429_is_honoured(world: Any) -> None:
    config, tg, gh = world
    tg.rate_limit("getUpdates", 3)
    tg.add_update("message", tg.message(PRIVATE, SEED, user=ALICE))
    sleeps: list[float] = []
    api = TelegramApi(httpx.Client(base_url=f"{tg.api_url}/bot{tg.token}"), sleep=sleeps.append)
    gh_api = GitHubDispatcher(github_client(config.github_api_url, "gh-test-token"), REPO)
    Bridge(config, api, gh_api).run(once=True)
    assert sleeps == [3.0] and len(gh.dispatches) == 1


def test_a_webhook_on_the_token_stops_the_bridge_with_409(world: Any, caplog: Any) -> None:
    config, tg, _gh = world
    tg.webhook_set = True
    with pytest.raises(TelegramConflict) as info:
        make_bridge(config, tg).run(once=True)
    assert info.value.exit_code == 8 and "deleteWebhook" in str(info.value)
    assert "bridge stopped: Telegram getUpdates failed: Conflict" in caplog.text


def test_a_second_poller_on_the_same_token_gets_409(world: Any, caplog: Any) -> None:
    config, tg, _gh = world
    tg.max_wait_s = 5.0
    bridge = make_bridge(config.model_copy(update={"poll_timeout_s": 5}), tg)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            bridge.run(once=False)
        except TelegramConflict as e:
            failure.append(e)

    thread = threading.Thread(target=run)
    thread.start()
    for _ in range(200):
        if tg.polls:
            break
        threading.Event().wait(0.01)
    second = httpx.get(f"{tg.api_url}/bot{tg.token}/getUpdates", params={"timeout": 0})
    thread.join(5)
    assert second.json()["ok"] is True
    assert not thread.is_alive() and len(failure) == 1 and tg.conflicts == 1
    assert "terminated by other getUpdates request" in str(failure[0])
    assert "bridge stopped" in caplog.text and "run exactly one bridge per token" in caplog.text


def test_run_bridge_reads_secrets_from_the_given_environ(world: Any, tmp_path: Path) -> None:
    config, tg, gh = world
    path = tmp_path / "bridge.json"
    path.write_text(json.dumps(config.model_dump(mode="json") | {"state_file": "state/bridge.json"}))
    tg.add_update("message", tg.message(PRIVATE, SEED, user=ALICE))
    environ = {"TELEGRAM_BOT_TOKEN": tg.token, "BRIDGE_GITHUB_TOKEN": "gh-test-token"}
    assert run_bridge(path, once=True, environ=environ) == 0
    assert len(gh.dispatches) == 1 and (tmp_path / "state" / "bridge.json").exists()
    with pytest.raises(ConfigError, match="BRIDGE_GITHUB_TOKEN is not set"):
        run_bridge(path, once=True, environ={"TELEGRAM_BOT_TOKEN": tg.token})
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="is not JSON"):
        run_bridge(path, once=True, environ=environ)
