"""The scripted opponent of the bridged TextArena ids."""

from __future__ import annotations

from typing import Any

from selfplay_gym.core.bots import Bot

__all__ = ["ListedMoveBot"]


class ListedMoveBot(Bot):
    """Random over the moves the game lists, else over the bracketed examples of its rules.

    TextArena exposes no legal-move list, but many of its games print the moves available to the
    player to act ("Available Moves: '[0]', '[2]'"); this bot picks one of those uniformly. When
    a game lists none, it picks one of the bracketed examples in the player's rules, and when
    the rules have none either it sends ``fixed_reply``. It is the default opponent of every
    ``selfplay/TextArena*`` id (the bridged games are free text, so the core's ``RandomBot``,
    which draws from a finite move set, does not apply).

    Args:
        fixed_reply: The reply when neither the game nor its rules show a bracketed move.
        seed: Seed of the bot's generator.
    """

    name = "listed_random"

    def __init__(self, fixed_reply: str = "[pass]", seed: int | None = None):
        super().__init__(seed)
        self.fixed_reply = fixed_reply

    def act(self, env: Any, agent: str) -> str:
        """A listed move of ``agent`` in ``env`` (a bridged env), drawn with the bot's generator."""
        moves = env.listed_moves(agent) or env.rules_moves(agent)
        if not moves:
            return self.fixed_reply
        return moves[self.rng.randrange(len(moves))]
