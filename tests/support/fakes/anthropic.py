"""A fake Anthropic Messages API on loopback, scripted per test with a queue of replies.

It validates what it is sent the way the real API does (and answers 400 `invalid_request_error`
with the real error body shape when something is wrong), records every request body for
assertions, and can answer 429 / 529 / 400 errors. Point the SDK at it with
`anthropic.Anthropic(api_key="test", base_url=fake.url, max_retries=0)`.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from error_autopilot.demo.httpserver import LoopbackServer, Request, Response

_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_TOOL_BLOCKS = ("tool_use", "tool_result")
_ERROR_STATUS = {"invalid_request_error": 400, "rate_limit_error": 429, "overloaded_error": 529, "api_error": 500}

Body = dict[str, Any]
ReplyFn = Callable[[Body], "Reply"]


@dataclass
class Reply:
    """One scripted answer: a message (content blocks) or an API error."""

    content: list[Body] = field(default_factory=list)
    stop_reason: str = "end_turn"
    usage: Body = field(default_factory=lambda: {"input_tokens": 100, "output_tokens": 50})
    error_type: str | None = None
    error_message: str = ""
    retry_after: str | None = None


def text(answer: str, **usage: int) -> Reply:
    """An assistant text reply."""
    return Reply([{"type": "text", "text": answer}], "end_turn", _usage(usage))


def tool_use(*calls: tuple[str, Body], **usage: int) -> Reply:
    """An assistant reply calling tools; ids are assigned when served."""
    blocks = [{"type": "tool_use", "name": name, "input": args} for name, args in calls]
    return Reply(blocks, "tool_use", _usage(usage))


def error(error_type: str, message: str, retry_after: str | None = None) -> Reply:
    """An API error with Anthropic's body shape."""
    return Reply(error_type=error_type, error_message=message, retry_after=retry_after)


def _usage(overrides: dict[str, int]) -> Body:
    return {"input_tokens": 100, "output_tokens": 50, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
            **overrides}  # fmt: skip


def _blocks(content: Any) -> list[Body]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def validate_request(body: Any) -> list[str]:
    """Every way `body` breaks the Messages API rules this project relies on (empty: valid)."""
    if not isinstance(body, dict):
        return ["body must be a JSON object"]
    problems = []
    if not isinstance(body.get("model"), str) or not body["model"]:
        problems.append("model: field required")
    if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
        problems.append("max_tokens: field required (integer ≥ 1)")
    problems += _validate_tools(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return [*problems, "messages: at least one message is required"]
    previous_tool_ids: set[str] = set()
    has_tool_blocks = False
    for i, msg in enumerate(messages):
        expected = "user" if i % 2 == 0 else "assistant"
        if not isinstance(msg, dict) or msg.get("role") != expected:
            problems.append(f"messages.{i}: roles must alternate user/assistant starting with user")
            continue
        blocks = _blocks(msg.get("content"))
        has_tool_blocks |= any(b.get("type") in _TOOL_BLOCKS for b in blocks)
        if expected == "user":
            answered = {b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"}
            if answered - previous_tool_ids:
                stray = sorted(map(str, answered - previous_tool_ids))
                problems.append(f"messages.{i}: unexpected `tool_use_id` found in `tool_result` blocks: {stray}")
            if previous_tool_ids - answered:
                missing = sorted(map(str, previous_tool_ids - answered))
                problems.append(
                    f"messages.{i - 1}: `tool_use` ids were found without `tool_result` blocks immediately after: "
                    f"{missing}"
                )
            previous_tool_ids = set()
        else:
            previous_tool_ids = {b.get("id") for b in blocks if b.get("type") == "tool_use"}
    if messages[-1].get("role") != "user" if isinstance(messages[-1], dict) else True:
        problems.append("the last message must be a user message")
    if has_tool_blocks and not body.get("tools"):
        problems.append("Requests which include `tool_use` or `tool_result` blocks must define tools.")
    return problems


def _validate_tools(body: Body) -> list[str]:
    problems = []
    tools = body.get("tools", [])
    names = set()
    for i, tool in enumerate(tools if isinstance(tools, list) else [None]):
        if not isinstance(tool, dict) or not _TOOL_NAME.match(str(tool.get("name", ""))):
            problems.append(f"tools.{i}.name: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'")
            continue
        names.add(tool["name"])
        schema = tool.get("input_schema")
        if not isinstance(schema, dict) or schema.get("type") != "object":
            problems.append(f"tools.{i}.input_schema: type must be 'object'")
    choice = body.get("tool_choice")
    if choice is not None:
        kind = choice.get("type") if isinstance(choice, dict) else None
        if kind not in ("auto", "any", "tool", "none"):
            problems.append(f"tool_choice.type: unknown {kind!r}")
        elif kind == "tool" and choice.get("name") not in names:
            problems.append("tool_choice.name: not one of the tools")
    breakpoints = json.dumps(body).count('"cache_control"')
    if breakpoints > 4:
        problems.append(f"A maximum of 4 blocks with cache_control may be provided. Found {breakpoints}.")
    return problems


class FakeAnthropic:
    """The fake API: `replies` is a queue of Reply objects or functions of the request body."""

    def __init__(self) -> None:
        self.replies: deque[Reply | ReplyFn] = deque()
        self.bodies: list[Body] = []  # every decoded POST /v1/messages body, in order
        self.raw_bodies: list[bytes] = []
        self.violations: list[str] = []  # validation problems (answered with 400)
        self._ids = itertools.count(1)
        self.server = LoopbackServer(self.app)

    @property
    def url(self) -> str:
        """Base URL for the SDK."""
        return self.server.url

    def reset(self) -> None:
        """Forget replies, recorded requests and violations (one server can serve many tests)."""
        self.replies.clear()
        self.bodies.clear()
        self.raw_bodies.clear()
        self.violations.clear()
        self.server.requests.clear()
        self.server.unexpected.clear()

    def script(self, *replies: Reply | ReplyFn) -> FakeAnthropic:
        """Queue replies in order."""
        self.replies.extend(replies)
        return self

    def app(self, req: Request) -> Response | None:
        """Route requests; anything but POST /v1/messages is unexpected."""
        if req.method != "POST" or req.path != "/v1/messages":
            return None
        self.raw_bodies.append(req.body)
        try:
            body = json.loads(req.body)
        except ValueError:
            return _error_response("invalid_request_error", "There was an error parsing the body of your request.")
        self.bodies.append(body)
        if not (req.headers.get("x-api-key") or req.headers.get("authorization")) or not req.headers.get(
            "anthropic-version"
        ):
            return _error_response("authentication_error", "x-api-key header is required", status=401)
        problems = validate_request(body)
        if problems:
            self.violations.extend(problems)
            return _error_response("invalid_request_error", "; ".join(problems))
        if not self.replies:
            self.violations.append("no scripted reply left")
            return _error_response("api_error", "fake: no scripted reply left")
        item = self.replies.popleft()
        reply = item(body) if callable(item) else item
        if reply.error_type:
            headers = {"retry-after": reply.retry_after} if reply.retry_after else {}
            return _error_response(reply.error_type, reply.error_message, headers=headers)
        if body.get("tool_choice", {}).get("type") == "none" and reply.stop_reason == "tool_use":
            self.violations.append("scripted a tool_use reply to a request with tool_choice none")
        return Response.json(self._message(body, reply), headers={"request-id": f"req_fake{next(self._ids)}"})

    def _message(self, body: Body, reply: Reply) -> Body:
        content = [{**b, "id": f"toolu_fake{next(self._ids):04d}"} if b["type"] == "tool_use" else b
                   for b in reply.content]  # fmt: skip
        return {
            "id": f"msg_fake{next(self._ids)}", "type": "message", "role": "assistant", "model": body["model"],
            "content": content, "stop_reason": reply.stop_reason, "stop_sequence": None, "usage": reply.usage,
        }  # fmt: skip

    def __enter__(self) -> FakeAnthropic:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()


def _error_response(
    kind: str, message: str, status: int | None = None, headers: dict[str, str] | None = None
) -> Response:
    body = {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_fakeerror"}
    return Response.json(body, status=status or _ERROR_STATUS.get(kind, 400),
                         headers={"request-id": "req_fakeerror", **(headers or {})})  # fmt: skip
