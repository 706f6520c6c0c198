"""A line's *layout* (its constant text and the lengths of its runs, incidents/runs.py), its runs, and
which of them may vary, found without splitting the line once a line of the same skeleton was split.

A line's *skeleton* is its text with every hex digit made one and the same character (a C translation,
some 0.5 us a line). Two lines of one skeleton and one clock span have their runs at the same places:
`RUN` splits on hex digits alone. So the first line split says where the others' constant text and runs
stand, and two slicings in C read them (some 2 us a line where a split and its keys took 6; ten thousand
bugs split most of their lines). A skeleton leaves the constant text's few hex letters out: a layout is
looked up by that text. A layout seen often gets a regex of its own (`runs.layout_template`), tried
before the skeleton.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter

from error_autopilot.incidents.runs import layout_template, split
from error_autopilot.incidents.shapes import Shape

MAX_LAYOUTS = 50_000  # remembered layouts; past this the cache starts again (memory stays bounded)
TEMPLATES_PER_LENGTH = 8  # layouts (or shapes) kept per line length and clock: each miss tries them all
# lines of a layout split before it gets a template: compiling one costs some 300 us, what a hundred lines'
# splits cost, so a layout of a few lines (10,000 distinct bugs) never pays for one
TEMPLATE_AFTER = 256
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


@dataclass(slots=True)
class Kinds:
    """One layout's runs of given kinds: which vary, and the shapes by the values of those that do not."""

    varying: tuple[int, ...]
    fixed: Callable[[Sequence[str]], object] | None  # the runs that must match exactly, as a key
    shapes: dict[object, Shape] = field(default_factory=dict)


class Layout:
    """A line's constant text and run lengths: where each run stands decides whether it may vary."""

    __slots__ = ("after", "before", "kinds", "split")

    def __init__(self, consts: Sequence[str]) -> None:
        self.before = tuple(c[-1:] for c in consts[:-1])
        self.after = tuple(c[:1] for c in consts[1:])
        self.kinds: dict[str, Kinds] = {}
        self.split = 0  # its lines split so far

    def of(self, kinds: str, lengths: tuple[int, ...]) -> Kinds:
        """The runs of these kinds: varying ones, and a getter for the others."""
        varying: list[int] = []
        fixed: list[int] = []
        for i, kind in enumerate(kinds):
            before, after = self.before[i], self.after[i]
            free = kind == "t" or (kind != "w" and before not in _JOINED_BEFORE)
            if kind not in "dt":  # a run of digits may take a unit (`150ms`); one with letters must end at a boundary
                free = free and after not in _NAME_CHARS and (lengths[i] >= _MIN_HEX or before == "-")
            (varying if free else fixed).append(i)
        getter = itemgetter(*fixed) if fixed else None
        found = self.kinds[kinds] = Kinds(tuple(varying), getter)
        return found


@dataclass(slots=True, frozen=True)
class _Template:
    """A layout seen often, as a regex over whole lines: its constant text, and runs of its lengths."""

    regex: re.Pattern[str]
    layout: Layout
    lengths: tuple[int, ...]


class _Skeleton:
    """Where the constant text and runs of every line of one skeleton stand, and its layouts by that text."""

    __slots__ = ("consts", "layouts", "lengths", "runs")

    def __init__(self, parts: Sequence[str]) -> None:
        slices, at = [], 0
        for part in parts:
            slices.append(slice(at, at + len(part)))
            at += len(part)
        self.consts = _getter(slices[0::2])
        self.runs = _getter(slices[1::2])
        self.lengths = tuple(map(len, parts[1::2]))
        self.layouts: dict[tuple[str, ...], Layout] = {}


def _getter(slices: Sequence[slice]) -> Callable[[str], tuple[str, ...]]:
    """The texts at these slices of a line, as a tuple (one C call)."""
    if len(slices) > 1:
        return itemgetter(*slices)
    if slices:
        only = slices[0]
        return lambda line: (line[only],)
    return lambda line: ()


def skeleton(line: str) -> bytes | str:
    """The line with every hex digit made one character: lines of one skeleton split at the same places."""
    return line.encode().translate(_HEX_BYTES) if line.isascii() else line.translate(_HEX_TEXT)


class Layouts:
    """Each line's runs and layout, remembered by skeleton (and by regex for layouts seen often)."""

    def __init__(self) -> None:
        self._skeletons: dict[tuple[Where, bytes | str], _Skeleton] = {}
        self._count = 0  # layouts remembered
        # (stream, line length, clock span) -> layouts seen often, each as a regex matching exactly the lines
        # that `RUN` splits into its constant text and run lengths
        self._templates: dict[Where, list[_Template]] = {}

    def clear(self) -> None:
        """Forget every layout (and so the shapes found through them)."""
        self._skeletons.clear()
        self._templates.clear()
        self._count = 0

    def find(
        self, line: str, clock: re.Match[str] | None, where: Where
    ) -> tuple[Sequence[str], Layout, tuple[int, ...]]:
        """The line's runs, its layout and their lengths; `clock` is where `CLOCK` found the line's time."""
        for template in self._templates.get(where, ()):
            match = template.regex.fullmatch(line)
            if match is not None:
                return match.groups(), template.layout, template.lengths
        key = (where, skeleton(line))
        known = self._skeletons.get(key)
        runs: Sequence[str]
        if known is None:
            if self._count >= MAX_LAYOUTS:
                self.clear()
            parts = split(line, clock)
            known = self._skeletons[key] = _Skeleton(parts)
            consts, runs = tuple(parts[0::2]), parts[1::2]
        else:
            consts, runs = known.consts(line), known.runs(line)
        layout = known.layouts.get(consts)
        if layout is None:
            layout = known.layouts[consts] = Layout(consts)
            self._count += 1
        layout.split += 1
        if layout.split == TEMPLATE_AFTER:  # later lines of this layout are matched, not split
            templates = self._templates.setdefault(where, [])
            if len(templates) < TEMPLATES_PER_LENGTH:
                templates.append(_Template(layout_template(split(line, clock)), layout, known.lengths))
        return runs, layout, known.lengths
