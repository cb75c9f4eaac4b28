"""The numeric view of a finite text game: state-tensor observations and ``Discrete`` moves."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium.spaces import Discrete

__all__ = ["NumericView"]


class NumericView(gymnasium.Wrapper):
    """Turns a :class:`~selfplay_gym.wrappers.SelfPlayView` of a finite game into a numeric env.

    * observation: the learner's ``state_tensor`` (a ``float32`` ``Box``);
    * action: ``Discrete(len(move_names))``, an index into the game's canonical moves;
    * ``info["action_mask"]`` and :meth:`action_masks` give the legal moves (what sb3-contrib's
      ``MaskablePPO`` reads). An illegal index is an invalid move under the game's policy.

    Example:
        >>> import gymnasium, selfplay_gym
        >>> env = gymnasium.make("selfplay/KuhnPoker-v0", numeric=True)
        >>> obs, info = env.reset(seed=1)
        >>> obs.shape, env.action_space
        ((19,), Discrete(4))
    """

    def __init__(self, env: gymnasium.Env):
        super().__init__(env)
        view = env.unwrapped
        game = view.aec_env.unwrapped
        if not game.move_names or not game.state_size:
            raise TypeError(f"{type(game).__name__} has no finite move set or state tensor")
        self._game = game
        self._view = view
        self.observation_space = game.state_space
        self.action_space = Discrete(len(game.move_names))

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Reset and return the learner's state tensor."""
        _, info = self.env.reset(seed=seed, options=options)
        return self._game.state_tensor(self._view.learner), info

    def step(self, action: Any):
        """Play canonical move ``action`` for the learner."""
        _, reward, terminated, truncated, info = self.env.step(int(action))
        return self._game.state_tensor(self._view.learner), reward, terminated, truncated, info

    def action_masks(self) -> np.ndarray:
        """Boolean mask of the learner's legal moves."""
        return self.env.unwrapped.action_masks()
