"""A least-recently-used cache whose entries also expire a fixed time after being set.

The clock is injectable, so tests (and simulations) control time::

    now = [0.0]
    cache = TTLCache(maxsize=2, ttl=10, clock=lambda: now[0])
"""

from __future__ import annotations

import functools
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

_MISSING = object()


class TTLCache:
    """A mapping of at most ``maxsize`` entries, each living ``ttl`` seconds.

    When full, setting a new key evicts the least recently used entry (a successful
    :meth:`get` counts as a use). Expired entries are never returned.
    """

    def __init__(
        self, maxsize: int, ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        if ttl <= 0:
            raise ValueError(f"ttl must be positive, got {ttl}")
        self.maxsize = maxsize
        self.ttl = ttl
        self._clock = clock
        self._data: OrderedDict[Hashable, tuple[Any, float]] = OrderedDict()
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def __len__(self) -> int:
        self.expire()
        return len(self._data)

    def __contains__(self, key: Hashable) -> bool:
        entry = self._data.get(key)
        return entry is not None and entry[1] > self._clock()

    def get(self, key: Hashable, default: Any = None) -> Any:
        """The live value of ``key`` (marking it recently used), else ``default``."""
        entry = self._data.get(key)
        if entry is None:
            self.misses += 1
            return default
        value, expires_at = entry
        if expires_at <= self._clock():
            del self._data[key]
            self.misses += 1
            return default
        self._data.move_to_end(key)
        self.hits += 1
        return value

    def set(self, key: Hashable, value: Any, ttl: float | None = None) -> None:
        """Store ``value`` for ``ttl`` seconds (default: the cache's), evicting if full."""
        lifetime = self.ttl if ttl is None else ttl
        if lifetime <= 0:
            raise ValueError(f"ttl must be positive, got {lifetime}")
        if key in self._data:
            del self._data[key]
        else:
            self.expire()
            while len(self._data) >= self.maxsize:
                self._data.popitem(last=False)
                self.evictions += 1
        self._data[key] = (value, self._clock() + lifetime)

    def pop(self, key: Hashable, default: Any = _MISSING) -> Any:
        """Remove ``key`` and return its live value; ``default`` (or KeyError) otherwise."""
        entry = self._data.pop(key, None)
        if entry is not None and entry[1] > self._clock():
            return entry[0]
        if default is _MISSING:
            raise KeyError(key)
        return default

    def expire(self) -> int:
        """Drop every expired entry; returns how many were dropped."""
        now = self._clock()
        expired = [key for key, (_, expires_at) in self._data.items() if expires_at <= now]
        for key in expired:
            del self._data[key]
        return len(expired)

    def clear(self) -> None:
        """Remove everything (the counters are kept)."""
        self._data.clear()

    def keys(self) -> list[Hashable]:
        """Live keys from least to most recently used."""
        self.expire()
        return list(self._data)

    def ttl_remaining(self, key: Hashable) -> float | None:
        """Seconds until ``key`` expires, or None if it is absent or expired."""
        entry = self._data.get(key)
        if entry is None:
            return None
        remaining = entry[1] - self._clock()
        return remaining if remaining > 0 else None

    def get_or_set(self, key: Hashable, factory: Callable[[], Any]) -> Any:
        """The live value of ``key``, or ``factory()`` stored under it."""
        value = self.get(key, _MISSING)
        if value is _MISSING:
            value = factory()
            self.set(key, value)
        return value

    @property
    def hit_rate(self) -> float:
        """Hits over lookups (0.0 before the first lookup)."""
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else 0.0


def memoize(cache: TTLCache) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator caching a function's results in ``cache``, keyed by its arguments."""

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            key = (args, tuple(sorted(kwargs.items())))
            return cache.get_or_set(key, lambda: function(*args, **kwargs))

        return wrapper

    return decorate
