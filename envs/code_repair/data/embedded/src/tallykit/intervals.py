"""Half-open numeric intervals ``[start, end)`` and operations on lists of them.

>>> merge([Interval(5, 8), Interval(1, 3), Interval(2, 4)])
[Interval(start=1, end=4), Interval(start=5, end=8)]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Interval:
    """The half-open interval ``[start, end)``; empty when ``start == end``."""

    start: float
    end: float

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"interval end {self.end} is before its start {self.start}")

    @property
    def length(self) -> float:
        """``end - start``."""
        return self.end - self.start

    @property
    def is_empty(self) -> bool:
        """Whether the interval holds no point."""
        return self.start == self.end

    def contains(self, point: float) -> bool:
        """Whether ``start <= point < end``."""
        return self.start <= point < self.end

    def overlaps(self, other: Interval) -> bool:
        """Whether the two intervals share at least one point."""
        return self.start < other.end and other.start < self.end

    def touches(self, other: Interval) -> bool:
        """Whether one interval ends exactly where the other starts."""
        return self.end == other.start or other.end == self.start

    def intersection(self, other: Interval) -> Interval | None:
        """The common part, or None when the intervals do not overlap."""
        low = max(self.start, other.start)
        high = min(self.end, other.end)
        if low >= high:
            return None
        return Interval(low, high)

    def hull(self, other: Interval) -> Interval:
        """The smallest interval containing both."""
        return Interval(min(self.start, other.start), max(self.end, other.end))

    def shift(self, delta: float) -> Interval:
        """The interval moved by ``delta``."""
        return Interval(self.start + delta, self.end + delta)

    def split(self, at: float) -> tuple[Interval, Interval]:
        """``[start, at)`` and ``[at, end)``; ``at`` must lie strictly inside."""
        if not self.start < at < self.end:
            raise ValueError(f"split point {at} is not inside [{self.start}, {self.end})")
        return Interval(self.start, at), Interval(at, self.end)


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """The union as a sorted list of disjoint intervals.

    Touching intervals are joined; empty intervals are dropped.
    """
    ordered = sorted(interval for interval in intervals if not interval.is_empty)
    merged: list[Interval] = []
    for interval in ordered:
        if merged and interval.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Interval(last.start, max(last.end, interval.end))
        else:
            merged.append(interval)
    return merged


def total_length(intervals: Iterable[Interval]) -> float:
    """The length of the union (overlaps counted once)."""
    return sum(interval.length for interval in merge(intervals))


def subtract(base: Interval, holes: Iterable[Interval]) -> list[Interval]:
    """The parts of ``base`` not covered by any of ``holes``, in order."""
    pieces: list[Interval] = []
    cursor = base.start
    for hole in merge(holes):
        if hole.end <= cursor:
            continue
        if hole.start >= base.end:
            break
        if hole.start > cursor:
            pieces.append(Interval(cursor, hole.start))
        cursor = max(cursor, hole.end)
    if cursor < base.end:
        pieces.append(Interval(cursor, base.end))
    return pieces


def gaps(intervals: Iterable[Interval]) -> list[Interval]:
    """The holes between the merged intervals (nothing before the first or after the last)."""
    merged = merge(intervals)
    return [Interval(left.end, right.start) for left, right in zip(merged, merged[1:])]


def find_containing(intervals: Sequence[Interval], point: float) -> int | None:
    """Index of the interval containing ``point`` in a sorted list of disjoint intervals.

    Binary search: O(log n). None when no interval contains the point.
    """
    low, high = 0, len(intervals)
    while low < high:
        middle = (low + high) // 2
        candidate = intervals[middle]
        if candidate.end <= point:
            low = middle + 1
        elif candidate.start > point:
            high = middle
        else:
            return middle
    return None


def parse_interval(text: str) -> Interval:
    """Read ``"[a, b)"`` (the only form: intervals are half-open).

    Raises:
        ValueError: anything else, or ``b < a``.
    """
    stripped = text.strip()
    if not (stripped.startswith("[") and stripped.endswith(")")):
        raise ValueError(f"expected '[start, end)', got {text!r}")
    parts = stripped[1:-1].split(",")
    if len(parts) != 2:
        raise ValueError(f"expected two bounds, got {text!r}")
    return Interval(float(parts[0]), float(parts[1]))
