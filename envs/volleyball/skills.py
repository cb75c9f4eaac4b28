"""Scripted volleyball skills (HCSP's goto, serve, receive, pass, set, attack), vectorized over courts.

HCSP (thu-uav/HCSP) splits a 3v3 team into a high-level policy that picks a skill per role and
low-level skills that fly the drones. Here the low level is scripted: each skill flies the
drones with the geometric :class:`~.controllers.PositionController` and plans its hit from a
ballistic prediction of the ball.

Hitting. The ball is 5 g against a 1.52 kg drone, so a racket hit changes only the ball. With
restitution ``e`` and racket normal ``n`` (the drone's up axis), the ball's velocity after the
hit is ``v_out = v_r + (v_rel - (1 + e)(v_rel . n) n)`` with ``v_rel = v_in - v_r``: the change
``v_out - v_in`` lies along ``n``. So to send a ball arriving with ``v_in`` off at ``v_out``, the
racket must face ``n = (v_out - v_in) / |v_out - v_in|`` and move along ``n`` at
``v_r . n = v_in . n + |v_out - v_in| / (1 + e)``. :func:`plan_hit` turns that into a short
constant-acceleration trajectory (position, velocity, feed-forward acceleration whose direction
with gravity is ``n``) that ends on the contact point at the predicted contact time; the
position controller tracks it, and in the last ``window`` seconds the thrust is held along
``n`` (feedback may tilt it only a little, fading out at contact). The real contact is softer
than this model (about e = 0.74, and friction keeps 0.5-0.7 of the sliding velocity); the
planner can model both (``HitParams.restitution_scale``, ``tangential``) but aims best without
them, with a slightly reduced tilt (``tilt_gain``), and the named skills' arcs leave margin.

Every skill is a :class:`Skill` with ``act(task, drones, params) -> (courts, k, 4)`` rotor
commands; :class:`PolicySkill` wraps a learned policy (any callable on the drones'
observations, or a Stable-Baselines3 model) so learned and scripted skills are interchangeable.

Example:
    >>> import numpy as np
    >>> from selfplay_gym.envs.volleyball.skills import ballistic_velocity, GRAVITY
    >>> v = ballistic_velocity(np.array([1.5, 0, 2.2]), np.array([-1.5, 0, 2.2]), apex=4.0)
    >>> bool(abs(v[2] - np.sqrt(2 * GRAVITY * 1.8)) < 1e-9), round(float(v[0]), 3)
    (True, -2.476)
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from selfplay_gym.envs.volleyball.controllers import PositionController
from selfplay_gym.envs.volleyball.physics import GRAVITY

__all__ = [
    "GRAVITY",
    "HitPlan",
    "HitParams",
    "Skill",
    "Goto",
    "Hover",
    "Hit",
    "PolicySkill",
    "SKILLS",
    "make_skill",
    "time_to_height",
    "ball_at",
    "ballistic_velocity",
    "arc_top",
    "hit_height",
    "contact_point",
    "plan_hit",
    "racket_offset",
]


# ---- the ballistic predictor --------------------------------------------------------------------
def time_to_height(pos: np.ndarray, vel: np.ndarray, height: np.ndarray | float) -> np.ndarray:
    """Seconds until a ballistic ball comes *down* through ``height`` (``inf`` if it never does).

    ``pos``/``vel`` are ``(..., 3)``; the later root of ``z + vz t - g t^2 / 2 = height``.
    A ball already below ``height`` and falling gives ``inf``.
    """
    z, vz = pos[..., 2], vel[..., 2]
    disc = vz * vz + 2.0 * GRAVITY * (z - height)
    t = (vz + np.sqrt(np.maximum(disc, 0.0))) / GRAVITY
    return np.where((disc >= 0.0) & (t >= 0.0), t, np.inf)


def ball_at(pos: np.ndarray, vel: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position and velocity of a ballistic ball after ``t`` seconds (``t`` is ``(...)``)."""
    t = np.where(np.isfinite(t), t, 0.0)[..., None]
    g = np.array([0.0, 0.0, -GRAVITY])
    return pos + vel * t + 0.5 * g * t * t, vel + g * t


def ballistic_velocity(
    start: np.ndarray, target: np.ndarray, apex: np.ndarray | float
) -> np.ndarray:
    """The launch velocity from ``start`` that peaks at height ``apex`` and comes down on ``target``.

    ``apex`` is raised to stay above both ends. Shapes ``(..., 3)``.
    """
    start, target = np.asarray(start, dtype=float), np.asarray(target, dtype=float)
    apex = np.maximum(
        np.asarray(apex, dtype=float), np.maximum(start[..., 2], target[..., 2]) + 0.05
    )
    up = np.sqrt(2.0 * GRAVITY * (apex - start[..., 2]))
    flight = up / GRAVITY + np.sqrt(2.0 * (apex - target[..., 2]) / GRAVITY)
    horizontal = (target[..., :2] - start[..., :2]) / flight[..., None]
    return np.concatenate([horizontal, up[..., None]], axis=-1)


def racket_offset(task) -> float:
    """Height of the ball's centre above the drone's origin when it rests on the racket (m)."""
    s = task.sim.physics
    return s.iris.racket_offset + 0.01 + s.ball.radius


_ARC_TOPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def arc_top(task) -> np.ndarray:
    """The highest point (m) of each court's current ball arc, ``(courts,)``.

    Exact while the ball rises; once it falls the apex is in the past, so the value seen on
    the way up is remembered (per task) instead of taking the falling ball's height, which
    would make a contact height derived from it sink with the ball.
    """
    s = task.sim
    z, vz = s.ball_pos[:, 2], s.ball_vel[:, 2]
    rising = z + np.maximum(vz, 0.0) ** 2 / (2 * GRAVITY)
    seen = _ARC_TOPS.get(task)
    if seen is None or seen.shape != z.shape:
        seen = rising
    top = np.where(vz > 0.0, rising, np.maximum(seen, z))
    _ARC_TOPS[task] = top
    return top


def hit_height(task, preferred: float = 2.2, lowest: float = 1.2) -> np.ndarray:
    """The ball height (m) at which to meet each court's ball, ``(courts,)``.

    ``preferred``, or 0.3 m under the top of a lower arc, never under ``lowest``.
    """
    return np.clip(np.minimum(preferred, arc_top(task) - 0.3), lowest, None)


def contact_point(
    task, preferred: float = 2.2, lowest: float = 1.2
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where and when the ball of every court next falls through its :func:`hit_height`.

    Returns ``(time (courts,), position (courts, 3), velocity (courts, 3))``; time is ``inf``
    for a ball that will not come down through that height.
    """
    s = task.sim
    t = time_to_height(s.ball_pos, s.ball_vel, hit_height(task, preferred, lowest))
    p, v = ball_at(s.ball_pos, s.ball_vel, t)
    return t, p, v


# ---- hit planning -------------------------------------------------------------------------------
@dataclass
class HitPlan:
    """Targets for the position controller that make the racket meet the ball as planned."""

    pos: np.ndarray
    """(..., 3) where the drone should be now."""
    vel: np.ndarray
    """(..., 3) its velocity now."""
    acc: np.ndarray
    """(..., 3) feed-forward acceleration (sets the tilt: ``acc + g`` is along the racket normal)."""
    normal: np.ndarray
    """(..., 3) racket normal at contact."""
    racket_speed: np.ndarray
    """(...) racket speed along the normal at contact (m/s)."""
    window: np.ndarray
    """(...) seconds of the swing (the last ones before contact)."""


def plan_hit(
    ball_in: np.ndarray,
    ball_out: np.ndarray,
    contact: np.ndarray,
    time_left: np.ndarray,
    *,
    restitution: float = 0.8,
    offset: float = 0.17,
    max_tilt: float = 0.6,
    window: float = 0.35,
    tangential: float = 1.0,
    tilt_gain: float = 1.0,
) -> HitPlan:
    """Plan a hit that turns ball velocity ``ball_in`` into ``ball_out`` at point ``contact``.

    Args:
        ball_in: Ball velocity just before contact, ``(..., 3)``.
        ball_out: Wanted ball velocity just after contact.
        contact: Ball centre at contact.
        time_left: Seconds until contact, ``(...)``.
        restitution: Of the racket.
        offset: Ball centre above the drone origin at contact, along the racket normal (m).
        max_tilt: The normal is kept within this angle of the vertical (rad).
        window: The last seconds before contact follow the hitting trajectory; before that the
            drone waits, still, at the trajectory's start.
        tangential: Share of the ball's sliding velocity the racket keeps (1 without friction);
            the plan asks for ``ball_out`` as if the sliding part were scaled by this.
        tilt_gain: Scale on the horizontal part of the normal (compensates the tilt lag).
    """
    # The racket ends the swing moving at (lam n - g z) window: along n, plus a sliding part
    # -g window z_t that friction passes on to the ball. With the sliding part of the ball's
    # velocity kept at `tangential` (of its value relative to the racket), the ball's sliding
    # velocity after the hit is that of w = tangential v_in - (1 - tangential) g window z, so
    # n must be parallel to v_out - w (for tangential = 1: to v_out - v_in).
    up = np.array([0.0, 0.0, 1.0])
    w = tangential * ball_in - (1.0 - tangential) * GRAVITY * window * up
    normal = _unit(ball_out - w)
    normal[..., :2] *= tilt_gain
    normal = _limit_tilt(_unit(normal), max_tilt)
    # Along n: out.n = (1 + e) v_r.n - e v_in.n.
    speed = (_dot(ball_out, normal) + restitution * _dot(ball_in, normal)) / (1.0 + restitution)
    # A racket pulled down fast to soften a hit sinks the drone it hangs on: at most 0.3 m/s.
    speed = np.maximum(speed, -0.3)
    # From rest, a constant thrust along n of strength lam (per unit mass) for `window` seconds
    # ends with racket speed v.n = (lam - g n_z) window: the drone waits still at the start.
    lam = np.maximum(speed / window + GRAVITY * normal[..., 2], 0.3 * GRAVITY)
    window = np.full_like(speed, window)[..., None]
    full = lam[..., None] * normal - np.array([0.0, 0.0, GRAVITY])
    t = np.where(np.isfinite(time_left), time_left, window[..., 0])[..., None]
    elapsed = np.clip(window - t, 0.0, window)
    start = contact - offset * normal - 0.5 * full * window**2
    waiting = t > window
    pos = start + 0.5 * full * elapsed**2
    vel = full * elapsed
    acc = np.where(waiting, 0.0, full)
    return HitPlan(
        pos=pos, vel=vel, acc=acc, normal=normal, racket_speed=speed, window=window[..., 0]
    )


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("...i,...i->...", a, b)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def _limit_tilt(n: np.ndarray, max_tilt: float) -> np.ndarray:
    """Rotate unit vectors toward +z so their angle to the vertical is at most ``max_tilt``."""
    n = n.copy()
    n[..., 2] = np.maximum(n[..., 2], 1e-3)
    side = np.linalg.norm(n[..., :2], axis=-1, keepdims=True)
    limit = np.tan(max_tilt) * n[..., 2:3]
    n[..., :2] *= np.minimum(1.0, limit / np.maximum(side, 1e-9))
    return _unit(n)


# ---- skills -------------------------------------------------------------------------------------
class Skill:
    """A low-level skill: rotor commands for some drones on every court.

    ``act(task, drones, params)`` returns ``(courts, len(drones), 4)`` rotor commands in
    [-1, 1] (``action_mode="prt"``). ``params`` is a mapping of per-skill arrays (each
    broadcastable to ``(courts, len(drones), ...)``), e.g. a target point.
    """

    name = "skill"

    def act(self, task, drones: np.ndarray, params: dict[str, Any] | None = None) -> np.ndarray:
        """Rotor commands of ``drones`` on every court, ``(courts, len(drones), 4)``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class _Flying(Skill):
    """Shared: one cached position controller per drone model."""

    reach = 0.8
    """The controller is given a target at most this far (m) from the drone."""

    def controller(self, task) -> PositionController:
        """The position controller for the task's drone model."""
        iris = task.sim.physics.iris
        pc = getattr(self, "_pc", None)
        if pc is None or pc.iris != iris:
            # The controller's default gains: stiffer attitude loops saturate the Iris's rotors
            # (thrust-to-weight 1.61) on large tilts and lose height. Tilt and acceleration
            # capped lower than its defaults (0.75 rad, 8 m/s^2) for the same reason: drones
            # recovering from a swing at the default caps sometimes sank to the floor.
            self._pc = pc = PositionController(iris, max_accel=6.0, max_tilt=0.65)
        return pc

    def fly(self, task, drones: np.ndarray, target: np.ndarray, **kwargs: Any) -> np.ndarray:
        """Commands flying ``drones`` toward ``target`` (keywords go to the controller)."""
        s = task.sim
        if s.action_mode != "prt":
            raise ValueError("scripted skills fly in action_mode='prt'")
        drones = np.asarray(drones, dtype=int)
        # Hold the current heading: the racket is a disc, so yaw does not matter to a hit, and
        # the Iris's weak yaw authority loses heading in hard swings; steering it back then
        # couples into roll and pitch (a drone was seen to wobble down to the floor).
        heading = s.drone_rot[:, drones][..., :, 0]
        yaw = np.arctan2(heading[..., 1], heading[..., 0])
        # Chase a point at most `reach` ahead: a far target saturates the rotors, the drone
        # sags and overshoots (a 1.4 m step settles in ~1.5 s this way, ~4 s without).
        pos = s.drone_pos[:, drones]
        step = np.asarray(target, dtype=float) - pos
        dist = np.linalg.norm(step, axis=-1, keepdims=True)
        target = pos + step * np.minimum(1.0, self.reach / np.maximum(dist, 1e-9))
        return self.controller(task).commands(
            pos,
            s.drone_vel[:, drones],
            s.drone_rot[:, drones],
            s.drone_angvel_body[:, drones],
            target,
            target_yaw=yaw,
            **kwargs,
        )


class Goto(_Flying):
    """Fly to ``params["target"]`` ``(courts, k, 3)`` (default: the drones' anchors) and hold."""

    name = "goto"

    def targets(self, task, drones, params=None):
        """Controller targets ``(position, velocity, acceleration)``, each ``(courts, k, 3)``."""
        drones = np.asarray(drones, dtype=int)
        params = params or {}
        target = params.get("target")
        if target is None:
            target = task.anchors[drones]
        shape = (task.num_courts, len(drones), 3)
        target = np.broadcast_to(np.asarray(target, dtype=float), shape)
        zero = np.zeros(shape)
        return _keep_on_side(task, drones, target), zero, zero

    def act(self, task, drones, params=None):  # noqa: D102 (documented on Skill)
        pos, vel, acc = self.targets(task, drones, params)
        return self.fly(task, drones, pos, target_vel=vel, target_acc=acc)


class Hover(Goto):
    """Hold the current position (HCSP's "hover" option): goto where the drone is now."""

    name = "hover"

    def targets(self, task, drones, params=None):  # noqa: D102 (as Goto)
        drones = np.asarray(drones, dtype=int)
        return super().targets(task, drones, {"target": task.sim.drone_pos[:, drones].copy()})


def _keep_on_side(task, drones: np.ndarray, target: np.ndarray, margin: float = 0.4) -> np.ndarray:
    """Clamp targets to the drones' own half and above the crash height."""
    target = np.array(target, dtype=float, copy=True)
    team = task.team_arr[drones]
    x = target[..., 0]
    target[..., 0] = np.where(team == 1, np.minimum(x, -margin), np.maximum(x, margin))
    half_l, half_w = task.court.half_length, task.court.half_width
    target[..., 0] = np.clip(target[..., 0], -half_l - 1.0, half_l + 1.0)
    target[..., 1] = np.clip(target[..., 1], -half_w - 1.0, half_w + 1.0)
    target[..., 2] = np.clip(target[..., 2], 0.9, 4.0)
    return target


@dataclass(frozen=True)
class HitParams:
    """How a hitting skill sends the ball."""

    apex: float = 4.5
    """Height (m) the ball should peak at after the hit."""
    target_height: float = 2.2
    """Height (m) of the ball at the target point (where the next player meets it)."""
    hit_height: float = 2.2
    """Preferred height (m) of the ball's centre at contact; lowered for low balls."""
    min_hit_height: float = 1.5
    """Lowest contact height (m)."""
    window: float = 0.35
    """Seconds of the hitting manoeuvre before contact."""
    max_tilt: float = 0.6
    """Largest racket tilt from the vertical (rad)."""
    tangential: float = 1.0
    """Share of the ball's sliding velocity kept by the racket (friction), for aiming."""
    restitution_scale: float = 1.0
    """The ball's restitution as the planner should assume it, over the model's (a racket on
    a flying drone returns less than a ball dropped on it)."""
    correction: float = 0.1
    """In the hitting window, position feedback may tilt the thrust by at most about this many
    radians away from the planned racket normal."""
    tilt_gain: float = 0.9
    """Scale on the horizontal part of the racket normal: the attitude still overshoots a
    little at contact (measured best over rally-like balls; 1.0 for a serve from rest)."""


class Hit(_Flying):
    """Meet the ball where it next falls through the hitting height and send it to a target.

    ``params``: ``target`` ``(courts, k, 3)`` where the ball should come down (its z is the
    height at which it should arrive there), optional ``apex`` ``(courts, k)``. Drones whose
    ball is not coming down (time to contact infinite) hold ``params["rest"]`` or their anchor.
    The named skills (serve, receive, pass, set, attack) are this with different defaults.
    """

    name = "hit"

    def __init__(self, config: HitParams | None = None, **overrides: Any):
        from dataclasses import replace

        self.config = replace(config or HitParams(), **overrides)

    def plan(self, task, drones, params=None) -> tuple[HitPlan, np.ndarray]:
        """The hit plan of each drone and its time to contact, ``(courts, k)``."""
        c = self.config
        drones = np.asarray(drones, dtype=int)
        params = params or {}
        k = len(drones)
        s = task.sim
        shape = (task.num_courts, k)
        offset = racket_offset(task)
        # Meet the ball at the preferred height, or a little under the top of a low arc.
        height = hit_height(task, c.hit_height, c.min_hit_height)
        height = np.broadcast_to(height[:, None], shape)
        ball_pos = np.broadcast_to(s.ball_pos[:, None, :], (*shape, 3))
        ball_vel = np.broadcast_to(s.ball_vel[:, None, :], (*shape, 3))
        time_left = time_to_height(ball_pos, ball_vel, height)
        contact, ball_in = ball_at(ball_pos, ball_vel, time_left)
        target = params.get("target")
        if target is None:
            target = _default_attack_target(task, drones)
        target = np.broadcast_to(np.asarray(target, dtype=float), (*shape, 3))
        apex = np.broadcast_to(np.asarray(params.get("apex", c.apex), dtype=float), shape)
        ball_out = ballistic_velocity(contact, target, apex)
        plan = plan_hit(
            ball_in,
            ball_out,
            contact,
            time_left,
            restitution=s.physics.ball.restitution * c.restitution_scale,
            offset=offset,
            max_tilt=c.max_tilt,
            window=c.window,
            tangential=c.tangential,
            tilt_gain=c.tilt_gain,
        )
        return plan, time_left

    def targets(self, task, drones, params=None):
        """Controller targets ``(position, velocity, acceleration)``, each ``(courts, k, 3)``."""
        drones = np.asarray(drones, dtype=int)
        params = params or {}
        plan, t = self.plan(task, drones, params)
        rest = params.get("rest")
        if rest is None:
            rest = task.anchors[drones]
        rest = np.broadcast_to(np.asarray(rest, dtype=float), plan.pos.shape)
        contact_x = plan.pos[..., 0] * np.where(task.team_arr[drones] == 1, -1.0, 1.0)
        playing = (np.isfinite(t) & (contact_x > 0.2))[..., None]
        target = _keep_on_side(task, drones, np.where(playing, plan.pos, rest))
        vel = np.where(playing, plan.vel, 0.0)
        acc = np.where(playing, plan.acc, 0.0)
        # In the hitting window the thrust must point along the planned normal: the
        # controller's own feedback would add its corrections to the tilt (measured: 40 deg
        # at contact for a planned 25). Feed back along the normal freely, across it only a
        # little, and hand the controller zero errors.
        swinging = playing & (t <= plan.window)[..., None]
        if swinging.any():
            pc = self.controller(task)
            pos_now, vel_now = task.sim.drone_pos[:, drones], task.sim.drone_vel[:, drones]
            feedback = pc.kp * (plan.pos - pos_now) + pc.kv * (plan.vel - vel_now)
            n = plan.normal
            along = np.einsum("...i,...i->...", feedback, n)[..., None] * n
            across = feedback - along
            thrust = np.linalg.norm(
                plan.acc + np.array([0.0, 0.0, GRAVITY]), axis=-1, keepdims=True
            )
            # Corrections fade out toward the contact, where the tilt must be right.
            fade = np.clip(t / plan.window, 0.0, 1.0)[..., None]
            limit = self.config.correction * fade * thrust
            size = np.linalg.norm(across, axis=-1, keepdims=True)
            across = across * np.minimum(1.0, limit / np.maximum(size, 1e-9))
            command = plan.acc + along + across
            target = np.where(swinging, pos_now, target)
            vel = np.where(swinging, vel_now, vel)
            acc = np.where(swinging, command, acc)
        return target, vel, acc

    def act(self, task, drones, params=None):  # noqa: D102 (documented on Skill)
        pos, vel, acc = self.targets(task, drones, params)
        return self.fly(task, drones, pos, target_vel=vel, target_acc=acc)


def _default_attack_target(task, drones: np.ndarray) -> np.ndarray:
    """The middle of the opponents' half at hitting height."""
    team = task.team_arr[drones]
    x = np.where(team == 0, -1.0, 1.0) * task.court.half_length / 2
    return np.stack([x, np.zeros_like(x), np.full_like(x, 2.2)], axis=-1)


class PolicySkill(Skill):
    """A learned skill: any policy over the drones' task observations.

    ``policy`` is either a callable ``observations (n, obs_dim) -> actions (n, 4)`` or an object
    with ``predict(observations, deterministic=True) -> (actions, state)`` (a Stable-Baselines3
    model). ``observe(task, drones, params)`` may build a skill-specific observation; by
    default the task's own observation of each drone is used.
    """

    name = "policy"

    def __init__(
        self,
        policy: Any,
        observe: Callable[[Any, np.ndarray, dict[str, Any]], np.ndarray] | None = None,
        deterministic: bool = True,
    ):
        self.policy, self.observe, self.deterministic = policy, observe, deterministic

    def act(self, task, drones, params=None):  # noqa: D102 (documented on Skill)
        drones = np.asarray(drones, dtype=int)
        params = params or {}
        obs = self.observe(task, drones, params) if self.observe else task.observe()[:, drones]
        flat = obs.reshape(-1, obs.shape[-1])
        if hasattr(self.policy, "predict"):
            actions, _ = self.policy.predict(flat, deterministic=self.deterministic)
        else:
            actions = self.policy(flat)
        actions = np.clip(np.asarray(actions, dtype=float), -1.0, 1.0)
        return actions.reshape(task.num_courts, len(drones), 4)


SKILLS: dict[str, Callable[[], Skill]] = {
    "goto": Goto,
    "hover": Hover,
    "serve": lambda: _named(Hit(apex=4.2, tilt_gain=1.0), "serve"),
    "receive": lambda: _named(Hit(apex=4.5), "receive"),
    "pass": lambda: _named(Hit(apex=4.5), "pass"),
    "set": lambda: _named(Hit(apex=4.6), "set"),
    "attack": lambda: _named(Hit(apex=4.6), "attack"),
}
"""HCSP's skill names -> a scripted skill with that name's defaults."""


def _named(skill: Skill, name: str) -> Skill:
    skill.name = name
    return skill


def make_skill(name: str, **overrides: Any) -> Skill:
    """A scripted skill by HCSP name.

    Names: ``goto``, ``hover``, ``serve``, ``receive``, ``pass``, ``set``, ``attack``;
    keywords override a hitting skill's :class:`HitParams`.
    """
    if name not in SKILLS:
        raise ValueError(f"expected a skill in {sorted(SKILLS)}, got {name!r}")
    skill = SKILLS[name]()
    if overrides:
        if not isinstance(skill, Hit):
            raise TypeError(f"skill {name!r} takes no options, got {sorted(overrides)}")
        from dataclasses import replace

        skill.config = replace(skill.config, **overrides)
    return skill
