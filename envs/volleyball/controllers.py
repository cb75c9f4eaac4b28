"""Low-level flight controllers, vectorized over ``(courts, drones)``.

* :class:`RateController`: VolleyBots' CTBR action ("PIDrate"): body-rate targets and a
  collective thrust in [-1, 1] become rotor commands through a Crazyflie-style PID on the body
  rates (deg/s) and an X mixer, run once per control step as VolleyBots does.
* :class:`PositionController`: a geometric (Lee-style) position/velocity controller that turns
  a target position, velocity and acceleration into rotor commands; the scripted players and
  skills fly with it, and a policy may use it as an easier action space.

Both output per-rotor commands in [-1, 1], the input of :class:`~.physics.RotorModel`.
"""

from __future__ import annotations

import numpy as np

from selfplay_gym.envs.volleyball.physics import (
    GRAVITY,
    IrisParams,
    RotorModel,
    allocation_matrix,
)

__all__ = ["RateController", "PositionController"]

_PWM = 2.0**16


def _mixer_signs(iris: IrisParams) -> np.ndarray:
    """(4 rotors, [roll, pitch, yaw]) signs: which rotors speed up for a positive torque."""
    xy = np.asarray(iris.rotor_xy)
    dirs = np.asarray(iris.rotor_dirs)
    return np.stack([np.sign(xy[:, 1]), -np.sign(xy[:, 0]), -np.sign(dirs)], axis=-1)


class RateController:
    """CTBR: ``(roll rate, pitch rate, yaw rate, thrust)`` in [-1, 1] -> rotor commands.

    Rates scale to +-144 deg/s (180 deg/s x 0.8, VolleyBots' ``target_clip``); thrust to
    [0, 2^16] PWM. The PID gains are VolleyBots' (Crazyflie firmware): kp (250, 250, 120),
    ki (500, 500, 16.7), kd (2.5, 2.5, 0), integral limits (33.3, 33.3, 166.7), output clip
    2^15 - 1. The mixer adds each torque output to the rotors that produce that torque on the
    Iris layout (VolleyBots' m1..m4 pattern with the signs of this rotor order).
    """

    kp = np.array([250.0, 250.0, 120.0])
    ki = np.array([500.0, 500.0, 16.7])
    kd = np.array([2.5, 2.5, 0.0])
    i_limit = np.array([33.3, 33.3, 166.7])
    max_rate_deg = 180.0 * 0.8

    def __init__(self, iris: IrisParams, shape: tuple[int, ...], dt: float = 0.02):
        self.dt = dt
        self.signs = _mixer_signs(iris)
        self.integral = np.zeros((*shape, 3))
        self.last_error = np.zeros((*shape, 3))

    def reset(self, index=slice(None)) -> None:
        """Clear the integrators at ``index``."""
        self.integral[index] = 0.0
        self.last_error[index] = 0.0

    def commands(self, actions: np.ndarray, angvel_body: np.ndarray) -> np.ndarray:
        """Rotor commands for ``actions (..., 4)`` given the body angular velocity (rad/s)."""
        target = actions[..., :3] * self.max_rate_deg
        thrust = np.clip((actions[..., 3] + 1.0) * 0.5, 0.0, 1.0) * _PWM
        error = target - np.degrees(angvel_body)
        self.integral = np.clip(self.integral + error * self.dt, -self.i_limit, self.i_limit)
        derivative = (error - self.last_error) / self.dt
        self.last_error = error
        out = np.clip(
            self.kp * error + self.ki * self.integral + self.kd * derivative,
            -(2.0**15 - 1),
            2.0**15 - 1,
        )
        pwm = thrust[..., None] + np.einsum("rk,...k->...r", self.signs, out)
        return np.clip(pwm / _PWM * 2.0 - 1.0, -1.0, 1.0)


class PositionController:
    """Geometric position control: target position/velocity/acceleration -> rotor commands.

    The desired force ``m (kp e_p + kv e_v + a_ff + g z)`` sets the collective thrust and the
    desired body z axis (tilt capped at ``max_tilt``); the attitude error on SO(3) and the body
    rates give the torques; the rotor thrusts solve the allocation system and become commands
    through the rotor model's steady-state map. Gains are natural frequencies (rad/s), scaled
    by mass and inertia.

    Args:
        iris: The drone.
        position_freq: Natural frequency of the position loop (rad/s).
        attitude_freq: Natural frequency of the attitude loop (rad/s).
        damping: Damping ratio of both loops.
        max_accel: Cap on the horizontal and downward desired acceleration (m/s^2).
        max_tilt: Cap on the angle between the thrust and the vertical (rad).
    """

    def __init__(
        self,
        iris: IrisParams,
        *,
        position_freq: float = 2.5,
        attitude_freq: float = 9.0,
        damping: float = 0.9,
        max_accel: float = 8.0,
        max_tilt: float = 0.75,
    ):
        self.iris = iris
        self.kp = position_freq**2
        self.kv = 2.0 * damping * position_freq
        inertia = np.asarray(iris.inertia)
        self.k_att = inertia * attitude_freq**2
        self.k_rate = inertia * 2.0 * damping * attitude_freq
        self.max_accel, self.max_tilt = max_accel, max_tilt
        self.inverse_allocation = np.linalg.inv(allocation_matrix(iris))

    def commands(
        self,
        pos: np.ndarray,
        vel: np.ndarray,
        rot: np.ndarray,
        angvel_body: np.ndarray,
        target_pos: np.ndarray,
        target_vel: np.ndarray | None = None,
        target_acc: np.ndarray | None = None,
        target_yaw: np.ndarray | float = 0.0,
        position_gain: np.ndarray | float = 1.0,
    ) -> np.ndarray:
        """Rotor commands ``(..., 4)``; ``position_gain`` 0 tracks velocity only."""
        acc = self.kv * ((0.0 if target_vel is None else target_vel) - vel)
        acc = acc + self.kp * np.asarray(position_gain)[..., None] * (target_pos - pos)
        if target_acc is not None:
            acc = acc + target_acc
        horizontal = np.linalg.norm(acc[..., :2], axis=-1, keepdims=True)
        acc[..., :2] *= np.minimum(1.0, self.max_accel / np.maximum(horizontal, 1e-9))
        acc[..., 2] = np.clip(acc[..., 2], -0.8 * GRAVITY, self.max_accel)
        force = acc + np.array([0.0, 0.0, GRAVITY])
        # Cap the tilt: keep the vertical part, shrink the horizontal part.
        limit = force[..., 2:3] * np.tan(self.max_tilt)
        side = np.linalg.norm(force[..., :2], axis=-1, keepdims=True)
        force[..., :2] *= np.minimum(1.0, limit / np.maximum(side, 1e-9))
        force *= self.iris.mass
        b3 = force / np.linalg.norm(force, axis=-1, keepdims=True)
        yaw = np.broadcast_to(np.asarray(target_yaw, dtype=float), b3.shape[:-1])
        b1c = np.stack([np.cos(yaw), np.sin(yaw), np.zeros_like(yaw)], axis=-1)
        b2 = np.cross(b3, b1c)
        b2 /= np.linalg.norm(b2, axis=-1, keepdims=True)
        b1 = np.cross(b2, b3)
        desired = np.stack([b1, b2, b3], axis=-1)  # columns are the desired body axes
        collective = np.einsum("...i,...i->...", force, rot[..., :, 2])
        err = np.einsum("...ji,...jk->...ik", desired, rot) - np.einsum(
            "...ji,...jk->...ik", rot, desired
        )
        e_rot = 0.5 * np.stack([err[..., 2, 1], err[..., 0, 2], err[..., 1, 0]], axis=-1)
        torque = -self.k_att * e_rot - self.k_rate * angvel_body
        wrench = np.concatenate([collective[..., None], torque], axis=-1)
        thrusts = np.einsum("rk,...k->...r", self.inverse_allocation, wrench)
        return RotorModel.command_for(np.clip(thrusts, 0.0, self.iris.max_thrust), self.iris)
