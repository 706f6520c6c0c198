"""Untrusted text hygiene: redact secrets, strip invisible/bidi characters and HTML comments.

Everything that comes from logs and traces is written by whoever can make the service fail, so it
passes through here before it reaches a prompt, an issue, a PR, a Telegram message or a summary.
Pure: no I/O, no SDKs.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

REDACTED = "[REDACTED]"


@dataclass(frozen=True)
class SecretPattern:
    """A named secret shape; group `secret` (when present) is what gets replaced."""

    name: str
    regex: re.Pattern[str]


def _p(name: str, pattern: str, flags: int = 0) -> SecretPattern:
    return SecretPattern(name, re.compile(pattern, flags))


# Ordered: specific provider formats first, generic shapes last. Measured against
# tests/fixtures/secrets/corpus.json (tests/unit/test_redaction_corpus.py prints recall and false positives).
_NOT_A_VALUE = r"(?!(?:true|false|null|none|nil|undefined|required|missing|empty|invalid|\d{1,9})\b)"
_KEYWORDS = (
    r"password|passwd|passphrase|pwd|secret|api[_\-]?key|access[_\-]?key|private[_\-]?key|account[_\-]?key|"
    r"(?<![a-z])token|(?-i:(?<=[a-z])Token)|credentials?|client[_\-]?secret|"
    r"(?<![a-z])pass(?![a-z])|(?-i:(?<=[a-z])Pass(?![a-z]))"
)
BUILTIN_PATTERNS: tuple[SecretPattern, ...] = (
    _p(
        "private-key",
        r"-----BEGIN (?:[A-Z0-9 ]+ )?PRIVATE KEY(?: BLOCK)?-----[\s\S]*?"
        r"(?:-----END (?:[A-Z0-9 ]+ )?PRIVATE KEY(?: BLOCK)?-----|$)",
    ),
    _p("github-token", r"(?<![A-Za-z0-9])(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b"),
    _p("anthropic-key", r"\bsk-ant-[A-Za-z0-9_\-]{20,}"),
    _p("openai-key", r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}"),
    _p("aws-access-key", r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"),
    _p("aws-secret", r"(?i)(?P<k>aws_?secret_?access_?key[\"']?\s*[:=]\s*[\"']?)(?P<secret>[A-Za-z0-9/+=]{40})"),
    _p("slack-token", r"\bxox[abposre]-[A-Za-z0-9-]{10,}|\bxapp-\d-[A-Za-z0-9-]{10,}"),
    _p("slack-webhook", r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]+"),
    _p("discord-webhook", r"https://(?:\w+\.)?discord(?:app)?\.com/api/webhooks/\d+/[A-Za-z0-9_\-]+"),
    _p("stripe-key", r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}|\bwhsec_[A-Za-z0-9+/=]{24,}"),
    _p("google-api-key", r"\bAIza[0-9A-Za-z_\-]{35}\b"),
    _p("google-oauth", r"\bGOCSPX-[A-Za-z0-9_\-]{20,}|\bya29\.[A-Za-z0-9_\-]{20,}"),
    _p("gitlab-token", r"\bgl(?:pat|dt|rt|ptt|ft|imt|agent|oas|soat|cbt)-[A-Za-z0-9_\-]{20,}"),
    _p("telegram-bot-token", r"(?<![0-9])\d{8,10}:AA[A-Za-z0-9_\-]{30,40}(?![A-Za-z0-9_\-])"),
    _p("npm-token", r"\bnpm_[A-Za-z0-9]{36}\b"),
    _p("sendgrid-key", r"\bSG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}\b"),
    _p("grafana-token", r"\b(?:glc|glsa)_[A-Za-z0-9_\-+/=]{32,}|\beyJrIjoi[A-Za-z0-9+/=]{40,}"),
    _p("huggingface-token", r"\bhf_[A-Za-z0-9]{30,}\b"),
    _p(
        "vendor-token",
        r"\b(?:dop_v1_[a-f0-9]{64}|hvs\.[A-Za-z0-9_\-]{24,}|shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}|"
        r"pypi-AgE[A-Za-z0-9_\-]{50,}|dckr_pat_[A-Za-z0-9_\-]{20,}|lin_api_[A-Za-z0-9]{32,}|NRAK-[A-Z0-9]{27}|"
        r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}|ATATT3[A-Za-z0-9_\-=]{30,}|SK[a-f0-9]{32}|key-[a-f0-9]{32})\b",
    ),
    _p("jwt", r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
    _p("url-credentials", r"(?P<k>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@]*:)(?P<secret>[^\s@/]+)(?=@)"),
    _p(
        "authorization-header",
        r"(?i)(?P<k>\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?\s*(?:(?:basic|bearer|token|digest|apikey|sso-key)\s+)?)"
        r"(?P<secret>[^\s\"',;]{4,})",
    ),
    _p("bearer", r"(?i)(?P<k>\b(?:bearer|token|basic)\s+)(?P<secret>[A-Za-z0-9_\-.=+/]{16,})"),
    _p(
        "api-key-header",
        r"(?i)(?P<k>\bx-(?:api|auth|access)-(?:key|token)[\"']?\s*[:=]\s*[\"']?)(?P<secret>[^\s\"',;]{8,})",
    ),
    _p(
        "assignment",
        r"(?i)(?P<k>\b[\w.\-]*(?:"
        + _KEYWORDS
        + r")[\w.\-]*[\"']?\s*[:=]\s*[\"']?)"
        + _NOT_A_VALUE
        + r"(?P<secret>[^\s\"',;&}]{4,})",
    ),
    _p("email", r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}\b"),
    _p("card-number", r"(?<![\d.:\-])[2-6]\d{3}(?:[ -]?\d){9,15}(?![\d.:\-])"),
)

_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\u00ad\u180e\U000e0000-\U000e007f]")
_HTML_COMMENT = re.compile(r"<!--[\s\S]*?(?:-->|$)")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _luhn_ok(digits: str) -> bool:
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = int(ch)
        if i % 2 == parity:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


class Redactor:
    """Replaces secrets with `[REDACTED:<kind>]`; built-in patterns plus user ones."""

    def __init__(self, extra_patterns: Iterable[str] = ()) -> None:
        self._patterns = BUILTIN_PATTERNS + tuple(_p(f"custom-{i + 1}", p) for i, p in enumerate(extra_patterns))

    def redact(self, text: str) -> str:
        """Text with every recognised secret replaced."""
        for pattern in self._patterns:
            text = pattern.regex.sub(functools.partial(self._replace, name=pattern.name), text)
        return text

    def findings(self, text: str) -> list[str]:
        """Names of the patterns that match (for tests and reports, never the values)."""
        return [p.name for p in self._patterns if any(self._is_secret(m, p.name) for m in p.regex.finditer(text))]

    @staticmethod
    def _is_secret(match: re.Match[str], name: str) -> bool:
        if name == "card-number":
            digits = re.sub(r"\D", "", match.group(0))
            return 13 <= len(digits) <= 19 and _luhn_ok(digits)
        return True

    def _replace(self, match: re.Match[str], name: str) -> str:
        if not self._is_secret(match, name):
            return match.group(0)
        tag = f"[REDACTED:{name}]"
        groups = match.groupdict()
        if groups.get("secret") is not None:
            return (groups.get("k") or "") + tag
        return tag


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
