"""Named classes of the curated bridged games (those in the main conformance suite).

Each fixes the TextArena id and declares what generic tests check per class (``has_chance``).
Every other TextArena id uses :class:`~selfplay_gym.envs.textarena.env.TextArenaEnv` with
``game_id=...``.
"""

from __future__ import annotations

from typing import ClassVar

from selfplay_gym.envs.textarena.env import TextArenaEnv

__all__ = [
    "TextArenaTicTacToeEnv",
    "TextArenaKuhnPokerEnv",
    "TextArenaConnectFourEnv",
    "TextArenaNimEnv",
    "TextArenaSimpleNegotiationEnv",
    "CURATED",
]


class TextArenaTicTacToeEnv(TextArenaEnv):
    """TextArena's ``TicTacToe-v0`` through the bridge (SPIRAL's training game)."""

    default_game_id: ClassVar[str | None] = "TicTacToe-v0"
    has_chance: ClassVar[bool] = False


class TextArenaKuhnPokerEnv(TextArenaEnv):
    """TextArena's ``KuhnPoker-v0`` through the bridge (the game SPIRAL's KuhnPoker-v1 extends)."""

    default_game_id: ClassVar[str | None] = "KuhnPoker-v0"
    has_chance: ClassVar[bool] = True


class TextArenaConnectFourEnv(TextArenaEnv):
    """TextArena's ``ConnectFour-v0`` through the bridge (a MARS held-out game)."""

    default_game_id: ClassVar[str | None] = "ConnectFour-v0"
    has_chance: ClassVar[bool] = False


class TextArenaNimEnv(TextArenaEnv):
    """TextArena's ``Nim-v0`` through the bridge."""

    default_game_id: ClassVar[str | None] = "Nim-v0"
    has_chance: ClassVar[bool] = False


class TextArenaSimpleNegotiationEnv(TextArenaEnv):
    """TextArena's ``SimpleNegotiation-v0`` through the bridge (the game SPIRAL's v1 extends)."""

    default_game_id: ClassVar[str | None] = "SimpleNegotiation-v0"
    has_chance: ClassVar[bool] = True


def _page(cls: type[TextArenaEnv]) -> None:
    """Give ``cls`` the full docstring page of the bridge, led by its own first line."""
    lead = (cls.__doc__ or "").strip()
    cls.__doc__ = lead + "\n\n" + (TextArenaEnv.__doc__ or "").split("\n\n", 1)[1]


CURATED: dict[str, type[TextArenaEnv]] = {
    cls.default_game_id: cls  # type: ignore[misc]
    for cls in (
        TextArenaTicTacToeEnv,
        TextArenaKuhnPokerEnv,
        TextArenaConnectFourEnv,
        TextArenaNimEnv,
        TextArenaSimpleNegotiationEnv,
    )
}
"""TextArena id -> its named class."""

for _cls in CURATED.values():
    _page(_cls)
