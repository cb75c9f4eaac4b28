"""Opponents: scripted bots and the one call that asks any opponent for a move.

An opponent is either

* a plain callable ``policy(observation: str, info: dict) -> str | int`` -- what a language
  model policy or a user's lambda is; it sees exactly what a model would see; or
* a :class:`Bot`, a scripted player with ``act(env, agent) -> str | int`` that reads the
  structured ``env.agent_view(agent)`` (never the hidden state of other players) and carries its
  own seeded generator.

:func:`ask` calls either kind. A returned ``int`` is an index into the game's canonical moves.

Example:
    >>> from selfplay_gym.core.bots import RandomBot
    >>> bot = RandomBot()
    >>> bot.reset(seed=3)
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from selfplay_gym.core.text_game import TurnBasedTextEnv

__all__ = ["Bot", "RandomBot", "Policy", "Opponent", "ask"]

Policy = Callable[[str, dict], str | int]
"""A callable opponent: ``(observation, info) -> action``."""


class Bot:
    """A scripted player with its own random generator.

    Subclasses implement :meth:`act`. ``reset(seed)`` is called by the views and the arena at
    the start of every game, so a seeded run replays exactly.
    """

    name = "bot"

    def __init__(self, seed: int | None = None):
        self.rng = random.Random(seed)

    def reset(self, seed: int | None = None) -> None:
        """Re-seed the bot's generator."""
        self.rng = random.Random(seed)

    def act(self, env: TurnBasedTextEnv, agent: str) -> str | int:
        """The move of ``agent`` in ``env`` (text, or an index into ``env.move_names``)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class RandomBot(Bot):
    """Uniformly random over the legal moves."""

    name = "random"

    def act(self, env: TurnBasedTextEnv, agent: str) -> int:
        """The index of a uniformly drawn legal move.

        Envs without a finite move set get a uniform draw from their numeric action space
        (a bounded ``Box``, ``Discrete`` or ``MultiDiscrete``), from the bot's own generator.
        """
        if not getattr(env, "move_names", ()):
            space = (
                env.action_space(agent) if callable(getattr(env, "action_space", None)) else None
            )
            drawn = self._sample(space)
            if drawn is not None:
                return drawn
            raise ValueError(
                f"{type(env).__name__} has no finite move set for a random bot to draw from; "
                "use one of the env's scripted bots"
            )
        legal = env._legal_indices(agent)
        return legal[self.rng.randrange(len(legal))]

    def _sample(self, space: Any) -> Any:
        """A uniform draw from a numeric gymnasium space, or None for any other space."""
        from gymnasium import spaces

        if isinstance(space, spaces.Box) and space.is_bounded():
            u = np.array([self.rng.random() for _ in range(space.low.size)]).reshape(space.shape)
            return (space.low + u * (space.high - space.low)).astype(space.dtype)
        if isinstance(space, spaces.Discrete):
            return int(space.start) + self.rng.randrange(int(space.n))
        if isinstance(space, spaces.MultiDiscrete):
            flat = [
                int(s) + self.rng.randrange(int(n))
                for n, s in zip(space.nvec.ravel(), space.start.ravel(), strict=True)
            ]
            return np.array(flat, dtype=space.dtype).reshape(space.shape)
        return None


Opponent = Bot | Policy


def ask(opponent: Opponent, env: Any, agent: str) -> str | int:
    """Ask ``opponent`` for ``agent``'s move in ``env`` (an AEC env, unwrapped or not)."""
    if isinstance(opponent, Bot):
        return opponent.act(env.unwrapped, agent)
    return opponent(env.observe(agent), env.infos[agent])
