"""Text helpers: slugs, word wrap, plurals, ordinals, truncation, title case, word lists."""

from __future__ import annotations

import re
import unicodedata

SMALL_WORDS = frozenset({"a", "an", "and", "as", "at", "but", "by", "for", "in", "of", "on",
                         "or", "the", "to"})  # fmt: skip
IRREGULAR_PLURALS = {
    "child": "children",
    "foot": "feet",
    "goose": "geese",
    "man": "men",
    "mouse": "mice",
    "person": "people",
    "tooth": "teeth",
    "woman": "women",
}
UNCOUNTABLE = frozenset({"deer", "fish", "series", "sheep", "species"})
F_TO_VES = frozenset({"half", "knife", "leaf", "life", "loaf", "shelf", "wife", "wolf"})
O_TO_OES = frozenset({"echo", "hero", "potato", "tomato", "veto"})


def slugify(text: str, separator: str = "-", max_length: int | None = None) -> str:
    """Lower-case ASCII words joined by ``separator``; accents are folded, the rest dropped.

    >>> slugify("Crème Brûlée, 2 ways!")
    'creme-brulee-2-ways'
    """
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    words = re.findall(r"[a-z0-9]+", folded.lower())
    slug = separator.join(words)
    if max_length is not None and len(slug) > max_length:
        slug = slug[:max_length].rstrip(separator)
    return slug


def wrap(text: str, width: int) -> list[str]:
    """Greedy word wrap into lines of at most ``width`` characters.

    Whitespace runs collapse to one space; a word longer than ``width`` is cut into pieces.
    """
    if width < 1:
        raise ValueError(f"width must be at least 1, got {width}")
    lines: list[str] = []
    current = ""
    for word in text.split():
        while len(word) > width:
            if current:
                lines.append(current)
                current = ""
            lines.append(word[:width])
            word = word[width:]
        if not word:
            continue
        if not current:
            current = word
        elif len(current) + 1 + len(word) <= width:
            current = f"{current} {word}"
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines


def _match_case(model: str, word: str) -> str:
    return word[:1].upper() + word[1:] if model[:1].isupper() else word


def pluralise(noun: str, count: int = 2) -> str:
    """The form of ``noun`` for ``count`` items (singular only for exactly one).

    >>> pluralise("box"), pluralise("city"), pluralise("child"), pluralise("day", 1)
    ('boxes', 'cities', 'children', 'day')
    """
    if count == 1 or not noun:
        return noun
    lower = noun.lower()
    if lower in UNCOUNTABLE:
        return noun
    if lower in IRREGULAR_PLURALS:
        return _match_case(noun, IRREGULAR_PLURALS[lower])
    if lower in F_TO_VES:
        stem = noun[:-2] if lower.endswith("fe") else noun[:-1]
        return stem + "ves"
    if lower in O_TO_OES:
        return noun + "es"
    if lower.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    if lower.endswith("y") and len(lower) > 1 and lower[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def format_count(count: int, noun: str) -> str:
    """``"1 file"``, ``"3 files"``, ``"0 files"``."""
    return f"{count} {pluralise(noun, count)}"


def ordinal(number: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``4th``, ``11th``, ``12th``, ``13th``, ``21st``, ``112th``."""
    last_two = abs(number) % 100
    if 11 <= last_two <= 13:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(last_two % 10, "th")
    return f"{number}{suffix}"


def truncate(text: str, limit: int, ellipsis: str = "...") -> str:
    """``text`` cut to at most ``limit`` characters, at a word boundary when one exists.

    The ellipsis counts towards the limit.
    """
    if len(text) <= limit:
        return text
    if limit < len(ellipsis):
        raise ValueError(f"limit {limit} is shorter than the ellipsis {ellipsis!r}")
    cut = text[: limit - len(ellipsis)]
    if text[len(cut)] != " ":
        space = cut.rfind(" ")
        if space > 0:
            cut = cut[:space]
    return cut.rstrip() + ellipsis


def title_case(text: str) -> str:
    """Capitalise each word except small words (articles, short prepositions) inside the title.

    >>> title_case("the lord of the rings")
    'The Lord of the Rings'
    """
    words = text.split()
    titled = []
    for index, word in enumerate(words):
        inner = 0 < index < len(words) - 1
        if inner and word.lower() in SMALL_WORDS:
            titled.append(word.lower())
        else:
            titled.append(word[:1].upper() + word[1:])
    return " ".join(titled)


def join_words(items: list[str], conjunction: str = "and") -> str:
    """``"a"``, ``"a and b"``, ``"a, b, and c"`` (with the serial comma)."""
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    if len(items) == 2:
        return f"{items[0]} {conjunction} {items[1]}"
    return ", ".join(items[:-1]) + f", {conjunction} {items[-1]}"
