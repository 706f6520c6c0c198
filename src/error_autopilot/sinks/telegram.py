"""Telegram notifications: one message per environment chat with what the run found.

New and regressed incidents come first (service, error, culprit, issue and PR links), recurring
ones in one line, then the policy refusals and a link to the run. A run with nothing new sends
nothing: recurring errors are already tracked on their issues, and a chat that pings every five
minutes gets muted.

HTML parse mode. Text is cut into messages of at most 4,096 characters at line boundaries *before*
any markup is added, so a tag is never cut in half (Telegram answers 400 to that); only `&`, `<`
and `>` are escaped. Everything from logs passes through sanitize(). notify() never raises.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from error_autopilot.domain.report import LifecycleEvent, PublishedIncident, RunReport
from error_autopilot.investigation.sanitize import Redactor, sanitize
from error_autopilot.resilience import Breaker

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 4096  # characters after entity parsing, counted in UTF-16 code units
TITLE_LIMIT = 300
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Span:
    """A piece of one line: plain text, optionally inside one tag (b, i, code, or a link)."""

    text: str
    tag: str = ""
    href: str = ""


Line = tuple[Span, ...]


def escape(text: str) -> str:
    """Telegram HTML escaping: `&`, `<` and `>` only."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _line_units(line: Line) -> int:
    return sum(_units(s.text) for s in line)


def render(line: Line) -> str:
    """One line as HTML; a link whose href is not http(s) is shown as plain text."""
    out: list[str] = []
    for span in line:
        text = escape(span.text)
        if span.tag == "a" and span.href.startswith(("https://", "http://")):
            out.append(f'<a href="{escape(span.href).replace(chr(34), "%22")}">{text}</a>')
        elif span.tag in {"b", "i", "code", "pre"}:
            out.append(f"<{span.tag}>{text}</{span.tag}>")
        else:
            out.append(text)
    return "".join(out)


def _cut(line: Line, limit: int) -> Line:
    """The line shortened to `limit` units of visible text, ending in `…`."""
    kept: list[Span] = []
    budget = limit - 1
    for span in line:
        size = _units(span.text)
        if size <= budget:
            kept.append(span)
            budget -= size
            continue
        text = span.text.encode("utf-16-le")[: budget * 2].decode("utf-16-le", "ignore")
        kept.append(Span(text + "…", span.tag, span.href))
        break
    return tuple(kept)


def split_messages(lines: Iterable[Line], limit: int = MESSAGE_LIMIT) -> list[str]:
    """Lines grouped into messages of at most `limit` visible units, split between lines, then rendered."""
    messages: list[list[Line]] = [[]]
    used = 0
    for whole in lines:
        line = _cut(whole, limit) if _line_units(whole) > limit else whole
        size = _line_units(line) + (1 if messages[-1] else 0)  # the newline joining it
        if messages[-1] and used + size > limit:
            messages.append([])
            size = _line_units(line)
            used = 0
        messages[-1].append(line)
        used += size
    return ["\n".join(render(line) for line in msg) for msg in messages if msg]


def in_silent_hours(now: datetime, hours: tuple[int, int] | None) -> bool:
    """Is `now` (UTC) inside [start, end)? The window may wrap midnight (22 → 7)."""
    if hours is None:
        return False
    start, end = hours
    hour = now.astimezone(UTC).hour
    return start <= hour < end if start <= end else (hour >= start or hour < end)


class TelegramNotifier:
    """ports.Notifier over the Bot API; the client's base URL is `{api_url}/bot{token}`."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        chats: Mapping[str, str],
        silent_hours: tuple[int, int] | None,
        redactor: Redactor,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
        run_url: str | None = None,
        max_attempts: int = 3,
        max_retry_after_s: float = 30.0,
        breaker: Breaker | None = None,
    ) -> None:
        self._client = client
        self._breaker = breaker
        self._chats = dict(chats)
        self._silent_hours = silent_hours
        self._redactor = redactor
        self._clock = clock
        self._sleep = sleep
        self._run_url = run_url
        self._max_attempts = max_attempts
        self._max_retry_after_s = max_retry_after_s

    def notify(self, report: RunReport) -> list[str]:
        """Send each environment's news to its chat; one line per chat saying what happened. Never raises."""
        results: list[str] = []
        verified = [e for e in report.lifecycle if e.kind == "verified"]
        environments = sorted({i.environment for i in report.incidents} | {e.environment for e in verified})
        for env in environments:
            chat = self._chats.get(env)
            incidents = [i for i in report.incidents if i.environment == env]
            fixed = [e for e in verified if e.environment == env]
            if chat is None:
                if fixed or any(i.status in {"new", "regressed"} for i in incidents):
                    results.append(f"telegram: no chat configured for {env}; its news was not sent")
                continue
            if self._breaker is not None and (cause := self._breaker.skip()) is not None:
                results.append(f"telegram {chat} ({env}): skipped: Telegram unavailable earlier in this run ({cause})")
                continue
            try:
                results.append(self._notify_chat(chat, env, incidents, fixed))
            except Exception as e:  # a notifier must never fail the run; say what broke instead
                log.exception("telegram %s (%s): notification failed", chat, env)
                results.append(f"telegram {chat} ({env}): failed: {type(e).__name__}: {e}")
        return results

    def _notify_chat(
        self, chat: str, env: str, incidents: list[PublishedIncident], verified: list[LifecycleEvent]
    ) -> str:
        lines = self._lines(env, incidents, verified)
        if not lines:
            return f"telegram {chat} ({env}): nothing new, no message"
        silent = in_silent_hours(self._clock(), self._silent_hours)
        messages = split_messages(lines)
        for n, text in enumerate(messages, start=1):
            problem = self._send(chat, text, silent)
            if problem:
                log.warning("telegram %s (%s): message %d of %d failed: %s", chat, env, n, len(messages), problem)
                return f"telegram {chat} ({env}): sent {n - 1} of {len(messages)} message(s); failed: {problem}"
        return f"telegram {chat} ({env}): sent {len(messages)} message(s){' silently' if silent else ''}"

    def _clean(self, text: str | None, limit: int = TITLE_LIMIT) -> str:
        cleaned = _SPACES.sub(" ", sanitize(text or "", self._redactor)).strip()
        return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"

    def _lines(self, env: str, incidents: list[PublishedIncident], verified: list[LifecycleEvent]) -> list[Line]:
        news = [i for i in incidents if i.status in {"new", "regressed"}]
        failed = [i for i in incidents if i.error or "failed" in {i.issue_action, i.pr_action}]
        if not news and not failed and not verified:
            return []
        recurring = [i for i in incidents if i.status == "recurring"]
        pending = [i for i in incidents if i.status == "pending"]
        refusals = sum(1 for i in incidents for r in i.policy_refusals if not r.passed)
        summary = f" — {len(news)} new/regressed, {len(recurring)} recurring"
        lines: list[Line] = [(Span(f"error-autopilot · {self._clean(env, 60)}", "b"), Span(summary))]
        news.sort(key=lambda i: (i.status != "new", i.service))
        for inc in news + [i for i in failed if i not in news]:
            lines.extend(self._incident(inc))
        for event in verified:  # a fix that held is news too: the on-call can stop watching it
            detail = Span(f" — {self._clean(event.detail, 120)}")
            lines.append((Span("✅ "), Span(self._clean(event.title), "b"), detail))
            if event.issue_url:
                lines.append((Span("   "), Span("issue", "a", event.issue_url)))
        if recurring:
            names = ", ".join(f"{self._clean(i.service, 60)} ×{i.count}" for i in recurring[:10])
            more = f" (+{len(recurring) - 10} more)" if len(recurring) > 10 else ""
            lines.append((Span(f"♻️ {len(recurring)} recurring: {names}{more}"),))
        if pending:
            lines.append((Span(f"⏳ {len(pending)} pending, retried next run"),))
        if refusals:
            lines.append((Span(f"🛡 {refusals} auto-fix step(s) refused by policy"),))
        if self._run_url:
            lines.append((Span("run", "a", self._run_url),))
        return lines

    def _incident(self, inc: PublishedIncident) -> list[Line]:
        """Answer first, as in the issue: what and how often, where, why no PR, then the links."""
        icon = {"new": "🆕", "regressed": "🔁"}.get(inc.status, "⚠️")
        what = (
            Span(f"{icon} "),
            Span(self._clean(inc.title), "b"),
            Span(f" ×{inc.count} · {self._clean(inc.service, 60)}"),
        )
        lines: list[Line] = [what]
        if inc.culprit:
            lines.append((Span("   at "), Span(self._clean(inc.culprit, 200), "code")))
        if inc.note:
            lines.append((Span(f"   {self._clean(inc.note, 200)}"),))
        refused = [r for r in inc.policy_refusals if not r.passed]
        if refused and not inc.pr_url:
            rule, detail = self._clean(refused[0].rule, 60), self._clean(refused[0].detail, 120)
            lines.append((Span(f"   no draft PR: {rule} — {detail}"),))
        links: list[Span] = []
        if inc.issue_url:
            links.append(Span(f"issue #{inc.issue_number}" if inc.issue_number else "issue", "a", inc.issue_url))
        if inc.pr_url:
            links.extend(
                [Span(" · "), Span(f"draft PR #{inc.pr_number}" if inc.pr_number else "draft PR", "a", inc.pr_url)]
            )
        if links:
            lines.append((Span("   "), *links))
        if inc.error:
            lines.append((Span(f"   ⚠️ {self._clean(inc.error, 200)}"),))
        return lines

    def _send(self, chat: str, text: str, silent: bool) -> str | None:
        """None when sent, else what went wrong. 429 waits `retry_after` (bounded); 5xx and transport retry."""
        body: dict[str, Any] = {
            "chat_id": chat,
            "text": text,
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": True},
        }
        if silent:
            body["disable_notification"] = True
        problem = "no attempt made"
        down = False  # the last attempt met a transport error or a 5xx: Telegram itself is the problem
        for attempt in range(1, self._max_attempts + 1):
            delay = min(8.0, 2.0 ** (attempt - 1))
            try:
                response = self._client.post("/sendMessage", json=body)
                down = response.status_code >= 500
                envelope = response.json()
            except (httpx.HTTPError, ValueError) as e:
                problem = f"{type(e).__name__}: {e}"
                down = down or isinstance(e, httpx.TransportError)
            else:
                if isinstance(envelope, dict) and envelope.get("ok") is True:
                    return None
                info = envelope if isinstance(envelope, dict) else {}
                problem = str(info.get("description") or f"HTTP {response.status_code}")[:300]
                params = info.get("parameters")
                retry_after = params.get("retry_after") if isinstance(params, dict) else None
                if response.status_code == 429 and isinstance(retry_after, int | float):
                    if retry_after > self._max_retry_after_s:
                        return f"{problem} (retry_after {retry_after}s is longer than we wait)"
                    delay = float(retry_after)
                elif response.status_code != 429 and response.status_code < 500:
                    return problem
            if attempt < self._max_attempts:
                log.info("telegram %s: %s; retry %d in %.0fs", chat, problem, attempt, delay)
                self._sleep(delay)
        if self._breaker is not None and down:
            self._breaker.trip(problem)
        return problem
