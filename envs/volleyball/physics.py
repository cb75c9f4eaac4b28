"""The physical world of drone volleyball: court presets, the Iris quadrotor, the ball, the MJCF.

Constants follow VolleyBots (thu-uav/VolleyBots; see ``shared/reference/drone-volleyball.md``):

* **Iris quadrotor**: 1.52 kg; four rotors of at most 6.0 N each (thrust-to-weight 1.61), placed
  asymmetrically in x, spinning in directions (+1, +1, -1, -1); yaw torque per newton of thrust
  0.016 m. The inertia of VolleyBots' ``iris.yaml`` breaks the triangle inequality
  (``izz > ixx + iyy``), which MuJoCo rejects, so ``izz`` is clamped to ``ixx + iyy``.
* **Rotor model** (per-rotor thrust, "PRT"): a command ``c`` in [-1, 1] sets the target throttle
  ``sqrt((c + 1) / 2)``; the throttle moves 0.43 of the way to it per 20 ms control step (a
  first-order lag of about 36 ms); thrust is ``throttle**2 * KF``. So at steady state thrust is
  linear in the command: ``T = (c + 1) / 2 * KF``.
* **Ball**: radius 0.1 m, 5 g, no drag, restitution 0.8 off rackets (and the floor here).
  MuJoCo has no restitution coefficient; a bouncy contact is a spring-damper given in the
  negative ``solref`` form (stiffness K, damping B) with ``B = 2 * zeta * sqrt(K)``, where the
  damping ratio ``zeta`` gives the restitution ``e = exp(-zeta * pi / sqrt(1 - zeta**2))``.
  K is chosen so that ``sqrt(K) * timestep = 0.5``, the stiffest spring the Euler integrator
  resolves without overshoot (measured in the reference: e within 0.79-0.81 at dt 0.005).
* **Courts**: length x width (m) ``drill`` 18 x 9, ``1v1`` 6 x 3, ``3v3`` 12 x 6, ``6v6`` 18 x 9;
  the net is the plane x = 0, 2.43 m high; team 0 plays on x > 0. As in VolleyBots the net is a
  rule, not a collider (its geom is drawn only).

Drones do not collide with each other (the rules end a rally when teammates come within 0.8 m);
ball-drone, ball-floor and drone-floor contacts are on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "Court",
    "COURTS",
    "IrisParams",
    "BallParams",
    "PhysicsConfig",
    "RotorModel",
    "build_mjcf",
    "bounce_solref",
    "quat_to_mat",
    "hover_thrusts",
    "GRAVITY",
]

GRAVITY = 9.81


@dataclass(frozen=True)
class Court:
    """A court: the net is the plane x = 0; team 0 owns x in (0, length/2]."""

    name: str
    """Preset name."""
    length: float
    """Extent along x (m), both halves."""
    width: float
    """Extent along y (m)."""
    net_height: float = 2.43
    """Top of the net (m)."""
    net_band: float = 0.76
    """Height of the net's band (m), drawn only."""

    @property
    def half_length(self) -> float:
        """Depth of one team's half (m)."""
        return self.length / 2

    @property
    def half_width(self) -> float:
        """Half of the width (m)."""
        return self.width / 2


COURTS: dict[str, Court] = {
    "drill": Court("drill", 18.0, 9.0, net_band=1.0),
    "1v1": Court("1v1", 6.0, 3.0),
    "3v3": Court("3v3", 12.0, 6.0),
    "6v6": Court("6v6", 18.0, 9.0),
}
"""VolleyBots' court presets (drills and cooperative tasks use the standard 18 x 9 court)."""


def _rotor_xy() -> tuple[tuple[float, float], ...]:
    # Arm lengths and angles of VolleyBots' iris.yaml.
    arms = (0.255539, 0.238537, 0.255539, 0.238537)
    angles = (-0.5337, 2.5652, 0.5337, -2.5652)
    return tuple((a * math.cos(t), a * math.sin(t)) for a, t in zip(arms, angles, strict=True))


@dataclass(frozen=True)
class IrisParams:
    """The quadrotor (VolleyBots' Iris)."""

    mass: float = 1.52
    """Total mass (kg)."""
    inertia: tuple[float, float, float] = (0.0347563, 0.0458929, 0.0806492)
    """Diagonal inertia (kg m^2); VolleyBots' izz 0.0977 clamped to ixx + iyy."""
    rotor_xy: tuple[tuple[float, float], ...] = field(default_factory=_rotor_xy)
    """Rotor positions in the body frame (m)."""
    rotor_dirs: tuple[int, ...] = (1, 1, -1, -1)
    """Spin direction of each rotor (+1 or -1)."""
    max_thrust: float = 8.54858e-6 * 838.0**2
    """Thrust of one rotor at full throttle (N): force constant x max rotor speed^2 = 6.0 N."""
    moment_ratio: float = 1.3678e-7 / 8.54858e-6
    """Yaw torque per newton of thrust (m)."""
    throttle_gain: float = 0.43
    """Share of the gap to the target throttle closed per control step (the motor lag)."""
    hull_half: tuple[float, float, float] = (0.12, 0.12, 0.04)
    """Half sizes of the collision hull box (m)."""
    racket_radius: float = 0.2
    """Radius of the racket disc and of the hit-detection cylinder (m)."""
    racket_offset: float = 0.06
    """Height of the racket disc above the body origin (m)."""
    racket_reach: float = 0.2
    """Length of the hit-detection cylinder along body +z (m): 2 ball radii."""

    def __post_init__(self) -> None:
        ixx, iyy, izz = self.inertia
        if min(self.inertia) <= 0 or ixx + iyy < izz or ixx + izz < iyy or iyy + izz < ixx:
            raise ValueError(
                f"expected a physical inertia (triangle inequality), got {self.inertia}"
            )
        if len(self.rotor_xy) != 4 or len(self.rotor_dirs) != 4:
            raise ValueError("expected 4 rotors")

    @property
    def thrust_to_weight(self) -> float:
        """All rotors at full throttle over the weight (1.61 for the Iris)."""
        return 4 * self.max_thrust / (self.mass * GRAVITY)


@dataclass(frozen=True)
class BallParams:
    """The ball."""

    radius: float = 0.1
    """Radius (m)."""
    mass: float = 0.005
    """Mass (kg)."""
    restitution: float = 0.8
    """Coefficient of restitution of every ball contact."""
    friction: float = 0.3
    """Sliding friction of ball contacts."""


@dataclass(frozen=True)
class PhysicsConfig:
    """Simulation settings."""

    timestep: float = 0.005
    """Physics step (s); 0.002 is the higher-fidelity option."""
    control_dt: float = 0.02
    """Control step (s): 50 Hz as in VolleyBots. Must be a multiple of ``timestep``."""
    iris: IrisParams = field(default_factory=IrisParams)
    """The drone."""
    ball: BallParams = field(default_factory=BallParams)
    """The ball."""

    def __post_init__(self) -> None:
        ratio = self.control_dt / self.timestep
        if self.timestep <= 0 or ratio < 1 or abs(ratio - round(ratio)) > 1e-9:
            raise ValueError(
                f"expected control_dt to be a positive multiple of timestep, got "
                f"{self.control_dt} and {self.timestep}"
            )

    @property
    def substeps(self) -> int:
        """Physics steps per control step."""
        return round(self.control_dt / self.timestep)


def bounce_solref(restitution: float, timestep: float) -> tuple[float, float]:
    """The negative-form ``solref`` (-K, -B) of a contact with this restitution at this timestep."""
    if not 0.0 < restitution < 1.0:
        raise ValueError(f"expected a restitution in (0, 1), got {restitution}")
    log_e = math.log(restitution)
    zeta = -log_e / math.sqrt(math.pi**2 + log_e**2)
    stiffness = (0.5 / timestep) ** 2
    return -stiffness, -2.0 * zeta * math.sqrt(stiffness)


def hover_thrusts(iris: IrisParams) -> np.ndarray:
    """Per-rotor thrusts (N) that hold the drone still: total = weight, no roll/pitch/yaw torque.

    The rotors sit asymmetrically in x, so the front and back pairs carry different loads.
    Solves the 4 x 4 allocation system [sum T; sum y T; -sum x T; yaw] = [m g; 0; 0; 0].
    """
    return np.linalg.solve(allocation_matrix(iris), [iris.mass * GRAVITY, 0.0, 0.0, 0.0])


def allocation_matrix(iris: IrisParams) -> np.ndarray:
    """Maps rotor thrusts to (collective thrust, roll, pitch, yaw torque) in the body frame."""
    xy = np.asarray(iris.rotor_xy)
    dirs = np.asarray(iris.rotor_dirs, dtype=float)
    return np.stack(
        [np.ones(4), xy[:, 1], -xy[:, 0], -dirs * iris.moment_ratio]
    )  # torque_x = y T, torque_y = -x T


class RotorModel:
    """VolleyBots' rotor model over a batch: per-rotor commands in [-1, 1] -> thrusts (N).

    Holds the throttle of every rotor, shape ``(..., 4)``; :meth:`reset` sets it to hover.
    """

    def __init__(self, iris: IrisParams, shape: tuple[int, ...]):
        self.iris = iris
        self.hover_throttle = np.sqrt(hover_thrusts(iris) / iris.max_thrust)
        self.throttle = np.broadcast_to(self.hover_throttle, (*shape, 4)).copy()

    def reset(self, index: np.ndarray | slice | tuple = slice(None)) -> None:
        """Set the throttles at ``index`` (into the leading dims) to hover."""
        self.throttle[index] = self.hover_throttle

    def step(self, commands: np.ndarray) -> np.ndarray:
        """Advance the lag by one control step; returns the thrusts, same shape as ``commands``."""
        target = np.sqrt(np.clip((np.asarray(commands, dtype=float) + 1.0) * 0.5, 0.0, 1.0))
        self.throttle += self.iris.throttle_gain * (target - self.throttle)
        return np.square(self.throttle) * self.iris.max_thrust

    @staticmethod
    def command_for(thrusts: np.ndarray, iris: IrisParams) -> np.ndarray:
        """The command whose steady-state thrust is ``thrusts`` (clipped to the rotor's range)."""
        return np.clip(2.0 * np.asarray(thrusts) / iris.max_thrust - 1.0, -1.0, 1.0)


def quat_to_mat(quat: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` of unit quaternions ``(..., 4)`` in MuJoCo's (w, x, y, z)."""
    w, x, y, z = np.moveaxis(np.asarray(quat, dtype=float), -1, 0)
    xx, yy, zz = x * x, y * y, z * z
    xy, xz, yz, wx, wy, wz = x * y, x * z, y * z, w * x, w * y, w * z
    rows = (
        (1 - 2 * (yy + zz), 2 * (xy - wz), 2 * (xz + wy)),
        (2 * (xy + wz), 1 - 2 * (xx + zz), 2 * (yz - wx)),
        (2 * (xz - wy), 2 * (yz + wx), 1 - 2 * (xx + yy)),
    )
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def _fmt(values) -> str:
    return " ".join(f"{v:.6g}" for v in values)


def _look_at(name: str, pos: tuple[float, float, float], target: tuple[float, float, float]) -> str:
    """A fixed camera at ``pos`` looking at ``target`` (MJCF ``xyaxes``: right and up vectors)."""
    forward = np.subtract(target, pos) / np.linalg.norm(np.subtract(target, pos))
    right = np.cross(forward, (0.0, 0.0, 1.0))
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return (
        f'    <camera name="{name}" pos="{_fmt(pos)}" xyaxes="{_fmt(right)} {_fmt(up)}"'
        ' fovy="50" mode="fixed"/>'
    )


def build_mjcf(
    n_drones: int,
    court: Court,
    physics: PhysicsConfig | None = None,
    teams: tuple[int, ...] | None = None,
) -> str:
    """The MJCF of a court with ``n_drones`` drones (``drone0``..) and one ``ball``.

    Bodies are declared drones first, then the ball, so ``qpos`` holds 7 numbers per drone
    (position, quaternion) followed by the ball's 7; ``ctrl`` holds 4 rotor thrusts per drone.
    Contact bits: floor (type 4, affinity 3), drone geoms (2, 5), ball (1, 6): ball-floor,
    ball-drone and drone-floor collide, drone-drone do not.
    """
    if n_drones < 1:
        raise ValueError(f"expected at least one drone, got {n_drones}")
    physics = physics or PhysicsConfig()
    iris, ball = physics.iris, physics.ball
    k, b = bounce_solref(ball.restitution, physics.timestep)
    hx, hy = court.half_length, court.half_width
    lines = [
        '<mujoco model="drone_volleyball">',
        f'  <option timestep="{physics.timestep:g}" integrator="Euler" gravity="0 0 {-GRAVITY:g}"/>',
        '  <visual><global offwidth="1280" offheight="720"/><quality shadowsize="2048"/></visual>',
        "  <asset>",
        '    <texture name="grid" type="2d" builtin="checker" rgb1=".32 .45 .32" rgb2=".29 .42 .29"'
        ' width="300" height="300"/>',
        '    <material name="floor" texture="grid" texrepeat="8 8"/>',
        '    <texture type="skybox" builtin="gradient" rgb1=".55 .7 .85" rgb2=".1 .12 .18"'
        ' width="256" height="256"/>',
        "  </asset>",
        "  <worldbody>",
        '    <light pos="0 0 12" dir="0 0 -1" diffuse=".9 .9 .9"/>',
        f'    <geom name="floor" type="plane" size="{hx + 6:g} {hy + 6:g} .1" material="floor"'
        ' contype="4" conaffinity="3" friction="1 .005 .0001"/>',
        # Court lines and the net: drawn, never collide.
        f'    <geom name="court" type="box" pos="0 0 .001" size="{hx:g} {hy:g} .001"'
        ' rgba=".75 .6 .4 1" contype="0" conaffinity="0"/>',
        f'    <geom name="net" type="box" pos="0 0 {court.net_height - court.net_band / 2:g}"'
        f' size=".01 {hy:g} {court.net_band / 2:g}" rgba="1 1 1 .5" contype="0" conaffinity="0"/>',
        f'    <geom name="net_post_l" type="cylinder" fromto="0 {hy:g} 0 0 {hy:g}'
        f' {court.net_height:g}" size=".03" rgba=".9 .9 .9 1" contype="0" conaffinity="0"/>',
        f'    <geom name="net_post_r" type="cylinder" fromto="0 {-hy:g} 0 0 {-hy:g}'
        f' {court.net_height:g}" size=".03" rgba=".9 .9 .9 1" contype="0" conaffinity="0"/>',
        _look_at(
            "side", (0.0, -(hy + 0.6 * court.length), 0.3 * court.length + 2), (0.0, 0.0, 2.0)
        ),
        _look_at("end", (court.length * 0.95, 0.0, 0.45 * court.length), (0.0, 0.0, 1.5)),
    ]
    colours = ("0.2 0.35 0.85 1", "0.85 0.2 0.2 1")  # team 0 blue, team 1 red
    teams = tuple(teams) if teams is not None else (0,) * n_drones
    if len(teams) != n_drones:
        raise ValueError(f"expected {n_drones} team numbers, got {len(teams)}")
    for i in range(n_drones):
        lines += [
            f'    <body name="drone{i}" pos="{i:g} 0 2">',
            "      <freejoint/>",
            f'      <inertial pos="0 0 0" mass="{iris.mass:g}" diaginertia="{_fmt(iris.inertia)}"/>',
            f'      <geom name="hull{i}" type="box" size="{_fmt(iris.hull_half)}" mass="0"'
            f' rgba="{colours[teams[i] % 2]}" contype="2" conaffinity="5"/>',
            f'      <geom name="racket{i}" type="cylinder" pos="0 0 {iris.racket_offset:g}"'
            f' size="{iris.racket_radius:g} .01" mass="0" rgba=".95 .95 .95 .8"'
            ' contype="2" conaffinity="5"/>',
        ]
        for r, (x, y) in enumerate(iris.rotor_xy):
            lines.append(f'      <site name="rotor{i}_{r}" pos="{x:.6g} {y:.6g} 0" size=".05"/>')
        lines.append("    </body>")
    lines += [
        f'    <body name="ball" pos="0 0 {court.net_height + 2:g}">',
        "      <freejoint/>",
        f'      <geom name="ball" type="sphere" size="{ball.radius:g}" mass="{ball.mass:g}"'
        f' priority="1" solref="{k:.6g} {b:.6g}" solimp=".95 .99 .001 .5 2"'
        f' friction="{ball.friction:g} .005 .0001" rgba="1 .85 .1 1" contype="1" conaffinity="6"/>',
        "    </body>",
        "  </worldbody>",
        "  <actuator>",
    ]
    for i in range(n_drones):
        for r, d in enumerate(iris.rotor_dirs):
            lines.append(
                f'    <motor site="rotor{i}_{r}" gear="0 0 1 0 0 {-d * iris.moment_ratio:.6g}"'
                f' ctrllimited="true" ctrlrange="0 {iris.max_thrust:.6g}"/>'
            )
    lines += ["  </actuator>", "</mujoco>"]
    return "\n".join(lines)
