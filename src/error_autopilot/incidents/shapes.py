"""What the first line of a shape said (`Shape`), and how the later lines of it are counted into its incident
from their runs (`Counted`): the facts they share, and which runs fill the incident's template slots
(`pieces_of`). A shape is found and made by incidents/ingest.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from error_autopilot.incidents.cards import CardSpans
from error_autopilot.incidents.counting import Accumulator, Pieces
from error_autopilot.incidents.messages import template_slots
from error_autopilot.incidents.runs import RUN

UNFIT: Final[Pieces] = ((-1,),)  # the message's variable parts cannot be read from the runs: parse every line


@dataclass(slots=True)
class Shape:
    """What the first line of a shape said, and where the others' varying facts sit among their runs."""

    fingerprint: str | None  # its value (the incident holds the explained one); None: not an error
    service: str = ""
    has_stack: bool = False
    truncated: str | None = None
    trace: int = -1  # index of the run holding the trace id; -1: every line has `trace_id`
    trace_id: str | None = None
    version: int = -1
    version_value: str | None = None
    # the first line's message, as the grouper reads it, and its runs: what its incident's template slots
    # hold is worked out from them once (`Counted`), then they are let go (with ten thousand bugs, some
    # 20,000 shapes held them to the end)
    message: str = ""
    runs: tuple[str, ...] | None = ()
    varying: tuple[int, ...] = ()
    same: tuple[tuple[int, ...], ...] = ()  # varying runs equal in the first line: must stay equal
    # `same` as two getters, each run against the first of its group: a line whose two tuples differ is parsed
    # in full (one comparison in C, where a set per group cost some 3 us a line with ten thousand bugs)
    equal: tuple[Callable[[Sequence[str]], object], Callable[[Sequence[str]], object]] | None = None
    exact: bool = False  # every line of this shape is parsed in full
    # spans of the shape's lines (the same in all) where a varying run could make a card number: a line with
    # one there is parsed in full
    cards: CardSpans | None = None
    split: int = 0  # its lines found by splitting (or a layout's template), before it has a template of its own
    counted_into: Counted | None = None
    # the shape this one was derived from (incidents/families.py): its first line's message
    origin: Shape | None = None


class Counted:
    """A shape counted into its incident: the `Facts` its lines share, and how each line's runs fill the
    incident's template slots (`pieces`)."""

    __slots__ = ("fixed_trace", "fixed_version", "group", "has_stack", "pieces", "shape", "template", "truncated")

    def __init__(self, group: Accumulator, shape: Shape, pieces: Pieces | None) -> None:
        self.group, self.template, self.shape, self.pieces = group, group.template, shape, pieces
        self.has_stack, self.truncated = shape.has_stack, shape.truncated
        self.fixed_trace, self.fixed_version = shape.trace < 0, shape.version < 0

    def trace_id(self, runs: Sequence[str]) -> str | None:
        """The line's trace id: the shape's, or read from its run."""
        shape = self.shape
        return shape.trace_id if shape.trace < 0 else _trace_id(runs[shape.trace])

    def version(self, runs: Sequence[str]) -> str | None:
        """The line's version: the shape's, or its run."""
        shape = self.shape
        return shape.version_value if shape.version < 0 else runs[shape.version]


def _trace_id(run: str) -> str | None:
    """`normalise_trace_id` for a run of the same kind and length as one it accepted."""
    text = run.lower()
    return text.rjust(32, "0") if text.strip("0") else None


def pieces_of(shape: Shape, template: str) -> Pieces | None:
    """`_pieces` of the shape, or of the one it was derived from: its lines have their runs at the same places."""
    origin = shape.origin
    if origin is None:
        return _pieces(shape, template)
    known = origin.counted_into
    return known.pieces if known is not None and known.template == template else _pieces(origin, template)


def _pieces(shape: Shape, template: str) -> Pieces | None:
    """Each of the template's variable parts in this shape's message, as constant text and varying runs;
    None when the message does not fit the template, `UNFIT` when the runs cannot say what they hold (or
    are no longer known: never, as an incident keeps its template)."""
    runs, varying = shape.runs, shape.varying
    if runs is None:
        return UNFIT
    in_message = {i for i in varying if runs[i] in shape.message}
    regex, _ = template_slots(template)
    match = regex.fullmatch(shape.message) if regex is not None else None
    if match is None:
        return UNFIT if in_message else None  # another value might make it fit
    slots: list[str | int | tuple[str | int, ...]] = []
    covered: set[int] = set()
    for value in match.groups():
        slot: list[str | int] = []
        for n, part in enumerate(RUN.split(value)):
            index = next((i for i in varying if runs[i] == part), None) if n % 2 else None
            if index is not None:
                slot.append(index)
                covered.update(i for i in varying if runs[i] == part)
            elif n % 2 and any(part in runs[i] for i in varying):
                return UNFIT  # the part cuts through a varying run
            elif part:
                slot.append(part)
        slots.append(slot[0] if len(slot) == 1 else tuple(slot) if slot else "")
    return UNFIT if in_message - covered else tuple(slots)
