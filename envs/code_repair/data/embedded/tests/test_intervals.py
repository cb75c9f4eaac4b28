import pytest

from tallykit.intervals import (
    Interval,
    find_containing,
    gaps,
    merge,
    parse_interval,
    subtract,
    total_length,
)


def test_end_before_start_is_rejected():
    with pytest.raises(ValueError):
        Interval(3, 2)


def test_length_and_empty():
    assert Interval(2, 5).length == 3
    assert Interval(4, 4).is_empty
    assert not Interval(4, 5).is_empty


def test_contains_is_half_open():
    interval = Interval(1, 3)
    assert interval.contains(1)
    assert interval.contains(2.999)
    assert not interval.contains(3)
    assert not interval.contains(0.5)


def test_overlap_excludes_touching():
    assert Interval(0, 5).overlaps(Interval(4, 6))
    assert Interval(4, 6).overlaps(Interval(0, 5))
    assert not Interval(0, 5).overlaps(Interval(5, 6))
    assert not Interval(5, 6).overlaps(Interval(0, 5))
    assert Interval(0, 5).touches(Interval(5, 6))
    assert Interval(5, 6).touches(Interval(0, 5))
    assert not Interval(0, 5).touches(Interval(6, 7))


def test_intersection():
    assert Interval(0, 5).intersection(Interval(3, 9)) == Interval(3, 5)
    assert Interval(0, 5).intersection(Interval(5, 9)) is None
    assert Interval(2, 3).intersection(Interval(0, 10)) == Interval(2, 3)


def test_hull_and_shift():
    assert Interval(0, 1).hull(Interval(5, 7)) == Interval(0, 7)
    assert Interval(1, 2).shift(3) == Interval(4, 5)
    assert Interval(1, 2).shift(-1) == Interval(0, 1)


def test_split_inside_and_at_edges():
    assert Interval(0, 10).split(4) == (Interval(0, 4), Interval(4, 10))
    with pytest.raises(ValueError):
        Interval(0, 10).split(0)
    with pytest.raises(ValueError):
        Interval(0, 10).split(10)


def test_merge_sorts_joins_overlapping_and_touching_and_drops_empty():
    merged = merge([Interval(8, 9), Interval(1, 3), Interval(2, 4), Interval(4, 5), Interval(6, 6)])
    assert merged == [Interval(1, 5), Interval(8, 9)]


def test_merge_keeps_a_contained_interval_inside():
    assert merge([Interval(0, 10), Interval(2, 3)]) == [Interval(0, 10)]


def test_merge_of_nothing():
    assert merge([]) == []


def test_total_length_counts_overlap_once():
    assert total_length([Interval(0, 4), Interval(2, 6), Interval(10, 11)]) == 7


def test_subtract_middle_and_edges():
    base = Interval(0, 10)
    assert subtract(base, [Interval(3, 5)]) == [Interval(0, 3), Interval(5, 10)]
    assert subtract(base, [Interval(-5, 2), Interval(8, 20)]) == [Interval(2, 8)]
    assert subtract(base, [Interval(0, 10)]) == []
    assert subtract(base, []) == [base]


def test_subtract_ignores_holes_outside():
    base = Interval(5, 10)
    assert subtract(base, [Interval(0, 2), Interval(12, 15)]) == [base]
    assert subtract(base, [Interval(0, 5), Interval(10, 15)]) == [base]


def test_gaps_between_merged():
    assert gaps([Interval(5, 6), Interval(0, 2), Interval(1, 3)]) == [Interval(3, 5)]
    assert gaps([Interval(0, 1)]) == []
    assert gaps([Interval(0, 1), Interval(1, 2)]) == []


def test_find_containing_binary_search():
    spans = [Interval(0, 2), Interval(4, 6), Interval(8, 10), Interval(12, 14)]
    assert find_containing(spans, 0) == 0
    assert find_containing(spans, 5) == 1
    assert find_containing(spans, 8) == 2
    assert find_containing(spans, 13.5) == 3
    assert find_containing(spans, 6) is None
    assert find_containing(spans, 3) is None
    assert find_containing(spans, 20) is None
    assert find_containing([], 1) is None


def test_parse_interval():
    assert parse_interval(" [1, 2.5) ") == Interval(1, 2.5)
    for bad in ["(1, 2)", "[1, 2]", "[1, 2, 3)", "[3, 1)"]:
        with pytest.raises(ValueError):
            parse_interval(bad)


def test_intervals_order_by_start_then_end():
    assert sorted([Interval(2, 3), Interval(1, 5), Interval(1, 2)]) == [
        Interval(1, 2),
        Interval(1, 5),
        Interval(2, 3),
    ]
