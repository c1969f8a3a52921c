"""A set of half-open integer intervals, to count payload bytes once despite retransmissions."""

from __future__ import annotations


class IntervalSet:
    """Merged, sorted ``[start, end)`` intervals; :meth:`add` returns the newly covered size."""

    __slots__ = ("spans",)

    def __init__(self) -> None:
        self.spans: list[list[int]] = []

    def add(self, start: int, end: int) -> int:
        if end <= start:
            return 0
        spans = self.spans
        # Fast path: in-order data extends the last span.
        if spans and spans[-1][0] <= start <= spans[-1][1]:
            last = spans[-1]
            if end <= last[1]:
                return 0
            added = end - last[1]
            last[1] = end
            return added
        if not spans or start > spans[-1][1]:
            spans.append([start, end])
            return end - start
        new = end - start
        merged: list[list[int]] = []
        lo, hi = start, end
        for s, e in spans:
            if e < lo or s > hi:
                merged.append([s, e])
                continue
            new -= min(e, end) - max(s, start) if min(e, end) > max(s, start) else 0
            lo, hi = min(lo, s), max(hi, e)
        merged.append([lo, hi])
        merged.sort()
        self.spans = merged
        return max(new, 0)

    @property
    def total(self) -> int:
        return sum(e - s for s, e in self.spans)
