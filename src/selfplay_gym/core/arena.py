"""Matches between opponents on any registered id: the engine of ``selfplay-gym arena``.

:func:`play_match` seats the given players, plays a number of seeded games of one id and tallies
wins, draws, losses, rewards and invalid moves per player (not per seat). It knows no particular
game: players are anything :func:`selfplay_gym.registry.resolve_opponent` accepts (a bot name
such as ``"random"`` or ``"strong"``, a :class:`~selfplay_gym.core.bots.Bot`, or a callable
``(observation, info) -> action``) and moves go through :func:`~selfplay_gym.core.bots.ask`.

Example:
    >>> result = play_match("selfplay/TicTacToe-v0", ["strong", "random"], games=4)
    >>> result.players[0].losses
    0
    >>> [p.games_as_first for p in result.players]
    [2, 2]
    >>> ratings = result.ratings()
    >>> ratings.rating("strong") > ratings.rating("random")
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from selfplay_gym.core.bots import Bot, ask
from selfplay_gym.core.tables import format_table
from selfplay_gym.league.ratings import Elo
from selfplay_gym.registry import make, resolve_opponent, spec

__all__ = ["PlayerStats", "GameRecord", "MatchResult", "play_match", "bot_seed"]


@dataclass
class PlayerStats:
    """What one player did over a match, summed over both (all) seats."""

    name: str
    """The player's label: its spec name, with ``#k`` (1-based position) if the name repeats."""
    games: int = 0
    """Games played."""
    wins: int = 0
    """Games with a positive summed reward."""
    draws: int = 0
    """Games with a summed reward of exactly zero."""
    losses: int = 0
    """Games with a negative summed reward."""
    total_reward: float = 0.0
    """Reward summed over every game (forfeits count with their shaped values, e.g. -1.5)."""
    invalid_moves: int = 0
    """Steps of this player that the env flagged with ``info["invalid_action"]``."""
    seat_games: dict[str, int] = field(default_factory=dict)
    """Games played in each seat, e.g. ``{"player_0": 10, "player_1": 10}``."""
    seat_results: dict[str, dict[str, int]] = field(default_factory=dict)
    """Wins, draws and losses in each seat: ``{"player_0": {"wins": 7, "draws": 1, "losses": 2}}``."""

    @property
    def games_as_first(self) -> int:
        """Games played in the ``player_0`` seat."""
        return self.seat_games.get("player_0", 0)

    @property
    def win_rate(self) -> float:
        """Wins per game played (0 before any game)."""
        return self.wins / self.games if self.games else 0.0

    @property
    def mean_reward(self) -> float:
        """Reward per game played (0 before any game)."""
        return self.total_reward / self.games if self.games else 0.0

    def to_dict(self) -> dict[str, Any]:
        """The counts and the derived rates, as JSON-ready values."""
        return {
            **asdict(self),
            "games_as_first": self.games_as_first,
            "win_rate": self.win_rate,
            "mean_reward": self.mean_reward,
        }


@dataclass(frozen=True)
class GameRecord:
    """One game of a match."""

    index: int
    """Position in the match, from 0."""
    env_seed: int
    """The seed the env was reset with."""
    seats: tuple[str, ...]
    """The player name in each seat, in ``possible_agents`` order."""
    rewards: tuple[float, ...]
    """Each player's summed reward, in the order of :attr:`MatchResult.players`."""
    steps: int
    """Steps taken, failed attempts included."""


@dataclass
class MatchResult:
    """The outcome of :func:`play_match`."""

    env_id: str
    """The id that was played."""
    seed: int
    """Base seed: game ``g`` reset the env with ``seed + g``."""
    swap_seats: bool
    """Whether the players rotated through the seats from game to game."""
    players: list[PlayerStats]
    """Per-player totals, in the order the players were given."""
    records: list[GameRecord] = field(default_factory=list)
    """Every game, in order."""

    @property
    def num_games(self) -> int:
        """Games played in the match."""
        return len(self.records)

    def table(self) -> str:
        """A fixed-width table: per player W/D/L, win rate, mean reward and invalid moves."""
        header = ("player", "games", "as p0", "W", "D", "L", "win rate", "mean reward", "invalid")
        rows = [
            (
                p.name,
                str(p.games),
                str(p.games_as_first),
                str(p.wins),
                str(p.draws),
                str(p.losses),
                f"{p.win_rate:.1%}",
                f"{p.mean_reward:+.3f}",
                str(p.invalid_moves),
            )
            for p in self.players
        ]
        seating = "seats swapped" if self.swap_seats else "fixed seats"
        title = f"{self.env_id}: {self.num_games} games, seed {self.seed}, {seating}"
        return format_table(title, header, rows)

    def ratings(self, elo: Elo | None = None) -> Elo:
        """Elo ratings from replaying the games in order (a fresh :class:`Elo` by default).

        Each game rates every pair of players by their summed rewards: the higher reward wins,
        equal rewards draw (:meth:`Elo.update_game <selfplay_gym.league.ratings.Elo.update_game>`).
        """
        elo = Elo() if elo is None else elo
        names = [p.name for p in self.players]
        for name in names:
            elo.add(name)
        for record in self.records:
            elo.update_game(names, record.rewards)
        return elo

    def to_dict(self, include_records: bool = False) -> dict[str, Any]:
        """JSON-ready summary with the Elo :meth:`ratings`; ``include_records`` adds every game."""
        out: dict[str, Any] = {
            "env_id": self.env_id,
            "games": self.num_games,
            "seed": self.seed,
            "swap_seats": self.swap_seats,
            "players": [p.to_dict() for p in self.players],
            "ratings": self.ratings().to_dict(),
        }
        if include_records:
            out["records"] = [asdict(r) for r in self.records]
        return out


def _spec_name(spec: Any) -> str:
    """A short label for a player spec (a name, a Bot or a callable)."""
    if isinstance(spec, str):
        return spec
    if callable(spec) and hasattr(spec, "__name__"):
        return str(spec.__name__)
    return type(spec).__name__


def _player_names(specs: Sequence[Any], given: Sequence[str] | None = None) -> list[str]:
    """Labels for the players, made unique with their position where two would coincide."""
    names = [_spec_name(s) for s in specs] if given is None else [str(n) for n in given]
    return [f"{n}#{i + 1}" if names.count(n) > 1 else n for i, n in enumerate(names)]


def outcome_of(reward: float) -> str:
    """``"wins"``, ``"draws"`` or ``"losses"``: how a game with this summed reward counts."""
    return "wins" if reward > 0 else "losses" if reward < 0 else "draws"


def bot_seed(seed: int, game: int, seat: int) -> int:
    """The seed a bot in seat index ``seat`` gets in game ``game`` of a match seeded ``seed``.

    ``SeedSequence`` mixes the three, so neighbouring games and seats get unrelated streams.
    """
    return int(np.random.SeedSequence([seed, game, seat]).generate_state(1, np.uint64)[0])


def play_match(
    env_id: str,
    players: Sequence[Any],
    games: int,
    seed: int = 0,
    swap_seats: bool = True,
    progress: bool = False,
    names: Sequence[str] | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
) -> MatchResult:
    """Play ``games`` games of ``env_id`` between ``players`` and tally the results per player.

    Game ``g`` resets one env with ``seed + g``; each :class:`~selfplay_gym.core.bots.Bot` is
    re-seeded from ``(seed, g, seat)``, so a match replays exactly for the same arguments.
    A game is a win for a player whose summed reward is positive, a loss if negative, a draw if
    zero (forfeits, shaped -1.5 / +0.5 by default, count as a loss and a win).

    Args:
        env_id: A registered id, e.g. ``"selfplay/TicTacToe-v0"``.
        players: One spec per seat: a bot name (``"random"``, ``"strong"``), a ``Bot``, or a
            callable ``(observation, info) -> action``. Names are resolved afresh per player, so
            ``["strong", "strong"]`` seats two independent bots.
        games: Number of games, at least 1.
        seed: Base seed (an int >= 0).
        swap_seats: Rotate the players through the seats from game to game (with two players:
            alternate who is ``player_0``), so that every player gets every seat.
        progress: Show a tqdm progress bar on stderr.
        names: Labels of the players (default: their names, or the callable's ``__name__``);
            repeated labels get ``#k`` appended.
        env_kwargs: Arguments of the env overriding the id's defaults, e.g.
            ``{"num_hands": 1, "payoff": "chips"}`` for single-hand Kuhn Poker paid in chips.

    Returns:
        The per-player totals and a record of every game.

    Raises:
        ValueError: If a player name is unknown, the number of players does not match the
            number of seats, or ``games``/``seed`` are out of range.
        RuntimeError: If a player raises while choosing a move; the message names the player,
            its seat and the game, and the original exception is chained.
    """
    if isinstance(games, bool) or not isinstance(games, int) or games < 1:
        raise ValueError(f"expected games to be an int >= 1, got {games!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"expected seed to be an int >= 0, got {seed!r}")
    if isinstance(players, (str, bytes)) or not isinstance(players, Sequence):
        raise TypeError(f"expected a sequence of player specs, got {type(players).__name__}")

    env_spec = spec(env_id)
    if names is not None and len(names) != len(players):
        raise ValueError(f"expected one name per player ({len(players)}), got {len(names)}")
    resolved = [resolve_opponent(env_id, p) for p in players]
    names = _player_names(players, names)
    env = make(env_id, **dict(env_kwargs or {}))
    if env_spec.kind == "parallel":
        from pettingzoo.utils.conversions import parallel_to_aec

        env = parallel_to_aec(env)
    seat_names = list(env.possible_agents)
    if len(resolved) != len(seat_names):
        raise ValueError(
            f"expected {len(seat_names)} players for {env_id} (seats {seat_names}), "
            f"got {len(resolved)}: {names}"
        )

    stats = [
        PlayerStats(
            name=n,
            seat_games={s: 0 for s in seat_names},
            seat_results={s: {"wins": 0, "draws": 0, "losses": 0} for s in seat_names},
        )
        for n in names
    ]
    result = MatchResult(env_id=env_id, seed=seed, swap_seats=swap_seats, players=stats)
    n = len(seat_names)

    from tqdm import tqdm

    bar = tqdm(range(games), desc=env_id, unit="game", disable=not progress, leave=True)
    try:
        for g in bar:
            # Player index sitting in each seat this game.
            order = [(s + g) % n if swap_seats else s for s in range(n)]
            player_of = {agent: order[i] for i, agent in enumerate(seat_names)}
            env.reset(seed=seed + g)
            for i, agent in enumerate(seat_names):
                policy = resolved[player_of[agent]]
                if isinstance(policy, Bot):
                    policy.reset(bot_seed(seed, g, i))

            rewards = [0.0] * n
            invalid = [0] * n
            steps = 0
            for agent in env.agent_iter():
                _, _, terminated, truncated, _ = env.last()
                if terminated or truncated:
                    env.step(None)
                else:
                    p = player_of[agent]
                    try:
                        action = ask(resolved[p], env, agent)
                    except Exception as exc:
                        raise RuntimeError(
                            f"player {names[p]!r} (seat {agent}) raised {type(exc).__name__} "
                            f"in game {g} of {env_id} (env seed {seed + g}): {exc}"
                        ) from exc
                    env.step(action)
                    steps += 1
                    # The env rewrites every info after each step, so this flag is about the
                    # move just played, not an earlier one.
                    if env.infos.get(agent, {}).get("invalid_action", False):
                        invalid[p] += 1
                # Sum env.rewards after every step: it holds exactly the rewards that step
                # produced (PettingZoo clears it on dead steps), so nothing is counted twice.
                for a, r in env.rewards.items():
                    rewards[player_of[a]] += float(r)

            for p, player in enumerate(stats):
                player.games += 1
                player.total_reward += rewards[p]
                player.invalid_moves += invalid[p]
                outcome = outcome_of(rewards[p])
                setattr(player, outcome, getattr(player, outcome) + 1)
            for agent, p in player_of.items():
                stats[p].seat_games[agent] += 1
                stats[p].seat_results[agent][outcome_of(rewards[p])] += 1
            result.records.append(
                GameRecord(
                    index=g,
                    env_seed=seed + g,
                    seats=tuple(names[player_of[a]] for a in seat_names),
                    rewards=tuple(rewards),
                    steps=steps,
                )
            )
            if progress:
                bar.set_postfix_str(
                    " ".join(f"{p.name} {p.wins}-{p.draws}-{p.losses}" for p in stats),
                    refresh=False,
                )
    finally:
        bar.close()
        env.close()
    return result
