"""Multi-drone volleyball on MuJoCo: VolleyBots' drills, cooperative and competitive tasks.

Needs the ``drones`` extra (``pip install 'selfplay-gym[drones]'``: MuJoCo 4 for its batched
stepping). The modules, bottom up: ``physics`` (court, drone, ball, MJCF), ``sim`` (many courts
stepped together), ``controllers`` (rate and position control), ``rules`` (hit detection and
rally faults), ``tasks`` (the nine tasks, vectorized), ``env`` (PettingZoo and Gymnasium vector
envs), ``bots`` (scripted players).

Rendering without a display uses EGL: importing this package sets ``MUJOCO_GL=egl`` when no
``DISPLAY`` is set and mujoco is not imported yet (MuJoCo reads the variable on its first import;
set it yourself if your program imports mujoco earlier).
"""

import os as _os
import sys as _sys

if "mujoco" not in _sys.modules and not _os.environ.get("DISPLAY"):
    _os.environ.setdefault("MUJOCO_GL", "egl")

from selfplay_gym.envs.volleyball.env import VolleyballEnv, VolleyballVectorEnv  # noqa: E402

__all__ = ["VolleyballEnv", "VolleyballVectorEnv"]
