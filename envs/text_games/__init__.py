"""Turn-based language games (SPIRAL's three, the Off-Switch game, the social games) with their bots."""

from selfplay_gym.envs.text_games.bargaining import BargainingEnv, ConcessionBot
from selfplay_gym.envs.text_games.donor_game import DonorGameEnv, ReciprocalBot
from selfplay_gym.envs.text_games.kuhn_poker import KuhnPokerEnv, NashKuhnBot
from selfplay_gym.envs.text_games.negotiation import SimpleNegotiationEnv, ValueAwareNegotiator
from selfplay_gym.envs.text_games.off_switch import OffSwitchEnv, StrongRobotBot
from selfplay_gym.envs.text_games.spy import StrongSpyPlayer, WhoIsTheSpyEnv
from selfplay_gym.envs.text_games.spy_images import WhoIsTheSpyImagesEnv
from selfplay_gym.envs.text_games.tictactoe import PerfectTicTacToeBot, TicTacToeEnv
from selfplay_gym.envs.text_games.werewolf import StrongWerewolfBot, WerewolfEnv

__all__ = [
    "TicTacToeEnv",
    "PerfectTicTacToeBot",
    "KuhnPokerEnv",
    "NashKuhnBot",
    "SimpleNegotiationEnv",
    "ValueAwareNegotiator",
    "OffSwitchEnv",
    "StrongRobotBot",
    "DonorGameEnv",
    "ReciprocalBot",
    "BargainingEnv",
    "ConcessionBot",
    "WhoIsTheSpyEnv",
    "WhoIsTheSpyImagesEnv",
    "StrongSpyPlayer",
    "WerewolfEnv",
    "StrongWerewolfBot",
]
