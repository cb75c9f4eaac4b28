"""TextArena's games through a bridge that fixes what breaks training on them (extra ``textarena``).

``TextArenaEnv(game_id)`` plays any TextArena id as a PettingZoo AEC env; every TextArena id is
registered as ``selfplay/TextArena<Name><Variant>-v<N>`` (see :mod:`.catalog`). TextArena itself
is imported only when a bridged env is reset, and this package's modules only when one of its
names is used (the registry reads the static table :mod:`selfplay_gym._textarena_ids` alone, which lives in
the core so that importing the registry imports no env family).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "TextArenaEnv",
    "TextArenaCrash",
    "ListedMoveBot",
    "TextArenaTicTacToeEnv",
    "TextArenaKuhnPokerEnv",
    "TextArenaConnectFourEnv",
    "TextArenaNimEnv",
    "TextArenaSimpleNegotiationEnv",
]

_HOME = {
    "TextArenaEnv": "env",
    "TextArenaCrash": "env",
    "ListedMoveBot": "bots",
    "TextArenaTicTacToeEnv": "games",
    "TextArenaKuhnPokerEnv": "games",
    "TextArenaConnectFourEnv": "games",
    "TextArenaNimEnv": "games",
    "TextArenaSimpleNegotiationEnv": "games",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
