"""Untrusted text hygiene: strip invisible/bidi characters, ANSI escapes and HTML comments, then redact.

Log lines arrive here already redacted (at the door, incidents/events.py); traces, git output, test
output and model answers do not, so whatever is about to reach a prompt, an issue, a PR, a Telegram
message or a summary passes through `sanitize()`. Pure: no I/O, no SDKs.
"""

from __future__ import annotations

import re

from error_autopilot.redaction import Redactor

__all__ = ["Redactor", "clean", "sanitize"]

_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\u00ad\u180e\U000e0000-\U000e007f]")
_HTML_COMMENT = re.compile(r"<!--[\s\S]*?(?:-->|$)")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean(text: str) -> str:
    """Strip ANSI escapes, control characters, invisible/bidi characters and HTML comments."""
    text = _ANSI.sub("", text)
    text = _CONTROL.sub("", text)
    text = _INVISIBLE.sub("", text)
    return _HTML_COMMENT.sub("", text)


_DEFAULT = Redactor()


def sanitize(text: str, redactor: Redactor | None = None) -> str:
    """clean() then redact(): the one call every sink and prompt builder uses."""
    return (redactor or _DEFAULT).redact(clean(text))
