"""Markdown as GitHub shows it: cmark-gfm (GitHub's own parser) to HTML, then to the lines a reader sees."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import cmarkgfm
from cmarkgfm.cmark import Options

_BLOCKS = {"p", "li", "h1", "h2", "h3", "h4", "tr", "summary", "blockquote", "hr"}


def to_html(markdown: str) -> str:
    """GFM (tables, strikethrough, autolinks, tag filter) to HTML, raw HTML kept so injection would show."""
    return str(cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE))


class _Lines(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.pre = 0
        self.closed_details = 0  # content of a folded <details> is not on screen, its summary is

    def _flush(self) -> None:
        text = " ".join("".join(self.current).split())
        if text:
            self.lines.append(text)
        self.current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "details":
            self._flush()
            self.closed_details += 1
        elif tag in _BLOCKS or tag == "pre":
            self._flush()
        self.pre += tag == "pre"

    def handle_endtag(self, tag: str) -> None:
        if tag == "details":
            self.closed_details -= 1
        if tag in _BLOCKS or tag in ("pre", "details"):
            self._flush()
        self.pre -= tag == "pre"

    def handle_data(self, data: str) -> None:
        if self.closed_details and not self._in_summary():
            return
        if self.pre:
            lines = data.split("\n")
            for n, line in enumerate(lines):
                self.current.append(line)
                if n < len(lines) - 1:
                    self._flush()
            return
        self.current.append(data)

    def _in_summary(self) -> bool:
        return self.lasttag == "summary"


def screen_lines(markdown: str) -> list[str]:
    """The non-empty lines a reader sees, folded `<details>` closed, in order."""
    parser = _Lines()
    parser.feed(to_html(markdown))
    parser.close()
    parser._flush()
    return parser.lines


def links(html: str) -> list[str]:
    """Every link target in rendered HTML."""
    return re.findall(r'<a href="([^"]*)"', html)
