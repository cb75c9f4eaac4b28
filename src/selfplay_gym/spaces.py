"""Text spaces for language environments.

Gymnasium's :class:`gymnasium.spaces.Text` accepts only characters from a fixed charset, which is
alphanumeric by default, so a model's output with punctuation or non-Latin text would fall
outside it. :class:`UnicodeText` accepts any ``str`` up to a maximum length.
:class:`MoveText` adds a finite list of canonical moves so that ``sample(mask)`` draws a legal
move, which is what PettingZoo's test suite and numeric trainers do with an action mask.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium.spaces import Space

__all__ = ["UnicodeText", "MoveText"]

# Characters used by sample(): printable ASCII plus a few scripts, digits and symbols that
# models emit, so that random samples exercise the parsers beyond ASCII.
_SAMPLE_ALPHABET = (
    "".join(chr(c) for c in range(32, 127))
    + "\n\t\u00e9\u00fc\u00df\u4e2d\u6587\u0661\u0663\uff14\u2192\u2014\u00a0\u202e\U0001f600"
)


class UnicodeText(Space[str]):
    r"""Any Python ``str`` of length ``min_length`` to ``max_length`` (``None``: no upper bound).

    Example:
        >>> space = UnicodeText(max_length=10)
        >>> space.contains("[4] ünïcode")
        False
        >>> space.contains("\\boxed{4}")
        True
    """

    def __init__(self, max_length: int | None, *, min_length: int = 0, seed: int | None = None):
        if max_length is not None and (not isinstance(max_length, int) or max_length < 1):
            raise ValueError(
                f"expected max_length to be a positive int or None, got {max_length!r}"
            )
        if not isinstance(min_length, int) or not 0 <= min_length <= (max_length or min_length):
            raise ValueError(f"expected 0 <= min_length <= {max_length}, got {min_length!r}")
        self.max_length = max_length
        self.min_length = min_length
        super().__init__(shape=None, dtype=str, seed=seed)

    @property
    def is_np_flattenable(self) -> bool:
        """Text has no fixed-size numeric form."""
        return False

    def contains(self, x: Any) -> bool:
        """Whether ``x`` is a ``str`` of an allowed length."""
        return (
            isinstance(x, str)
            and self.min_length <= len(x)
            and (self.max_length is None or len(x) <= self.max_length)
        )

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        """A random string of up to 64 characters (within the length bounds)."""
        if probability is not None:
            raise ValueError("UnicodeText.sample does not take a probability")
        upper = max(self.min_length, 64)
        if self.max_length is not None:
            upper = min(self.max_length, upper)
        length = int(self.np_random.integers(self.min_length, upper + 1))
        picks = self.np_random.integers(0, len(_SAMPLE_ALPHABET), size=length)
        return "".join(_SAMPLE_ALPHABET[i] for i in picks)

    def to_jsonable(self, sample_n: Sequence[str]) -> list[str]:
        """Strings are already JSON values."""
        return list(sample_n)

    def from_jsonable(self, sample_n: Sequence[str]) -> list[str]:
        """Strings are already JSON values."""
        return list(sample_n)

    def __repr__(self) -> str:
        return f"UnicodeText(max_length={self.max_length})"

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and other.max_length == self.max_length  # type: ignore[attr-defined]
            and other.min_length == self.min_length  # type: ignore[attr-defined]
        )


class MoveText(UnicodeText):
    """A :class:`UnicodeText` action space that also knows a game's canonical moves.

    Any string is a valid action (the env parses it), but ``sample(mask)`` with an ``int8`` mask
    over ``moves`` returns the text of a random allowed move, and ``sample()`` without a mask
    returns a canonical move half of the time and random text otherwise.

    Example:
        >>> import numpy as np
        >>> space = MoveText(max_length=100, moves=("[0]", "[1]", "[2]"), seed=0)
        >>> space.sample(np.array([0, 1, 0], dtype=np.int8))
        '[1]'
    """

    def __init__(self, max_length: int | None, moves: Sequence[str], *, seed: int | None = None):
        super().__init__(max_length, seed=seed)
        self.moves = tuple(moves)
        if not self.moves:
            raise ValueError("expected at least one canonical move, got none")

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        """A canonical move allowed by ``mask``, or free text when no mask is given."""
        if mask is None:
            if self.np_random.random() < 0.5:
                return self.moves[int(self.np_random.integers(len(self.moves)))]
            return super().sample(None, probability)
        mask = np.asarray(mask)
        if mask.shape != (len(self.moves),):
            raise ValueError(f"expected a mask of shape ({len(self.moves)},), got {mask.shape}")
        allowed = np.flatnonzero(mask)
        if allowed.size == 0:
            return super().sample(None, probability)
        return self.moves[int(allowed[self.np_random.integers(allowed.size)])]

    def __repr__(self) -> str:
        return f"MoveText(max_length={self.max_length}, moves={len(self.moves)})"

    def __eq__(self, other: object) -> bool:
        return super().__eq__(other) and other.moves == self.moves  # type: ignore[attr-defined]
