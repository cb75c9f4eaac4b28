"""selfplay-gym: self-play settings as PettingZoo and Gymnasium environments.

Importing the package registers every id with Gymnasium and PettingZoo::

    import gymnasium, pettingzoo, selfplay_gym
    env = gymnasium.make("selfplay/KuhnPoker-v0", opponent="strong")   # one learner
    game = pettingzoo.make("aec", "selfplay/KuhnPoker-v0")             # every seat
    game = selfplay_gym.make("selfplay/KuhnPoker-v0")                  # the same, short form
"""

from selfplay_gym.registry import ENV_SPECS, make, make_single_agent, register_all, spec
from selfplay_gym.spaces import MoveText, UnicodeText

__version__ = "0.1.0"
__all__ = [
    "make",
    "make_single_agent",
    "spec",
    "ENV_SPECS",
    "UnicodeText",
    "MoveText",
    "__version__",
]

register_all()
