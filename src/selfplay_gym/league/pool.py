"""The opponent pool: fixed bots, language-model policies and frozen snapshots of the learner.

A :class:`League` holds named entries and answers two calls, which is all a consumer (the
single-agent view, the rollout engine, a training loop) needs:

* ``name, opponent = league.sample(rng)`` draws an entry by the league's rule and returns it
  as an opponent: a :class:`~selfplay_gym.core.bots.Bot` or a callable
  ``(observation, info) -> action``, ready for :func:`~selfplay_gym.core.bots.ask`;
* ``league.record(name, score)`` reports the learner's result against that entry (1 win,
  0.5 draw, 0 loss; or ``reward=`` the learner's summed reward) and updates the learner's
  win rate against it and the Elo ratings of both.

Sampling rules: ``"latest"`` (the newest snapshot, else the newest entry: plain self-play),
``"uniform"``, and ``"prioritized"`` (prioritized fictitious self-play, as in AlphaStar: entry
weight ``f(p)`` of the learner's win rate ``p`` against it, ``(1 - p) ** power`` for
``"hard"`` -- the opponents it loses to most -- or ``p * (1 - p)`` for ``"variance"`` -- the
even matches; an entry without games counts as ``p = 0.5``).

Example:
    >>> league = League(env_id="selfplay/TicTacToe-v0", rule="prioritized", seed=0)
    >>> _ = league.add("random", "random")
    >>> _ = league.add("strong", "strong")
    >>> league.record("strong", 0.0)
    >>> league.record("random", 1.0)
    >>> {name: round(p, 3) for name, p in league.probabilities().items()}
    {'random': 0.0, 'strong': 1.0}
    >>> name, opponent = league.sample()
    >>> name, type(opponent).__name__
    ('strong', 'PerfectTicTacToeBot')
"""

from __future__ import annotations

import copy
import os
import re
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from selfplay_gym.core.bots import Bot
from selfplay_gym.core.tables import format_table
from selfplay_gym.league.ratings import Elo, score_from_reward

__all__ = [
    "League",
    "LeagueEntry",
    "RULES",
    "WEIGHTINGS",
    "KINDS",
    "is_model_spec",
    "load_checkpoint_policy",
]

RULES = ("latest", "uniform", "prioritized")
"""How :meth:`League.sample` chooses an entry."""
WEIGHTINGS = ("hard", "variance")
"""Weight functions of the ``"prioritized"`` rule."""
KINDS = ("bot", "policy", "snapshot")
"""What an entry is: a scripted bot, a policy (language model or callable), or the learner's past."""

_MODEL_SPEC = re.compile(r"^[a-z][a-z0-9_+-]*:.")


def is_model_spec(spec: Any) -> bool:
    """Whether ``spec`` names a model for :func:`selfplay_gym.llm.load_policy` (``"hf:PATH"``, ``"openai:..."``).

    Example:
        >>> is_model_spec("hf:/models/tiny"), is_model_spec("strong")
        (True, False)
    """
    return isinstance(spec, str) and bool(_MODEL_SPEC.match(spec))


def _load_model_spec(spec: str) -> Any:
    from selfplay_gym.llm import load_policy  # transformers and friends load only when needed

    return load_policy(spec)


def load_checkpoint_policy(path: str | os.PathLike[str]) -> Any:
    """The default checkpoint loader: ``selfplay_gym.llm.load_policy("hf:" + path)``."""
    return _load_model_spec(f"hf:{os.fspath(path)}")


@dataclass
class LeagueEntry:
    """One opponent of a :class:`League` and the learner's record against it."""

    name: str
    """Unique within the league; the player's name in the ratings."""
    kind: str
    """``"bot"``, ``"policy"`` or ``"snapshot"``."""
    source: Any
    """What was added: a bot name, a ``Bot`` or ``Bot`` class, a callable, a model spec
    (``"hf:PATH"``), a frozen copy of the learner, or a checkpoint path."""
    added: int
    """Position in the order of additions (0 for the first entry ever added)."""
    games: int = 0
    """Results recorded against this entry."""
    wins: int = 0
    """Games the learner won (score above 0.5)."""
    draws: int = 0
    """Games drawn (score 0.5)."""
    losses: int = 0
    """Games the learner lost (score below 0.5)."""
    total_score: float = 0.0
    """The learner's scores summed over every recorded game."""
    recent: deque[float] | None = field(default=None, repr=False)
    """The learner's last scores when the league has a ``window``, else ``None``."""
    loader: Callable[[Any], Any] | None = field(default=None, repr=False)
    """Builds the opponent from :attr:`source` on first use (checkpoints, model specs)."""
    loaded: Any = field(default=None, repr=False)
    """The opponent :attr:`loader` returned, once it has run."""

    @property
    def win_rate(self) -> float | None:
        """The learner's mean score against this entry (draws count half); ``None`` before any game.

        With a league ``window`` only the last ``window`` games count.
        """
        if self.recent is not None:
            return sum(self.recent) / len(self.recent) if self.recent else None
        return self.total_score / self.games if self.games else None

    @property
    def is_loaded(self) -> bool:
        """Whether the opponent is ready without running a loader."""
        return self.loader is None or self.loaded is not None


class League:
    """A pool of named opponents with a sampling rule and Elo ratings.

    Args:
        rule: ``"latest"``, ``"uniform"`` or ``"prioritized"`` (see the module docstring).
        weighting: The ``"prioritized"`` weight: ``"hard"`` ``(1 - p) ** power`` or
            ``"variance"`` ``p * (1 - p)``, ``p`` the learner's win rate against the entry.
        power: Exponent of the ``"hard"`` weighting; larger values focus harder on the
            opponents the learner loses to.
        window: Win rates over at most this many recent games per entry (``None``: all games),
            so that prioritization follows a learner that improves.
        prior_games: Pseudo-games at a score of 0.5 added to every entry's record when the
            ``"prioritized"`` rule weighs it, so that one or two early results do not decide an
            entry's weight (without it, one win gives ``p = 1`` and, under ``"hard"``, a weight
            of 0: the entry is never drawn again). 0 (the default) uses the raw win rate.
        max_snapshots: Keep at most this many snapshots (in-memory and checkpoints); adding one
            more drops the oldest. ``None`` keeps all.
        env_id: The game that bot names (``"random"``, ``"strong"``) are resolved against. May
            be left out if every :meth:`sample` call passes ``env_id`` (the view does).
        learner: The learner's name in the ratings.
        ratings: The :class:`~selfplay_gym.league.ratings.Elo` to update (a fresh one by
            default).
        seed: Seed of the league's own generator, used by :meth:`sample` when no ``rng`` is
            given.

    Raises:
        ValueError: For an unknown rule or weighting, or a bad ``power``, ``window``,
            ``prior_games`` or ``max_snapshots``.
    """

    def __init__(
        self,
        *,
        rule: str = "uniform",
        weighting: str = "hard",
        power: float = 1.0,
        window: int | None = None,
        prior_games: float = 0.0,
        max_snapshots: int | None = None,
        env_id: str | None = None,
        learner: str = "learner",
        ratings: Elo | None = None,
        seed: int | None = None,
    ):
        if rule not in RULES:
            raise ValueError(f"expected rule in {list(RULES)}, got {rule!r}")
        if weighting not in WEIGHTINGS:
            raise ValueError(f"expected weighting in {list(WEIGHTINGS)}, got {weighting!r}")
        if not (isinstance(power, (int, float)) and power > 0):
            raise ValueError(f"expected power > 0, got {power!r}")
        if not (isinstance(prior_games, (int, float)) and prior_games >= 0):
            raise ValueError(f"expected prior_games >= 0, got {prior_games!r}")
        for label, value in (("window", window), ("max_snapshots", max_snapshots)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise ValueError(f"expected {label} to be None or an int >= 1, got {value!r}")
        if not isinstance(learner, str) or not learner:
            raise ValueError(f"expected a non-empty learner name, got {learner!r}")
        if env_id is not None:
            from selfplay_gym.registry import spec

            spec(env_id)  # an unknown id fails now, not at the first draw
        self.rule = rule
        self.weighting = weighting
        self.power = float(power)
        self.prior_games = float(prior_games)
        self.window = window
        self.max_snapshots = max_snapshots
        self.env_id = env_id
        self.learner = learner
        self.ratings = ratings if ratings is not None else Elo()
        self.ratings.add(learner)
        self.rng = np.random.default_rng(seed)
        self._entries: dict[str, LeagueEntry] = {}
        self._retired: set[str] = set()
        self._added = 0
        self._snapshots = 0

    # ---- contents ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[LeagueEntry]:
        return iter(list(self._entries.values()))

    def __getitem__(self, name: str) -> LeagueEntry:
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(f"no entry {name!r} in the league; entries: {self.names}") from None

    @property
    def names(self) -> list[str]:
        """Entry names in the order they were added."""
        return list(self._entries)

    @property
    def entries(self) -> list[LeagueEntry]:
        """The entries in the order they were added."""
        return list(self._entries.values())

    def __repr__(self) -> str:
        return f"League(rule={self.rule!r}, entries={self.names})"

    def add(self, name: str, opponent: Any) -> LeagueEntry:
        """Add a fixed opponent.

        Args:
            name: A unique name (not the learner's).
            opponent: A bot name (``"random"``, ``"strong"``: resolved per game, see ``env_id``),
                a :class:`~selfplay_gym.core.bots.Bot` or ``Bot`` subclass (each draw gets its
                own copy or instance, so two envs never share a bot's generator), a model spec
                for :func:`selfplay_gym.llm.load_policy` (``"hf:PATH"``, loaded on first draw),
                or any callable ``(observation, info) -> action`` (shared by every draw).

        Returns:
            The new entry; its kind is ``"bot"`` for bots and bot names, else ``"policy"``.
        """
        if is_model_spec(opponent):
            return self._insert(name, "policy", opponent, loader=_load_model_spec)
        if isinstance(opponent, str):
            if self.env_id is not None:
                from selfplay_gym.registry import resolve_opponent

                resolve_opponent(self.env_id, opponent)  # an unknown bot name fails now
            return self._insert(name, "bot", opponent)
        if isinstance(opponent, Bot) or (isinstance(opponent, type) and issubclass(opponent, Bot)):
            return self._insert(name, "bot", opponent)
        if callable(opponent):
            return self._insert(name, "policy", opponent)
        raise TypeError(
            "expected a bot name, a model spec such as 'hf:PATH', a Bot, a Bot class or a "
            f"callable (observation, info) -> action, got {type(opponent).__name__}"
        )

    def add_snapshot(self, learner: Any, name: str | None = None) -> LeagueEntry:
        """Add a frozen in-memory copy of ``learner``.

        The copy is ``learner.snapshot()`` if the object has that method, else
        ``copy.deepcopy(learner)``; later changes to the learner do not reach it. It enters the
        ratings at the learner's current rating.

        Args:
            learner: A :class:`~selfplay_gym.core.bots.Bot` or a callable
                ``(observation, info) -> action`` (or an object whose ``snapshot()`` gives one).
            name: Unique name; default ``snapshot_<n>``, ``n`` counting snapshots from 0.

        Returns:
            The new entry (kind ``"snapshot"``).
        """
        snapshot_method = getattr(learner, "snapshot", None)
        frozen = snapshot_method() if callable(snapshot_method) else copy.deepcopy(learner)
        if not (isinstance(frozen, Bot) or callable(frozen)):
            raise TypeError(
                "expected the snapshot to be a Bot or a callable (observation, info) -> action, "
                f"got {type(frozen).__name__}"
            )
        return self._insert(name, "snapshot", frozen)

    def add_checkpoint(
        self,
        path: str | os.PathLike[str],
        name: str | None = None,
        loader: Callable[[Any], Any] | None = None,
    ) -> LeagueEntry:
        """Add a snapshot saved as a checkpoint directory, loaded on its first draw (only once).

        Args:
            path: The checkpoint directory.
            name: Unique name; default ``snapshot_<n>``, ``n`` counting snapshots from 0.
            loader: ``loader(path) -> opponent`` (a Bot or a callable). The default,
                :func:`load_checkpoint_policy`, loads a Hugging Face directory with
                ``selfplay_gym.llm.load_policy("hf:" + path)`` and needs
                ``pip install selfplay-gym[llm]``; the directory must then exist already.

        Returns:
            The new entry (kind ``"snapshot"``).
        """
        if loader is None:
            if not os.path.isdir(path):
                raise ValueError(f"expected a checkpoint directory, got {os.fspath(path)!r}")
            loader = load_checkpoint_policy
        elif not callable(loader):
            raise TypeError(f"expected loader to be callable, got {type(loader).__name__}")
        return self._insert(name, "snapshot", path, loader=loader)

    def remove(self, name: str) -> LeagueEntry:
        """Take ``name`` out of the pool (its rating stays; results recorded later still rate it)."""
        entry = self[name]
        del self._entries[name]
        self._retired.add(name)
        return entry

    def _insert(
        self, name: str | None, kind: str, source: Any, loader: Callable[[Any], Any] | None = None
    ) -> LeagueEntry:
        if kind == "snapshot" and name is None:
            name = f"snapshot_{self._snapshots}"
            while name in self._entries or name in self._retired or name == self.learner:
                self._snapshots += 1
                name = f"snapshot_{self._snapshots}"
        if not isinstance(name, str) or not name:
            raise ValueError(f"expected a non-empty entry name, got {name!r}")
        if name == self.learner:
            raise ValueError(f"{name!r} is the learner's name in this league; choose another")
        if name in self._entries or name in self._retired:
            raise ValueError(f"the league already has an entry named {name!r}: {self.names}")
        entry = LeagueEntry(
            name=name,
            kind=kind,
            source=source,
            added=self._added,
            recent=deque(maxlen=self.window) if self.window is not None else None,
            loader=loader,
        )
        self._added += 1
        if kind == "snapshot":
            self._snapshots += 1
            # A snapshot is the learner as it is now, so it starts from the learner's rating.
            self.ratings.add(name, self.ratings.rating(self.learner))
        else:
            self.ratings.add(name)
        self._entries[name] = entry
        if self.max_snapshots is not None:
            snapshots = [e for e in self._entries.values() if e.kind == "snapshot"]
            for old in snapshots[: max(0, len(snapshots) - self.max_snapshots)]:
                self.remove(old.name)
        return entry

    # ---- sampling ----------------------------------------------------------------------------
    def probabilities(self) -> dict[str, float]:
        """The probability of each entry under the league's rule (``{}`` for an empty league)."""
        entries = self.entries
        if not entries:
            return {}
        if self.rule == "latest":
            snapshots = [e for e in entries if e.kind == "snapshot"]
            newest = max(snapshots or entries, key=lambda e: e.added)
            return {e.name: float(e is newest) for e in entries}
        if self.rule == "uniform":
            return {e.name: 1.0 / len(entries) for e in entries}
        weights = np.array([self._weight(self._smoothed_win_rate(e)) for e in entries], dtype=float)
        total = weights.sum()
        if total <= 0:
            # Every weight is zero (the learner beats them all, or every match is one-sided
            # under "variance"): nothing is preferred, so fall back to uniform.
            weights, total = np.ones(len(entries)), float(len(entries))
        return {e.name: float(w / total) for e, w in zip(entries, weights, strict=True)}

    def _smoothed_win_rate(self, entry: LeagueEntry) -> float | None:
        """The entry's win rate with :attr:`prior_games` even games mixed in."""
        rate = entry.win_rate
        if rate is None or not self.prior_games:
            return rate
        n = len(entry.recent) if entry.recent is not None else entry.games
        return (rate * n + 0.5 * self.prior_games) / (n + self.prior_games)

    def _weight(self, win_rate: float | None) -> float:
        p = 0.5 if win_rate is None else win_rate
        if self.weighting == "hard":
            return (1.0 - p) ** self.power
        return p * (1.0 - p)

    def draw(self, rng: np.random.Generator | None = None) -> str:
        """The name of an entry drawn by the league's rule with ``rng`` (default: the league's)."""
        if not self._entries:
            raise ValueError("cannot sample from an empty league: add an opponent first")
        probabilities = self.probabilities()
        names = list(probabilities)
        if self.rule == "latest":
            return max(names, key=probabilities.__getitem__)
        if rng is None:
            rng = self.rng
        elif not isinstance(rng, np.random.Generator):
            raise TypeError(f"expected a numpy.random.Generator, got {type(rng).__name__}")
        index = int(rng.choice(len(names), p=list(probabilities.values())))
        return names[index]

    def opponent(self, name: str, env_id: str | None = None) -> Any:
        """Entry ``name`` as an opponent: a :class:`~selfplay_gym.core.bots.Bot` or a callable.

        Bot names are resolved against ``env_id`` (default: the league's); ``Bot`` entries
        give a fresh copy each call; loaders run on the first call only.
        """
        entry = self[name]
        source = entry.source
        if entry.loader is not None:
            if entry.loaded is None:
                entry.loaded = entry.loader(source)
                if not (isinstance(entry.loaded, Bot) or callable(entry.loaded)):
                    got = type(entry.loaded).__name__
                    entry.loaded = None
                    raise TypeError(
                        f"the loader of {name!r} returned {got}; expected a Bot or a callable "
                        "(observation, info) -> action"
                    )
            return entry.loaded
        if isinstance(source, str):
            env_id = env_id or self.env_id
            if env_id is None:
                raise ValueError(
                    f"entry {name!r} is the bot name {source!r}, which depends on the game: "
                    "give League(env_id=...) or pass env_id= when sampling"
                )
            from selfplay_gym.registry import resolve_opponent

            return resolve_opponent(env_id, source)
        if isinstance(source, type):
            return source()
        if isinstance(source, Bot) and entry.kind == "bot":
            return copy.deepcopy(source)
        return source

    def sample(
        self, rng: np.random.Generator | None = None, env_id: str | None = None
    ) -> tuple[str, Any]:
        """Draw an entry by the league's rule; return its name and the opponent to play.

        Args:
            rng: The generator to draw with (default: the league's own, seeded by ``seed=``).
                A consumer that must replay passes its own seeded generator.
            env_id: The game bot names are resolved against (default: the league's ``env_id``).

        Returns:
            ``(name, opponent)``; report the result later with ``record(name, ...)``.

        Raises:
            ValueError: If the league is empty, or a bot name must be resolved without an id.
        """
        name = self.draw(rng)
        return name, self.opponent(name, env_id)

    # ---- results -----------------------------------------------------------------------------
    def record(self, name: str, score: float | None = None, *, reward: float | None = None) -> None:
        """Record one game of the learner against entry ``name``.

        Give exactly one of ``score`` (the learner's score: 1 win, 0.5 draw, 0 loss, or any
        value in [0, 1]) or ``reward`` (the learner's summed reward: positive win, zero draw,
        negative loss). The entry's win rate and the Elo ratings of the learner and the entry
        are updated. An entry removed since it was drawn (e.g. dropped by ``max_snapshots``)
        is still rated.

        Raises:
            ValueError: If ``name`` was never in the league, or the score is out of range.
        """
        if (score is None) == (reward is None):
            raise ValueError("expected exactly one of score (in [0, 1]) or reward=")
        if reward is not None:
            score = score_from_reward(reward)
        if name not in self._entries and name not in self._retired:
            raise ValueError(f"no entry {name!r} in the league; entries: {self.names}")
        self.ratings.update(self.learner, name, score)  # also checks that score is in [0, 1]
        entry = self._entries.get(name)
        if entry is None:
            return
        score = float(score)
        entry.games += 1
        entry.total_score += score
        if score > 0.5:
            entry.wins += 1
        elif score < 0.5:
            entry.losses += 1
        else:
            entry.draws += 1
        if entry.recent is not None:
            entry.recent.append(score)

    def table(self) -> str:
        """A fixed-width table of the entries: the learner's record against each, rating, probability of being sampled."""
        header = ("entry", "kind", "games", "W", "D", "L", "learner score", "rating", "p(sample)")
        probabilities = self.probabilities()
        rows = []
        for e in self._entries.values():
            rate = e.win_rate
            rows.append(
                (
                    e.name,
                    e.kind,
                    str(e.games),
                    str(e.wins),
                    str(e.draws),
                    str(e.losses),
                    "-" if rate is None else f"{rate:.1%}",
                    f"{self.ratings.rating(e.name):.1f}",
                    f"{probabilities[e.name]:.3f}",
                )
            )
        title = (
            f"League ({self.rule}): {len(self)} entries; "
            f"{self.learner} rating {self.ratings.rating(self.learner):.1f}"
        )
        return format_table(title, header, rows, left=2)
