"""What an incident remembers of a value that changes with every line, in bounded memory: the distinct
ones up to a cap (`Distinct`), and the few seen last (`Newest`)."""

from __future__ import annotations

import bisect
import heapq
from array import array

MAX_DISTINCT = 1000  # distinct values remembered per variable part: "1000+ values" says enough


class Distinct:
    """Distinct hashes, up to `MAX_DISTINCT`, in a sorted array: 8 bytes a value where a set of ints takes
    some 70 (with ten thousand bugs of a few hundred values each, that was most of a run's memory)."""

    __slots__ = ("hashes",)

    def __init__(self) -> None:
        self.hashes = array("q")

    def add(self, value: int) -> None:
        """Remember `value` (a hash) unless it is known or `MAX_DISTINCT` are."""
        hashes = self.hashes
        if len(hashes) >= MAX_DISTINCT:
            return
        at = bisect.bisect_left(hashes, value)
        if at == len(hashes) or hashes[at] != value:
            hashes.insert(at, value)

    def __len__(self) -> int:
        return len(self.hashes)


class Newest:
    """The `cap` keys seen at the newest timestamps (ties: the greater key), each at its newest timestamp.

    A heap of (ts, key) finds the one to drop without scanning; entries a newer timestamp replaced are
    skipped when they surface."""

    __slots__ = ("cap", "heap", "items")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.items: dict[str, int] = {}
        self.heap: list[tuple[int, str]] = []

    def add(self, key: str, ts_ns: int) -> None:
        """Remember `key` at `ts_ns` unless it was already seen later."""
        items, heap = self.items, self.heap
        known = items.get(key)
        if known is not None:
            if known >= ts_ns:
                return
            items[key] = ts_ns
            heapq.heappush(heap, (ts_ns, key))  # its older entry is now stale
        elif len(items) < self.cap:
            items[key] = ts_ns
            heapq.heappush(heap, (ts_ns, key))
        else:
            if (ts_ns, key) < heap[0]:
                return  # older than every key kept: it would be the one dropped
            _, oldest = heapq.heapreplace(heap, (ts_ns, key))
            del items[oldest]
            items[key] = ts_ns
        while items.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)  # the top is always a kept key at its timestamp: the one to drop next
        if len(heap) > 4 * self.cap:
            self.heap = sorted((t, k) for k, t in items.items())

    def ordered(self) -> tuple[str, ...]:
        """Oldest first."""
        return tuple(sorted(self.items, key=lambda k: (self.items[k], k)))


NONE_KEPT = Newest(0)  # what a dropped incident keeps (it is never added to)
