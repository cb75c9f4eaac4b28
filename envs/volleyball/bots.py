"""Scripted drone players, vectorized over courts.

A bot flies the drones it is given with the geometric position controller. Every bot has
``act_batch(task, drones) -> (courts, len(drones), 4)`` for the vector env and, through
:class:`DroneBot`, the ``act(env, agent)`` of the package's :class:`~selfplay_gym.core.bots.Bot`
for the parallel env and its single-agent view.
"""

from __future__ import annotations

import numpy as np

from selfplay_gym.core.bots import Bot
from selfplay_gym.envs.volleyball.controllers import PositionController

__all__ = ["DroneBot", "HoverBot", "RandomDroneBot"]


class DroneBot(Bot):
    """Base class: a scripted player of any drones of a volleyball task."""

    def act(self, env, agent: str) -> np.ndarray:
        """The action of ``agent`` in a :class:`~.env.VolleyballEnv` (its court 0)."""
        task = env.task
        drone = task.agents.index(agent)
        return self.act_batch(task, np.array([drone]))[0, 0].astype(np.float32)

    def act_batch(self, task, drones: np.ndarray) -> np.ndarray:
        """Actions of ``drones`` on every court of ``task``, ``(courts, len(drones), 4)``."""
        raise NotImplementedError

    def _controller(self, task) -> PositionController:
        iris = task.sim.physics.iris
        cached = getattr(self, "_pc", None)
        if cached is None or cached.iris != iris:
            self._pc = PositionController(iris)
        return self._pc

    def fly_to(self, task, drones: np.ndarray, target: np.ndarray, **kwargs) -> np.ndarray:
        """Rotor commands that fly ``drones`` toward ``target (courts, k, 3)``."""
        if task.sim.action_mode != "prt":
            raise ValueError("scripted drone bots fly in action_mode='prt'")
        s = task.sim
        yaw = np.where(task.team_arr[drones] == 1, np.pi, 0.0)
        return self._controller(task).commands(
            s.drone_pos[:, drones],
            s.drone_vel[:, drones],
            s.drone_rot[:, drones],
            s.drone_angvel_body[:, drones],
            target,
            target_yaw=yaw,
            **kwargs,
        )


class HoverBot(DroneBot):
    """Holds each drone at its task anchor (never plays the ball)."""

    name = "hover"

    def act_batch(self, task, drones):
        """Fly to the anchors."""
        target = np.broadcast_to(task.anchors[drones], (task.num_courts, len(drones), 3))
        return self.fly_to(task, drones, target)


class RandomDroneBot(DroneBot):
    """Uniformly random rotor commands (a drone that tumbles and falls)."""

    name = "random"

    def act_batch(self, task, drones):
        """Uniform commands from the bot's own generator."""
        u = np.array([self.rng.random() for _ in range(task.num_courts * len(drones) * 4)])
        return u.reshape(task.num_courts, len(drones), 4) * 2.0 - 1.0
