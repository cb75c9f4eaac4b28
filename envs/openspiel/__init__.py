"""OpenSpiel games as language games, and MARS's suite (extra ``openspiel``: ``pip install selfplay-gym[openspiel]``).

This family is the only place that imports ``pyspiel``.
"""

from selfplay_gym.envs.openspiel.bots import CFRBot, MCTS100Bot, MCTS1000Bot, MCTSBot, cfr_policy
from selfplay_gym.envs.openspiel.env import MARS_FORFEIT, OpenSpielEnv, game_info
from selfplay_gym.envs.openspiel.mars import (
    MarsConnectFourEnv,
    MarsFullHanabiEnv,
    MarsKuhnPokerEnv,
    MarsLeducHoldemEnv,
    MarsMiniHanabiEnv,
    MarsSimpleHanabiEnv,
    MarsTicTacToeEnv,
)

__all__ = [
    "OpenSpielEnv",
    "game_info",
    "MARS_FORFEIT",
    "MCTSBot",
    "MCTS100Bot",
    "MCTS1000Bot",
    "CFRBot",
    "cfr_policy",
    "MarsTicTacToeEnv",
    "MarsKuhnPokerEnv",
    "MarsMiniHanabiEnv",
    "MarsConnectFourEnv",
    "MarsLeducHoldemEnv",
    "MarsSimpleHanabiEnv",
    "MarsFullHanabiEnv",
]
