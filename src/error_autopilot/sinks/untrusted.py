"""Untrusted text made inert for GitHub Markdown (pure).

Everything that came from logs, traces or the model is untrusted: it is sanitised (secrets
redacted, invisible characters and HTML comments removed) and escaped, so it can neither mention
anyone, inject HTML, hide a link or image, break out of a code fence, nor forge a hidden marker.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from error_autopilot.investigation.sanitize import Redactor, clean

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")  # what can make links, images, emphasis, code or table cells
_URL_SAFE = ":/?#[]@!$&'*+,;=%~-._"  # everything but what could end a Markdown link: space, <, >, (, )
_AUTOLINK = re.compile(r"(?i)[a-z][a-z0-9+.-]*:(?=//)|\bwww\.")  # GFM links bare URLs; an entity stops it
_COMMENT = re.compile(r"<!--[\s\S]*?(?:-->|$)")
_MAX_INPUT = 200_000  # a 5 MB line is cut before cleaning: nothing rendered shows more than a few thousand


def shorten(text: str, limit: int) -> str:
    """`text` in at most `limit` characters, cut at a word boundary when one is near, ending in `…`."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 2 // 3:
        cut = cut[:space]
    return cut.rstrip(" ,.:;-") + "…"


class Untrusted:
    """Sanitise-and-escape helpers bound to one redactor."""

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self._cleaned: dict[str, str] = {}  # trimming renders the same evidence several times

    def clean(self, text: str | None) -> str:
        """Secrets redacted; invisible characters and HTML comments gone (until none is left, so
        `<!<!-- -->-- … -->` cannot reassemble a comment)."""
        key = (text or "")[:_MAX_INPUT]
        if key not in self._cleaned:
            cleaned = clean(key)
            while (stripped := _COMMENT.sub("", cleaned)) != cleaned:
                cleaned = stripped
            self._cleaned[key] = self._redactor.redact(cleaned)
        return self._cleaned[key]

    def inline(self, text: str | None, limit: int = 300) -> str:
        """For a Markdown paragraph or table cell: no HTML, no mentions, no links or images, no formatting."""
        text = shorten(" ".join(self.clean(text).split()), limit)
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("@", "&#64;")
        text = _AUTOLINK.sub(lambda m: m.group(0)[:-1] + ("&#58;" if m.group(0)[-1] == ":" else "&#46;"), text)
        return _MD_SPECIAL.sub(r"\\\1", text)

    def span(self, text: str | None, limit: int = 120, *, cell: bool = False) -> str:
        """An inline code span (literal on GitHub: no mention, HTML or escape is interpreted inside)."""
        text = " ".join(self.clean(text).split())
        text = text if len(text) <= limit else text[: limit - 1] + "…"
        if cell:  # GitHub splits table cells at `|` even inside code spans, unless escaped
            text = text.replace("|", "\\|")
        ticks = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
        pad = " " if text.startswith("`") or text.endswith("`") else ""
        return f"{ticks}{pad}{text}{pad}{ticks}"

    def plain(self, text: str | None, limit: int) -> str:
        """For a title or a label: one plain line, with nothing a reader could take for a mention or a tag."""
        text = " ".join(self.clean(text).split())
        return shorten(text.replace("@", "＠").replace("<", "‹").replace(">", "›"), limit)

    def code(self, text: str | None, lang: str = "text", limit: int = 4000) -> str:
        """A fenced block whose fence is longer than any backtick run inside it."""
        body = self.clean(text)
        body = body if len(body) <= limit else body[:limit] + "\n… (cut)"
        longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
        fence = "`" * max(3, longest + 1)
        return f"{fence}{lang}\n{body}\n{fence}"

    def mermaid(self, text: str, limit: int = 60) -> str:
        """A Mermaid label: a whitelist, so no quote, bracket or pipe survives."""
        return re.sub(r"[^\w .:/{}\-]", "_", self.clean(text))[:limit]


def linked(text: str, url: str | None) -> str:
    """`text` as a link to `url` when that is a plain http(s) URL (percent-encoded so it cannot end the link)."""
    if not url or len(url) > 2000 or not re.match(r"^https?://[^\s<>]+$", url):  # a longer URL is no use
        return text
    return f"[{text}]({quote(url, safe=_URL_SAFE)})"
