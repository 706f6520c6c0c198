"""Log entries into incidents, each distinct line shape parsed, redacted and fingerprinted once.

A storm repeats a few bugs with ids, numbers and timestamps that change on every line. A line's
*shape* is its text with those values taken out: runs of four or more hex digits that stand alone
(not part of a name or a dotted number), and the line's own time of day, told apart by kind (digits
only; hex with a digit in lower, upper or mixed case; a time) and length. Every rule that parses,
redacts and fingerprints a line looks at such a run's kind and length, never at its digits. So the
first line of a shape is parsed in full (`parse_entry`), and the others are counted from what
differs: their timestamp, and the trace id, version and message values read straight from their runs.

A line is parsed in full, every time, when that would not hold: it holds a card-shaped number (Luhn
reads the digits), one of the user's own redaction patterns matches it, a varying run feeds its
fingerprint or sits outside the message's variable parts, two runs that must stay equal differ, or it
is longer than `MAX_SHAPE_LINE`. Nothing of a line's text is kept from the fast path: the few lines an
incident shows (its samples, newest message and stack) are parsed in full, redaction included, when
the incident is built.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Final

from error_autopilot.config.service_map import ServiceMap
from error_autopilot.domain.events import ErrorEvent, LogEntry
from error_autopilot.domain.incidents import Fingerprint, Incident
from error_autopilot.incidents.events import normalise_trace_id, parse_entry
from error_autopilot.incidents.fingerprint import fingerprint_event
from error_autopilot.incidents.group import Accumulator, IncidentGrouper, template_slots, type_and_message
from error_autopilot.redaction import card_shaped

MAX_SHAPE_LINE = 16 * 1024  # longer lines are rare and costly to key: each is parsed on its own
MAX_LAYOUTS = 50_000  # remembered shapes; past this the cache starts again (memory stays bounded)
_TEMPLATES_PER_LENGTH = 8  # layouts kept per line length and clock: each miss tries them all
# lines of a layout split before it gets a template: compiling one costs some 300 us, what a hundred lines'
# splits cost, so a layout of a few lines (10,000 distinct bugs) never pays for one
_TEMPLATE_AFTER = 256
_MIN_HEX = 8  # a shorter run of letters and digits could be a word (`add1`): it must match exactly
_RUN = re.compile(r"([0-9a-fA-F]{4,})")
# a time of day near the start of a line, its own timestamp (`2026-11-25T03:17:42.123Z ERROR …`): a run of
# its own kind, else every second (and millisecond) of a storm would be a new shape
_CLOCK = re.compile(r"\d\d:\d\d:\d\d(?:[.,]\d{1,9})?")
_CLOCK_WITHIN = 48
_NAME_CHARS = frozenset(string.ascii_letters + string.digits + "_$")
# `Foo.add1234`, `3.1415`, `C:\\1234`: part of a name or number. A path segment (`/users/1234`) may vary: a
# path that names code (a frame's module) is caught as a varying run inside the fingerprint
_JOINED_BEFORE = _NAME_CHARS | frozenset(".\\")

# per template slot: its constant text, the index of the one run it is, or both in order (joined per line)
Pieces = tuple[str | int | tuple[str | int, ...], ...]
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
    message: str = ""  # the first line's message, as the grouper reads it
    runs: tuple[str, ...] = ()  # the first line's runs
    varying: tuple[int, ...] = ()
    same: tuple[tuple[int, ...], ...] = ()  # varying runs equal in the first line: must stay equal
    exact: bool = False  # every line of this shape is parsed in full
    pieces: dict[str, Pieces | None] = field(default_factory=dict)  # by incident template
    counted_into: tuple[Accumulator, str, Pieces | None] | None = None  # its incident, that one's template, pieces


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


def _split(line: str, clock: re.Match[str] | None) -> list[str]:
    """The line's constant text and runs, alternating; the clock (`_CLOCK` in the line's start) is one run."""
    if clock is None:
        return _RUN.split(line)
    return [*_RUN.split(line[: clock.start()]), clock.group(), *_RUN.split(line[clock.end() :])]


def _template(parts: Sequence[str]) -> re.Pattern[str]:
    """A regex that matches a line exactly when `_RUN` splits it into the same constant text and run lengths.

    `_RUN`'s runs are maximal, so the constant text next to a run never ends in a hex digit, and none of
    it holds four in a row: any line made of that text and hex runs of those lengths splits the same way.
    The clock is not matched here: the caller looks it up by the span `_CLOCK` found in the line."""
    pattern = []
    for n, part in enumerate(parts):
        if n % 2 == 0:
            pattern.append(re.escape(part))
        elif _RUN.fullmatch(part):
            pattern.append(f"([0-9a-fA-F]{{{len(part)}}})")
        else:  # the clock, at the span the caller found
            pattern.append(f"(.{{{len(part)}}})")
    return re.compile("".join(pattern), re.DOTALL)


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


class Ingest:
    """Entries into incidents for one plan. `grouper` holds the incidents."""

    def __init__(self, smap: ServiceMap) -> None:
        self._smap = smap
        self._custom = tuple(re.compile(p) for p in smap.redaction.patterns)
        self._layouts: dict[tuple[object, ...], _Layout] = {}
        self._streams: dict[tuple[int, int], tuple[object, object, int]] = {}
        self._stream_ids: dict[tuple[object, ...], int] = {}  # a stream's labels and metadata, as a small key
        # (stream, line length, clock span) -> layouts seen often, each as a regex matching exactly the lines
        # that `_RUN` splits into its constant text and run lengths
        self._templates: dict[tuple[int, int, tuple[int, int] | None], list[_Template]] = {}
        self.grouper = IncidentGrouper(resolve=self._parse)
        self.parsed_in_full = 0  # lines parsed in full while counting (not those an incident shows)

    def incidents(self, samples: Container[str] | None = None) -> list[Incident]:
        """Every incident (see `IncidentGrouper.incidents`; `samples`: those built with their sample lines),
        built once: the shapes remembered for counting and each incident's kept lines are let go as the
        incidents are built, so nothing is counted after."""
        self._layouts.clear()  # their shapes point at the incidents' accumulators (so do the templates' layouts)
        self._templates.clear()
        self._streams.clear()
        self._stream_ids.clear()
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
        line = entry.line
        if len(line) > MAX_SHAPE_LINE or (self._custom and any(p.search(line) for p in self._custom)):
            return self._full(entry, environment)
        clock = _CLOCK.search(line, 0, _CLOCK_WITHIN)
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
                number = self._stream_ids[content] = len(self._stream_ids)
            stream = self._streams[(id(labels), id(metadata))] = (labels, metadata, number)
        where = (stream[2], len(line), clock.span() if clock is not None else None)
        runs: Sequence[str] | None = None
        for template in self._templates.get(where, ()):
            match = template.regex.fullmatch(line)
            if match is not None:
                runs, layout, lengths = match.groups(), template.layout, template.lengths
                break
        if runs is None:
            runs, layout, lengths = self._split(line, clock, where)
        kinds = "".join(["d" if r.isdigit() else "t" if ":" in r else "w" if r.isalpha() else "l" if r.islower()
                         else "u" if r.isupper() else "m" for r in runs])  # fmt: skip
        by_kind = layout.kinds.get(kinds) or layout.of(kinds, lengths)
        fixed = by_kind.fixed(runs) if by_kind.fixed is not None else None
        shape = by_kind.shapes.get(fixed)
        if shape is None:
            parsed = self._full(entry, environment)
            by_kind.shapes[fixed] = self._shape(parsed, runs, by_kind.varying)
            return parsed
        if shape.fingerprint is None:
            return None
        if shape.exact or (shape.same and any(len({runs[i] for i in group}) > 1 for group in shape.same)):
            return self._full(entry, environment)
        return Parsed(shape.fingerprint, shape.service, entry, environment, None, None, shape, runs)

    def _split(
        self, line: str, clock: re.Match[str] | None, where: tuple[int, int, tuple[int, int] | None]
    ) -> tuple[list[str], _Layout, tuple[int, ...]]:
        """A line no template matched: its runs, its layout and their lengths."""
        parts = _split(line, clock)
        runs = parts[1::2]
        lengths = tuple(map(len, runs))
        key = (where[0], "\x00".join(parts[0::2]), lengths)
        layout = self._layouts.get(key)
        if layout is None:
            if len(self._layouts) >= MAX_LAYOUTS:
                self._layouts.clear()
                self._templates.clear()
            layout = self._layouts[key] = _Layout(parts)
        layout.split += 1
        if layout.split == _TEMPLATE_AFTER:  # later lines of this layout are matched, not split
            known = self._templates.setdefault(where, [])
            if len(known) < _TEMPLATES_PER_LENGTH:
                known.append(_Template(_template(parts), layout, lengths))
        return runs, layout, lengths

    def _shape(self, parsed: Parsed | None, runs: Sequence[str], varying: tuple[int, ...]) -> _Shape:
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
        contributing = [p.value for p in fingerprint.parts if p.contributes]
        shape.exact = (
            card_shaped(parsed.entry.line)
            or any(not text.strip("0") for text in texts)  # an all-zero id reads as none
            or any(text in value for text in texts for value in (*contributing, event.service))
        )
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
        shape, runs = parsed.shape, parsed.runs
        assert shape is not None and shape.fingerprint is not None and runs is not None
        into = shape.counted_into
        if into is None or into[1] != into[0].template:
            group = self.grouper.group(parsed.fingerprint)
            if group is not None and group.template:
                if group.template not in shape.pieces:
                    shape.pieces[group.template] = _pieces(shape, group.template)
                into = shape.counted_into = (group, group.template, shape.pieces[group.template])
        if into is None or into[2] is _UNFIT:
            full = self._full(parsed.entry, parsed.environment)
            if full is not None and full.event is not None:
                self.grouper.add(full.event, full.fingerprint_of_event)
            return
        pieces = into[2]
        values = (
            None if pieces is None
            else [
                slot if isinstance(slot, str) else runs[slot] if isinstance(slot, int)
                else "".join([p if isinstance(p, str) else runs[p] for p in slot])
                for slot in pieces
            ]
        )  # fmt: skip
        group = into[0]
        ts = parsed.entry.ts_ns
        trace = shape.trace_id if shape.trace < 0 else _trace_id(runs[shape.trace])
        version = shape.version_value if shape.version < 0 else runs[shape.version]
        group.count_line(ts, parsed.environment, trace, version, shape.truncated, shape.has_stack, values,
                         (parsed.entry, parsed.environment))  # fmt: skip
        self.grouper.counted()


def _trace_id(run: str) -> str | None:
    """`normalise_trace_id` for a run of the same kind and length as one it accepted."""
    text = run.lower()
    return text.rjust(32, "0") if text.strip("0") else None


def _pieces(shape: _Shape, template: str) -> Pieces | None:
    """Each of the template's variable parts in this shape's message, as constant text and varying runs;
    None when the message does not fit the template, `_UNFIT` when the runs cannot say what they hold."""
    runs, varying = shape.runs, shape.varying
    in_message = {i for i in varying if runs[i] in shape.message}
    regex, _ = template_slots(template)
    match = regex.fullmatch(shape.message) if regex is not None else None
    if match is None:
        return _UNFIT if in_message else None  # another value might make it fit
    slots: list[str | int | tuple[str | int, ...]] = []
    covered: set[int] = set()
    for value in match.groups():
        slot: list[str | int] = []
        for n, part in enumerate(_RUN.split(value)):
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
