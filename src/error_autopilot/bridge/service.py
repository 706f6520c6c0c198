"""The Telegram bridge: long-poll Telegram, turn alerts and commands into repository_dispatch.

No inbound port is ever opened: the bridge only makes outbound calls (Telegram getUpdates,
GitHub dispatches). Who is heard: allowlisted users in private chats, allowlisted users in
allowlisted groups, and posts in allowlisted channels. Everything else is ignored and logged.
Crash safety is described in bridge/state.py.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from error_autopilot.bridge.commands import HELP, autopilot_payload, parse_command
from error_autopilot.bridge.config import BridgeConfig, load_config, secret
from error_autopilot.bridge.dispatcher import GitHubDispatcher, github_client
from error_autopilot.bridge.grafana import AlertRequest, dispatch_payload, parse_alert_text
from error_autopilot.bridge.state import BridgeState, load_state, save_state
from error_autopilot.bridge.telegram_api import TelegramApi, TelegramApiError, TelegramConflict
from error_autopilot.bridge.updates import Message, parse_update
from error_autopilot.domain.dispatch import DispatchPayload
from error_autopilot.domain.errors import BridgeError

log = logging.getLogger(__name__)

ALERT_EVENT = "error-alert"
COMMAND_EVENT = "error-autopilot"


@dataclass(frozen=True)
class Outcome:
    """What the bridge did with one update (also logged, one line each)."""

    update_id: int
    action: str  # dispatched | coalesced | replayed | replied | ignored | failed
    reason: str


class Bridge:
    """Polls one bot token and dispatches to one repository."""

    def __init__(
        self,
        config: BridgeConfig,
        telegram: TelegramApi,
        dispatcher: GitHubDispatcher,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._config = config
        self._telegram = telegram
        self._dispatcher = dispatcher
        self._clock = clock
        self._sleep = sleep
        self._state = BridgeState()
        self.outcomes: list[Outcome] = []

    def run(self, once: bool) -> int:
        """Poll and handle updates; with `once`, stop when Telegram has nothing more. Returns updates handled.

        A 409 (another poller, or a webhook) stops the bridge: two pollers would steal each other's
        updates. Other Telegram failures are retried with backoff unless `once`."""
        self._state = load_state(self._config.state_file)
        handled, failures = 0, 0
        while True:
            try:
                raw = self._telegram.get_updates(
                    self._state.offset, timeout_s=0 if once else self._config.poll_timeout_s
                )
            except TelegramConflict as e:
                log.error("bridge stopped: %s (%s)", e.message, e.hint)
                raise
            except TelegramApiError as e:
                if once:
                    raise
                failures += 1
                delay = min(60.0, 2.0**failures)
                log.warning("getUpdates failed (%s); retrying in %.0fs", e.message, delay)
                self._sleep(delay)
                continue
            failures = 0
            if not raw:
                if once:
                    return handled
                continue
            self.handle_batch(raw)
            handled += len(raw)

    def handle_batch(self, raw: list[dict[str, Any]]) -> None:
        """Handle a batch, then save the offset past it (the journal guards the replays)."""
        ids = [u["update_id"] for u in raw if isinstance(u.get("update_id"), int)]
        for item in raw:
            self._handle(item)
        if ids:
            now = self._clock()
            recent = {k: t for k, t in self._state.recent.items() if now - t < self._config.coalesce_window_s}
            self._set(self._state.model_copy(update={"offset": max(ids) + 1, "journal": (), "recent": recent}))

    def _set(self, state: BridgeState) -> None:
        save_state(self._config.state_file, state)
        self._state = state

    def _note(self, update_id: int, action: str, reason: str) -> None:
        self.outcomes.append(Outcome(update_id, action, reason))
        log.info("update %d: %s — %s", update_id, action, reason)

    def _handle(self, item: dict[str, Any]) -> None:
        raw_id = item.get("update_id")
        update_id = raw_id if isinstance(raw_id, int) else -1
        update = parse_update(item)
        if update is None:
            self._note(update_id, "ignored", "unreadable update")
            return
        if update.kind in {"edited_message", "edited_channel_post"}:
            self._note(update_id, "ignored", "edited message (only new messages start runs)")
        elif update.channel_post is not None:
            self._channel_post(update_id, update.channel_post)
        elif update.message is not None:
            self._message(update_id, update.message)
        else:
            self._note(update_id, "ignored", f"update kind {update.kind} not requested")

    def _channel_post(self, update_id: int, post: Message) -> None:
        if post.chat.id not in self._config.channel_chat_ids:
            self._note(update_id, "ignored", f"channel {post.chat.id} not allowlisted")
            return
        text = self._text(update_id, post)
        if text is not None:
            self._alerts(update_id, post, text, reply=False)

    def _message(self, update_id: int, msg: Message) -> None:
        user, chat = msg.from_, msg.chat
        if user is None or user.is_bot:
            self._note(update_id, "ignored", "bot-authored message" if user else "message without a sender")
            return
        if chat.type != "private" and chat.id not in self._config.allowed_chat_ids:
            self._note(update_id, "ignored", f"chat {chat.id} not allowlisted (user {user.id})")
            return
        if user.id not in self._config.allowed_user_ids:
            self._note(update_id, "ignored", f"user {user.id} not allowlisted (chat {chat.id})")
            return
        text = self._text(update_id, msg)
        if text is None:
            return
        command = parse_command(text, self._config.bot_username)
        if command is not None:
            self._command(update_id, msg, command.name, command.args)
        elif msg.origin_kind is not None or chat.type == "private":
            if msg.origin_kind == "hidden_user":
                log.info("update %d: forward with hidden origin, accepted from allowlisted user %d", update_id, user.id)
            self._alerts(update_id, msg, text, reply=True)
        else:
            self._note(update_id, "ignored", "group message that is neither a command nor a forward")

    def _text(self, update_id: int, msg: Message) -> str | None:
        """The message's text; None (and noted) when it is longer than Telegram itself allows: such a
        message did not come through Telegram's own limits, and is not read at all."""
        if len(msg.body) > self._config.max_text_chars:
            limit = self._config.max_text_chars
            self._note(update_id, "ignored", f"text of {len(msg.body)} characters is over the {limit} limit: not read")
            return None
        return msg.body

    def _alerts(self, update_id: int, msg: Message, text: str, *, reply: bool) -> None:
        alerts = parse_alert_text(text, default_environment=self._config.default_environment)
        firing = [a for a in alerts if a.status == "firing"]
        if not firing:
            reason = "only resolved alerts: nothing to start" if alerts else "no Grafana alert found in the text"
            self._note(update_id, "ignored", reason)
            if reply:
                self._reply(msg, reason if alerts else f"{reason}.\n\n{HELP}")
            return
        by_key: dict[str, AlertRequest] = {}
        for alert in firing:
            by_key.setdefault(f"{alert.environment}/{alert.service or '*'}", alert)
        now = datetime.fromtimestamp(self._clock(), UTC)
        for key, alert in by_key.items():
            self._fire(
                update_id, msg if reply else None, ALERT_EVENT, key, dispatch_payload(alert, now=now), coalesce=True
            )

    def _command(self, update_id: int, msg: Message, name: str, args: tuple[str, ...]) -> None:
        if name == "autopilot":
            payload = autopilot_payload(args, self._config.environments)
            if isinstance(payload, str):
                self._note(update_id, "replied", f"/autopilot refused: {payload}")
                self._reply(msg, payload)
                return
            key = f"cmd:{payload.environment}/{payload.service or '*'}"
            self._fire(update_id, msg, COMMAND_EVENT, key, payload, coalesce=False)
        elif name == "status":
            self._note(update_id, "replied", "/status")
            self._reply(msg, self._status())
        else:
            self._note(update_id, "replied", f"/{name}: help")
            self._reply(msg, HELP)

    def _fire(
        self,
        update_id: int,
        msg: Message | None,
        event_type: str,
        key: str,
        payload: DispatchPayload,
        *,
        coalesce: bool,
    ) -> None:
        if self._state.done(update_id, key):
            self._note(update_id, "replayed", f"{key} already dispatched before a restart")
            return
        now = self._clock()
        last = self._state.recent.get(key)
        if coalesce and last is not None and now - last < self._config.coalesce_window_s:
            self._note(update_id, "coalesced", f"{key} dispatched {now - last:.0f}s ago")
            if msg:
                self._reply(msg, f"Already started for {key} {now - last:.0f}s ago: {self._dispatcher.runs_page}")
            return
        try:
            self._dispatcher.dispatch(event_type, payload)
        except BridgeError as e:
            self._note(update_id, "failed", f"{key}: {e.message}")
            if msg:
                self._reply(msg, f"Could not start error-autopilot for {key}: {e.message}")
            return
        journal = (*self._state.journal, f"{update_id}:{key}")
        self._set(self._state.model_copy(update={"journal": journal, "recent": {**self._state.recent, key: now}}))
        self._note(update_id, "dispatched", f"{event_type} {key}")
        if msg:
            self._reply(msg, f"Started error-autopilot for {key.removeprefix('cmd:')}: {self._dispatcher.runs_page}")

    def _status(self) -> str:
        try:
            runs = self._dispatcher.recent_runs()
        except BridgeError as e:
            return f"Could not list runs: {e.message}"
        if not runs:
            return f"No workflow runs yet: {self._dispatcher.runs_page}"
        lines = [
            f"{r.conclusion or r.status or '?'} · {r.name or 'run'} · {r.event or ''} · {r.created_at or ''}\n"
            f"{r.html_url}"
            for r in runs
        ]
        return "\n".join(lines)

    def _reply(self, msg: Message, text: str) -> None:
        try:
            self._telegram.send_message(msg.chat.id, text[:4000], reply_to=msg.message_id)
        except BridgeError as e:
            log.warning("could not reply in chat %d: %s", msg.chat.id, e.message)


def run_bridge(config_path: Path, *, once: bool, environ: Mapping[str, str]) -> int:
    """`error-autopilot bridge telegram --config bridge.json [--once]`: 0 when done, raises BridgeError/ConfigError."""
    config = load_config(config_path)
    token = secret(environ, config.telegram_token_env)
    gh_token = secret(environ, config.github_token_env)
    timeout = httpx.Timeout(30.0, read=config.poll_timeout_s + 15.0)
    with (
        httpx.Client(base_url=f"{config.telegram_api_url.rstrip('/')}/bot{token}", timeout=timeout) as tg_client,
        github_client(config.github_api_url, gh_token) as gh_client,
    ):
        dispatcher = GitHubDispatcher(gh_client, config.repo, web_url=config.github_web_url)
        bridge = Bridge(config, TelegramApi(tg_client), dispatcher)
        handled = bridge.run(once=once)
    log.info("bridge finished: %d update(s) handled", handled)
    return 0
