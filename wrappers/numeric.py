"""Numeric forms of a finite text game: state-tensor observations and ``Discrete`` moves.

* :class:`NumericView` -- one learner's Gymnasium view (SB3, any single-agent library);
* :class:`MaskedNumericAEC` -- every seat, as a PettingZoo AEC env with the mask inside the
  observation (RLlib's multi-agent PettingZoo wrappers, any masked multi-agent trainer).
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium.spaces import Box, Dict, Discrete
from pettingzoo.utils import BaseWrapper

__all__ = ["NumericView", "MaskedNumericAEC"]


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


class MaskedNumericAEC(BaseWrapper):
    """A finite text game as a numeric AEC env, in the form RLlib's action masking expects.

    * ``observe(agent)`` is ``{"observations": state_tensor(agent), "action_mask": mask}``, the
      mask being ``int8`` 1 on the agent's legal moves (all zeros when it is not its turn), as in
      ``info["action_mask"]`` and Gymnasium's ``Discrete.sample(mask=...)``;
    * ``action_space(agent)`` is ``Discrete(len(move_names))``, an index into the canonical moves;
      an illegal index is an invalid move under the game's invalid-move policy;
    * infos are slim (role, seat, turn, invalid_action, reward_components): RLlib stores every
      info of an episode and has no use for the prompts; the game's own infos are ``env.env.infos``.

    Example:
        >>> import selfplay_gym
        >>> from selfplay_gym.wrappers import MaskedNumericAEC
        >>> env = MaskedNumericAEC(selfplay_gym.make("selfplay/KuhnPoker-v0", num_hands=1))
        >>> env.reset(seed=0)
        >>> obs = env.observe(env.agent_selection)
        >>> obs["observations"].shape, obs["action_mask"].tolist(), env.action_space("player_0")
        ((19,), [1, 1, 0, 0], Discrete(4))
    """

    INFO_KEYS = ("role", "seat", "turn", "invalid_action", "reward_components")
    """The info entries passed on by :meth:`last`."""

    def __init__(self, env: Any):
        super().__init__(env)
        game = env.unwrapped
        if not game.move_names or not game.state_size:
            raise TypeError(
                f"expected a game with move_names and a state tensor, got {type(game).__name__}"
            )
        self._game = game
        self._move_index = {name: i for i, name in enumerate(game.move_names)}
        n_moves = len(game.move_names)
        self._obs_space = Dict(
            {
                "observations": game.state_space,
                "action_mask": Box(0, 1, shape=(n_moves,), dtype=np.int8),
            }
        )
        self._act_space = Discrete(n_moves)

    def observation_space(self, agent: str) -> Dict:
        """State tensor and action mask (the same object for every agent and call)."""
        return self._obs_space

    def action_space(self, agent: str) -> Discrete:
        """An index into the game's canonical moves."""
        return self._act_space

    def action_mask(self, agent: str) -> np.ndarray:
        """``int8`` mask of ``agent``'s legal moves now."""
        mask = np.zeros(self._act_space.n, dtype=np.int8)
        for name in self.env.legal_actions(agent):
            mask[self._move_index[name]] = 1
        return mask

    def observe(self, agent: str) -> dict[str, np.ndarray]:
        """What ``agent`` knows, as numbers, and which moves it may play."""
        return {
            "observations": self._game.state_tensor(agent),
            "action_mask": self.action_mask(agent),
        }

    def step(self, action: Any) -> None:
        """Play move index ``action`` (``None`` for a finished agent, as PettingZoo requires)."""
        self.env.step(None if action is None else int(action))

    @property
    def infos(self) -> dict[str, dict[str, Any]]:  # type: ignore[override]
        """Every live agent's slim info."""
        return {agent: self._slim(info) for agent, info in self.env.infos.items()}

    def last(self, observe: bool = True) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Observation, cumulative reward, termination, truncation and slim info of the agent to act."""
        _, reward, terminated, truncated, info = self.env.last(observe=False)
        agent = self.env.agent_selection
        return (
            (self.observe(agent) if observe else None),
            reward,
            terminated,
            truncated,
            self._slim(info),
        )

    def _slim(self, info: dict[str, Any]) -> dict[str, Any]:
        return {key: info[key] for key in self.INFO_KEYS if key in info}
