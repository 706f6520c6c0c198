"""A small Telegram Bot API client: `getUpdates` long polling and `sendMessage`.

Telegram answers `{"ok": true, "result": …}` or `{"ok": false, "error_code", "description",
"parameters": {"retry_after"}}`. `ok: false` becomes a BridgeError carrying the description; 429 is
retried after `retry_after` (bounded); 409 means another poller or a webhook owns the token.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

from error_autopilot.domain.errors import BridgeError

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ("message", "channel_post")


class TelegramApiError(BridgeError):
    """Telegram refused a call; `error_code` and `retry_after` as Telegram sent them."""

    def __init__(
        self, message: str, *, error_code: int | None = None, retry_after: float | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.error_code = error_code
        self.retry_after = retry_after


class TelegramConflict(TelegramApiError):
    """409: another getUpdates poller or a webhook is using this bot token."""


class TelegramApi:
    """Bot API calls over an httpx client whose base URL is `{api}/bot{token}`."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        sleep: Callable[[float], None] = time.sleep,
        max_retry_after_s: float = 60.0,
        max_attempts: int = 3,
    ) -> None:
        self._client = client
        self._sleep = sleep
        self._max_retry_after_s = max_retry_after_s
        self._max_attempts = max_attempts

    def get_updates(self, offset: int | None, *, timeout_s: int, limit: int = 100) -> list[dict[str, Any]]:
        """Updates from `offset` on (confirming everything before it); waits up to `timeout_s` for one."""
        params: dict[str, Any] = {"limit": limit, "timeout": timeout_s, "allowed_updates": json.dumps(ALLOWED_UPDATES)}
        if offset is not None:
            params["offset"] = offset
        result = self._call("getUpdates", params, read_timeout=timeout_s + 15)
        if not isinstance(result, list):
            raise TelegramApiError(f"getUpdates returned {type(result).__name__}, expected a list")
        return [u for u in result if isinstance(u, dict)]

    def send_message(
        self,
        chat_id: int | str,
        text: str,
        *,
        parse_mode: str | None = None,
        disable_notification: bool = False,
        reply_to: int | None = None,
    ) -> dict[str, Any]:
        """Send one message; returns the sent Message."""
        body: dict[str, Any] = {"chat_id": chat_id, "text": text, "link_preview_options": {"is_disabled": True}}
        if parse_mode:
            body["parse_mode"] = parse_mode
        if disable_notification:
            body["disable_notification"] = True
        if reply_to is not None:
            body["reply_parameters"] = {"message_id": reply_to, "allow_sending_without_reply": True}
        result = self._call("sendMessage", body)
        return result if isinstance(result, dict) else {}

    def _call(self, method: str, payload: dict[str, Any], *, read_timeout: float | None = None) -> Any:
        for attempt in range(1, self._max_attempts + 1):
            try:
                if method == "getUpdates":
                    timeout = httpx.Timeout(10.0, read=read_timeout)
                    response = self._client.get(f"/{method}", params=payload, timeout=timeout)
                else:
                    response = self._client.post(f"/{method}", json=payload)
            except httpx.HTTPError as e:
                raise TelegramApiError(f"Telegram {method}: {type(e).__name__}: {e}") from e
            try:
                envelope = response.json()
            except ValueError as e:
                raise TelegramApiError(f"Telegram {method}: HTTP {response.status_code}, not JSON") from e
            if isinstance(envelope, dict) and envelope.get("ok") is True:
                return envelope.get("result")
            error = _error(method, response.status_code, envelope)
            if error.retry_after is not None and attempt < self._max_attempts:
                if error.retry_after > self._max_retry_after_s:
                    raise error
                log.warning("Telegram %s: rate limited, retrying in %.0fs", method, error.retry_after)
                self._sleep(error.retry_after)
                continue
            raise error
        raise TelegramApiError(f"Telegram {method}: no attempt made")  # unreachable: max_attempts ≥ 1


def _error(method: str, status: int, envelope: Any) -> TelegramApiError:
    body = envelope if isinstance(envelope, dict) else {}
    code = body.get("error_code") if isinstance(body.get("error_code"), int) else status
    description = str(body.get("description") or f"HTTP {status}")[:500]
    params = body.get("parameters")
    retry = params.get("retry_after") if isinstance(params, dict) else None
    retry_after = float(retry) if isinstance(retry, int | float) and code == 429 else None
    message = f"Telegram {method} failed: {description}"
    if code == 409:
        return TelegramConflict(
            message,
            error_code=409,
            hint="another bridge is polling this bot token, or a webhook is set (call deleteWebhook); "
            "run exactly one bridge per token",
        )
    if code == 401:
        return TelegramApiError(message, error_code=401, hint="the bot token is wrong or was revoked")
    return TelegramApiError(message, error_code=code, retry_after=retry_after)
