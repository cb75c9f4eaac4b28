r"""Proposer reward rules of the self-play literature, as objects a pipeline env is given.

A task-generation pipeline rewards its proposer by how its solvers did on the task: a function
of the *solve rate* ``s`` (the mean solver score, in [0, 1]), behind a validity gate. The forms
differ by paper:

============================  =====================================================  ===========
rule                          reward of a valid task                                 paper
============================  =====================================================  ===========
:class:`OneMinusS`            ``1 - s``                                               SSP
:class:`AZRLearnability`      ``1 - s`` if ``0 < s < 1``, else 0                      AZR
:class:`IntermediateDifficulty`  ``4 s (1 - s)``                                      SSP option
:class:`Band`                 1 if ``lo <= s <= hi`` (0.125, 0.625), else 0          SvS
:class:`PasoDoble`            0 if ``s <= 0.2`` or ``div <= 0.3``, else
                              ``1.1 - s + 0.2 div``                                   PasoDoble
:class:`MAEBlend`             ``(q + (1 - s) + fmt) / 3`` if ``q >= 0.7``, else
                              ``(q + fmt) / 3``                                       MAE
:class:`SSRInjector`          ``-alpha`` if ``s`` is 0 or 1, else ``1 - (1 + alpha) s``;
                              ``-1`` if invalid (alpha 0.8)                           SSR
============================  =====================================================  ===========

A rule is called as ``rule(s, **context)`` and returns its *components*: named parts that sum to
the reward, which the env puts in ``info["reward_components"]`` as they are. ``context`` carries
what some rules need besides ``s``: ``quality`` and ``fmt`` (MAE), ``diversity`` (PasoDoble).
Invalid tasks are rewarded by the env's ``invalid_reward`` unless the rule sets its own
(:attr:`ProposerRule.invalid_reward`: SSR's -1).

Example:
    >>> OneMinusS()(0.25)
    {'one_minus_s': 0.75}
    >>> AZRLearnability()(1.0), Band()(0.5)
    ({'learnability': 0.0}, {'band': 1.0})
    >>> sum(PasoDoble()(0.5, diversity=1.0).values())
    0.8
    >>> proposer_rule("intermediate")(0.5)
    {'intermediate_difficulty': 1.0}
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ProposerRule",
    "OneMinusS",
    "AZRLearnability",
    "IntermediateDifficulty",
    "Band",
    "PasoDoble",
    "MAEBlend",
    "SSRInjector",
    "CustomRule",
    "PROPOSER_RULES",
    "proposer_rule",
    "jaccard",
    "QuestionHistory",
]


def _rate(s: float) -> float:
    s = float(s)
    if not 0.0 <= s <= 1.0 or math.isnan(s):
        raise ValueError(f"expected a solve rate in [0, 1], got {s}")
    return s


class ProposerRule:
    """Base of the rules: ``rule(solve_rate, **context) -> components``."""

    name = "rule"
    invalid_reward: float | None = None
    """The reward of an invalid task under this rule; ``None``: the env's ``invalid_reward``."""

    def __call__(self, solve_rate: float, **context: Any) -> dict[str, float]:
        """The components of a valid task's reward at ``solve_rate``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        fields = getattr(self, "__dataclass_fields__", {})
        args = ", ".join(f"{k}={getattr(self, k)!r}" for k in fields)
        return f"{type(self).__name__}({args})"


@dataclass(repr=False)
class OneMinusS(ProposerRule):
    """SSP: the harder the task, the more reward -- ``1 - s``."""

    name = "1-s"

    def __call__(self, solve_rate: float, **context: Any) -> dict[str, float]:
        """``{"one_minus_s": 1 - s}``."""
        return {"one_minus_s": 1.0 - _rate(solve_rate)}


@dataclass(repr=False)
class AZRLearnability(ProposerRule):
    """AZR: ``1 - s`` for a task some but not all solvers solve; 0 at ``s = 0`` or ``s = 1``."""

    name = "azr"

    def __call__(self, solve_rate: float, **context: Any) -> dict[str, float]:
        """``{"learnability": 1 - s}`` inside (0, 1), else 0."""
        s = _rate(solve_rate)
        return {"learnability": 1.0 - s if 0.0 < s < 1.0 else 0.0}


@dataclass(repr=False)
class IntermediateDifficulty(ProposerRule):
    """``4 s (1 - s)``: 1 at ``s = 0.5``, 0 at the ends (SSP's alternative)."""

    name = "intermediate"

    def __call__(self, solve_rate: float, **context: Any) -> dict[str, float]:
        """``{"intermediate_difficulty": 4 s (1 - s)}``."""
        s = _rate(solve_rate)
        return {"intermediate_difficulty": 4.0 * s * (1.0 - s)}


@dataclass(repr=False)
class Band(ProposerRule):
    """SvS: 1 when the solve rate falls in ``[lo, hi]``, else 0."""

    lo: float = 0.125
    """Lowest solve rate rewarded (inclusive)."""
    hi: float = 0.625
    """Highest solve rate rewarded (inclusive)."""
    name = "band"

    def __post_init__(self) -> None:
        if not 0.0 <= self.lo <= self.hi <= 1.0:
            raise ValueError(f"expected 0 <= lo <= hi <= 1, got lo={self.lo}, hi={self.hi}")

    def __call__(self, solve_rate: float, **context: Any) -> dict[str, float]:
        """``{"band": 1.0}`` inside the band, ``{"band": 0.0}`` outside."""
        s = _rate(solve_rate)
        return {"band": 1.0 if self.lo <= s <= self.hi else 0.0}


@dataclass(repr=False)
class PasoDoble(ProposerRule):
    """PasoDoble: reward hard-but-solvable, novel problems.

    0 if ``s <= threshold`` (too hard or broken) or ``diversity <= diversity_threshold`` (a
    near-copy of recent problems); else ``base - s + bonus * diversity``. ``diversity`` is
    :meth:`QuestionHistory.diversity`: the share of recent problems that are not near-duplicates.
    """

    threshold: float = 0.2
    """Solve rate at or below which the problem earns nothing."""
    diversity_threshold: float = 0.3
    """Diversity at or below which the problem earns nothing."""
    base: float = 1.1
    """The reward at ``s = 0`` before the bonus."""
    bonus: float = 0.2
    """Weight of the diversity bonus."""
    name = "pasodoble"

    def __call__(
        self, solve_rate: float, *, diversity: float = 1.0, **context: Any
    ) -> dict[str, float]:
        """``{"difficulty": base - s, "diversity_bonus": bonus * div}``, or ``{"gated": 0.0}``."""
        s = _rate(solve_rate)
        if s <= self.threshold or diversity <= self.diversity_threshold:
            return {"gated": 0.0}
        return {"difficulty": self.base - s, "diversity_bonus": self.bonus * float(diversity)}


@dataclass(repr=False)
class MAEBlend(ProposerRule):
    """MAE: the judge's quality score ``q`` gates the difficulty term.

    ``q`` is the judge's score of the question in [0, 1] and ``s`` the mean judged score of the
    solvers' answers; ``fmt`` is 1 for a well-formed proposal. With ``q >= gate`` the reward is
    ``(q + (1 - s) + fmt) / 3``, else ``(q + fmt) / 3`` (difficulty dropped).
    """

    gate: float = 0.7
    """The quality a question needs for its difficulty to count (and to enter the task pool)."""
    name = "mae"

    def __call__(
        self, solve_rate: float, *, quality: float = 0.0, fmt: float = 1.0, **context: Any
    ) -> dict[str, float]:
        """``{"quality": q/3, "difficulty": (1-s)/3, "format": fmt/3}`` (no difficulty below the gate)."""
        s = _rate(solve_rate)
        out = {"quality": float(quality) / 3.0}
        if quality >= self.gate:
            out["difficulty"] = (1.0 - s) / 3.0
        out["format"] = float(fmt) / 3.0
        return out


@dataclass(repr=False)
class SSRInjector(ProposerRule):
    """SSR's bug injector: ``-alpha`` when every or no solver repairs the bug, else ``1 - (1 + alpha) s``.

    An invalid artifact earns :attr:`invalid_reward` (-1).
    """

    alpha: float = 0.8
    """Penalty for a bug that is trivial (s = 1) or impossible (s = 0)."""
    invalid_reward: float | None = -1.0
    name = "ssr"

    def __call__(self, solve_rate: float, **context: Any) -> dict[str, float]:
        """``{"injector": ...}`` by SSR's formula."""
        s = _rate(solve_rate)
        if s in (0.0, 1.0):
            return {"injector": -self.alpha}
        return {"injector": 1.0 - (1.0 + self.alpha) * s}


class CustomRule(ProposerRule):
    """A plain function of the solve rate, ``f(s) -> float``, as a rule (component ``custom``)."""

    name = "custom"

    def __init__(self, fn: Callable[[float], float]):
        self.fn = fn

    def __call__(self, solve_rate: float, **context: Any) -> dict[str, float]:
        """``{"custom": f(s)}``."""
        return {"custom": float(self.fn(_rate(solve_rate)))}


PROPOSER_RULES: Mapping[str, type[ProposerRule]] = {
    "1-s": OneMinusS,
    "azr": AZRLearnability,
    "intermediate": IntermediateDifficulty,
    "band": Band,
    "pasodoble": PasoDoble,
    "mae": MAEBlend,
    "ssr": SSRInjector,
}
"""The rules by name, with their papers' constants as defaults."""


def proposer_rule(spec: str | ProposerRule | Callable[[float], float]) -> ProposerRule:
    """A rule from its name (:data:`PROPOSER_RULES`), a rule object, or a function ``f(s)``."""
    if isinstance(spec, ProposerRule):
        return spec
    if isinstance(spec, str):
        try:
            return PROPOSER_RULES[spec]()
        except KeyError:
            raise ValueError(
                f"expected a proposer rule among {sorted(PROPOSER_RULES)}, got {spec!r}"
            ) from None
    if callable(spec):
        return CustomRule(spec)
    raise TypeError(f"expected a rule name, a ProposerRule or f(s), got {type(spec).__name__}")


_TOKEN_RE = re.compile(r"\w+")


def _tokens(text: str) -> frozenset[str]:
    return frozenset(_TOKEN_RE.findall(text.lower()))


def jaccard(a: str, b: str) -> float:
    """Jaccard similarity of the word sets of ``a`` and ``b`` (1.0 for two empty texts).

    Example:
        >>> jaccard("a b c", "b c d")
        0.5
    """
    ta, tb = _tokens(a), _tokens(b)
    if not ta and not tb:
        return 1.0
    return len(ta & tb) / len(ta | tb)


class QuestionHistory:
    """PasoDoble's diversity: the recent problems, and how many a new one does not copy.

    ``diversity(q)`` is the share of the last ``size`` problems whose word-set Jaccard
    similarity to ``q`` is at most ``max_similarity`` (1.0 with no history).

    Example:
        >>> h = QuestionHistory(["what is the sum of 2 and 2", "name a prime above 10"])
        >>> h.diversity("what is the sum of 2 and 3")  # a near-copy of the first only
        0.5
    """

    def __init__(self, items: Iterable[str] = (), size: int = 100, max_similarity: float = 0.8):
        if size < 1:
            raise ValueError(f"expected size >= 1, got {size}")
        self.size = int(size)
        self.max_similarity = float(max_similarity)
        self._items: deque[frozenset[str]] = deque(maxlen=self.size)
        for item in items:
            self.add(item)

    def __len__(self) -> int:
        return len(self._items)

    def diversity(self, question: str) -> float:
        """Share of the remembered problems that ``question`` is not a near-copy of."""
        if not self._items:
            return 1.0
        t = _tokens(question)
        far = 0
        for other in self._items:
            union = t | other
            sim = len(t & other) / len(union) if union else 1.0
            far += sim <= self.max_similarity
        return far / len(self._items)

    def add(self, question: str) -> None:
        """Remember ``question`` (the oldest is forgotten beyond ``size``)."""
        self._items.append(_tokens(question))
