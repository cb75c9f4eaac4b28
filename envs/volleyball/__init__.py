"""Multi-drone volleyball on MuJoCo: VolleyBots' drills, cooperative and competitive tasks.

Needs the ``drones`` extra (``pip install 'selfplay-gym[drones]'``: MuJoCo 4 for its batched
stepping). The modules, bottom up: ``physics`` (court, drone, ball, MJCF), ``sim`` (many courts
stepped together), ``controllers`` (rate and position control), ``rules`` (hit detection and
rally faults), ``tasks`` (the nine tasks, vectorized), ``env`` (PettingZoo and Gymnasium vector
envs), ``bots`` (scripted players).
"""

from selfplay_gym.envs.volleyball.env import VolleyballEnv, VolleyballVectorEnv

__all__ = ["VolleyballEnv", "VolleyballVectorEnv"]
