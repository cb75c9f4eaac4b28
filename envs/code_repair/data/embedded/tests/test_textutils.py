import pytest

from tallykit.textutils import (
    format_count,
    join_words,
    ordinal,
    pluralise,
    slugify,
    title_case,
    truncate,
    wrap,
)


def test_slugify_basic_and_accents():
    assert slugify("Hello, World!") == "hello-world"
    assert slugify("Crème Brûlée, 2 ways") == "creme-brulee-2-ways"


def test_slugify_separator_and_empty():
    assert slugify("  A  b  ", separator="_") == "a_b"
    assert slugify("!!!") == ""


def test_slugify_max_length_strips_trailing_separator():
    assert slugify("alpha beta gamma", max_length=6) == "alpha"
    assert slugify("alpha beta", max_length=10) == "alpha-beta"
    assert slugify("alpha beta", max_length=8) == "alpha-be"


def test_wrap_greedy():
    assert wrap("the quick brown fox jumps", 10) == ["the quick", "brown fox", "jumps"]


def test_wrap_exact_fit_and_collapsed_spaces():
    assert wrap("abc   def", 7) == ["abc def"]
    assert wrap("abc def", 6) == ["abc", "def"]


def test_wrap_cuts_long_words():
    assert wrap("ab abcdefgh c", 3) == ["ab", "abc", "def", "gh", "c"]
    assert wrap("abcdef", 3) == ["abc", "def"]


def test_wrap_rejects_zero_width_and_handles_empty_text():
    with pytest.raises(ValueError):
        wrap("x", 0)
    assert wrap("   ", 5) == []
    assert wrap("ab c", 1) == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("noun", "plural"),
    [
        ("cat", "cats"),
        ("box", "boxes"),
        ("church", "churches"),
        ("city", "cities"),
        ("day", "days"),
        ("knife", "knives"),
        ("hero", "heroes"),
        ("child", "children"),
        ("sheep", "sheep"),
        ("Person", "People"),
        ("y", "ys"),
    ],
)
def test_pluralise(noun, plural):
    assert pluralise(noun) == plural


def test_pluralise_count():
    assert pluralise("file", 1) == "file"
    assert pluralise("file", 0) == "files"
    assert pluralise("file", -1) == "files"
    assert pluralise("", 3) == ""
    assert pluralise("wolf", 2) == "wolves"


def test_format_count():
    assert format_count(1, "match") == "1 match"
    assert format_count(3, "match") == "3 matches"


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (1, "1st"),
        (2, "2nd"),
        (3, "3rd"),
        (4, "4th"),
        (11, "11th"),
        (12, "12th"),
        (13, "13th"),
        (21, "21st"),
        (111, "111th"),
    ],
)
def test_ordinal(number, text):
    assert ordinal(number) == text


def test_ordinal_hundreds_and_negatives():
    assert ordinal(121) == "121st"
    assert ordinal(-3) == "-3rd"


def test_truncate_short_text_untouched():
    assert truncate("short", 5) == "short"


def test_truncate_at_word_boundary_with_ellipsis_counted():
    result = truncate("the quick brown fox", 12)
    assert result == "the quick..."
    assert len(result) <= 12
    assert truncate("the quick brown fox", 14) == "the quick..."


def test_truncate_without_space_cuts_hard():
    assert truncate("abcdefghij", 6) == "abc..."
    assert truncate("abcdef", 3) == "..."
    assert truncate(" abcdefgh", 7) == " abc..."
    assert truncate("a bcdefgh", 7) == "a..."
    with pytest.raises(ValueError):
        truncate("abcdefghij", 2)


def test_title_case_keeps_inner_small_words_lower():
    assert title_case("the lord of the rings") == "The Lord of the Rings"
    assert title_case("what it is for") == "What It Is For"
    assert title_case("war AND peace") == "War and Peace"


def test_join_words():
    assert join_words([]) == ""
    assert join_words(["a"]) == "a"
    assert join_words(["a", "b"]) == "a and b"
    assert join_words(["a", "b", "c"]) == "a, b, and c"
    assert join_words(["x", "y"], "or") == "x or y"
