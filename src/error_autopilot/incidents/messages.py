"""A message as incidents read it: the thrown type and the first line of its message, and the slots of
its parameterised template (what each placeholder held in one occurrence, and what to call it)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from error_autopilot.domain.events import ErrorEvent
from error_autopilot.incidents.parameterize import MAX_INPUT, PATTERNS

MAX_SLOTS = 8
PLACEHOLDER = re.compile("(" + "|".join(sorted({re.escape(p.placeholder) for p in PATTERNS})) + ")")
_NAME = re.compile(r"([A-Za-z_][\w-]*)\W{0,3}$")
_NOT_A_NAME = frozenset(("a", "an", "the", "after", "before", "for", "in", "at", "of", "to", "from", "with", "by", "on",
                         "is", "was", "be", "than"))  # fmt: skip


def short_type(exception_type: str) -> str:
    """`IllegalStateException` of `java.lang.IllegalStateException`; a type with spaces stays whole."""
    return exception_type.rsplit(".", 1)[-1] if " " not in exception_type else exception_type


def type_and_message(event: ErrorEvent) -> tuple[str | None, str]:
    """The thrown type (short) and the first line of its message, whitespace collapsed."""
    exc_type = event.stack.primary.type if event.stack else event.exception_type
    message = event.exception_message or (event.stack.primary.message if event.stack else "") or event.message
    first = message.strip().split("\n", 1)[0] if message.strip() else ""
    return (short_type(exc_type) if exc_type else None), " ".join(first[:MAX_INPUT].split())


def _names_a_value(word: str) -> bool:
    """`code` in `coupon code: X` names X; `after`, `for` or `GET` (in `GET /users/1`) do not."""
    return word.lower() not in _NOT_A_NAME and not word.isupper()


@dataclass(frozen=True, slots=True)
class SlotMatch:
    """Where each slot of a template stands in a message that fits it."""

    text: str
    spans: tuple[tuple[int, int], ...]

    def groups(self) -> tuple[str, ...]:
        """What each slot holds."""
        return tuple(self.text[start:end] for start, end in self.spans)

    def span(self, slot: int) -> tuple[int, int]:
        """Where slot `slot` (from 1, as a regex group) stands."""
        return self.spans[slot - 1]


@dataclass(frozen=True, slots=True)
class Template:
    """A template's constant text around its slots. `fullmatch` reads a message as the regex `literal(.+?)literal…`
    (DOTALL) would, without compiling one: that was some 80 us a template, and ten thousand bugs have thousands."""

    literals: tuple[str, ...]  # one more than the slots; only the first and the last may be empty

    def fullmatch(self, text: str) -> SlotMatch | None:
        """Each slot at least one character, every one as short as lets the rest fit (a lazy group's choice);
        None when the message does not fit."""
        spans: list[tuple[int, int]] = []
        first = self.literals[0]
        if not text.startswith(first) or not self._fit(text, 0, len(first), spans, set()):
            return None
        return SlotMatch(text, tuple(spans))

    def _fit(
        self, text: str, slot: int, start: int, spans: list[tuple[int, int]], failed: set[tuple[int, int]]
    ) -> bool:
        """Whether slots `slot`… fit `text` from `start`, their spans added to `spans`; `failed`: the (slot, start)
        found not to fit, so each is tried once. A method, not a closure: a recursive closure is a reference
        cycle, left for the garbage collector on every call."""
        after = self.literals[slot + 1]
        if slot == len(self.literals) - 2:  # the last slot runs to where the last literal ends the message
            end = len(text) - len(after)
            if end > start and text.endswith(after):
                spans.append((start, end))
                return True
            return False
        if (slot, start) in failed:
            return False
        at = text.find(after, start + 1)
        while at >= 0:
            spans.append((start, at))
            if self._fit(text, slot + 1, at + len(after), spans, failed):
                return True
            spans.pop()
            at = text.find(after, at + 1)
        failed.add((slot, start))
        return False


@functools.lru_cache(maxsize=1024)  # one template per incident, matched against every event of it
def template_slots(template: str) -> tuple[Template | None, tuple[tuple[str, str], ...]]:
    """How a message of this template is read into its slots, and (name, kind) per slot. None when the
    template has no placeholder, too many, or two touching (ambiguous to split)."""
    pieces = PLACEHOLDER.split(template)
    literals, kinds = pieces[0::2], [p[1:-1] for p in pieces[1::2]]
    if not kinds or len(kinds) > MAX_SLOTS or any(not lit for lit in literals[1:-1]):
        return None, ()
    names = tuple((m.group(1) if (m := _NAME.search(lit)) and _names_a_value(m.group(1)) else f"{kind} value", kind)
                  for lit, kind in zip(literals, kinds, strict=False))  # fmt: skip
    return Template(tuple(literals)), names
