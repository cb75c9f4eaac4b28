"""One seat of a simultaneous-move (PettingZoo ``ParallelEnv``) game as a Gymnasium env."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium
import numpy as np
from pettingzoo import ParallelEnv

from selfplay_gym.core.bots import Bot
from selfplay_gym.league import League
from selfplay_gym.wrappers.self_play_view import _own_copy

__all__ = ["ParallelSelfPlayView"]


class ParallelSelfPlayView(gymnasium.Env):
    """The learner acts in one seat of a ``ParallelEnv``; opponents act in the others each step.

    An opponent is a :class:`~selfplay_gym.core.bots.Bot` (``act(env, agent)`` on the unwrapped
    parallel env, re-seeded on every reset), a callable ``(observation, info) -> action`` that sees
    what a policy in that seat would see, or a :class:`~selfplay_gym.league.League` (an entry
    drawn on every reset, the learner's episode return reported back).

    Args:
        env: The multi-agent env (parallel).
        learner: The seat the Gymnasium agent plays.
        opponents: Seat -> opponent, for every other seat.
        env_id: The env's registered id (resolves bot names drawn from a league).

    Example:
        >>> import gymnasium, selfplay_gym
        >>> env = gymnasium.make("selfplay/Volleyball1v1-v0", opponent="hover")
        >>> obs, info = env.reset(seed=0)
        >>> obs.shape, info["role"]
        ((37,), 'blue')
    """

    def __init__(
        self,
        env: ParallelEnv,
        learner: str,
        opponents: Mapping[str, Any],
        env_id: str | None = None,
    ):
        super().__init__()
        if learner not in env.possible_agents:
            raise ValueError(
                f"expected a learner seat among {env.possible_agents}, got {learner!r}"
            )
        others = [a for a in env.possible_agents if a != learner]
        missing = sorted(set(others) - set(opponents))
        if missing:
            raise ValueError(f"no opponent given for seats {missing}")
        self.env = env
        self.learner = learner
        self.env_id = env_id
        self.opponents = {a: opponents[a] for a in others}
        self._playing = {a: o for a, o in self.opponents.items() if not isinstance(o, League)}
        self._drawn: dict[str, str] = {}
        self.observation_space = env.observation_space(learner)
        self.action_space = env.action_space(learner)
        self.metadata = dict(env.metadata)
        self.render_mode = getattr(env, "render_mode", None)
        self._last: tuple[dict, dict] = ({}, {})
        self._episode_reward = 0.0

    @property
    def parallel_env(self) -> ParallelEnv:
        """The multi-agent env this view plays in."""
        return self.env

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start an episode; returns the learner's observation and info."""
        super().reset(seed=seed)
        seeds = self.np_random.integers(2**62, size=len(self.opponents) + 1)
        observations, infos = self.env.reset(seed=int(seeds[0]), options=options)
        self._drawn = {}
        for (seat, opponent), s in zip(self.opponents.items(), seeds[1:], strict=True):
            if isinstance(opponent, League):
                name, drawn = opponent.sample(self.np_random, env_id=self.env_id)
                self._drawn[seat], self._playing[seat] = name, drawn
            if isinstance(self._playing[seat], Bot):
                self._playing[seat].reset(int(s))
        self._last = (observations, infos)
        self._episode_reward = 0.0
        return observations[self.learner], self._info(infos[self.learner])

    def step(self, action: Any):
        """Play the learner's ``action`` together with the opponents' moves."""
        if self.learner not in self.env.agents:
            raise RuntimeError("the episode is over: call reset() before step()")
        observations, infos = self._last
        actions = {self.learner: action}
        for seat in self.env.agents:
            if seat == self.learner:
                continue
            opponent = self._playing[seat]
            if isinstance(opponent, Bot):
                actions[seat] = opponent.act(self.env.unwrapped, seat)
            else:
                actions[seat] = opponent(observations[seat], infos[seat])
        observations, rewards, terms, truncs, infos = self.env.step(actions)
        self._last = (observations, infos)
        me = self.learner
        reward = float(rewards[me])
        self._episode_reward += reward
        if (terms[me] or truncs[me]) and self._drawn:
            for seat, name in self._drawn.items():
                self.opponents[seat].record(name, reward=self._episode_reward)
        return observations[me], reward, bool(terms[me]), bool(truncs[me]), self._info(infos[me])

    def _info(self, info: dict[str, Any]) -> dict[str, Any]:
        out = _own_copy(info)
        if self._drawn:
            out["opponents"] = dict(self._drawn)
        return out

    def render(self) -> np.ndarray | str | None:
        """The multi-agent env's rendering."""
        return self.env.render()

    def close(self) -> None:
        """Close the multi-agent env."""
        self.env.close()

    def __str__(self) -> str:
        return f"<ParallelSelfPlayView<{self.env}> learner={self.learner}>"
