"""Many volleyball courts stepped together: MuJoCo's batched stepping plus the numpy rotor model.

:class:`CourtBatch` owns a ``mujoco.batch.Batch`` of ``num_courts`` copies of one court model
and exposes the state as live arrays shaped ``(num_courts, n_drones, ...)``. Everything a task
needs (drone states, ball state, racket frames) is computed from ``qpos``/``qvel`` in numpy, so
the per-step Python cost does not grow with the number of courts.

Example:
    >>> import numpy as np
    >>> from selfplay_gym.envs.volleyball.physics import COURTS
    >>> from selfplay_gym.envs.volleyball.sim import CourtBatch
    >>> batch = CourtBatch(num_courts=2, n_drones=1, court=COURTS["drill"])
    >>> batch.reset_courts(np.arange(2), drone_pos=np.array([[[4.5, 0, 2]]] * 2),
    ...                    ball_pos=np.array([[4.5, 0, 5]] * 2))
    >>> batch.step(np.zeros((2, 1, 4)))   # commands in [-1, 1]
    >>> batch.drone_pos.shape, batch.ball_pos.shape
    ((2, 1, 3), (2, 3))
"""

from __future__ import annotations

import os
import sys

import numpy as np

from selfplay_gym.envs.volleyball.physics import (
    Court,
    PhysicsConfig,
    RotorModel,
    build_mjcf,
)

__all__ = ["CourtBatch", "ACTION_MODES"]

ACTION_MODES = ("prt", "ctbr", "vel")
"""Per-rotor thrust commands (VolleyBots' default), collective thrust + body rates (VolleyBots'
CTBR), or velocity targets through the position controller (an easier space for drills)."""

MAX_SPEED = 5.0
"""``vel`` mode: the velocity target at action +-1 (m/s)."""
MAX_YAW_RATE = 2.0
"""``vel`` mode: the yaw rate at action +-1 (rad/s)."""


def _mujoco():
    # Offscreen rendering needs the GL backend chosen before mujoco is first imported: without a
    # display, EGL (headless GPU or Mesa's software EGL).
    if "mujoco" not in sys.modules and not os.environ.get("DISPLAY"):
        os.environ.setdefault("MUJOCO_GL", "egl")
    try:
        import mujoco
        import mujoco.batch  # noqa: F401  (mujoco >= 4.0)
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "drone volleyball needs MuJoCo 4: pip install 'selfplay-gym[drones]'"
        ) from exc
    return mujoco


# quat_to_mat's nine entries (row-major) as ``a + sign * b`` over the products ``q_i q_j`` of
# (w, x, y, z), flattened to index 4 i + j: entry (0, 1) is 2 (xy - wz), (0, 0) is 1 - 2 (yy + zz).
_ROT_A = np.array([10, 6, 7, 6, 5, 11, 7, 11, 5])  # yy xy xz xy xx yz xz yz xx
_ROT_B = np.array([15, 3, 2, 3, 15, 1, 2, 1, 10])  # zz wz wy wz zz wx wy wx yy
_ROT_SIGN = np.array([1.0, -1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0])
_ROT_DIAGONAL = np.array([0, 4, 8])


def _rotation_matrices(quat: np.ndarray) -> np.ndarray:
    """:func:`~.physics.quat_to_mat` with the same arithmetic, in a handful of array operations.

    It runs on every control step: all products ``q_i q_j`` at once, then the nine entries as
    ``2 (a + sign b)`` (``1 - 2 (a + b)`` on the diagonal); subtracting is adding the negation,
    so every entry has exactly the bits ``quat_to_mat`` gives.
    """
    products = (quat[..., :, None] * quat[..., None, :]).reshape(-1, 16)
    entries = products[:, _ROT_A]
    entries += _ROT_SIGN * products[:, _ROT_B]
    entries *= 2
    entries[:, _ROT_DIAGONAL] = 1 - entries[:, _ROT_DIAGONAL]
    return entries.reshape(*quat.shape[:-1], 3, 3)


class CourtBatch:
    """``num_courts`` courts of ``n_drones`` drones and one ball, stepped at the control rate.

    Args:
        num_courts: Courts simulated together.
        n_drones: Drones per court.
        court: The court preset.
        physics: Timestep, control rate, drone and ball constants.
        action_mode: ``"prt"`` (per-rotor thrust commands), ``"ctbr"`` (collective thrust and
            body rates through VolleyBots' PID rate controller) or ``"vel"`` (velocity targets,
            +-5 m/s, and a yaw rate, +-2 rad/s, through the position controller).
        nthread: Threads of the batch (1 by default: one core per env worker).
        teams: Team of each drone (colours only).
    """

    def __init__(
        self,
        num_courts: int,
        n_drones: int,
        court: Court,
        physics: PhysicsConfig | None = None,
        *,
        action_mode: str = "prt",
        nthread: int = 1,
        teams: tuple[int, ...] | None = None,
    ):
        if action_mode not in ACTION_MODES:
            raise ValueError(f"expected action_mode in {ACTION_MODES}, got {action_mode!r}")
        if num_courts < 1:
            raise ValueError(f"expected at least one court, got {num_courts}")
        mujoco = _mujoco()
        self.num_courts, self.n_drones, self.court = num_courts, n_drones, court
        self.physics = physics or PhysicsConfig()
        self.action_mode = action_mode
        self.model = mujoco.MjModel.from_xml_string(
            build_mjcf(n_drones, court, self.physics, teams)
        )
        self.batch = mujoco.batch.Batch(self.model, nsim=num_courts, nthread=nthread)
        self._qpos = self.batch.bind("qpos")
        self._qvel = self.batch.bind("qvel")
        self._ctrl = self.batch.bind("ctrl")
        self.rotors = RotorModel(self.physics.iris, (num_courts, n_drones))
        if action_mode == "ctbr":
            from selfplay_gym.envs.volleyball.controllers import RateController

            self.rate_controller = RateController(self.physics.iris, (num_courts, n_drones))
        elif action_mode == "vel":
            from selfplay_gym.envs.volleyball.controllers import PositionController

            self.velocity_controller = PositionController(self.physics.iris)
        self.time = np.zeros(num_courts)
        """Simulated seconds since each court's reset."""
        self.refresh()

    # ---- state views (refreshed after every step) -------------------------------------------
    def refresh(self) -> None:
        """Recompute the numpy views of the state from ``qpos``/``qvel``."""
        n = self.n_drones
        q = self._qpos.reshape(self.num_courts, n + 1, 7)
        v = self._qvel.reshape(self.num_courts, n + 1, 6)
        self.drone_pos = q[:, :n, :3].copy()
        quat = q[:, :n, 3:7].copy()
        quat /= np.sqrt((quat * quat).sum(axis=-1, keepdims=True))  # np.linalg.norm's arithmetic
        self.drone_quat = np.where(quat[..., :1] < 0, -quat, quat)
        self.drone_rot = _rotation_matrices(self.drone_quat)
        self.drone_vel = v[:, :n, :3].copy()
        # Free joints give angular velocity in the body frame; the observation wants the world frame.
        self.drone_angvel_body = v[:, :n, 3:6].copy()
        self.drone_angvel = (self.drone_rot * self.drone_angvel_body[..., None, :]).sum(axis=-1)
        self.ball_pos = q[:, n, :3].copy()
        self.ball_vel = v[:, n, :3].copy()

    @property
    def drone_heading(self) -> np.ndarray:
        """Body x axes in the world frame, ``(courts, drones, 3)``."""
        return self.drone_rot[..., :, 0]

    @property
    def drone_up(self) -> np.ndarray:
        """Body z axes (the racket normal) in the world frame, ``(courts, drones, 3)``."""
        return self.drone_rot[..., :, 2]

    def drone_state(self) -> np.ndarray:
        """VolleyBots' 23-number drone state, ``(courts, drones, 23)``.

        Position, quaternion (w >= 0), linear and angular velocity (world), heading, up, and the
        rotor throttles scaled to [-1, 1].
        """
        return np.concatenate(
            [
                self.drone_pos,
                self.drone_quat,
                self.drone_vel,
                self.drone_angvel,
                self.drone_heading,
                self.drone_up,
                self.rotors.throttle * 2.0 - 1.0,
            ],
            axis=-1,
        )

    # ---- writing the state --------------------------------------------------------------------
    def reset_courts(
        self,
        ids: np.ndarray,
        *,
        drone_pos: np.ndarray,
        ball_pos: np.ndarray,
        drone_yaw: np.ndarray | None = None,
        drone_vel: np.ndarray | None = None,
        ball_vel: np.ndarray | None = None,
    ) -> None:
        """Put courts ``ids`` in a new state: drones level at rest (or moving), rotors at hover.

        Shapes: ``drone_pos (k, n_drones, 3)``, ``ball_pos (k, 3)``, ``drone_yaw (k, n_drones)``.
        """
        ids = np.asarray(ids, dtype=int)
        if ids.size == 0:
            return
        n, k = self.n_drones, len(ids)
        self.batch.reset(ids.tolist())
        q = self._qpos.reshape(self.num_courts, n + 1, 7)
        yaw = np.zeros((k, n)) if drone_yaw is None else np.asarray(drone_yaw, dtype=float)
        quat = np.zeros((k, n, 4))
        quat[..., 0], quat[..., 3] = np.cos(yaw / 2), np.sin(yaw / 2)
        drones = np.concatenate([np.asarray(drone_pos, dtype=float), quat], axis=-1)
        ball = np.concatenate(
            [np.asarray(ball_pos, dtype=float), np.tile([1.0, 0, 0, 0], (k, 1))], -1
        )
        state_q = q[ids]
        state_q[:, :n] = drones
        state_q[:, n] = ball
        state_v = np.zeros((k, n + 1, 6))
        if drone_vel is not None:
            state_v[:, :n, :3] = drone_vel
        if ball_vel is not None:
            state_v[:, n, :3] = ball_vel
        self._qpos[ids] = state_q.reshape(k, -1)
        self._qvel[ids] = state_v.reshape(k, -1)
        self.rotors.reset(ids)
        if self.action_mode == "ctbr":
            self.rate_controller.reset(ids)
        self.time[ids] = 0.0
        self.batch.forward(ids.tolist())
        self.refresh()

    def set_ball(self, ids: np.ndarray, pos: np.ndarray, vel: np.ndarray) -> None:
        """Teleport the ball of courts ``ids`` (scripted scenarios and tests)."""
        n = self.n_drones
        q = self._qpos.reshape(self.num_courts, n + 1, 7)
        v = self._qvel.reshape(self.num_courts, n + 1, 6)
        for i, p, u in zip(np.asarray(ids, dtype=int), pos, vel, strict=True):
            q[i, n, :3], v[i, n, :3], v[i, n, 3:] = p, u, 0.0
        self.refresh()

    # ---- stepping -----------------------------------------------------------------------------
    def step(self, actions: np.ndarray, ids: np.ndarray | None = None) -> None:
        """Apply ``actions (courts, drones, 4)`` in [-1, 1] for one control step.

        In ``prt`` mode the actions are rotor commands; in ``ctbr`` mode they are
        (roll rate, pitch rate, yaw rate, collective thrust), turned into rotor commands by the
        rate controller; in ``vel`` mode (vx, vy, vz, yaw rate) targets, turned into rotor
        commands by the position controller. The rotor lag advances once, then the physics runs ``substeps`` steps
        with the thrusts held. ``ids`` restricts the step to some courts (others stay frozen).
        """
        actions = np.asarray(actions, dtype=float)
        expected = (self.num_courts, self.n_drones, 4)
        if actions.shape != expected:
            raise ValueError(f"expected actions of shape {expected}, got {actions.shape}")
        if not np.all(np.isfinite(actions)):
            raise ValueError("actions must be finite")
        actions = np.clip(actions, -1.0, 1.0)
        if self.action_mode == "ctbr":
            actions = self.rate_controller.commands(actions, self.drone_angvel_body)
        elif self.action_mode == "vel":
            heading = self.drone_heading
            yaw = np.arctan2(heading[..., 1], heading[..., 0])
            actions = self.velocity_controller.commands(
                self.drone_pos,
                self.drone_vel,
                self.drone_rot,
                self.drone_angvel_body,
                self.drone_pos,
                target_vel=actions[..., :3] * MAX_SPEED,
                target_yaw=yaw + actions[..., 3] * MAX_YAW_RATE * self.physics.control_dt,
                position_gain=np.zeros(actions.shape[:-1]),
            )
        before = None if ids is None else self.rotors.throttle.copy()
        thrusts = self.rotors.step(actions)
        if ids is not None:
            keep = np.ones(self.num_courts, dtype=bool)
            keep[ids] = False
            self.rotors.throttle[keep] = before[keep]
        self._ctrl[:] = thrusts.reshape(self.num_courts, -1)
        self.batch.step(
            None if ids is None else np.asarray(ids, dtype=int).tolist(),
            nstep=self.physics.substeps,
        )
        if ids is None:
            self.time += self.physics.control_dt
        else:
            self.time[ids] += self.physics.control_dt
        self.refresh()

    def get_data(self, court: int):
        """Court ``court`` as a ``mujoco.MjData`` with derived fields computed (for rendering)."""
        mujoco = _mujoco()
        data = self.batch.get_data(court)
        mujoco.mj_forward(self.model, data)
        return data
