"""A fake Telegram Bot API on loopback: `getUpdates` and `sendMessage` as Telegram serves them.

- `getUpdates`: updates with `update_id < offset` are confirmed and dropped for good; a negative
  offset keeps only the last -offset updates; `limit` (1–100); `timeout` long-polls (capped by
  `max_wait_s` so tests stay fast) and answers `[]` when nothing came; `allowed_updates` persists
  across calls and filters what is delivered. A second poll while one is waiting terminates the
  first with Telegram's 409; `webhook_set` answers 409 like a bot with a webhook.
- `sendMessage`: validates `parse_mode=HTML` like Telegram (400 `Bad Request: can't parse entities: …`),
  the 1–4096 character limit after entity parsing, unknown chats; records what was sent.
- `rate_limit(method, retry_after)` makes the next call answer 429 with `parameters.retry_after`.
Unknown routes are recorded in `server.unexpected`.
"""

from __future__ import annotations

import html
import itertools
import json
import re
import threading
import time
from collections import defaultdict, deque
from typing import Any
from urllib.parse import parse_qs

from error_autopilot.demo.httpserver import LoopbackServer, Request, Response

TOKEN = "123456789:AAtest-token-for-the-fake-bot-api_000"
ALLOWED_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "a",
    "code",
    "pre",
    "blockquote",
    "span",
    "tg-spoiler",
    "tg-emoji",
}
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#\d{1,7}|#x[0-9a-fA-F]{1,6});")
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)?([^<>]*)>")
MESSAGE_LIMIT = 4096
Body = dict[str, Any]


def error(code: int, description: str, **parameters: Any) -> Response:
    """Telegram's error envelope."""
    body: Body = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return Response.json(body, code)


def parse_html(text: str) -> str:
    """The visible text of an HTML-mode message, or ValueError with Telegram's description."""
    out: list[str] = []
    stack: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        offset = len(text[:i].encode())
        if ch == "<":
            tag = _TAG.match(text, i)
            if not tag or not tag.group(2):
                raise ValueError(f'Unsupported start tag "" at byte offset {offset}')
            closing, name = tag.group(1) == "/", tag.group(2).lower()
            if closing:
                if not stack or stack[-1] != name:
                    expected = f'"</{stack[-1]}>"' if stack else "nothing"
                    raise ValueError(
                        f'Unmatched end tag at byte offset {offset}, expected {expected}, found "</{name}>"'
                    )
                stack.pop()
            else:
                if name not in ALLOWED_TAGS:
                    raise ValueError(f'Unsupported start tag "{name}" at byte offset {offset}')
                if name == "a" and "href=" not in tag.group(3):
                    raise ValueError(f"Can't find href attribute at byte offset {offset}")
                stack.append(name)
            i = tag.end()
        elif ch == "&":
            entity = _ENTITY.match(text, i)
            if not entity:  # stricter than Telegram where unsure: our output must always escape &
                raise ValueError(f"Unsupported HTML entity at byte offset {offset}")
            out.append(html.unescape(entity.group(0)))
            i = entity.end()
        else:
            out.append(ch)
            i += 1
    if stack:
        raise ValueError(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out)


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


class FakeTelegram:
    """Stateful Bot API fake; use as a context manager, point clients at `api_url`."""

    def __init__(self, token: str = TOKEN, *, max_wait_s: float = 0.3) -> None:
        self.token = token
        self.max_wait_s = max_wait_s
        self._cond = threading.Condition()
        self.reset()
        self.server = LoopbackServer(self.app)

    def reset(self) -> None:
        """Forget all state (a server shared by a module's tests starts each test clean)."""
        self.updates: list[Body] = []  # not yet confirmed
        self.sent: list[Body] = []
        self.allowed_updates: list[str] | None = None
        self.webhook_set = False
        self.unknown_chats: set[int] = set()
        self.conflicts = 0
        self.polls = 0
        self._rate_limits: dict[str, deque[int]] = defaultdict(deque)
        self._ids = itertools.count(1000)
        self._message_ids = itertools.count(1)
        self._generation = 0

    def __enter__(self) -> FakeTelegram:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._generation += 1  # release waiting polls
            self._cond.notify_all()
        self.server.stop()

    @property
    def api_url(self) -> str:
        """What the bridge's `telegram_api_url` should be."""
        return self.server.url

    # --- scripting -------------------------------------------------------------------------
    def add_update(self, kind: str, message: Body) -> int:
        """Queue an update (`message`, `channel_post`, `edited_message`, …); returns its update_id."""
        with self._cond:
            update_id = next(self._ids)
            self.updates.append({"update_id": update_id, kind: message})
            self._cond.notify_all()
        return update_id

    def message(self, chat: Body, text: str, *, user: Body | None = None, **extra: Any) -> Body:
        """A Message object as Telegram would send it (channel posts have no `from`)."""
        msg: Body = {"message_id": next(self._message_ids), "date": int(time.time()), "chat": chat, "text": text}
        if user is not None:
            msg["from"] = user
        msg.update(extra)
        return msg

    def rate_limit(self, method: str, retry_after: int) -> None:
        """The next call of `method` answers 429 with `parameters.retry_after`."""
        self._rate_limits[method].append(retry_after)

    # --- the API ---------------------------------------------------------------------------
    def app(self, req: Request) -> Response | None:
        prefix = f"/bot{self.token}/"
        if not req.path.startswith("/bot"):
            return None
        if not req.path.startswith(prefix):
            return error(401, "Unauthorized")
        method = req.path[len(prefix) :]
        handlers = {"getUpdates": self._get_updates, "sendMessage": self._send_message}
        if method not in handlers:
            return None
        params = self._params(req)
        if self._rate_limits[method]:
            retry = self._rate_limits[method].popleft()
            return error(429, f"Too Many Requests: retry after {retry}", retry_after=retry)
        return handlers[method](params)

    @staticmethod
    def _params(req: Request) -> Body:
        params: Body = {k: v[0] for k, v in req.query.items()}
        ctype = req.headers.get("content-type", "")
        if req.body and "json" in ctype:
            params.update(req.json())
        elif req.body:
            params.update({k: v[0] for k, v in parse_qs(req.body.decode()).items()})
        return params

    def _get_updates(self, params: Body) -> Response:
        try:
            offset = int(params.get("offset", 0))
            limit = max(1, min(100, int(params.get("limit", 100))))
            timeout = max(0, int(params.get("timeout", 0)))
        except ValueError:
            return error(400, "Bad Request: wrong parameter value")
        if "allowed_updates" in params:
            allowed = params["allowed_updates"]
            self.allowed_updates = json.loads(allowed) if isinstance(allowed, str) else list(allowed)
        with self._cond:
            self.polls += 1
            if self.webhook_set:
                return error(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            self._generation += 1
            mine = self._generation
            self._cond.notify_all()  # a poll already waiting is terminated (409) by this one
            self._confirm(offset)
            deadline = time.monotonic() + min(timeout, self.max_wait_s)
            while True:
                if self._generation != mine:
                    self.conflicts += 1
                    return error(
                        409,
                        "Conflict: terminated by other getUpdates request; "
                        "make sure that only one bot instance is running",
                    )
                ready = [u for u in self.updates if u["update_id"] >= offset and self._wanted(u)]
                remaining = deadline - time.monotonic()
                if ready or remaining <= 0:
                    return Response.json({"ok": True, "result": ready[:limit]})
                self._cond.wait(remaining)

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        elif offset < 0:
            self.updates = self.updates[offset:]

    def _wanted(self, update: Body) -> bool:
        allowed = self.allowed_updates or ["message", "edited_message", "channel_post", "edited_channel_post"]
        return any(kind in update for kind in allowed)

    def _send_message(self, params: Body) -> Response:
        chat_id = params.get("chat_id")
        text = str(params.get("text") or "")
        if chat_id in (None, ""):
            return error(400, "Bad Request: chat_id is empty")
        if str(chat_id) in {str(c) for c in self.unknown_chats}:
            return error(400, "Bad Request: chat not found")
        visible = text
        if params.get("parse_mode") == "HTML":
            try:
                visible = parse_html(text)
            except ValueError as e:
                return error(400, f"Bad Request: can't parse entities: {e}")
        if not visible.strip():
            return error(400, "Bad Request: message text is empty")
        if utf16_len(visible) > MESSAGE_LIMIT:
            return error(400, "Bad Request: message is too long")
        with self._cond:
            self.sent.append(dict(params))
        result = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "supergroup"},
            "text": visible,
        }
        return Response.json({"ok": True, "result": result})
