import pytest

from tallykit.ttlcache import TTLCache, memoize


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


def test_rejects_bad_sizes(clock):
    with pytest.raises(ValueError):
        TTLCache(0, 10, clock)
    with pytest.raises(ValueError):
        TTLCache(1, 0, clock)
    smallest = TTLCache(1, 0.5, clock)
    smallest.set("a", 1)
    smallest.set("b", 2, ttl=0.25)
    assert smallest.keys() == ["b"]


def test_set_and_get(clock):
    cache = TTLCache(2, 10, clock)
    cache.set("a", 1)
    assert cache.get("a") == 1
    assert cache.get("b", "none") == "none"


def test_entry_expires_exactly_at_ttl(clock):
    cache = TTLCache(2, 10, clock)
    cache.set("a", 1)
    clock.now = 9.99
    assert cache.get("a") == 1
    clock.now = 10
    assert "a" not in cache
    assert cache.get("a") is None


def test_per_entry_ttl_and_validation(clock):
    cache = TTLCache(3, 10, clock)
    cache.set("short", 1, ttl=2)
    cache.set("long", 2)
    clock.now = 5
    assert cache.get("short") is None
    assert cache.get("long") == 2
    with pytest.raises(ValueError):
        cache.set("bad", 3, ttl=0)


def test_evicts_least_recently_used(clock):
    cache = TTLCache(2, 100, clock)
    cache.set("a", 1)
    cache.set("b", 2)
    cache.get("a")
    cache.set("c", 3)
    assert cache.keys() == ["a", "c"]
    assert cache.evictions == 1


def test_overwrite_does_not_evict(clock):
    cache = TTLCache(2, 100, clock)
    cache.set("a", 1)
    cache.set("b", 2)
    cache.set("a", 10)
    assert cache.get("a") == 10
    assert cache.get("b") == 2
    assert cache.evictions == 0


def test_overwrite_makes_key_most_recent(clock):
    cache = TTLCache(2, 100, clock)
    cache.set("a", 1)
    cache.set("b", 2)
    cache.set("a", 3)
    cache.set("c", 4)
    assert cache.keys() == ["a", "c"]


def test_expired_entries_make_room_before_eviction(clock):
    cache = TTLCache(2, 10, clock)
    cache.set("a", 1)
    clock.now = 5
    cache.set("b", 2)
    clock.now = 11
    cache.set("c", 3)
    assert cache.keys() == ["b", "c"]
    assert cache.evictions == 0


def test_len_counts_live_entries(clock):
    cache = TTLCache(5, 10, clock)
    cache.set("a", 1)
    cache.set("b", 2, ttl=20)
    assert len(cache) == 2
    clock.now = 15
    assert len(cache) == 1


def test_contains_does_not_touch_recency_or_counters(clock):
    cache = TTLCache(2, 100, clock)
    cache.set("a", 1)
    cache.set("b", 2)
    assert "a" in cache
    cache.set("c", 3)
    assert "a" not in cache
    assert cache.hits == 0 and cache.misses == 0


def test_hit_and_miss_counters(clock):
    cache = TTLCache(2, 10, clock)
    assert cache.hit_rate == 0.0
    cache.set("a", 1)
    cache.get("a")
    cache.get("a")
    cache.get("b")
    clock.now = 20
    cache.get("a")
    assert (cache.hits, cache.misses) == (2, 2)
    assert cache.hit_rate == 0.5


def test_pop(clock):
    cache = TTLCache(2, 10, clock)
    cache.set("a", 1)
    assert cache.pop("a") == 1
    assert cache.pop("a", None) is None
    with pytest.raises(KeyError):
        cache.pop("a")
    cache.set("b", 2)
    clock.now = 10
    assert cache.pop("b", "gone") == "gone"


def test_expire_returns_number_dropped(clock):
    cache = TTLCache(5, 10, clock)
    cache.set("a", 1)
    cache.set("b", 2, ttl=30)
    cache.set("c", 3)
    clock.now = 10
    assert cache.expire() == 2
    assert cache.expire() == 0


def test_ttl_remaining(clock):
    cache = TTLCache(2, 10, clock)
    cache.set("a", 1)
    clock.now = 4
    assert cache.ttl_remaining("a") == 6
    clock.now = 9.5
    assert cache.ttl_remaining("a") == 0.5
    clock.now = 10
    assert cache.ttl_remaining("a") is None
    assert cache.ttl_remaining("zzz") is None


def test_get_or_set_calls_factory_once(clock):
    cache = TTLCache(2, 10, clock)
    calls = []
    for _ in range(3):
        value = cache.get_or_set("k", lambda: calls.append(1) or len(calls))
    assert value == 1
    assert len(calls) == 1


def test_get_or_set_caches_falsy_values(clock):
    cache = TTLCache(2, 10, clock)
    calls = []
    cache.get_or_set("k", lambda: calls.append(1))
    cache.get_or_set("k", lambda: calls.append(1))
    assert len(calls) == 1


def test_clear_keeps_counters(clock):
    cache = TTLCache(2, 10, clock)
    cache.set("a", 1)
    cache.get("a")
    cache.clear()
    assert len(cache) == 0
    assert cache.hits == 1


def test_memoize_keys_on_args_and_kwargs(clock):
    cache = TTLCache(10, 10, clock)
    calls = []

    @memoize(cache)
    def area(width, height=1):
        calls.append((width, height))
        return width * height

    assert area(2, height=3) == 6
    assert area(2, height=3) == 6
    assert area(2) == 2
    assert area(3, height=2) == 6
    assert calls == [(2, 3), (2, 1), (3, 2)]
    assert area.__name__ == "area"
