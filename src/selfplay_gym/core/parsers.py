r"""Extracting a move from a model's raw output.

Every parser here is safe on hostile input: the text is cut to a fixed length first, and each
search is a bounded scan (``str.rfind`` or a regular expression without nested or leading
unbounded repetition), so the cost is linear in the length of the capped text. Digits are
ASCII only: ``[٣]`` (Arabic-Indic three) or ``[４]`` (fullwidth four) are not moves.

Example:
    >>> last_boxed(r"I think \boxed{[3]} ... no, \boxed{[4]}")
    '[4]'
    >>> last_tag("<answer>a</answer> <answer> b </answer>", "answer")
    ' b '
    >>> bracketed(r"Options [0], [4]; I play [4].")
    ['0', '4', '4']
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

__all__ = [
    "DEFAULT_MAX_ACTION_CHARS",
    "ParseResult",
    "cap_text",
    "last_boxed",
    "last_tag",
    "bracketed",
    "answer_span",
]

DEFAULT_MAX_ACTION_CHARS = 8192
"""Default cap on the characters of an action that are looked at (the rest is ignored)."""

_BOXED = "\\boxed{"
# A bracketed token: "[" then at most 80 characters that are not brackets or newlines, then "]".
# The bounded repetition keeps the scan linear whatever the input.
_BRACKET_RE = re.compile(r"\[([^\[\]\n]{0,80})\]")


class ParseResult(NamedTuple):
    """What a parser made of one action (a named tuple: it is built on every step).

    Attributes:
        ok: Whether a legal move was recognised.
        move: The game's own form of the move (``None`` when not ok).
        extracted: The canonical text of what was read (``None`` when nothing was found).
        error: A human-readable reason when not ok, fed back to the model under the retry policy.
    """

    ok: bool
    move: Any = None
    extracted: str | None = None
    error: str | None = None

    def as_info(self) -> dict[str, object]:
        """The ``info["parse"]`` form of this result."""
        return {"ok": self.ok, "extracted": self.extracted, "error": self.error}


def cap_text(text: str, max_chars: int = DEFAULT_MAX_ACTION_CHARS) -> tuple[str, bool]:
    """Keep the last ``max_chars`` characters of ``text``.

    Models put their final answer at the end, so the tail is what matters.

    Returns:
        The capped text and whether anything was cut.
    """
    if len(text) <= max_chars:
        return text, False
    return text[-max_chars:], True


def last_boxed(text: str) -> str | None:
    r"""The content of the last ``\boxed{...}`` in ``text``, braces balanced, or ``None``.

    ``\boxed{\boxed{4}}`` yields ``4`` (the last opening is the inner one). An opening without
    its closing brace yields ``None``.
    """
    start = text.rfind(_BOXED)
    if start < 0:
        return None
    depth = 1
    i = start + len(_BOXED)
    begin = i
    n = len(text)
    while i < n:
        c = text[i]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[begin:i]
        i += 1
    return None


def last_tag(text: str, tag: str) -> str | None:
    """The content of the last ``<tag>...</tag>`` pair in ``text``, or ``None``."""
    close = f"</{tag}>"
    end = text.rfind(close)
    if end < 0:
        return None
    opening = f"<{tag}>"
    start = text.rfind(opening, 0, end)
    if start < 0:
        return None
    return text[start + len(opening) : end]


def bracketed(text: str) -> list[str]:
    """The contents of every ``[...]`` token (without nested brackets or newlines), in order."""
    return _BRACKET_RE.findall(text)


def answer_span(text: str) -> str:
    r"""The part of an output that holds the answer.

    The last ``\boxed{}`` if there is one (SPIRAL's answer format); otherwise the last
    ``<answer>`` tag; otherwise the whole text. A boxed answer without brackets, such as
    ``\boxed{4}`` or ``\boxed{bet}``, is read as the bracketed move ``[4]`` / ``[bet]``, as SPIRAL
    does for answers of at most five words.
    """
    boxed = last_boxed(text)
    if boxed is None:
        boxed = last_tag(text, "answer")
    if boxed is None:
        return text
    inner = boxed.strip()
    if "[" not in inner and len(inner.split()) <= 5:
        return f"[{inner}]"
    return boxed
