"""Turn-based language games: SPIRAL's TicTacToe, Kuhn Poker and SimpleNegotiation, with their bots."""

from selfplay_gym.envs.text_games.kuhn_poker import KuhnPokerEnv, NashKuhnBot
from selfplay_gym.envs.text_games.negotiation import SimpleNegotiationEnv, ValueAwareNegotiator
from selfplay_gym.envs.text_games.tictactoe import PerfectTicTacToeBot, TicTacToeEnv

__all__ = [
    "TicTacToeEnv",
    "PerfectTicTacToeBot",
    "KuhnPokerEnv",
    "NashKuhnBot",
    "SimpleNegotiationEnv",
    "ValueAwareNegotiator",
]
