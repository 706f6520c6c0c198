"""What a secret pattern is and how one is applied: a named regex, the literals that must be present for
it to be tried, and an optional check that the matched run really is a secret.

Every pattern runs in linear time: tokens start only where a token can start (TOKEN_START, a lookbehind,
not `\\b`, which lets a long dotted word be rescanned from every dot), and repeats that can fail late are
bounded.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

# what a secret is replaced by; the rule's name goes in, so a reader knows what was there
TAG = "[REDACTED:{}]"

Rule = Callable[[str], str]


@dataclass(frozen=True)
class SecretPattern:
    """A named secret shape; group `secret` (when present) is what gets replaced, the rest stays.

    `hints`: substrings one of which must be in the text (case-insensitively when `fold`) for the
    pattern to be tried at all — most lines hold no secret, and a substring test is far cheaper than
    a regex scan."""

    name: str
    regex: re.Pattern[str]
    hints: tuple[str, ...] = ()
    fold: bool = False
    check: Callable[[str], bool] | None = None  # the matched secret really is one (Luhn, entropy)

    def apply(self, text: str) -> str:
        """`text` with every match of this pattern replaced by its tag."""
        if self.hints:
            haystack = text.lower() if self.fold else text
            if not any(map(haystack.__contains__, self.hints)):  # map: the loop runs in C
                return text
        return self.substitute(text)

    def substitute(self, text: str) -> str:
        """`apply` without the hint test: for a caller that has made it."""
        return self.regex.sub(self._replace, text)

    def _replace(self, match: re.Match[str]) -> str:
        groups = match.groupdict()
        secret = groups.get("secret")
        if self.check is not None and not self.check(secret if secret is not None else match.group(0)):
            return match.group(0)
        tag = TAG.format(self.name)
        return (groups.get("k") or "") + tag if secret is not None else tag


def secret_pattern(
    name: str, pattern: str, *hints: str, flags: int = 0, check: Callable[[str], bool] | None = None
) -> SecretPattern:
    """A SecretPattern compiled from `pattern`; its hints are looked for case-insensitively when `flags` has re.I."""
    return SecretPattern(name, re.compile(pattern, flags), tuple(hints), fold=bool(flags & re.I), check=check)


# a token starts where no token character precedes it (see the module docstring on `\b`)
# …or right after a %-escape: a token in a URL-encoded URL (`next=%2Fcb%3Ftoken%3Dghp_…`) follows `%3D`
AFTER_ESCAPE = r"(?<=%[0-9A-Fa-f]{2})"
TOKEN_START = r"(?:(?<![A-Za-z0-9_\-])|" + AFTER_ESCAPE + ")"
