"""Split stack traces put back together while polling (`incidents/splitlines.py` reads the shapes).

A page's *pieces* — single lines that are a trace's header, frames or markers — are gathered by stream
into clusters of lines written close together. A cluster reads its stream around it without the line
filter (`EventSource.around`: the frames the filter kept out of the poll), and each trace found there
replaces its pieces: one entry per trace, as a multiline stage would have sent it, so it is parsed,
fingerprinted and located like one.

Bounded: at most `rejoin_queries` reads a run, and a cluster whose pieces have the shape (parameterized
text) of one already rejoined this run takes that trace's other lines instead of reading (a storm of one
bug costs one read). What cannot be rejoined — no reads left, Loki failing, nothing around it — goes on
as the single lines it was: nothing is lost, the window says how many.
"""

from __future__ import annotations

import logging
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import attrgetter

from error_autopilot.domain.errors import SourceError
from error_autopilot.domain.events import LogEntry
from error_autopilot.incidents.parameterize import parameterize
from error_autopilot.incidents.splitlines import JOIN_GAP_NS, Line, Piece, may_head, piece, records, unwrap
from error_autopilot.ports import EventSource

log = logging.getLogger(__name__)

CLUSTER_GAP_NS = 1_000_000_000  # a stream's pieces closer together than this are read at once
AROUND_NS = 2_000_000_000  # read this far past the last piece (and before the first, when it is no header)
AROUND_LIMIT = 2000  # lines per read: a trace is rarely a tenth of it
MAX_SHAPES = 1000  # shapes of rejoined traces remembered per run
HOLD_NS = 100_000_000  # lines this close to a page's last are held back while a trace could go on in the next
MAX_COVERED = 100_000  # lines of rejoined traces remembered, so that a page after does not count them again

_TS = attrgetter("ts_ns")
_Stream = tuple[tuple[str, str], ...]
_Key = tuple[_Stream, int, str]


@dataclass
class RejoinStats:
    """What rejoining did in one environment's poll."""

    traces: int = 0  # traces put back together
    pieces: int = 0  # polled lines they took the place of
    reads: int = 0  # reads of a stream around pieces
    left: int = 0  # pieces left as single lines: no reads left, or Loki failed
    error: str = ""


@dataclass(frozen=True)
class _Template:
    texts: tuple[str, ...]
    slots: tuple[int, ...]  # where the cluster's pieces sit among `texts`


@dataclass
class Rejoiner:
    """Puts back together the traces one environment's shipper split, page by page.

    A *piece* here is also a logger's line that names an exception (`splitlines.may_head`): the frames
    printed under it are pieces the line filter kept out."""

    source: EventSource
    budget: int
    stats: RejoinStats = field(default_factory=RejoinStats)
    _shapes: dict[tuple[_Stream, tuple[str, ...]], _Template] = field(default_factory=dict)
    _covered: dict[_Key, None] = field(default_factory=dict)
    _held: list[LogEntry] = field(default_factory=list)
    _pieces_seen: bool = False
    _covered_until: int = -1  # the newest line of a rejoined trace: no later line can be one of them

    @property
    def note(self) -> str:
        """One line for the run report, empty when there is nothing to say."""
        left, error = self.stats.left, self.stats.error
        if error:
            return f"{left} pieces of split traces left as single lines: reading around them failed ({error})"
        if left:
            return (f"{left} pieces of split traces left as single lines: the {self.budget} reads a run allows "
                    "(`rejoin_queries`) were used; a multiline stage in the shipper joins them at the source")
        return ""

    @property
    def held_from_ns(self) -> int:
        """The oldest line held back for the next page (beyond every line when none is)."""
        return self._held[0].ts_ns if self._held else 2**63

    def page(self, page: list[LogEntry]) -> list[LogEntry]:
        """The page with each split trace's pieces replaced by the whole trace, in the place of its first.
        Lines at the page's end that a trace continued on the next page could still belong to are held
        back until then (`flush` hands over the last)."""
        if not self.budget:
            return page
        if self._held:
            page = [*self._held, *page]
            self._held = []
        at = _pieces(page)
        self._pieces_seen = self._pieces_seen or bool(at)
        if self._pieces_seen and page:  # a page's last line can be a logger's line over a trace in the next
            cut = bisect_left(page, page[-1].ts_ns - HOLD_NS, key=_TS)
            if len(page) - cut <= len(page) // 2:
                page, self._held = page[:cut], page[cut:]
                at = [i for i in at if i < cut]
        return self._joined(page, at)

    def flush(self) -> list[LogEntry]:
        """The lines still held back, joined as far as they can be: the poll is over."""
        held, self._held = self._held, []
        return self._joined(held, _pieces(held)) if held else []

    def _joined(self, page: list[LogEntry], at: list[int]) -> list[LogEntry]:
        # a line as old as the newest of a trace already rejoined may be one of its lines, polled again
        stale = bool(page and self._covered and page[0].ts_ns <= self._covered_until)
        if not at and not stale:
            return page
        streams: dict[int, _Stream] = {}

        def stream(entry: LogEntry) -> _Stream:
            found = streams.get(id(entry.labels))
            if found is None:
                found = streams[id(entry.labels)] = tuple(sorted(entry.labels.items()))
            return found

        insert: dict[int, list[LogEntry]] = {}
        taken: set[int] = set()
        for cluster in _clusters(page, at, stream):
            lead = _lead(page, cluster[0], stream)
            if lead is not None:
                cluster.insert(0, lead)
            for position, whole, used in self._rejoin([page[i] for i in cluster], stream(page[cluster[0]])):
                insert.setdefault(cluster[position], []).append(whole)
                taken.update(cluster[n] for n in used)
        if not insert and not stale:
            return page
        out: list[LogEntry] = []
        for i, entry in enumerate(page):
            out.extend(insert.get(i, ()))
            covered = entry.ts_ns <= self._covered_until and (stream(entry), entry.ts_ns, entry.line) in self._covered
            if i in taken or covered:
                continue
            out.append(entry)
        return out

    def _rejoin(self, pieces: list[LogEntry], key: _Stream) -> list[tuple[int, LogEntry, list[int]]]:
        """(index of the piece it replaces, the whole trace, indexes of the pieces it took) per trace."""
        shape = (key, tuple(parameterize(p.line) for p in pieces))
        template = self._shapes.get(shape)
        if template is not None:
            if not template.texts:  # read before: these lines stood alone
                return []
            texts = list(template.texts)
            for slot, p in zip(template.slots, pieces, strict=True):
                texts[slot] = unwrap(p.line)
            return [self._whole(pieces, pieces[0].ts_ns, texts, list(range(len(pieces))))]
        if self.stats.error or self.stats.reads >= self.budget:
            self.stats.left += len(pieces)
            return []
        first = pieces[0]
        before = AROUND_NS if piece(first.line) is Piece.CONTINUATION else JOIN_GAP_NS
        try:
            around = self.source.around(first.labels, first.ts_ns - before, pieces[-1].ts_ns + AROUND_NS, AROUND_LIMIT)
        except SourceError as e:
            log.warning("reading around split trace lines failed, they stay single lines: %s", e)
            self.stats.error = str(e)
            self.stats.left += len(pieces)
            return []
        self.stats.reads += 1
        return self._found(pieces, key, shape, around)

    def _found(
        self, pieces: list[LogEntry], key: _Stream, shape: tuple[_Stream, tuple[str, ...]], around: list[LogEntry]
    ) -> list[tuple[int, LogEntry, list[int]]]:
        where = {(e.ts_ns, e.line): n for n, e in enumerate(around)}
        spots = [where.get((p.ts_ns, p.line)) for p in pieces]
        found = []
        bare = [unwrap(e.line) for e in around]
        for record in records([Line(e.ts_ns, text) for e, text in zip(around, bare, strict=True)]):
            used = [n for n, spot in enumerate(spots) if spot is not None and record.first <= spot <= record.last]
            if not used:
                continue
            lines = around[record.first : record.last + 1]
            for e in lines:
                self._cover((key, e.ts_ns, e.line))
            texts = bare[record.first : record.last + 1]
            if len(used) == len(pieces) and len(self._shapes) < MAX_SHAPES:
                slots = tuple(spot - record.first for spot in spots if spot is not None)
                self._shapes[shape] = _Template(tuple(texts), slots)
            found.append(self._whole(pieces, lines[0].ts_ns, texts, used))
        if not found and len(self._shapes) < MAX_SHAPES:
            self._shapes[shape] = _Template((), ())
        return found

    def _whole(
        self, pieces: list[LogEntry], ts_ns: int, texts: list[str], used: list[int]
    ) -> tuple[int, LogEntry, list[int]]:
        head = pieces[used[0]]
        self.stats.traces += 1
        self.stats.pieces += len(used)
        # Loki guessed a level for each line alone (`Traceback (most recent call last):` reads as "trace"):
        # the trace's own words decide, as for an entry a multiline stage sent
        metadata = {k: v for k, v in head.metadata.items() if k != "detected_level"}
        return used[0], LogEntry(ts_ns, "\n".join(texts), head.labels, metadata), used

    def _cover(self, key: _Key) -> None:
        if len(self._covered) >= MAX_COVERED:
            del self._covered[next(iter(self._covered))]  # the oldest: insertion order
        self._covered[key] = None
        self._covered_until = max(self._covered_until, key[1])


def _is_piece(line: str) -> bool:
    return piece(line) is not None or may_head(line)


def _pieces(page: list[LogEntry]) -> list[int]:
    """Indexes of the page's pieces. A line holding several, or a JSON record other than Docker's
    json-file wrapping, is none: tested here, with no call, as most lines of a storm are such."""
    return [
        i for i, entry in enumerate(page)
        if "\n" not in (line := entry.line) and (line[:1] != "{" or line.startswith('{"log":')) and _is_piece(line)
    ]  # fmt: skip


def _lead(page: list[LogEntry], first: int, stream: Callable[[LogEntry], _Stream]) -> int | None:
    """The index of the line its stream wrote right before a cluster's first piece, if it is no piece and
    was written with it (`JOIN_GAP_NS`): a logger's line over the trace, which the filter let through too."""
    own = stream(page[first])
    for i in range(first - 1, max(-1, first - 50), -1):
        if page[first].ts_ns - page[i].ts_ns > JOIN_GAP_NS:
            return None
        if stream(page[i]) == own:
            return None if _is_piece(page[i].line) else i
    return None


def _clusters(page: list[LogEntry], at: list[int], stream: Callable[[LogEntry], _Stream]) -> list[list[int]]:
    """Indexes of pieces grouped by stream, split where the stream's pieces are far apart in time."""
    by_stream: dict[_Stream, list[list[int]]] = {}
    for i in at:
        runs = by_stream.setdefault(stream(page[i]), [])
        if runs and page[i].ts_ns - page[runs[-1][-1]].ts_ns <= CLUSTER_GAP_NS:
            runs[-1].append(i)
        else:
            runs.append([i])
    return sorted((run for runs in by_stream.values() for run in runs), key=lambda run: run[0])
