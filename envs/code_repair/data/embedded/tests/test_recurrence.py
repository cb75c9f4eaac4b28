import pytest

from tallykit.recurrence import Recurrence, merge_schedules, parse_spec


def test_validation():
    with pytest.raises(ValueError):
        Recurrence(start=0, every=0)
    with pytest.raises(ValueError):
        Recurrence(start=0, every=1, count=-1)


def test_nth_with_count():
    weekly = Recurrence(start=10, every=7, count=3)
    assert weekly.nth(0) == 10
    assert weekly.nth(2) == 24
    assert weekly.nth(3) is None
    assert weekly.nth(-1) is None


def test_nth_until_is_inclusive():
    daily = Recurrence(start=0, every=5, until=20)
    assert daily.nth(4) == 20
    assert daily.nth(5) is None


def test_occurrences_count():
    assert list(Recurrence(start=10, every=7, count=4).occurrences()) == [10, 17, 24, 31]
    assert list(Recurrence(start=10, every=7, count=0).occurrences()) == []


def test_occurrences_skip_uses_up_count():
    recurrence = Recurrence(start=0, every=10, count=4, skip=frozenset({10}))
    assert list(recurrence.occurrences()) == [0, 20, 30]


def test_occurrences_limit_counts_produced_events():
    recurrence = Recurrence(start=0, every=1, skip=frozenset({1, 2}))
    assert list(recurrence.occurrences(limit=3)) == [0, 3, 4]


def test_unbounded_needs_limit():
    with pytest.raises(ValueError):
        list(Recurrence(start=0, every=1).occurrences())
    assert not Recurrence(start=0, every=1).bounded
    assert Recurrence(start=0, every=1, until=3).bounded


def test_is_occurrence():
    recurrence = Recurrence(start=3, every=4, count=3, skip=frozenset({7}))
    assert recurrence.is_occurrence(3)
    assert recurrence.is_occurrence(11)
    assert not recurrence.is_occurrence(7)
    assert not recurrence.is_occurrence(15)
    assert not recurrence.is_occurrence(4)
    assert not recurrence.is_occurrence(-1)


def test_next_after():
    recurrence = Recurrence(start=10, every=7, count=4)
    assert recurrence.next_after(0) == 10
    assert recurrence.next_after(9) == 10
    assert recurrence.next_after(10) == 17
    assert recurrence.next_after(16) == 17
    assert recurrence.next_after(17) == 24
    assert recurrence.next_after(31) is None


def test_next_after_steps_over_skips():
    recurrence = Recurrence(start=0, every=5, until=20, skip=frozenset({10, 15}))
    assert recurrence.next_after(5) == 20
    assert recurrence.next_after(20) is None
    assert Recurrence(start=0, every=5, skip=frozenset({10})).next_after(5) == 15


def test_between_is_half_open():
    recurrence = Recurrence(start=0, every=5, count=10)
    assert recurrence.between(5, 20) == [5, 10, 15]
    assert recurrence.between(6, 21) == [10, 15, 20]
    assert recurrence.between(20, 20) == []
    assert recurrence.between(30, 10) == []


def test_between_before_start_and_after_end():
    recurrence = Recurrence(start=100, every=10, count=3, skip=frozenset({110}))
    assert recurrence.between(0, 1000) == [100, 120]
    assert recurrence.between(121, 1000) == []
    assert recurrence.count_between(0, 1000) == 2


def test_between_with_negative_start():
    recurrence = Recurrence(start=-7, every=3, count=10)
    assert recurrence.between(-5, 3) == [-4, -1, 2]


def test_merge_schedules():
    a = Recurrence(start=0, every=4)
    b = Recurrence(start=0, every=6)
    assert merge_schedules([a, b], limit=6) == [0, 4, 6, 8, 12, 16]


def test_merge_schedules_with_finished_recurrences():
    a = Recurrence(start=1, every=1, count=2)
    b = Recurrence(start=10, every=10, count=0)
    assert merge_schedules([a, b], limit=5) == [1, 2]
    assert merge_schedules([], limit=3) == []


def test_parse_spec_full():
    recurrence = parse_spec("every 7 from 10 for 4 until 40 except 17, 24")
    assert recurrence == Recurrence(start=10, every=7, count=4, until=40, skip=frozenset({17, 24}))


def test_parse_spec_defaults_and_errors():
    assert parse_spec("every 1 except 3 4").skip == frozenset({3, 4})
    assert parse_spec("every 2") == Recurrence(start=0, every=2)
    for bad in ["from 3", "every", "every 2 every 3", "every 2 sometimes 4"]:
        with pytest.raises(ValueError):
            parse_spec(bad)
