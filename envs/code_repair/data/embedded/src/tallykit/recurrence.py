"""Recurring events on an integer timeline (days, minutes, ticks: the unit is yours).

>>> meeting = Recurrence(start=10, every=7, count=4)
>>> list(meeting.occurrences())
[10, 17, 24, 31]
>>> meeting.next_after(17)
24
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Recurrence:
    """Events at ``start``, ``start + every``, ``start + 2 * every``, ...

    Attributes:
        start: time of the first occurrence.
        every: spacing, at least 1.
        count: at most this many occurrences (None: unbounded); skipped ones still count.
        until: no occurrence after this time (inclusive bound; None: unbounded).
        skip: times that are cancelled (they do not occur, but do use up ``count``).
    """

    start: int
    every: int
    count: int | None = None
    until: int | None = None
    skip: frozenset[int] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.every < 1:
            raise ValueError(f"every must be at least 1, got {self.every}")
        if self.count is not None and self.count < 0:
            raise ValueError(f"count must not be negative, got {self.count}")

    @property
    def bounded(self) -> bool:
        """Whether the recurrence ends (by count or until)."""
        return self.count is not None or self.until is not None

    def nth(self, index: int) -> int | None:
        """The time of slot ``index`` (0-based, skips ignored), or None past the end."""
        if index < 0 or (self.count is not None and index >= self.count):
            return None
        time = self.start + index * self.every
        if self.until is not None and time > self.until:
            return None
        return time

    def occurrences(self, limit: int | None = None) -> Iterator[int]:
        """The occurrence times in order, at most ``limit`` of them.

        Raises:
            ValueError: an unbounded recurrence without a limit.
        """
        if limit is None and not self.bounded:
            raise ValueError("an unbounded recurrence needs a limit")
        produced = 0
        index = 0
        while limit is None or produced < limit:
            time = self.nth(index)
            if time is None:
                return
            if time not in self.skip:
                yield time
                produced += 1
            index += 1

    def is_occurrence(self, time: int) -> bool:
        """Whether an event happens at ``time``."""
        if time < self.start or (time - self.start) % self.every:
            return False
        return self.nth((time - self.start) // self.every) == time and time not in self.skip

    def next_after(self, time: int) -> int | None:
        """The first occurrence strictly after ``time``, or None."""
        index = 0 if time < self.start else (time - self.start) // self.every + 1
        while True:
            candidate = self.nth(index)
            if candidate is None:
                return None
            if candidate not in self.skip:
                return candidate
            index += 1

    def between(self, low: int, high: int) -> list[int]:
        """Occurrences with ``low <= time < high``."""
        if high <= low:
            return []
        index = max(0, -((self.start - low) // self.every))
        found = []
        while True:
            time = self.nth(index)
            if time is None or time >= high:
                return found
            if time not in self.skip:
                found.append(time)
            index += 1

    def count_between(self, low: int, high: int) -> int:
        """How many occurrences fall in ``[low, high)``."""
        return len(self.between(low, high))


def merge_schedules(recurrences: Iterable[Recurrence], limit: int) -> list[int]:
    """The first ``limit`` distinct times at which any of ``recurrences`` has an event."""
    heap: list[tuple[int, int]] = []
    iterators = []
    for position, recurrence in enumerate(recurrences):
        iterator = recurrence.occurrences(limit=limit)
        iterators.append(iterator)
        first = next(iterator, None)
        if first is not None:
            heap.append((first, position))
    heapq.heapify(heap)
    merged: list[int] = []
    while heap and len(merged) < limit:
        time, position = heapq.heappop(heap)
        if not merged or merged[-1] != time:
            merged.append(time)
        following = next(iterators[position], None)
        if following is not None:
            heapq.heappush(heap, (following, position))
    return merged


def _is_skip_item(word: str) -> bool:
    return word == "," or word.lstrip("-").isdigit()


def parse_spec(text: str) -> Recurrence:
    """Read ``"every 7 from 10 [for 4] [until 40] [except 17,24]"``.

    Raises:
        ValueError: an unknown word, a missing number, or a repeated clause.
    """
    words = text.replace(",", " , ").split()
    values: dict[str, int] = {}
    skip: set[int] = set()
    index = 0
    while index < len(words):
        word = words[index].lower()
        if word == "except":
            index += 1
            while index < len(words) and _is_skip_item(words[index]):
                if words[index] != ",":
                    skip.add(int(words[index]))
                index += 1
            continue
        if word not in ("every", "from", "for", "until"):
            raise ValueError(f"unknown word {words[index]!r} in {text!r}")
        if word in values:
            raise ValueError(f"{word!r} given twice in {text!r}")
        if index + 1 >= len(words):
            raise ValueError(f"{word!r} needs a number in {text!r}")
        values[word] = int(words[index + 1])
        index += 2
    if "every" not in values:
        raise ValueError(f"missing 'every N' in {text!r}")
    return Recurrence(
        start=values.get("from", 0),
        every=values["every"],
        count=values.get("for"),
        until=values.get("until"),
        skip=frozenset(skip),
    )
