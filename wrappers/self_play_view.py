"""One seat of a multi-agent game as a Gymnasium env."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium
import numpy as np
from pettingzoo import AECEnv

from selfplay_gym.core.bots import Bot, ask
from selfplay_gym.league import League

__all__ = ["SelfPlayView", "learner_seats"]


def _own_copy(info: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``info`` that shares no mutable object with the env (Gymnasium's rule for returns)."""
    out = dict(info)
    for key, value in out.items():
        if isinstance(value, np.ndarray):
            out[key] = value.copy()
        elif isinstance(value, dict):
            out[key] = dict(value)
        elif isinstance(value, list):
            out[key] = [dict(v) if isinstance(v, dict) else v for v in value]
    return out


class SelfPlayView(gymnasium.Env):
    """A Gymnasium env in which the agent plays ``learner`` and ``opponents`` play every other seat.

    ``reset`` and ``step`` advance the multi-agent game through the opponents' turns until the
    learner must act or the game is over. The reward of a ``step`` is everything the learner
    received since its previous action (the opponents' moves and the game's end included), and
    ``info`` is the learner's info of the multi-agent env. If the game ends before the learner's
    first move, the first ``step`` (whatever its action) returns the reward with
    ``terminated=True`` and ``info["ended_before_first_move"]``.

    Opponents are :class:`~selfplay_gym.core.bots.Bot` objects, callables
    ``(observation, info) -> action``, or a :class:`~selfplay_gym.league.League`. Each bot is
    re-seeded on every ``reset`` from this view's generator, so ``reset(seed=s)`` replays the same
    game for the same learner actions.

    A seat played by a league draws its opponent on every ``reset`` with this view's generator
    (so a seed replays the draw too); the drawn entry's name is ``info["opponent"]`` (with one
    league seat) and ``info["opponents"]`` (seat -> name) in every ``info`` of the episode. When
    the learner's episode ends (terminated or truncated), its summed reward is reported to the
    league with ``league.record(name, reward=...)``, once per league seat; an episode cut short
    by ``reset`` is not reported.

    Self-play in an asymmetric game (first and second player, dealer and opener) trains one
    policy for every seat: give ``learner`` a sequence of seats, or ``"any"`` for all of them,
    and each ``reset`` draws the learner's seat uniformly from them with this view's generator
    (:attr:`learner` is the seat of the current episode). ``opponents`` must then cover every
    seat; the seat the learner takes is left to it for that episode.

    Args:
        env: The multi-agent env (AEC).
        learner: The seat the Gymnasium agent plays, a sequence of seats to draw it from on every
            reset, or ``"any"`` (every seat).
        opponents: Seat -> opponent, for every seat the learner may not be in.
        env_id: The env's registered id, used to resolve bot names drawn from a league (the
            league's own ``env_id`` is used when this is ``None``).

    Example:
        >>> import gymnasium, selfplay_gym
        >>> env = gymnasium.make("selfplay/TicTacToe-v0", opponent="strong")
        >>> obs, info = env.reset(seed=0)
        >>> info["legal_actions"][:3]
        ['[0]', '[1]', '[2]']
    """

    def __init__(
        self,
        env: AECEnv,
        learner: str,
        opponents: Mapping[str, Any],
        env_id: str | None = None,
    ):
        super().__init__()
        seats = learner_seats(env.possible_agents, learner)
        missing = sorted(set(env.possible_agents) - {seats[0]} - set(opponents))
        if len(seats) > 1:
            missing = sorted(set(env.possible_agents) - set(opponents))
        if missing:
            raise ValueError(f"no opponent given for seats {missing}")
        self.env = env
        self.learner_seats: tuple[str, ...] = seats
        """The seats the learner is drawn from (one seat: always that one)."""
        self.learner = seats[0]
        """The seat the learner plays in the current episode."""
        self.env_id = env_id
        self.opponents = dict(opponents)
        """Seat -> the opponent as configured (a bot, a callable or a league)."""
        self._drawn: dict[str, str] = {}
        self._episode_reward = 0.0
        self._report_pending = False
        self._seat_episode(self.learner)
        self.observation_space = env.observation_space(seats[0])
        self.action_space = env.action_space(seats[0])
        for seat in seats[1:]:
            if (env.observation_space(seat), env.action_space(seat)) != (
                self.observation_space,
                self.action_space,
            ):
                raise ValueError(f"seats {seats[0]} and {seat} have different spaces")
        self.metadata = dict(env.metadata)
        self.render_mode = getattr(env, "render_mode", None)
        self._pending_reward: float | None = None

    @property
    def aec_env(self) -> AECEnv:
        """The multi-agent env this view plays in."""
        return self.env

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start a game and play the opponents until the learner's first turn."""
        super().reset(seed=seed)
        seeds = self.np_random.integers(2**62, size=len(self.opponents) + 1)
        self.env.reset(seed=int(seeds[0]), options=options)
        # The seat and league draws come after the seeds, so a view with one learner seat and
        # no league keeps its old streams.
        if len(self.learner_seats) > 1:
            self._seat_episode(self.learner_seats[self.np_random.integers(len(self.learner_seats))])
        for seat in self._league_seats:
            name, opponent = self.opponents[seat].sample(self.np_random, env_id=self.env_id)
            self._drawn[seat] = name
            self._playing[seat] = opponent
        for seat, s in zip(self.opponents, seeds[1:], strict=True):
            opponent = self._playing.get(seat)
            if isinstance(opponent, Bot):
                opponent.reset(int(s))
        self._episode_reward = 0.0
        self._report_pending = bool(self._league_seats)
        # The game can end before the learner's first move (an opponent forfeits, a turn limit):
        # reset() cannot say so, so the reward is kept for the next step(), which ends the episode.
        self._pending_reward = self._play_opponents()
        return self._observation(), self._info(self.env.infos[self.learner])

    def step(self, action: Any):
        """Play the learner's ``action``, then the opponents until the learner acts again."""
        env = self.env
        learner = self.learner
        pending, self._pending_reward = self._pending_reward, None
        if learner in env.agents and (env.terminations[learner] or env.truncations[learner]):
            if pending is None:
                raise RuntimeError("the game is over: call reset() before step()")
            info = self._info(env.infos[learner])
            info["ended_before_first_move"] = True
            return self._finish_step(
                float(pending),
                bool(env.terminations[learner]),
                bool(env.truncations[learner]),
                info,
            )
        if learner not in env.agents:
            raise RuntimeError("the game is over: call reset() before step()")
        if env.agent_selection != learner:
            raise RuntimeError(f"it is {env.agent_selection}'s turn, not {learner}'s")
        env.step(action)
        reward = env.rewards.get(learner, 0.0) + (pending or 0.0)
        reward += self._play_opponents()
        terminated = env.terminations.get(learner, True)
        truncated = env.truncations.get(learner, False)
        info = env.infos.get(learner) or {}
        return self._finish_step(float(reward), bool(terminated), bool(truncated), self._info(info))

    def _seat_episode(self, seat: str) -> None:
        """Put the learner in ``seat``; the configured opponents take every other seat."""
        self.learner = seat
        others = {a: o for a, o in self.opponents.items() if a != seat}
        self._league_seats = [a for a, o in others.items() if isinstance(o, League)]
        # The opponent actually playing each seat this episode (league seats: the drawn one).
        self._playing = {a: o for a, o in others.items() if not isinstance(o, League)}
        self._drawn = {}

    def _finish_step(self, reward: float, terminated: bool, truncated: bool, info: dict[str, Any]):
        """The step's return; at the episode's end, the learner's result goes to the leagues."""
        self._episode_reward += reward
        if self._report_pending and (terminated or truncated):
            self._report_pending = False
            for seat in self._league_seats:
                self.opponents[seat].record(self._drawn[seat], reward=self._episode_reward)
        return self._observation(), reward, terminated, truncated, info

    def _info(self, info: dict[str, Any]) -> dict[str, Any]:
        """The learner's info as returned: an own copy, with the league draws of this episode."""
        out = _own_copy(info)
        if self._league_seats:
            if len(self._league_seats) == 1:
                out["opponent"] = self._drawn[self._league_seats[0]]
            out["opponents"] = dict(self._drawn)
        return out

    @property
    def drawn_opponents(self) -> dict[str, str]:
        """League seat -> name of the entry drawn for this episode (empty without a league)."""
        return dict(self._drawn)

    def _play_opponents(self) -> float:
        """Step every other seat until the learner must act or is done; return its reward meanwhile."""
        env = self.env
        learner = self.learner
        reward = 0.0
        while env.agents:
            agent = env.agent_selection
            if env.terminations[learner] or env.truncations[learner]:
                break
            if agent == learner:
                break
            if env.terminations[agent] or env.truncations[agent]:
                env.step(None)
            else:
                env.step(ask(self._playing[agent], env, agent))
            reward += env.rewards.get(learner, 0.0)
        return reward

    def _observation(self) -> str:
        return self.env.observe(self.learner)

    def legal_actions(self) -> list[str]:
        """The learner's legal moves as text (empty when it is not its turn)."""
        return self.env.legal_actions(self.learner)

    def action_masks(self) -> np.ndarray:
        """The learner's action mask over the canonical moves (for maskable algorithms)."""
        return np.asarray(self.env.infos[self.learner]["action_mask"], dtype=bool)

    def render(self) -> str | None:
        """The multi-agent env's rendering (the transcript in ``ansi`` mode)."""
        return self.env.render()

    def close(self) -> None:
        """Close the multi-agent env."""
        self.env.close()

    def __str__(self) -> str:
        return f"<SelfPlayView<{self.env}> learner={self.learner}>"


def learner_seats(possible_agents: Sequence[str], learner: str | Sequence[str]) -> tuple[str, ...]:
    """The learner's seats: one seat, a sequence of seats, or ``"any"`` (all of them), checked.

    Example:
        >>> learner_seats(["player_0", "player_1"], "any")
        ('player_0', 'player_1')
    """
    if learner == "any":
        return tuple(possible_agents)
    seats = (learner,) if isinstance(learner, str) else tuple(learner)
    if not seats:
        raise ValueError("expected at least one learner seat")
    for seat in seats:
        if seat not in possible_agents:
            raise ValueError(f"expected learner in {list(possible_agents)}, got {seat!r}")
    if len(set(seats)) != len(seats):
        raise ValueError(f"learner seats repeat: {list(seats)}")
    return seats
