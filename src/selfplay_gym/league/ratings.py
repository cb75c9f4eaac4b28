"""Elo ratings: one number per player, moved after every game by how surprising its result was.

The expected score of ``a`` against ``b`` is ``1 / (1 + 10 ** ((R_b - R_a) / 400))``; after a
game in which ``a`` scored ``s`` (1 win, 0.5 draw, 0 loss), ``a`` gains ``K * (s - E_a)`` and
``b`` loses the same amount, so the sum of all ratings never changes.

Example:
    >>> elo = Elo()
    >>> elo.expected("a", "b")
    0.5
    >>> elo.update("a", "b", 1.0)
    (1016.0, 984.0)
    >>> elo.to_dict()
    {'a': 1016.0, 'b': 984.0}
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from selfplay_gym.core.tables import format_table

__all__ = ["Elo", "score_from_reward"]


def score_from_reward(reward: float) -> float:
    """A game's score from a player's summed reward: 1 if positive, 0.5 if zero, 0 if negative.

    Example:
        >>> [score_from_reward(r) for r in (1.0, 0.0, -1.5, 0.5)]
        [1.0, 0.5, 0.0, 1.0]
    """
    reward = float(reward)
    if math.isnan(reward):
        raise ValueError("expected a reward, got nan")
    return 1.0 if reward > 0 else 0.5 if reward == 0 else 0.0


def _check_score(score: float) -> float:
    try:
        value = float(score)
    except (TypeError, ValueError):
        raise TypeError(f"expected a score in [0, 1], got {score!r}") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(
            f"expected a score in [0, 1] (1 win, 0.5 draw, 0 loss), got {score!r}; "
            "map a reward with score_from_reward() first"
        )
    return value


@dataclass
class Elo:
    """Elo ratings of named players.

    Players appear on their first game (or on :meth:`add`) at :attr:`initial`.
    """

    initial: float = 1000.0
    """Rating of a player before its first game."""
    k: float = 32.0
    """Largest change of a rating in one two-player game."""
    scale: float = 400.0
    """Rating difference at which the stronger player is expected to score 10:1."""
    ratings: dict[str, float] = field(default_factory=dict)
    """Current rating of every player seen so far, in order of appearance."""
    games: dict[str, int] = field(default_factory=dict)
    """Games each player has been rated on."""

    def __post_init__(self) -> None:
        if not self.k > 0:
            raise ValueError(f"expected k > 0, got {self.k!r}")
        if not self.scale > 0:
            raise ValueError(f"expected scale > 0, got {self.scale!r}")
        self.ratings = {name: float(r) for name, r in self.ratings.items()}
        for name in self.ratings:
            self.games.setdefault(name, 0)

    def add(self, name: str, rating: float | None = None) -> None:
        """Enter ``name`` at ``rating`` (default :attr:`initial`); a known player keeps its rating."""
        if not isinstance(name, str) or not name:
            raise TypeError(f"expected a non-empty player name, got {name!r}")
        if name not in self.ratings:
            self.ratings[name] = float(self.initial if rating is None else rating)
            self.games[name] = 0

    def rating(self, name: str) -> float:
        """The rating of ``name`` (:attr:`initial` for a player without games)."""
        return self.ratings.get(name, float(self.initial))

    def expected(self, a: str, b: str) -> float:
        """The expected score of ``a`` against ``b``, in (0, 1)."""
        return 1.0 / (1.0 + 10.0 ** ((self.rating(b) - self.rating(a)) / self.scale))

    def update(self, a: str, b: str, score_a: float) -> tuple[float, float]:
        """Rate one game of ``a`` against ``b`` in which ``a`` scored ``score_a``.

        Args:
            a: One player.
            b: The other player (a different name).
            score_a: ``a``'s score: 1 win, 0.5 draw, 0 loss (any value in [0, 1]).

        Returns:
            The new ratings of ``a`` and ``b``.
        """
        score = _check_score(score_a)
        if a == b:
            raise ValueError(f"expected two different players, got {a!r} twice")
        self.add(a)
        self.add(b)
        delta = self.k * (score - self.expected(a, b))
        self.ratings[a] += delta
        self.ratings[b] -= delta
        self.games[a] += 1
        self.games[b] += 1
        return self.ratings[a], self.ratings[b]

    def update_game(self, players: Sequence[str], rewards: Sequence[float]) -> None:
        """Rate one game of any number of players from their summed rewards.

        Every pair is scored by comparing rewards (higher wins, equal draws), all pairs against
        the ratings from before the game, with ``K / (n - 1)`` so that one game moves a rating
        at most ``K`` whatever the number of players. With two players this is :meth:`update`.
        """
        if len(players) != len(rewards):
            raise ValueError(f"expected one reward per player, got {len(rewards)} for {players}")
        if len(set(players)) != len(players):
            raise ValueError(f"expected different players, got {list(players)}")
        if len(players) < 2:
            raise ValueError(f"expected at least two players, got {list(players)}")
        for name in players:
            self.add(name)
        k = self.k / (len(players) - 1)
        deltas = dict.fromkeys(players, 0.0)
        for i, a in enumerate(players):
            for j in range(i + 1, len(players)):
                b = players[j]
                ra, rb = float(rewards[i]), float(rewards[j])
                score = 1.0 if ra > rb else 0.5 if ra == rb else 0.0
                delta = k * (score - self.expected(a, b))
                deltas[a] += delta
                deltas[b] -= delta
        for name, delta in deltas.items():
            self.ratings[name] += delta
            self.games[name] += 1

    def ranking(self) -> list[tuple[str, float]]:
        """``(name, rating)`` pairs, highest rating first (ties in order of appearance)."""
        return sorted(self.ratings.items(), key=lambda item: -item[1])

    def table(self) -> str:
        """A fixed-width table of the players by rating, with their rated games."""
        header = ("player", "rating", "games")
        rows = [(name, f"{rating:.1f}", str(self.games[name])) for name, rating in self.ranking()]
        title = f"Elo ratings (initial {self.initial:g}, K {self.k:g})"
        return format_table(title, header, rows)

    def to_dict(self) -> dict[str, float]:
        """``{name: rating}``, highest rating first."""
        return dict(self.ranking())
