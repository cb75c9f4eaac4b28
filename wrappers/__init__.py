"""Single-agent views of the multi-agent envs, and space adapters.

* :class:`SelfPlayView` -- one seat as a Gymnasium env; opponents play the other seats.
* :class:`NumericView` -- state-tensor observations and ``Discrete`` moves with an action mask.
* :class:`MaskedNumericAEC` -- the same for every seat of the AEC env, the mask inside the
  observation (RLlib's PettingZoo wrappers).
* :class:`TokenView` -- the prompt as fixed-size token arrays and ``Discrete`` moves, for training
  a language model with numeric RL libraries.
"""

from selfplay_gym.wrappers.numeric import MaskedNumericAEC, NumericView
from selfplay_gym.wrappers.self_play_view import SelfPlayView
from selfplay_gym.wrappers.tokens import TokenView

__all__ = ["SelfPlayView", "NumericView", "MaskedNumericAEC", "TokenView"]
