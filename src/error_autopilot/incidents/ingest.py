"""Log entries into incidents, each distinct line shape parsed, redacted and fingerprinted once.

A storm repeats a few bugs with ids, numbers and timestamps that change on every line. A line's
*shape* is its text with those values taken out: runs of four or more hex digits that stand alone
(not part of a name or a dotted number), and the line's own time of day, told apart by kind (digits
only; hex with a digit in lower, upper or mixed case; a time) and length. Every rule that parses,
redacts and fingerprints a line looks at such a run's kind and length, never at its digits. So the
first line of a shape is parsed in full (`parse_entry`), and the others are counted from what
differs: their timestamp, and the trace id, version and message values read straight from their runs.
A line is split once per *skeleton* (its text with every hex digit made one character): the others of
that skeleton are read by slicing, and once its run kinds are seen often, by one match that also says
what its shape is keyed by (incidents/layouts.py). A shape seen often gets a regex of its own
(incidents/runs.py): its later lines are recognised by one match, not sliced and keyed. A line whose runs
differ from a shape's first line only in the length of some runs of digits, where no rule could tell those
lengths apart (`id=99`, `id=100`; incidents/lengths.py), is of a shape derived from it (`Family`,
incidents/families.py): one template, one full parse. Lines counted from their runs are queued per
incident and counted a few thousand at a time (`IncidentGrouper.queue`).

A line is parsed in full, every time, when that would not hold: one of the user's own redaction patterns
matches it, a varying run of its shape's first line feeds its fingerprint or sits outside the message's
variable parts, two runs that must stay equal differ, or it is longer than `MAX_SHAPE_LINE`. A line that
holds a number card redaction could replace (Luhn reads the digits) makes no shape: the next line of the
same text outside its varying runs does (a number in that text has each of them parsed in full). A later
line is parsed in full on its own when its varying runs (with the digits, spaces and dashes next to them)
could make such a number (incidents/cards.py): that test sits in the shape's regex, so the lines that pass
it cost nothing more. Nothing of a line's text is kept from the fast path: the few lines an incident shows
(its samples, newest message and stack) are parsed in full, redaction included, when the incident is built.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Container, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Literal

from error_autopilot.config.service_map import ServiceMap
from error_autopilot.domain.events import ErrorEvent, LogEntry
from error_autopilot.domain.incidents import Fingerprint, Incident
from error_autopilot.incidents.cards import card_check, card_spans, guard
from error_autopilot.incidents.events import normalise_trace_id, parse_entry
from error_autopilot.incidents.families import Family, family_key, family_of
from error_autopilot.incidents.fingerprint import fingerprint_event
from error_autopilot.incidents.group import IncidentGrouper
from error_autopilot.incidents.layouts import MAX_LAYOUTS, TEMPLATE_AFTER, TEMPLATES_PER_LENGTH, Kinds, Layouts
from error_autopilot.incidents.messages import type_and_message
from error_autopilot.incidents.runs import find_clock, shape_template, split
from error_autopilot.incidents.shapes import UNFIT, Counted, Shape, pieces_of
from error_autopilot.redaction import luhn_card

MAX_SHAPE_LINE = 16 * 1024  # longer lines are rare and costly to key: each is parsed on its own


@dataclass(slots=True)
class Parsed:
    """One entry understood: its incident, and what counting it needs."""

    fingerprint: str
    service: str
    entry: LogEntry
    environment: str
    event: ErrorEvent | None = None  # parsed in full
    fingerprint_of_event: Fingerprint | None = None
    shape: Shape | None = None  # or counted from its shape and runs
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
        self._layouts = Layouts()
        self._streams: dict[tuple[int, int], tuple[object, object, int]] = {}
        self._stream_ids: dict[tuple[object, ...], int] = {}  # a stream's labels and metadata, as a small key
        # (stream, line length) -> shapes seen often, each as a regex matching exactly the lines of that shape
        self._shape_templates: dict[tuple[int, int], list[tuple[re.Pattern[str], Shape]]] = {}
        # (stream, constant text, run kinds, fixed runs) -> the first shape of lines that differ only in the
        # lengths of some digit runs, and which those are
        self._families: dict[tuple[object, ...], Family] = {}
        self.grouper = IncidentGrouper(resolve=self._parse)
        self.parsed_in_full = 0  # lines parsed in full while counting (not those an incident shows)

    def incidents(self, samples: Container[str] | None = None) -> list[Incident]:
        """Every incident (see `IncidentGrouper.incidents`; `samples`: those built with their sample lines),
        built once: the shapes remembered for counting and each incident's kept lines are let go as the
        incidents are built, so nothing is counted after."""
        self._layouts.clear()  # their shapes point at the incidents' accumulators
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
        if not isinstance(found, tuple):
            refused = _refused(found.fingerprint, found.service, entry.ts_ns, admission)
            if refused is None:
                self.count(found)
            return refused or "counted"
        shape, runs = found
        if admission.services or admission.replay_before_ns is not None:
            refused = _refused(shape.fingerprint or "", shape.service, entry.ts_ns, admission)
            if refused is not None:
                return refused
        self._count_shaped(shape, runs, entry, environment)
        return "counted"

    def _find(self, entry: LogEntry, environment: str) -> Parsed | tuple[Shape, Sequence[str]] | None:
        """What `parse` finds: a line of a known shape as its shape and runs, any other parsed in full."""
        line = entry.line
        if len(line) > MAX_SHAPE_LINE or (self._custom and any(p.search(line) for p in self._custom)):
            return self._full(entry, environment)
        labels, metadata = entry.labels, entry.metadata
        stream = self._streams.get((id(labels), id(metadata)))
        if stream is None or stream[0] is not labels or stream[1] is not metadata:  # a page's entries share these
            stream = self._stream_of(labels, metadata)
        for regex, known in self._shape_templates.get((stream[2], len(line)), ()):
            match = regex.fullmatch(line)
            if match is not None:
                return None if known.fingerprint is None else (known, match.groups())
        runs, by_kind, lengths, shape, checked = self._layouts.find(line, stream[2])
        if shape is None:
            found = self._new_shape(entry, environment, find_clock(line), stream[2], by_kind, lengths)
            if not isinstance(found, Shape):
                return found
            shape = found
        if (
            shape.exact
            or (shape.equal is not None and shape.equal[0](runs) != shape.equal[1](runs))
            or (shape.cards is not None and shape.cards is not checked and shape.cards.within(line))
        ):
            return self._full(entry, environment)
        shape.split += 1
        if shape.split == TEMPLATE_AFTER:  # later lines of this shape are matched, not split
            clock = find_clock(line)
            self._template_shape(split(line, clock), clock, (stream[2], len(line)), shape)
        return None if shape.fingerprint is None else (shape, runs)

    def _stream_of(self, labels: Mapping[str, str], metadata: Mapping[str, str]) -> tuple[object, object, int]:
        """The stream's labels and metadata and its number (a small key for it), remembered by their ids."""
        if len(self._streams) > 4096:
            self._streams.clear()
        content = (tuple(labels.items()), tuple(metadata.items()))
        number = self._stream_ids.get(content)
        if number is None:
            if len(self._stream_ids) >= MAX_LAYOUTS:  # numbers are reused: nothing keyed by one may stay
                self._stream_ids.clear()
                self._streams.clear()
                self._layouts.clear()
                self._shape_templates.clear()
                self._families.clear()
            number = self._stream_ids[content] = len(self._stream_ids)
        stream = self._streams[(id(labels), id(metadata))] = (labels, metadata, number)
        return stream

    def _template_shape(
        self, parts: list[str], clock: re.Match[str] | None, where: tuple[int, int], shape: Shape
    ) -> None:
        cards = guard(shape.cards.spans if shape.cards is not None else (), "".join(parts).isascii())
        regex = shape_template(parts, clock, shape.varying, shape.same, cards)
        known = self._shape_templates.setdefault(where, [])
        if regex is not None and len(known) < TEMPLATES_PER_LENGTH:
            known.append((regex, shape))

    def _new_shape(
        self, entry: LogEntry, environment: str, clock: re.Match[str] | None, stream: int, by_kind: Kinds,
        lengths: tuple[int, ...],
    ) -> Parsed | Shape | None:  # fmt: skip
        """The first line of its skeleton and run kinds with its text outside the varying runs: of a shape
        derived from one of its family (the same but for the lengths of free digit runs), else parsed in full
        (returned) for a shape of its own."""
        line = entry.line
        parts = split(line, clock)
        kinds, varying = by_kind.kinds, by_kind.varying
        fixed = tuple(run for i, run in enumerate(parts[1::2]) if i not in varying)
        of_family = family_key(stream, parts, kinds, fixed)
        family = self._families.get(of_family)
        if family is not None:
            derived = family.derive(line, parts, lengths, varying)
            if derived is not None:
                self._layouts.keep(line, by_kind, derived)
                return derived
        parsed = self._full(entry, environment)
        if parsed is not None and luhn_card(line):
            # a shape made of it would have every later line parsed in full for this line's card number (with
            # ten thousand bugs, some 1,000 lines a million): the next line of the same text makes the shape
            return parsed
        shape = self._shape(parsed, parts, varying)
        self._layouts.keep(line, by_kind, shape)
        if family is None and not shape.exact:
            counts = (
                parsed is not None
                and parsed.fingerprint_of_event is not None
                and any(p.name == "message" and p.contributes for p in parsed.fingerprint_of_event.parts)
            )
            digits = [i for i in varying if kinds[i] == "d" and i not in (shape.trace, shape.version)]
            family = family_of(shape, line, parts, lengths, digits, counts)
            if family is not None:
                if len(self._families) >= MAX_LAYOUTS:
                    self._families.clear()
                self._families[of_family] = family
        return parsed

    def _shape(self, parsed: Parsed | None, parts: list[str], varying: tuple[int, ...]) -> Shape:
        runs = parts[1::2]
        if parsed is None or parsed.event is None or parsed.fingerprint_of_event is None:
            return Shape(None)
        event, fingerprint = parsed.event, parsed.fingerprint_of_event
        texts = [runs[i] for i in varying]
        shape = Shape(
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
            any(not text.strip("0") for text in texts)  # an all-zero id reads as none
            or any(text in value for text in texts for value in (*contributing, event.service))
        )
        if not shape.exact:
            shape.cards = card_check(card_spans(parts, varying))
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

    def _count_shaped(self, shape: Shape, runs: Sequence[str], entry: LogEntry, environment: str) -> None:
        into = shape.counted_into
        if into is not None and into.group.dropped:  # most lines of ten thousand bugs: only counted
            self.grouper.count_dropped(into.group, entry.ts_ns)
            return
        if into is None or into.template != into.group.template:  # an incident's template is its first line's
            group = self.grouper.group(shape.fingerprint or "")
            if group is not None and group.template:
                into = shape.counted_into = Counted(group, shape, pieces_of(shape, group.template))
                shape.runs, shape.message = None, ""
        if into is None or (into.pieces is UNFIT and not into.group.dropped):  # a dropped one is only counted
            full = self._full(entry, environment)
            if full is not None and full.event is not None:
                self.grouper.add(full.event, full.fingerprint_of_event)
            return
        self.grouper.queue(into.group, (entry.ts_ns, into, runs, entry), environment)


def _refused(fingerprint: str, service: str, ts_ns: int, admission: Admission) -> Taken | None:
    """Why `admission` leaves a line of this incident out, if it does."""
    if admission.services and service not in admission.services:
        return "left out"
    if admission.replay_before_ns is not None and ts_ns < admission.replay_before_ns and fingerprint in admission.known:
        return "replayed"
    return None
