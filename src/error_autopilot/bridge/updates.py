"""The parts of Telegram's `Update` the bridge reads (Bot API 10.1).

Unlike our own models these ignore unknown fields: Telegram adds fields in every Bot API release,
and a new one must not stop the bridge. Only what a decision depends on is modelled.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class User(_Wire):
    """A Telegram user or bot."""

    id: int
    is_bot: bool = False
    username: str | None = None


class Chat(_Wire):
    """A private chat, group, supergroup or channel."""

    id: int
    type: str
    title: str | None = None


class MessageOrigin(_Wire):
    """Where a forwarded message came from: `user`, `hidden_user`, `chat` or `channel`."""

    type: str
    date: int | None = None
    sender_user: User | None = None
    sender_user_name: str | None = None
    sender_chat: Chat | None = None
    chat: Chat | None = None


class Message(_Wire):
    """A message or channel post; `from` is absent in channels."""

    message_id: int
    date: int = 0
    chat: Chat
    from_: User | None = Field(default=None, alias="from")
    text: str | None = None
    caption: str | None = None
    forward_origin: MessageOrigin | None = None
    # Removed from the spec in Bot API 7.0; old servers and proxies may still send them.
    forward_from: User | None = None
    forward_from_chat: Chat | None = None
    forward_sender_name: str | None = None
    forward_date: int | None = None

    @property
    def body(self) -> str:
        """The text, or the caption of a photo (Grafana can attach a panel image)."""
        return self.text or self.caption or ""

    @property
    def origin_kind(self) -> str | None:
        """How the message was forwarded (`user`, `hidden_user`, `chat`, `channel`), None if not."""
        if self.forward_origin is not None:
            return self.forward_origin.type
        if self.forward_from is not None:
            return "user"
        if self.forward_from_chat is not None:
            return "channel" if self.forward_from_chat.type == "channel" else "chat"
        if self.forward_sender_name is not None or self.forward_date is not None:
            return "hidden_user"
        return None


class Update(_Wire):
    """One incoming update; at most one of the message kinds is set."""

    update_id: int
    message: Message | None = None
    edited_message: Message | None = None
    channel_post: Message | None = None
    edited_channel_post: Message | None = None

    @property
    def kind(self) -> str:
        """Which field carried the update (`other` for kinds the bridge never asked for)."""
        for name in ("message", "channel_post", "edited_message", "edited_channel_post"):
            if getattr(self, name) is not None:
                return name
        return "other"


def parse_update(raw: Any) -> Update | None:
    """An Update, or None when Telegram sent something we cannot read (logged by the caller)."""
    try:
        return Update.model_validate(raw)
    except ValueError:
        return None
