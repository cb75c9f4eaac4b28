"""Single-agent views of the multi-agent envs, and space adapters.

* :class:`SelfPlayView` -- one seat as a Gymnasium env; opponents play the other seats.
* :class:`NumericView` -- state-tensor observations and ``Discrete`` moves with an action mask.
"""

from selfplay_gym.wrappers.numeric import NumericView
from selfplay_gym.wrappers.self_play_view import SelfPlayView

__all__ = ["SelfPlayView", "NumericView"]
