"""A line's runs (incidents/runs.py), and the run kinds of its *skeleton* that say which runs may vary, found
without splitting the line once a line of the same skeleton was split.

A line's *skeleton* is its text with every hex digit made one and the same character (a C translation,
some 0.5 us a line). Two lines of one skeleton and one clock span have their runs at the same places:
`RUN` splits on hex digits alone. So the first line split says where the others' runs stand, and one
slicing in C reads them. The characters next to a run are never hex digits (runs are maximal), so the
skeleton also says which runs of given kinds may vary (`Kinds`): a line's shape is looked up by its text
outside those (`Kinds.key`), one slicing and one dict lookup, where a lookup by constant text and another
by the fixed runs cost twice that. A skeleton's kinds seen often get a regex of their own
(`runs.skeleton_template`), tried before the skeleton: one match reads the runs and checks their kinds (with
ten thousand bugs nearly every line is read so, where a bug's own template would not pay for its compiling).
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter, methodcaller

from error_autopilot.incidents.cards import CardSpans
from error_autopilot.incidents.runs import CLOCK_WITHIN, find_clock, skeleton_template, split
from error_autopilot.incidents.runs import kinds as kinds_of
from error_autopilot.incidents.shapes import Shape

MAX_LAYOUTS = 50_000  # remembered shapes (and skeletons' kinds); past this the cache starts again (memory bounded)
TEMPLATES_PER_LENGTH = 8  # skeletons' kinds (or shapes) kept per line length and clock: each miss tries them all
# lines of a shape split before it gets a template: compiling one costs some 300 us, what a hundred lines'
# splits cost, so a shape of a few lines (10,000 distinct bugs) never pays for one
TEMPLATE_AFTER = 256
# lines of a skeleton's kinds before they get a template: the bugs of one skeleton share it, so it pays soon
SKELETON_TEMPLATE_AFTER = 64
_MIN_HEX = 8  # a shorter run of letters and digits could be a word (`add1`): it must match exactly
_NAME_CHARS = frozenset(string.ascii_letters + string.digits + "_$")
# `Foo.add1234`, `3.1415`, `C:\\1234`: part of a name or number. A path segment (`/users/1234`) may vary: a
# path that names code (a frame's module) is caught as a varying run inside the fingerprint
_JOINED_BEFORE = _NAME_CHARS | frozenset(".\\")
# an ASCII line's hex digits as a byte no ASCII text holds; other lines through a prefix-free code, so that no
# other text reads as a hex digit
_HEX_BYTES = bytes.maketrans(string.hexdigits.encode(), b"\x80" * len(string.hexdigits))
_HEX_TEXT: dict[int, str] = {**{ord(c): "\x00" for c in string.hexdigits}, 0: "\x01\x00", 1: "\x01\x01"}

Where = tuple[int, int, tuple[int, int] | None]  # (stream, line length, clock span)
# what `Layouts.find` finds of a line
Found = tuple[Sequence[str], "Kinds", tuple[int, ...], Shape | None, CardSpans | None]
_CLOCK_GOES_ON = frozenset(string.hexdigits + ".,")  # what could make a clock longer once a line's digits change


def varying_runs(consts: Sequence[str], kinds: str, lengths: Sequence[int]) -> tuple[int, ...]:
    """The runs that may vary, by index, in a line of this constant text (only the characters next to runs
    are read: a skeleton fixes them) and run kinds and lengths; the others must match exactly."""
    varying: list[int] = []
    for i, kind in enumerate(kinds):
        before, after = consts[i][-1:], consts[i + 1][:1]
        free = kind == "t" or (kind != "w" and before not in _JOINED_BEFORE)
        if kind not in "dt":  # a run of digits may take a unit (`150ms`); one with letters must end at a boundary
            free = free and after not in _NAME_CHARS and (lengths[i] >= _MIN_HEX or before == "-")
        if free:
            varying.append(i)
    return tuple(varying)


@dataclass(slots=True)
class Kinds:
    """One skeleton's runs of given kinds: which vary, and the shapes by the line's text outside those."""

    kinds: str
    varying: tuple[int, ...]
    key: Callable[[str], object]  # the line's constant text and fixed runs (a string, or a tuple of them)
    shapes: dict[object, Shape] = field(default_factory=dict)
    split: int = 0  # its lines read by splitting, before it has a template
    templated: bool = False  # it has a template, or no room was left for one


class _Skeleton:
    """Where the runs of every line of one skeleton stand, and the characters around them."""

    __slots__ = ("consts", "kinds", "lengths", "runs", "slices")

    def __init__(self, parts: Sequence[str]) -> None:
        self.slices: list[slice] = []
        at = 0
        for part in parts:
            self.slices.append(slice(at, at + len(part)))
            at += len(part)
        runs = self.slices[1::2]
        self.runs: Callable[[str], tuple[str, ...]] = (
            itemgetter(*runs) if len(runs) > 1 else (lambda line: (line[runs[0]],)) if runs else (lambda line: ())
        )
        self.lengths = tuple(map(len, parts[1::2]))
        self.consts = tuple(c[:1] + c[-1:] for c in parts[0::2])  # the characters next to runs (all a skeleton fixes)
        self.kinds: dict[str, Kinds] = {}

    def of(self, kinds: str) -> Kinds:
        """The runs of these kinds: varying ones, and the key of a line's other text."""
        varying = varying_runs(self.consts, kinds, self.lengths)
        gaps, start = [], 0
        for i in varying:
            gaps.append(slice(start, self.slices[2 * i + 1].start))
            start = self.slices[2 * i + 1].stop
        gaps.append(slice(start, None))
        found = self.kinds[kinds] = Kinds(kinds, varying, itemgetter(*gaps))
        return found


class _Template:
    """A skeleton's runs of given kinds, as a regex over whole lines (`runs.skeleton_template`), and the
    shapes of its lines by what its groups say may differ between them: one short string, where the key of a
    line's whole other text took a slicing and a hash of most of the line."""

    __slots__ = ("checked", "key", "kinds", "lengths", "regex", "runs", "shapes")

    def __init__(
        self, parts: Sequence[str], by_kind: Kinds, lengths: tuple[int, ...], cards: CardSpans | None
    ) -> None:
        # the card check of the first line's shape, made by the same match (the shapes of a skeleton mostly
        # share theirs): `CardSpans.within` cost some 0.5 us a line with ten thousand bugs
        places = cards.places if cards is not None else None
        self.checked = cards if places else None
        self.regex, runs, other = skeleton_template(parts, by_kind.kinds, by_kind.varying, places or "")
        self.runs = _groups(runs)
        # the groups joined: each is of a fixed length, so the text says them all (a tuple of them kept for every
        # shape cost some 300 bytes more)
        self.key: Callable[[re.Match[str]], str] = (
            (lambda match: "".join(match.group(*other))) if len(other) > 1
            else (lambda match: match.group(other[0])) if other else (lambda match: "")
        )  # fmt: skip
        self.kinds, self.lengths = by_kind, lengths
        self.shapes: dict[str, Shape] = {}


def _groups(numbers: Sequence[int]) -> Callable[[re.Match[str]], tuple[str, ...]]:
    """A match's groups of these numbers, as a tuple, in one call."""
    if len(numbers) > 1:
        return methodcaller("group", *numbers)
    if numbers:
        only = numbers[0]
        return lambda match: (match.group(only),)
    return lambda match: ()


def clock_certain(line: str, clock: re.Match[str] | None) -> bool:
    """Whether `CLOCK` finds the same clock (or none) in every line a skeleton template of this line matches
    (`runs.skeleton_template`). Such a line has its colons where this one has them (a colon is no hex digit,
    and the template matches every other character but hex digits as it stands), and the clock's digits
    where this one's are: a clock takes two colons three apart in the line's start, so when only the clock's
    own two are, no other clock can be found; and the clock can take no more when what follows it is neither a
    hex digit nor a `.` or `,` (or its fraction is as long as `CLOCK` reads)."""
    colons = [at for at, char in enumerate(line[:CLOCK_WITHIN]) if char == ":"]
    pairs = [at for at in colons if at + 3 in colons]
    if clock is None:
        return not pairs
    start, end = clock.span()
    after = line[end : end + 1]
    return pairs == [start + 2] and (end - start == 18 or (after != "" and after not in _CLOCK_GOES_ON))


def skeleton(line: str) -> bytes | str:
    """The line with every hex digit made one character: lines of one skeleton split at the same places."""
    return line.encode().translate(_HEX_BYTES) if line.isascii() else line.translate(_HEX_TEXT)


class Layouts:
    """Each line's runs and their kinds' `Kinds`, remembered by skeleton (and by regex for those seen often)."""

    def __init__(self) -> None:
        self._skeletons: dict[tuple[Where, bytes | str], _Skeleton] = {}
        self._count = 0  # skeletons' kinds and shapes remembered
        # (stream, line length, clock span) -> skeletons' kinds seen often, each as a regex matching exactly the
        # lines of that skeleton whose runs are of those kinds
        self._templates: dict[Where, list[_Template]] = {}
        # (stream, line length) -> those whose every line has its clock where the template's first line had it
        # (`clock_certain`): tried before the clock is looked for, which cost some 0.5 us a line
        self._certain: dict[tuple[int, int], list[_Template]] = {}

    def clear(self) -> None:
        """Forget every skeleton (and so the shapes found through them)."""
        self._skeletons.clear()
        self._templates.clear()
        self._certain.clear()
        self._count = 0

    def find(self, line: str, stream: int) -> Found:
        """The line's runs, its skeleton's `Kinds` for their kinds, their lengths, the line's shape when one is
        known (see `keep`), and the card spans the line was checked against and holds no card number in (those
        `CardSpans.within` would have said False of), if any; `stream`: the number of the line's labels and
        metadata."""
        for template in self._certain.get((stream, len(line)), ()):
            match = template.regex.fullmatch(line)
            if match is not None:
                return self._matched(template, match, line)
        clock = find_clock(line)
        where = (stream, len(line), clock.span() if clock is not None else None)
        for template in self._templates.get(where, ()):
            match = template.regex.fullmatch(line)
            if match is not None:
                return self._matched(template, match, line)
        known = self._skeletons.get((where, skeleton(line)))
        if known is None:
            self._made()
            known = self._skeletons[(where, skeleton(line))] = _Skeleton(split(line, clock))
        runs = known.runs(line)
        kinds = kinds_of(runs)
        by_kind = known.kinds.get(kinds)
        if by_kind is None:
            self._made()
            by_kind = known.of(kinds)
        by_kind.split += 1
        shape = by_kind.shapes.get(by_kind.key(line))
        # its later lines are matched, not split; made with a line of a known shape, whose card check it makes
        # (with ten thousand bugs, the line it was made with was mostly of a bug not seen before)
        if by_kind.split >= SKELETON_TEMPLATE_AFTER and shape is not None and not by_kind.templated:
            by_kind.templated = True
            certain = clock_certain(line, clock)
            templates = self._certain.setdefault(where[:2], []) if certain else self._templates.setdefault(where, [])
            if len(templates) < TEMPLATES_PER_LENGTH:
                templates.append(_Template(split(line, clock), by_kind, known.lengths, shape.cards))
        return runs, by_kind, known.lengths, shape, None

    @staticmethod
    def _matched(template: _Template, match: re.Match[str], line: str) -> Found:
        of_kinds, key = template.kinds, template.key(match)
        shape = template.shapes.get(key)
        if shape is None:
            shape = of_kinds.shapes.get(of_kinds.key(line))
            if shape is not None:
                template.shapes[key] = shape
        checked = template.checked if template.checked is not None and match.start(1) < 0 else None
        into = shape.counted_into if shape is not None and shape.equal is None else None
        if into is not None and into.group.dropped:
            # its incident is only counted (most lines of ten thousand bugs): nothing reads its runs
            return (), of_kinds, template.lengths, shape, checked
        return template.runs(match), of_kinds, template.lengths, shape, checked

    def keep(self, line: str, by_kind: Kinds, shape: Shape) -> None:
        """Remember the shape of this line of these kinds: `find` finds it for every line of the same text
        outside the varying runs."""
        self._made()
        by_kind.shapes[by_kind.key(line)] = shape

    def _made(self) -> None:
        self._count += 1
        if self._count > MAX_LAYOUTS:
            self.clear()
            self._count = 1
