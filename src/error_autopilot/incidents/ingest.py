"""Log entries into incidents, each distinct line shape parsed, redacted and fingerprinted once.

A storm repeats a few bugs with ids, numbers and timestamps that change on every line. A line's
*shape* is its text with those values taken out: runs of four or more hex digits that stand alone
(not part of a name or a dotted number), and the line's own time of day, told apart by kind (digits
only; hex with a digit in lower, upper or mixed case; a time) and length. Every rule that parses,
redacts and fingerprints a line looks at such a run's kind and length, never at its digits. So the
first line of a shape is parsed in full (`parse_entry`), and the others are counted from what
differs: their timestamp, and the trace id, version and message values read straight from their runs.
A shape seen often gets a regex of its own (incidents/runs.py): its later lines are recognised by one
match, not split and keyed. A line whose runs differ from a shape's first line only in the length of some
runs of digits, where no rule could tell those lengths apart (`id=99`, `id=100`; incidents/lengths.py), is
of a shape derived from it (`_Family`): one template, one full parse. Lines counted from their runs are
queued per incident and counted a few thousand at a time (`IncidentGrouper.queue`).

A line is parsed in full, every time, when that would not hold: the first line of its shape holds a
number card redaction could replace (Luhn reads the digits), one of the user's own redaction patterns
matches it, a varying run feeds its fingerprint or sits outside the message's variable parts, two runs
that must stay equal differ, or it is longer than `MAX_SHAPE_LINE`. A later line is parsed in full on
its own when its varying runs (with the digits, spaces and dashes next to them) could make such a
number: that test sits in the shape's regex, so the lines that pass it cost nothing more. Nothing of a
line's text is kept from the fast path: the few lines an incident shows (its samples, newest message
and stack) are parsed in full, redaction included, when the incident is built.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import string
from collections.abc import Callable, Collection, Container, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Final, Literal

from error_autopilot.config.service_map import ServiceMap
from error_autopilot.domain.events import ErrorEvent, LogEntry
from error_autopilot.domain.incidents import Fingerprint, Incident
from error_autopilot.incidents.counting import Accumulator, Pieces
from error_autopilot.incidents.events import normalise_trace_id, parse_entry
from error_autopilot.incidents.fingerprint import fingerprint_event
from error_autopilot.incidents.group import IncidentGrouper
from error_autopilot.incidents.lengths import MAX_DIGITS, MIN_DIGITS, free_runs
from error_autopilot.incidents.messages import template_slots, type_and_message
from error_autopilot.incidents.runs import CLOCK, CLOCK_WITHIN, RUN, kinds, layout_template, shape_template, split
from error_autopilot.redaction import CARD_START, luhn_card

MAX_SHAPE_LINE = 16 * 1024  # longer lines are rare and costly to key: each is parsed on its own
MAX_LAYOUTS = 50_000  # remembered shapes; past this the cache starts again (memory stays bounded)
_TEMPLATES_PER_LENGTH = 8  # layouts kept per line length and clock: each miss tries them all
# lines of a layout split before it gets a template: compiling one costs some 300 us, what a hundred lines'
# splits cost, so a layout of a few lines (10,000 distinct bugs) never pays for one
_TEMPLATE_AFTER = 256
_MIN_HEX = 8  # a shorter run of letters and digits could be a word (`add1`): it must match exactly
_NAME_CHARS = frozenset(string.ascii_letters + string.digits + "_$")
# `Foo.add1234`, `3.1415`, `C:\\1234`: part of a name or number. A path segment (`/users/1234`) may vary: a
# path that names code (a frame's module) is caught as a varying run inside the fingerprint
_JOINED_BEFORE = _NAME_CHARS | frozenset(".\\")

_CARD_AT = re.compile(CARD_START)
# where a card number could stand once any varying run's hex digits were digits: digits joined by single
# spaces or dashes (a number of fewer than 13 digits is no card)
_DIGITS_JOINED = re.compile(r"\d(?:[ -]?\d)*")
_AS_DIGITS = str.maketrans("123456789abcdefABCDEF", "0" * 21)
_CARD_DIGITS = 13
_MAX_CARD_DIGITS = 19

_UNFIT: Final[Pieces] = ((-1,),)  # the message's variable parts cannot be read from the runs: parse every line


@dataclass(slots=True)
class _Shape:
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
    # hold is worked out from them once (`_Counted`), then they are let go (with ten thousand bugs, some
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
    cards: tuple[tuple[int, int, bool], ...] = ()
    split: int = 0  # its lines found by splitting (or a layout's template), before it has a template of its own
    counted_into: _Counted | None = None
    origin: _Shape | None = None  # the shape this one was derived from (`_Family`): its first line's message


class _Counted:
    """A shape counted into its incident: the `Facts` its lines share, and how each line's runs fill the
    incident's template slots (`pieces`)."""

    __slots__ = ("fixed_trace", "fixed_version", "group", "has_stack", "pieces", "shape", "template", "truncated")

    def __init__(self, group: Accumulator, shape: _Shape, pieces: Pieces | None) -> None:
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


@dataclass(slots=True, frozen=True)
class _Family:
    """A shape parsed in full, and the lengths its free digit runs (`lengths.free_runs`) may take: a line that
    differs from its first only there is of a shape derived from it, without a parse of its own."""

    first: _Shape
    lengths: tuple[int, ...]
    free: tuple[int, ...]

    def derive(self, line: str, parts: list[str], lengths: tuple[int, ...], varying: Sequence[int]) -> _Shape | None:
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
        return dataclasses.replace(first, cards=_card_spans(parts, varying), split=0, counted_into=None, runs=None,
                                   message="", origin=first)  # fmt: skip


@dataclass(slots=True)
class _Kinds:
    """One layout's runs of given kinds: which vary, and the shapes by the values of those that do not."""

    varying: tuple[int, ...]
    fixed: Callable[[Sequence[str]], object] | None  # the runs that must match exactly, as a key
    shapes: dict[object, _Shape] = field(default_factory=dict)


class _Layout:
    """A line's constant text and run lengths: where each run stands decides whether it may vary."""

    __slots__ = ("after", "before", "kinds", "split")

    def __init__(self, parts: list[str]) -> None:
        consts = parts[0::2]
        self.before = tuple(c[-1:] for c in consts[:-1])
        self.after = tuple(c[:1] for c in consts[1:])
        self.kinds: dict[str, _Kinds] = {}
        self.split = 0  # its lines split so far

    def of(self, kinds: str, lengths: tuple[int, ...]) -> _Kinds:
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
        found = self.kinds[kinds] = _Kinds(tuple(varying), getter)
        return found


@dataclass(slots=True, frozen=True)
class _Template:
    """A layout seen often, as a regex over whole lines: its constant text, and runs of its lengths."""

    regex: re.Pattern[str]
    layout: _Layout
    lengths: tuple[int, ...]


@dataclass(slots=True)
class Parsed:
    """One entry understood: its incident, and what counting it needs."""

    fingerprint: str
    service: str
    entry: LogEntry
    environment: str
    event: ErrorEvent | None = None  # parsed in full
    fingerprint_of_event: Fingerprint | None = None
    shape: _Shape | None = None  # or counted from its shape and runs
    runs: Sequence[str] | None = None


# what `Ingest.take` did with a line
Taken = Literal["counted", "not an error", "left out", "replayed"]


@dataclass(frozen=True, slots=True)
class Admission:
    """Which errors a poll counts: only those of `services` when any are named; and of a line older than
    `replay_before_ns` (a --since re-read behind the cursor: such lines were counted) only a new bug's."""

    services: Collection[str] = ()
    replay_before_ns: int | None = None
    known: Collection[str] = ()  # fingerprints of the bugs counted before


class Ingest:
    """Entries into incidents for one plan. `grouper` holds the incidents."""

    def __init__(self, smap: ServiceMap) -> None:
        self._smap = smap
        self._custom = tuple(re.compile(p) for p in smap.redaction.patterns)
        self._layouts: dict[tuple[object, ...], _Layout] = {}
        self._streams: dict[tuple[int, int], tuple[object, object, int]] = {}
        self._stream_ids: dict[tuple[object, ...], int] = {}  # a stream's labels and metadata, as a small key
        # (stream, line length, clock span) -> layouts seen often, each as a regex matching exactly the lines
        # that `RUN` splits into its constant text and run lengths
        self._templates: dict[tuple[int, int, tuple[int, int] | None], list[_Template]] = {}
        # (stream, line length) -> shapes seen often, each as a regex matching exactly the lines of that shape
        self._shape_templates: dict[tuple[int, int], list[tuple[re.Pattern[str], _Shape]]] = {}
        # (stream, constant text, run kinds, fixed runs) -> the first shape of lines that differ only in the
        # lengths of some digit runs, and which those are
        self._families: dict[tuple[object, ...], _Family] = {}
        self.grouper = IncidentGrouper(resolve=self._parse)
        self.parsed_in_full = 0  # lines parsed in full while counting (not those an incident shows)

    def incidents(self, samples: Container[str] | None = None) -> list[Incident]:
        """Every incident (see `IncidentGrouper.incidents`; `samples`: those built with their sample lines),
        built once: the shapes remembered for counting and each incident's kept lines are let go as the
        incidents are built, so nothing is counted after."""
        self._layouts.clear()  # their shapes point at the incidents' accumulators (so do the templates' layouts)
        self._templates.clear()
        self._shape_templates.clear()
        self._streams.clear()
        self._stream_ids.clear()
        self._families.clear()
        return self.grouper.incidents(release=True, samples=samples)

    def _parse(self, entry: LogEntry, environment: str) -> ErrorEvent | None:
        return parse_entry(entry, environment, self._smap)

    def _full(self, entry: LogEntry, environment: str) -> Parsed | None:
        self.parsed_in_full += 1
        event = self._parse(entry, environment)
        if event is None:
            return None
        fingerprint = fingerprint_event(event)
        return Parsed(fingerprint.value, event.service, entry, environment, event, fingerprint)

    def parse(self, entry: LogEntry, environment: str) -> Parsed | None:
        """The entry's incident (None when it is not an error), parsing it in full only when its shape is new."""
        found = self._find(entry, environment)
        if isinstance(found, tuple):
            shape, runs = found
            return Parsed(shape.fingerprint or "", shape.service, entry, environment, None, None, shape, runs)
        return found

    def take(self, entry: LogEntry, environment: str, admission: Admission) -> Taken:
        """`parse` and `count` the entry if it is an error `admission` lets in; what was done with it."""
        found = self._find(entry, environment)
        if found is None:
            return "not an error"
        if isinstance(found, tuple):
            fingerprint, service = found[0].fingerprint or "", found[0].service
        else:
            fingerprint, service = found.fingerprint, found.service
        if admission.services and service not in admission.services:
            return "left out"
        if admission.replay_before_ns is not None and entry.ts_ns < admission.replay_before_ns and (
            fingerprint in admission.known
        ):
            return "replayed"
        if isinstance(found, tuple):
            self._count_shaped(found[0], found[1], entry, environment)
        else:
            self.count(found)
        return "counted"

    def _find(self, entry: LogEntry, environment: str) -> Parsed | tuple[_Shape, Sequence[str]] | None:
        """What `parse` finds: a line of a known shape as its shape and runs, any other parsed in full."""
        line = entry.line
        if len(line) > MAX_SHAPE_LINE or (self._custom and any(p.search(line) for p in self._custom)):
            return self._full(entry, environment)
        labels, metadata = entry.labels, entry.metadata
        stream = self._streams.get((id(labels), id(metadata)))
        if stream is None or stream[0] is not labels or stream[1] is not metadata:  # a page's entries share these
            if len(self._streams) > 4096:
                self._streams.clear()
            content = (tuple(labels.items()), tuple(metadata.items()))
            number = self._stream_ids.get(content)
            if number is None:
                if len(self._stream_ids) >= MAX_LAYOUTS:  # numbers are reused: nothing keyed by one may stay
                    self._stream_ids.clear()
                    self._streams.clear()
                    self._layouts.clear()
                    self._templates.clear()
                    self._shape_templates.clear()
                    self._families.clear()
                number = self._stream_ids[content] = len(self._stream_ids)
            stream = self._streams[(id(labels), id(metadata))] = (labels, metadata, number)
        for regex, known in self._shape_templates.get((stream[2], len(line)), ()):
            match = regex.fullmatch(line)
            if match is not None:
                return None if known.fingerprint is None else (known, match.groups())
        clock = CLOCK.search(line, 0, CLOCK_WITHIN)
        where = (stream[2], len(line), clock.span() if clock is not None else None)
        runs: Sequence[str] | None = None
        for template in self._templates.get(where, ()):
            match = template.regex.fullmatch(line)
            if match is not None:
                runs, layout, lengths = match.groups(), template.layout, template.lengths
                break
        if runs is None:
            runs, layout, lengths = self._split(line, clock, where)
        of_kind = kinds(runs)
        by_kind = layout.kinds.get(of_kind) or layout.of(of_kind, lengths)
        fixed = by_kind.fixed(runs) if by_kind.fixed is not None else None
        shape = by_kind.shapes.get(fixed)
        if shape is None:
            found = self._new_shape(entry, environment, clock, where[0], by_kind, fixed, of_kind, lengths)
            if not isinstance(found, _Shape):
                return found
            shape = found
        if (
            shape.exact
            or (shape.equal is not None and shape.equal[0](runs) != shape.equal[1](runs))
            or (shape.cards and _card_in(line, shape.cards))
        ):
            return self._full(entry, environment)
        shape.split += 1
        if shape.split == _TEMPLATE_AFTER:  # later lines of this shape are matched, not split
            self._template_shape(split(line, clock), clock, (stream[2], len(line)), shape)
        return None if shape.fingerprint is None else (shape, runs)

    def _template_shape(
        self, parts: list[str], clock: re.Match[str] | None, where: tuple[int, int], shape: _Shape
    ) -> None:
        guard = _card_guard(shape.cards, "".join(parts).isascii())
        regex = shape_template(parts, clock, shape.varying, shape.same, guard)
        known = self._shape_templates.setdefault(where, [])
        if regex is not None and len(known) < _TEMPLATES_PER_LENGTH:
            known.append((regex, shape))

    def _split(
        self, line: str, clock: re.Match[str] | None, where: tuple[int, int, tuple[int, int] | None]
    ) -> tuple[list[str], _Layout, tuple[int, ...]]:
        """A line no template matched: its runs, its layout and their lengths."""
        parts = split(line, clock)
        runs = parts[1::2]
        lengths = tuple(map(len, runs))
        key = (where[0], "\x00".join(parts[0::2]), lengths)
        layout = self._layouts.get(key)
        if layout is None:
            if len(self._layouts) >= MAX_LAYOUTS:
                self._layouts.clear()
                self._templates.clear()
                self._shape_templates.clear()
            layout = self._layouts[key] = _Layout(parts)
        layout.split += 1
        if layout.split == _TEMPLATE_AFTER:  # later lines of this layout are matched, not split
            known = self._templates.setdefault(where, [])
            if len(known) < _TEMPLATES_PER_LENGTH:
                known.append(_Template(layout_template(parts), layout, lengths))
        return runs, layout, lengths

    def _new_shape(
        self, entry: LogEntry, environment: str, clock: re.Match[str] | None, stream: int, by_kind: _Kinds,
        fixed: object, kinds: str, lengths: tuple[int, ...],
    ) -> Parsed | _Shape | None:  # fmt: skip
        """The first line of its layout with these fixed runs: of a shape derived from one of its family (the
        same but for the lengths of free digit runs), else parsed in full (returned) for a shape of its own."""
        line = entry.line
        parts = split(line, clock)
        consts = "\x00".join(parts[0::2]).encode("utf-8", "surrogatepass")
        key = (stream, hashlib.blake2b(consts, digest_size=16).digest(), kinds, fixed)
        family = self._families.get(key)
        if family is not None:
            derived = family.derive(line, parts, lengths, by_kind.varying)
            if derived is not None:
                by_kind.shapes[fixed] = derived
                return derived
        parsed = self._full(entry, environment)
        shape = by_kind.shapes[fixed] = self._shape(parsed, parts, by_kind.varying)
        if family is None and not shape.exact:
            counts = (
                parsed is not None
                and parsed.fingerprint_of_event is not None
                and any(p.name == "message" and p.contributes for p in parsed.fingerprint_of_event.parts)
            )
            digits = [i for i in by_kind.varying if kinds[i] == "d" and i not in (shape.trace, shape.version)]
            free = free_runs(line, parts, digits, counts)
            if free:
                if len(self._families) >= MAX_LAYOUTS:
                    self._families.clear()
                self._families[key] = _Family(shape, lengths, free)
        return parsed

    def _shape(self, parsed: Parsed | None, parts: list[str], varying: tuple[int, ...]) -> _Shape:
        runs = parts[1::2]
        if parsed is None or parsed.event is None or parsed.fingerprint_of_event is None:
            return _Shape(None)
        event, fingerprint = parsed.event, parsed.fingerprint_of_event
        texts = [runs[i] for i in varying]
        shape = _Shape(
            fingerprint.value, event.service, event.stack is not None, event.truncated, trace_id=event.trace_id,
            version_value=event.version, message=type_and_message(event)[1], runs=tuple(runs), varying=varying,
        )  # fmt: skip
        equal: dict[str, list[int]] = {}
        for i in varying:
            equal.setdefault(runs[i], []).append(i)
        shape.same = tuple(tuple(group) for group in equal.values() if len(group) > 1)
        if shape.same:
            pairs = [(group[0], i) for group in shape.same for i in group[1:]]
            shape.equal = (itemgetter(*(a for a, _ in pairs), 0), itemgetter(*(b for _, b in pairs), 0))
        contributing = [p.value for p in fingerprint.parts if p.contributes]
        shape.exact = (
            luhn_card(parsed.entry.line)
            or any(not text.strip("0") for text in texts)  # an all-zero id reads as none
            or any(text in value for text in texts for value in (*contributing, event.service))
        )
        if not shape.exact:
            shape.cards = _card_spans(parts, varying)
        if event.trace_id is not None:
            shape.trace = next((i for i in varying if normalise_trace_id(runs[i]) == event.trace_id), -1)
        if event.version is not None:
            shape.version = next((i for i in varying if runs[i] == event.version), -1)
        return shape

    def count(self, parsed: Parsed) -> None:
        """Count a parsed entry into its incident."""
        if parsed.event is not None:
            self.grouper.add(parsed.event, parsed.fingerprint_of_event)
            return
        assert parsed.shape is not None and parsed.runs is not None
        self._count_shaped(parsed.shape, parsed.runs, parsed.entry, parsed.environment)

    def _count_shaped(self, shape: _Shape, runs: Sequence[str], entry: LogEntry, environment: str) -> None:
        into = shape.counted_into
        if into is not None and into.group.dropped:  # most lines of ten thousand bugs: only counted
            self.grouper.count_dropped(into.group, entry.ts_ns)
            return
        if into is None or into.template != into.group.template:  # an incident's template is its first line's
            group = self.grouper.group(shape.fingerprint or "")
            if group is not None and group.template:
                into = shape.counted_into = _Counted(group, shape, _pieces_of(shape, group.template))
                shape.runs, shape.message = None, ""
        if into is None or (into.pieces is _UNFIT and not into.group.dropped):  # a dropped one is only counted
            full = self._full(entry, environment)
            if full is not None and full.event is not None:
                self.grouper.add(full.event, full.fingerprint_of_event)
            return
        self.grouper.queue(into.group, (entry.ts_ns, into, runs, entry), environment)


def _card_spans(parts: Sequence[str], varying: Sequence[int]) -> tuple[tuple[int, int, bool], ...]:
    """Where in a line of this shape a card number could stand that is not in its first line: stretches
    of digits joined by single spaces or dashes, 13 digits long or more once every varying run is taken
    as digits, that hold a varying run or stand within two characters of one (`_CARD` looks that far
    around a number). With each, whether a number there could only start at its first character: a run
    of digits alone (a millisecond timestamp, `1764…`, is never a card)."""
    free = set(varying)
    texts: list[str] = []
    spans: list[tuple[int, int]] = []
    digit_runs: set[tuple[int, int]] = set()
    at = 0
    for n, part in enumerate(parts):
        if n % 2 and n // 2 in free:
            spans.append((at, at + len(part)))
            if part.isdigit() and not texts[-1].endswith("%"):  # `%2041…`: a number may start past the escape
                digit_runs.add((at, at + len(part)))
        texts.append(part.translate(_AS_DIGITS) if n % 2 and n // 2 in free else part)
        at += len(part)
    found: list[tuple[int, int, bool]] = []
    for match in _DIGITS_JOINED.finditer("".join(texts)):
        start, end = match.span()
        digits = end - start - match.group().count(" ") - match.group().count("-")
        if digits < _CARD_DIGITS or not any(a < end + 2 and b > start - 2 for a, b in spans):
            continue
        if (start, end) not in digit_runs:
            found.append((start, end, False))
        elif digits <= _MAX_CARD_DIGITS:  # its digits follow one another: a number ends where the run does
            found.append((start, end, True))
    return tuple(found)


def _card_guard(spans: Sequence[tuple[int, int, bool]], ascii_only: bool) -> str:
    """A lookahead ruling out the lines with 13 digits, spaces or dashes in a row in one of `spans` that
    starts as a card number may (every card number is such a row), or a first digit of 2 to 6 where a
    number could only start at the span's start. A row holds one of its span's 7-character blocks: only
    those few places are tried, and only a block made of them is looked around. `ascii_only`: no other
    digits stand in the spans."""
    digit = "[0-9 -]" if ascii_only else "[\\d -]"
    blocks = "|".join(f".{{{at}}}" for start, end, first in spans if not first for at in range(start, end - 6, 7))
    starts = "|".join(f".{{{start}}}[2-6]" for start, _, first in spans if first)
    # the row's first digit where a card number may start: 2 to 6, after no digit, dot or dash (or a %-escape)
    first = f"(?:(?<!{digit[:-3]}.\\-])|(?<=%..))[2-6]"
    around = "|".join(f"(?<={first}{digit}{{{6 + j}}})(?={digit}{{{6 - j}}})" for j in range(7))
    rows = f"(?:{blocks}){digit}{{7}}(?:{around})" if blocks else ""
    return f"(?!{'|'.join(filter(None, (rows, starts)))})" if spans else ""


def _card_in(line: str, spans: Sequence[tuple[int, int, bool]]) -> bool:
    """Whether card redaction could replace a number in this line of a shape with these `_card_spans`."""
    for start, end, _ in spans:  # a loop, not `any`: it runs for most lines of a shape too rare for a template
        if _CARD_AT.search(line, start, end) is not None:
            return luhn_card(line)
    return False


def _trace_id(run: str) -> str | None:
    """`normalise_trace_id` for a run of the same kind and length as one it accepted."""
    text = run.lower()
    return text.rjust(32, "0") if text.strip("0") else None


def _pieces_of(shape: _Shape, template: str) -> Pieces | None:
    """`_pieces` of the shape, or of the one it was derived from: its lines have their runs at the same places."""
    origin = shape.origin
    if origin is None:
        return _pieces(shape, template)
    known = origin.counted_into
    return known.pieces if known is not None and known.template == template else _pieces(origin, template)


def _pieces(shape: _Shape, template: str) -> Pieces | None:
    """Each of the template's variable parts in this shape's message, as constant text and varying runs;
    None when the message does not fit the template, `_UNFIT` when the runs cannot say what they hold (or
    are no longer known: never, as an incident keeps its template)."""
    runs, varying = shape.runs, shape.varying
    if runs is None:
        return _UNFIT
    in_message = {i for i in varying if runs[i] in shape.message}
    regex, _ = template_slots(template)
    match = regex.fullmatch(shape.message) if regex is not None else None
    if match is None:
        return _UNFIT if in_message else None  # another value might make it fit
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
                return _UNFIT  # the part cuts through a varying run
            elif part:
                slot.append(part)
        slots.append(slot[0] if len(slot) == 1 else tuple(slot) if slot else "")
    return _UNFIT if in_message - covered else tuple(slots)
