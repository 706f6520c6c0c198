"""Which runs of digits may change length within a shape (`free_runs`): `id=99` and `id=100` are one bug,
and with ten thousand bugs each length of each id cost a full parse of its own.

A varying run of digits may take any length from `MIN_DIGITS` to `MAX_DIGITS` when no rule that parses,
redacts or fingerprints a line could tell two of those lengths apart, shown once per shape from the text
around the run, with every such run at its longest (`MAX_DIGITS`):

- bounded counts of digits: card numbers are 13 to 19 (the card spans of each length are worked out on
  their own, see ingest.py), trace ids 16 or 32, stack line numbers up to 7 (`\\d{1,7}`): none is crossed
  between 4 and `MAX_DIGITS`;
- token rules (a secret's length, a base64 run, an e-mail's parts): the stretch of token characters
  around the run stays shorter than the shortest of them (`TOKEN_ROOM`), and the stretch of anything
  but spaces and quotes shorter than the bounded values (`BROAD_ROOM`);
- values named by a secret word (`token=1234567` is no secret, `token=1234567890` is): the line names
  no secret at all, in any spelling a rule reads (`key_class`), and has no escape that could hide one;
- the parameterised message (`<int>`, `<timestamp>`, `<ip>`, `<uuid>`, `<quoted>`), when it counts
  toward the fingerprint: no `:` beside the run, no hex digit across a `-` or `+`, and the quotes
  around it near enough that a quoted value never passes 200 characters;
- positions: the whole line far below every cap (`LINE_ROOM`), and no `Traceback` header on the same
  line after the run (a Python header may stand at most 200 characters in).
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence

from error_autopilot.redaction.secret_names import key_class

MIN_DIGITS = 4  # a shorter stretch of digits is no run (runs.py)
MAX_DIGITS = 7  # stack parsers read line numbers of up to 7 digits
TOKEN_ROOM = 14  # the shortest token rule needs 15 characters (`xoxb-` and ten more)
BROAD_ROOM = 199  # bounded values: a quoted one 200 characters, a URL's user 256, its password 512
LINE_ROOM = 900  # messages and parameterised text are cut at 1024 characters; stack lines at 4096
# every word a secret's name is read by (assignments, name/value pairs, options, JSON keys), and more
_SECRET_WORDS = re.compile(r"pass|pw|secret|token|key|cred|auth|sig|private|sess|sid|cookie|jwt|sas")
_KEY_CHARS = frozenset(string.ascii_letters + string.digits + "_.-")
_KEY_MAX = 30  # a longer key could be cut where a rule reads only its first 40 or 64 characters
# characters no token rule takes into a token; and those no bounded value does (spaces, quotes). A backslash is
# taken in: the text a JSON line decodes to (`a\/1234` is `a/1234`) has no longer stretch than the line
_NOT_TOKEN = frozenset(string.whitespace + "\"',;()[]{}<>|&!?#")
_NOT_VALUE = frozenset(string.whitespace + "\"'")
_HEX = frozenset(string.hexdigits)
_QUOTED_ROOM = 190


def free_runs(line: str, parts: Sequence[str], candidates: Sequence[int], message_counts: bool) -> tuple[int, ...]:
    """The runs among `candidates` (varying runs of digits, by index) that may take any length from
    `MIN_DIGITS` to `MAX_DIGITS` in lines of this shape; `parts` is the line split into constant text and
    runs, `message_counts` whether its parameterised message is part of its fingerprint."""
    runs = parts[1::2]
    candidates = [i for i in candidates if MIN_DIGITS <= len(runs[i]) <= MAX_DIGITS and runs[i].isdigit()]
    growth = {i: MAX_DIGITS - len(runs[i]) for i in candidates}
    if not candidates or len(line) + sum(growth.values()) > LINE_ROOM or not _names_no_secret(line):
        return ()
    starts: list[int] = []
    at = 0
    for n, part in enumerate(parts):
        if n % 2:
            starts.append(at)
        at += len(part)
    free = []
    for i in candidates:
        start, end = starts[i], starts[i] + len(runs[i])
        before, after = line[start - 1 : start], line[end : end + 1]
        if ":" in (before, after) or ("Traceback" in line and _header_after(line, end)):
            continue
        # `2026-11-25`, `+0200`, a uuid's groups: hex digits across a sign make the run part of another value
        if (before in "-+" and before and line[start - 2 : start - 1] in _HEX) or (
            after == "-" and line[end + 1 : end + 2] in _HEX
        ):
            continue
        token = _stretch(line, start, end, _NOT_TOKEN)
        value = _stretch(line, start, end, _NOT_VALUE)
        if _longest(token, starts, growth) > TOKEN_ROOM or _longest(value, starts, growth) > BROAD_ROOM:
            continue
        if message_counts and not _quotes_near(line, start, end, sum(growth.values())):
            continue
        free.append(i)
    return tuple(free)


def _names_no_secret(line: str) -> bool:
    """No secret word in the line is part of a name a rule would take for a secret's (or that a run could
    lengthen past where a rule stops reading), and no escape could spell one out of sight."""
    if "\\u" in line or "PRIVATE KEY" in line:
        return False
    lowered = line.lower()
    if len(lowered) != len(line):
        return False
    for word in _SECRET_WORDS.finditer(lowered):
        start, end = word.start(), word.end()
        while start > 0 and line[start - 1] in _KEY_CHARS:
            start -= 1
        while end < len(line) and line[end] in _KEY_CHARS:
            end += 1
        key = line[start:end]
        if end - start > _KEY_MAX or any(c.isdigit() for c in key) or key_class(key) is not None:
            return False
    return True


def _stretch(line: str, start: int, end: int, stops: frozenset[str]) -> tuple[int, int]:
    """The span around [start, end) of characters not in `stops`."""
    while start > 0 and line[start - 1] not in stops:
        start -= 1
    while end < len(line) and line[end] not in stops:
        end += 1
    return start, end


def _longest(span: tuple[int, int], starts: Sequence[int], growth: dict[int, int]) -> int:
    """The span's length with every candidate run in it at its longest."""
    a, b = span
    return b - a + sum(extra for i, extra in growth.items() if a <= starts[i] < b)


def _header_after(line: str, end: int) -> bool:
    """Whether a `Traceback` after the run could be on its line: no newline (or JSON string end) between."""
    at = line.find("Traceback", end)
    if at < 0:
        return False
    between = line[end:at]
    return "\n" not in between and "\\n" not in between and re.search(r'(?<!\\)"', between) is None


def _quotes_near(line: str, start: int, end: int, growth: int) -> bool:
    """Whether every pair of quotes around the run stays within a quoted value's bound at any length."""
    for quote in "'\"":
        opening, closing = line.rfind(quote, 0, start), line.find(quote, end)
        if opening >= 0 and closing >= 0 and closing - opening + growth > _QUOTED_ROOM:
            return False
    return True
