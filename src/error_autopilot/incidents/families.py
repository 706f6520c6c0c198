"""Families of shapes: lines that differ from a shape's first line only in the lengths of some runs of digits
(`id=99`, `id=100`), where no rule could tell those lengths apart (incidents/lengths.py), are of a shape
derived from it (`Family.derive`): one template and one full parse for all of them, where each length of each
id cost a parse of its own (with ten thousand bugs, most of their parses).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from error_autopilot.incidents.cards import card_check, card_spans
from error_autopilot.incidents.lengths import MAX_DIGITS, MIN_DIGITS, free_runs
from error_autopilot.incidents.shapes import Shape
from error_autopilot.redaction import luhn_card


@dataclass(slots=True, frozen=True)
class Family:
    """A shape parsed in full, and the lengths its free digit runs (`lengths.free_runs`) may take: a line that
    differs from its first only there is of a shape derived from it, without a parse of its own."""

    first: Shape
    lengths: tuple[int, ...]
    free: tuple[int, ...]

    def derive(self, line: str, parts: list[str], lengths: tuple[int, ...], varying: Sequence[int]) -> Shape | None:
        """The shape of `line` (split into `parts`, its runs of these `lengths`), when it differs from the first
        line only in the lengths of free runs and holds nothing a full parse must see: a card number, or an
        all-zero id (which reads as none)."""
        for i, (known, length) in enumerate(zip(self.lengths, lengths, strict=True)):
            if known != length and (i not in self.free or not MIN_DIGITS <= length <= MAX_DIGITS):
                return None
        first = self.first
        if first.fingerprint is None:
            return first  # not an error: nothing of it is counted
        if any(not parts[2 * i + 1].strip("0") for i in varying) or luhn_card(line):
            return None
        return dataclasses.replace(first, cards=card_check(card_spans(parts, varying)), split=0,
                                   counted_into=None, runs=None, message="", origin=first)  # fmt: skip


def family_key(stream: int, parts: Sequence[str], kinds: str, fixed: object) -> tuple[object, ...]:
    """What the lines of one family share: their stream, constant text (as a digest: it is kept for every
    family), run kinds and the values of their fixed runs."""
    consts = "\x00".join(parts[0::2]).encode("utf-8", "surrogatepass")
    return (stream, hashlib.blake2b(consts, digest_size=16).digest(), kinds, fixed)


def family_of(
    shape: Shape, line: str, parts: list[str], lengths: tuple[int, ...], digits: Sequence[int], message_counts: bool
) -> Family | None:
    """The family a shape just parsed in full heads, when some of its varying runs of `digits` are free to
    change length (`message_counts`: whether its parameterised message is part of its fingerprint)."""
    free = free_runs(line, parts, digits, message_counts)
    return Family(shape, lengths, free) if free else None
