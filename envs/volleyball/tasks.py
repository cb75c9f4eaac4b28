"""VolleyBots' nine tasks as vectorized task objects over a :class:`~.sim.CourtBatch`.

A task owns the batch of courts, the hit detector and its own per-court state. It resets some
courts, observes all of them, and after each control step evaluates rewards (by named
component), terminations and events for all courts at once, in numpy. The environments in
``env.py`` are thin views over a task: a PettingZoo ``ParallelEnv`` over one court, a Gymnasium
vector env over many.

Conventions (VolleyBots'): the net is the plane x = 0; team 0 plays x > 0; drills and
cooperative tasks use team 0's half of the 18 x 9 court. Observations of team 1 are mirrored
((x, y) -> (-x, -y), yaw + pi) so one policy can play both sides. Relative vectors are
"own position minus the thing" unless a field says otherwise. Constants are VolleyBots' where the
reference gives them (``shared/reference/drone-volleyball.md`` section 2.7); the few it leaves
open are marked "(ours)" in the field docs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar

import numpy as np

from selfplay_gym.envs.volleyball.physics import COURTS, Court, PhysicsConfig
from selfplay_gym.envs.volleyball.rules import (
    FAULT_NAMES,
    HitDetector,
    HitEvents,
    RallyConfig,
    RallyRules,
    outcome,
)
from selfplay_gym.envs.volleyball.sim import CourtBatch

__all__ = [
    "Task",
    "TaskStep",
    "BackAndForth",
    "HitTheBall",
    "SoloBump",
    "BumpAndPass",
    "SetAndSpike",
    "Match",
    "TASKS",
    "make_task",
]

_MIRROR = np.array([-1.0, -1.0, 1.0])
_QUAT_MIRROR = np.array([-1.0, -1.0, 1.0, 1.0])
_FAULT_NAME_ARRAY = np.array([FAULT_NAMES[i] for i in range(len(FAULT_NAMES))], dtype=object)
_TEAMS = np.array([0, 1])
# Outcome for each team (columns) by the winner code + 1 (rows: playing, 0 won, 1 won, draw).
_WON = np.array([[0.0, 0.0], [1.0, -1.0], [-1.0, 1.0], [0.0, 0.0]])
_REST_BALL = np.array([-7.0, -3.5, 0.1])  # a parked ball for tasks without one (ours)


def mirror_quat(quat: np.ndarray) -> np.ndarray:
    """Rotate orientations by pi about z: q -> (0, 0, 0, 1) * q, sign-fixed to w >= 0."""
    out = quat[..., [3, 2, 1, 0]] * _QUAT_MIRROR  # (w, x, y, z) -> (-z, -y, x, w)
    return np.where(out[..., :1] < 0, -out, out)


@dataclass
class TaskStep:
    """The outcome of one control step on every court."""

    rewards: np.ndarray
    """(courts, drones) float."""
    components: dict[str, np.ndarray]
    """Named reward parts, each (courts, drones); they sum to ``rewards``."""
    terminated: np.ndarray
    """(courts,) bool: the episode ended by the task's rules."""
    truncated: np.ndarray
    """(courts,) bool: the episode hit the step limit."""
    info: dict[str, np.ndarray] = field(default_factory=dict)
    """Per-court arrays ``(courts, ...)`` reported in every agent's info (events, counters)."""
    drone_info: dict[str, np.ndarray] = field(default_factory=dict)
    """Per-drone arrays ``(courts, drones)`` reported in each agent's own info."""


class Task:
    """Base class: a batch of courts playing one task.

    Subclasses set the class attributes, implement :meth:`_place` (reset positions),
    :meth:`_observe_drones` and :meth:`_evaluate`, and keep their state in arrays indexed by court.
    """

    name: ClassVar[str] = ""
    court_name: ClassVar[str] = "drill"
    roles: ClassVar[tuple[str, ...]] = ("drone",)
    """Role per team (competitive: ("blue", "red"))."""
    team: ClassVar[tuple[int, ...]] = (0,)
    """Team of each drone."""
    obs_dim: ClassVar[int] = 0
    default_steps: ClassVar[int] = 800

    @dataclass(frozen=True)
    class Config:
        """Constants of the task."""

        max_steps: int | None = None
        """Episode length in control steps (None: the task's VolleyBots default)."""

    def __init__(
        self,
        num_courts: int = 1,
        *,
        physics: PhysicsConfig | None = None,
        action_mode: str = "prt",
        config: Any = None,
        **overrides: Any,
    ):
        config = config if config is not None else self.Config()
        if overrides:
            known = {f.name for f in fields(config)}
            unknown = sorted(set(overrides) - known)
            if unknown:
                raise TypeError(
                    f"unknown {type(self).__name__} option(s) {unknown}; expected some of {sorted(known)}"
                )
            config = replace(config, **overrides)
        self.config = config
        self.max_steps = config.max_steps or self.default_steps
        self.court: Court = COURTS[self.court_name]
        self.n_drones = len(self.team)
        self.team_arr = np.asarray(self.team)
        self.flip = np.where(self.team_arr[:, None] == 1, _MIRROR, 1.0)  # (drones, 3)
        self._red = np.flatnonzero(self.team_arr == 1)
        # Signs that mirror team 1's state: position, velocities, heading and up vectors.
        self._state_sign = np.ones((self.n_drones, 23))
        for a, b in ((0, 3), (7, 10), (10, 13), (13, 16), (16, 19)):
            self._state_sign[self._red, a:b] = _MIRROR
        self.sim = CourtBatch(
            num_courts, self.n_drones, self.court, physics, action_mode=action_mode, teams=self.team
        )
        self.num_courts = num_courts
        iris = self.sim.physics.iris
        self.hits = HitDetector(
            num_courts,
            racket_radius=iris.racket_radius,
            racket_reach=iris.racket_reach,
            control_dt=self.sim.physics.control_dt,
        )
        self.steps = np.zeros(num_courts, dtype=int)
        self.hit_count = np.zeros((num_courts, self.n_drones), dtype=int)
        self.agents = tuple(
            f"{self.roles[t]}_{int((self.team_arr[:i] == t).sum())}"
            for i, t in enumerate(self.team)
        )

    # ---- the loop ---------------------------------------------------------------------------
    def reset(self, ids: np.ndarray, rng: np.random.Generator) -> None:
        """Start new episodes on courts ``ids``."""
        ids = np.asarray(ids, dtype=int)
        self._place(ids, rng)
        self.hits.reset(ids, self.sim.ball_vel[ids], self.n_drones)
        self.steps[ids] = 0
        self.hit_count[ids] = 0

    def step(self, actions: np.ndarray) -> TaskStep:
        """Apply ``actions (courts, drones, 4)`` and evaluate every court."""
        self.sim.step(actions)
        self.steps += 1
        s = self.sim
        events = self.hits.update(s.drone_pos, s.drone_up, s.ball_pos, s.ball_vel)
        hit_now = self._per_drone(events.hit, events.hitter)
        self.hit_count += hit_now
        result = self._evaluate(events)
        result.truncated = (self.steps >= self.max_steps) & ~result.terminated
        if "hit" not in result.drone_info:
            result.drone_info["hit"] = hit_now
        if "hits" not in result.drone_info:
            result.drone_info["hits"] = self.hit_count.copy()
        total = sum(result.components.values())
        result.rewards = np.asarray(total, dtype=float) + np.zeros((self.num_courts, self.n_drones))
        return result

    def observe(self) -> np.ndarray:
        """Observations of every drone, ``(courts, drones, obs_dim)`` float32."""
        return self._observe_drones().astype(np.float32)

    # ---- helpers for subclasses -------------------------------------------------------------
    def _place(self, ids: np.ndarray, rng: np.random.Generator) -> None:
        raise NotImplementedError

    def _observe_drones(self) -> np.ndarray:
        raise NotImplementedError

    def _evaluate(self, events: HitEvents) -> TaskStep:
        raise NotImplementedError

    def _state(self) -> np.ndarray:
        """The 23-number drone state, mirrored for team 1, ``(courts, drones, 23)``."""
        state = self.sim.drone_state()
        if self._red.size:
            state *= self._state_sign
            state[:, self._red, 3:7] = mirror_quat(state[:, self._red, 3:7])
        return state

    def _vec(self, v: np.ndarray) -> np.ndarray:
        """World vectors ``(courts, drones, 3)`` into each drone's (mirrored) frame."""
        return v * self.flip

    def _per_drone(self, flag: np.ndarray, who: np.ndarray) -> np.ndarray:
        out = np.zeros((self.num_courts, self.n_drones), dtype=bool)
        if flag.any():
            rows = np.flatnonzero(flag)
            out[rows, who[rows]] = True
        return out

    def _zeros(self) -> np.ndarray:
        return np.zeros((self.num_courts, self.n_drones))

    def _place_drones(
        self,
        ids: np.ndarray,
        drone_pos: np.ndarray,
        ball_pos: np.ndarray,
        yaw: np.ndarray | None = None,
    ) -> None:
        if yaw is None:  # team 1 faces the net too
            yaw = np.broadcast_to(
                np.where(self.team_arr == 1, np.pi, 0.0), (len(ids), self.n_drones)
            )
        self.sim.reset_courts(ids, drone_pos=drone_pos, ball_pos=ball_pos, drone_yaw=yaw)


# ---- single-agent drills ------------------------------------------------------------------------
class BackAndForth(Task):
    """Fly between two waypoints: 5 steps within 0.6 m of the target reaches it, then it toggles."""

    name = "back_and_forth"
    obs_dim = 26
    default_steps = 800

    @dataclass(frozen=True)
    class Config(Task.Config):
        """VolleyBots' Back-and-Forth constants."""

        start: tuple[float, float, float] = (4.5, 0.0, 2.0)
        """Start and first waypoint (m)."""
        far: tuple[float, float, float] = (9.0, 4.5, 2.0)
        """Second waypoint (m); the first target of an episode."""
        reach_radius: float = 0.6
        """Within this distance (m) a step counts toward reaching the target."""
        reach_steps: int = 5
        """Consecutive steps within ``reach_radius`` that reach the target."""
        stay_weight: float = 2.5
        """Reward per step x consecutive steps near the target."""
        approach_weight: float = 0.5
        """Weight of the approach shaping ``1 / (1 + d^2)``."""
        misbehave_penalty: float = -10.0
        """Paid when the episode ends by misbehaviour."""
        min_height: float = 0.4
        """Below this the drone misbehaves (m)."""
        max_height: float = 5.0
        """Above this the drone misbehaves (m)."""
        max_distance: float = 7.5
        """Farther than this from the target the drone misbehaves (m)."""

    def __init__(self, num_courts: int = 1, **kwargs: Any):
        super().__init__(num_courts, **kwargs)
        c = self.config
        self.anchors = np.array([c.start])
        self.waypoints = np.array([c.start, c.far])
        self.target_index = np.ones(num_courts, dtype=int)
        self.stay = np.zeros(num_courts, dtype=int)
        self.reached = np.zeros(num_courts, dtype=int)

    @property
    def target(self) -> np.ndarray:
        """Current target of every court, ``(courts, 3)``."""
        return self.waypoints[self.target_index]

    def _place(self, ids, rng):
        k = len(ids)
        self._place_drones(ids, np.tile(self.config.start, (k, 1, 1)), np.tile(_REST_BALL, (k, 1)))
        self.target_index[ids] = 1
        self.stay[ids] = 0
        self.reached[ids] = 0

    def _observe_drones(self):
        rpos = self.target[:, None, :] - self.sim.drone_pos
        return np.concatenate([self.sim.drone_state(), rpos], axis=-1)

    def _evaluate(self, events):
        c = self.config
        pos = self.sim.drone_pos[:, 0]
        d = np.linalg.norm(self.target - pos, axis=-1)
        near = d < c.reach_radius
        self.stay = np.where(near, self.stay + 1, 0)
        stay_reward = c.stay_weight * self.stay
        approach = c.approach_weight / (1.0 + d**2) * 0.02 * (50 - self.stay)
        done = self.stay >= c.reach_steps
        self.reached += done
        self.target_index = np.where(done, 1 - self.target_index, self.target_index)
        self.stay[done] = 0
        bad = (pos[:, 2] < c.min_height) | (pos[:, 2] > c.max_height) | (d > c.max_distance)
        return TaskStep(
            rewards=self._zeros(),
            components={
                "stay": stay_reward[:, None],
                "approach": approach[:, None],
                "misbehave": np.where(bad, c.misbehave_penalty, 0.0)[:, None],
            },
            terminated=bad,
            truncated=np.zeros(self.num_courts, dtype=bool),
            info={"targets_reached": self.reached.copy(), "misbehave": bad.copy()},
        )


class _BallDrill(Task):
    """Shared parts of the drills with a ball: anchor, ball-relative observation (32 numbers)."""

    obs_dim = 32

    def __init__(self, num_courts: int = 1, **kwargs: Any):
        super().__init__(num_courts, **kwargs)
        self.anchors = np.array([self.config.anchor])

    def _observe_drones(self):
        s = self.sim
        return np.concatenate(
            [
                s.drone_state(),
                s.drone_pos - np.asarray(self.config.anchor),
                s.drone_pos - s.ball_pos[:, None, :],
                np.broadcast_to(s.ball_vel[:, None, :], s.drone_pos.shape),
            ],
            axis=-1,
        )

    def _spawn(self, ids, rng, ball_height):
        c = self.config
        k = len(ids)
        noise = rng.uniform(-1.0, 1.0, (k, 1, 3)) * np.asarray(c.anchor_noise)
        pos = np.asarray(c.anchor) + noise
        yaw = rng.uniform(-np.pi, np.pi, (k, 1)) if c.random_yaw else np.zeros((k, 1))
        ball = pos[:, 0] + np.array([0.0, 0.0, ball_height])
        self._place_drones(ids, pos, ball, yaw)


class HitTheBall(_BallDrill):
    """Hit a ball that drops from 3 m above the drone as far toward the net as possible."""

    name = "hit_the_ball"
    default_steps = 500

    @dataclass(frozen=True)
    class Config(Task.Config):
        """VolleyBots' Hit-the-Ball (SingleHit) constants."""

        anchor: tuple[float, float, float] = (4.5, 0.0, 2.0)
        """Centre of the start region (m)."""
        anchor_noise: tuple[float, float, float] = (0.5, 0.5, 0.2)
        """Half ranges of the uniform start offset (m)."""
        random_yaw: bool = True
        """Start with a uniformly random heading."""
        ball_height: float = 3.0
        """The ball starts at rest this far above the drone (m)."""
        hit_reward: float = 1.0
        """Per racket hit."""
        anchor_radius: float = 1.0
        """Beyond this distance from the anchor (m) the drone pays ``anchor_penalty`` per step."""
        anchor_penalty: float = -0.05
        """Per step outside ``anchor_radius``."""
        distance_weight: float = 2.0
        """End reward per metre the ball travelled toward the net (anchor x - ball x)."""
        end_height: float = 2.0
        """After the first hit, the episode ends when the ball falls to this height (m)."""
        rehit_steps: int = 25
        """A second hit within this many steps of the last one is a wrong hit."""
        misbehave_penalty: float = -10.0
        """For a wrong hit, a hull touch, or the drone below ``min_height``/over the net."""
        min_height: float = 0.4
        """Below this the drone misbehaves (m)."""
        max_height: float = 5.0
        """Above this the drone misbehaves (m) (ours)."""

    def __init__(self, num_courts: int = 1, **kwargs: Any):
        super().__init__(num_courts, **kwargs)
        self.last_hit_step = np.full(num_courts, -(10**6))

    def _place(self, ids, rng):
        self._spawn(ids, rng, self.config.ball_height)
        self.last_hit_step[ids] = -(10**6)

    def _evaluate(self, events):
        c, s = self.config, self.sim
        pos, ball = s.drone_pos[:, 0], s.ball_pos
        hit = events.hit
        rehit = hit & (self.steps - self.last_hit_step <= c.rehit_steps)
        hit_ok = hit & ~rehit
        self.last_hit_step = np.where(hit, self.steps, self.last_hit_step)
        bad = (
            rehit
            | events.touch
            | (pos[:, 2] < c.min_height)
            | (pos[:, 2] > c.max_height)
            | (pos[:, 0] < 0.0)
        )
        hit_before = self.hit_count[:, 0] > 0
        falling = s.ball_vel[:, 2] < 0
        landed = hit_before & falling & (ball[:, 2] <= c.end_height) & ~bad
        missed = ~hit_before & (ball[:, 2] < 0.2)
        away = np.linalg.norm(pos - np.asarray(c.anchor), axis=-1) > c.anchor_radius
        distance = c.anchor[0] - ball[:, 0]
        return TaskStep(
            rewards=self._zeros(),
            components={
                "hit": np.where(hit_ok, c.hit_reward, 0.0)[:, None],
                "anchor": np.where(away, c.anchor_penalty, 0.0)[:, None],
                "distance": np.where(landed, c.distance_weight * distance, 0.0)[:, None],
                "misbehave": np.where(bad, c.misbehave_penalty, 0.0)[:, None],
            },
            terminated=bad | landed | missed,
            truncated=np.zeros(self.num_courts, dtype=bool),
            info={"ball_distance": np.where(landed, distance, 0.0), "misbehave": bad.copy()},
        )


class SoloBump(_BallDrill):
    """Juggle the ball alone: bumps at least 0.5 s apart, high apexes earn a bonus."""

    name = "solo_bump"
    default_steps = 800

    @dataclass(frozen=True)
    class Config(Task.Config):
        """VolleyBots' Solo Bump (SingleJuggle) constants."""

        anchor: tuple[float, float, float] = (4.5, 0.0, 2.0)
        """Start position (m)."""
        anchor_noise: tuple[float, float, float] = (0.0, 0.0, 0.0)
        """Half ranges of a uniform start offset (m)."""
        random_yaw: bool = False
        """Start with a random heading."""
        ball_height: float = 2.0
        """The ball starts at rest this far above the drone (m)."""
        hit_reward: float = 2.0
        """Per bump."""
        apex_bonus: float = 8.0
        """Paid at a bump when the ball's apex since the previous bump exceeded ``apex_height``."""
        apex_height: float = 3.5
        """(m)."""
        align_weight: float = 1.0
        """Shaping ``1 / (1 + |drone - ball|_xy)`` per step."""
        height_weight: float = 0.5
        """Shaping ``clip(ball z - max(drone z, 1), 0, 2)`` per step."""
        rehit_steps: int = 25
        """Bumps must be more than this many steps apart (0.5 s)."""
        misbehave_penalty: float = -10.0
        """Paid when the episode ends by a fault."""
        min_height: float = 0.4
        """Drone floor (m)."""
        max_height: float = 2.5
        """Drone ceiling (m)."""
        ball_min_height: float = 0.15
        """The ball is down below this (m)."""
        ball_max_height: float = 4.5
        """The ball is too high above this (m)."""

    def __init__(self, num_courts: int = 1, **kwargs: Any):
        super().__init__(num_courts, **kwargs)
        self.last_hit_step = np.full(num_courts, -(10**6))
        self.apex = np.zeros(num_courts)

    def _place(self, ids, rng):
        self._spawn(ids, rng, self.config.ball_height)
        self.last_hit_step[ids] = -(10**6)
        self.apex[ids] = 0.0

    def _evaluate(self, events):
        c, s = self.config, self.sim
        pos, ball = s.drone_pos[:, 0], s.ball_pos
        hit = events.hit
        rehit = hit & (self.steps - self.last_hit_step <= c.rehit_steps)
        first = self.hit_count[:, 0] == 1
        apex_bonus = np.where(
            hit & ~rehit & ~first & (self.apex > c.apex_height), c.apex_bonus, 0.0
        )
        self.apex = np.where(hit, 0.0, np.maximum(self.apex, ball[:, 2]))
        self.last_hit_step = np.where(hit, self.steps, self.last_hit_step)
        out = (
            (np.abs(ball[:, 1]) > self.court.half_width)
            | (ball[:, 0] > self.court.half_length)
            | (ball[:, 0] < 0.0)
        )
        bad = (
            rehit
            | events.touch
            | (pos[:, 2] < c.min_height)
            | (pos[:, 2] > c.max_height)
            | (pos[:, 0] < 0.0)
            | (ball[:, 2] < c.ball_min_height)
            | (ball[:, 2] > c.ball_max_height)
            | out
        )
        dxy = np.linalg.norm(pos[:, :2] - ball[:, :2], axis=-1)
        return TaskStep(
            rewards=self._zeros(),
            components={
                "hit": np.where(hit & ~rehit, c.hit_reward, 0.0)[:, None],
                "apex": apex_bonus[:, None],
                "align": (c.align_weight / (1.0 + dxy))[:, None],
                "height": (
                    c.height_weight * np.clip(ball[:, 2] - np.maximum(pos[:, 2], 1.0), 0.0, 2.0)
                )[:, None],
                "misbehave": np.where(bad, c.misbehave_penalty, 0.0)[:, None],
            },
            terminated=bad,
            truncated=np.zeros(self.num_courts, dtype=bool),
            info={"misbehave": bad.copy()},
        )


# ---- cooperative ----------------------------------------------------------------------------------
class _TeamDrill(Task):
    """Two drones of team 0 sharing one reward; observations add the teammate and the turn."""

    team = (0, 0)
    obs_dim = 37

    def _observe_drones(self):
        s = self.sim
        mate = s.drone_pos[:, ::-1]
        turn = np.zeros((self.num_courts, 2, 2))
        mine = self.turn[:, None] == np.arange(2)[None, :]
        turn[..., 0], turn[..., 1] = mine, ~mine
        return np.concatenate(
            [
                s.drone_state(),
                s.drone_pos - np.asarray(self.anchors),
                s.drone_pos - s.ball_pos[:, None, :],
                np.broadcast_to(s.ball_vel[:, None, :], s.drone_pos.shape),
                s.drone_pos - mate,
                turn,
            ],
            axis=-1,
        )

    def _shared(self, parts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Team components: each part (courts,) or (courts, drones) summed over the team."""
        out = {}
        for k, v in parts.items():
            v = np.asarray(v, dtype=float)
            team_total = v.sum(axis=1) if v.ndim == 2 else v
            out[k] = np.repeat(team_total[:, None], self.n_drones, axis=1)
        return out

    def _direction_cos(self, hitter: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """Cosine between the ball's xy velocity and the xy direction hitter -> goal.

        0 for a ball moving (almost) straight up or down (xy speed under 0.1 m/s, ours): the
        direction of a numerically tiny xy velocity means nothing.
        """
        s = self.sim
        v = s.ball_vel[:, :2]
        d = goal[:, :2] - s.drone_pos[np.arange(self.num_courts), np.maximum(hitter, 0), :2]
        speed = np.linalg.norm(v, axis=-1)
        denom = speed * np.linalg.norm(d, axis=-1)
        cos = np.einsum("ci,ci->c", v, d) / np.maximum(denom, 1e-9)
        return np.where((speed > 0.1) & (denom > 1e-9), cos, 0.0)


class BumpAndPass(_TeamDrill):
    """Two drones pass the ball back and forth over y = 0, each pass at least 4 m high."""

    name = "bump_and_pass"
    roles = ("drone",)
    default_steps = 800

    @dataclass(frozen=True)
    class Config(Task.Config):
        """VolleyBots' Bump-and-Pass (MultiJuggle) constants."""

        anchors: tuple[tuple[float, float, float], ...] = ((4.5, -2.5, 2.0), (4.5, 2.5, 2.0))
        """Drone start positions (m)."""
        ball_height: float = 2.0
        """The ball starts at rest this far above drone 0 (m) (ours)."""
        min_pass_height: float = 4.0
        """A pass counts when the ball crosses y = 0 at least this high (m)."""
        hit_reward: float = 1.0
        """Per hit in turn."""
        pass_reward: float = 1.0
        """Per high crossing of y = 0."""
        anchor_radius: float = 0.5
        """Free distance from the anchor (m)."""
        anchor_weight: float = -0.05
        """Per metre beyond ``anchor_radius``, per drone, per step."""
        align_weight: float = 0.05
        """``+w / (1 + d_xy)`` for the drone in turn, ``-w / (1 + d_xy)`` for the other."""
        direction_weight: float = 1.0
        """At a hit: cosine of the ball's direction toward the teammate."""
        misbehave_penalty: float = -10.0
        """Wrong turn, hull touch, drone out of its height band or over the net, ball down."""
        min_height: float = 0.4
        """Drone floor (m)."""
        max_height: float = 5.0
        """Drone ceiling (m) (ours)."""
        ball_min_height: float = 0.15
        """The ball is down below this (m)."""

    def __init__(self, num_courts: int = 1, **kwargs: Any):
        super().__init__(num_courts, **kwargs)
        self.anchors = np.asarray(self.config.anchors)
        self.turn = np.zeros(num_courts, dtype=int)
        self.passes = np.zeros(num_courts, dtype=int)
        self._ball_y = np.zeros(num_courts)

    def _place(self, ids, rng):
        k = len(ids)
        ball = self.anchors[0] + np.array([0.0, 0.0, self.config.ball_height])
        self._place_drones(ids, np.tile(self.anchors, (k, 1, 1)), np.tile(ball, (k, 1)))
        self.turn[ids] = 0
        self.passes[ids] = 0
        self._ball_y[ids] = ball[1]

    def _evaluate(self, events):
        c, s = self.config, self.sim
        ball, pos = s.ball_pos, s.drone_pos
        hit = events.hit
        wrong_turn = hit & (events.hitter != self.turn)
        good = hit & ~wrong_turn
        mate_pos = pos[np.arange(self.num_courts), 1 - np.maximum(events.hitter, 0)]
        cos = np.where(good, self._direction_cos(events.hitter, mate_pos), 0.0)
        self.turn = np.where(good, 1 - self.turn, self.turn)
        crossed = np.sign(ball[:, 1]) != np.sign(self._ball_y)
        high_pass = crossed & (ball[:, 2] >= c.min_pass_height) & (self._ball_y != 0)
        self._ball_y = ball[:, 1].copy()
        self.passes += high_pass
        dist = np.linalg.norm(pos - self.anchors, axis=-1)
        dxy = np.linalg.norm(pos[..., :2] - ball[:, None, :2], axis=-1)
        in_turn = np.arange(2)[None, :] == self.turn[:, None]
        bad = (
            wrong_turn
            | events.touch
            | (pos[..., 2] < c.min_height).any(axis=1)
            | (pos[..., 2] > c.max_height).any(axis=1)
            | (pos[..., 0] < 0.0).any(axis=1)
            | (ball[:, 2] < c.ball_min_height)
        )
        components = self._shared(
            {
                "hit": np.where(good, c.hit_reward, 0.0),
                "pass": np.where(high_pass, c.pass_reward, 0.0),
                "anchor": c.anchor_weight * np.maximum(dist - c.anchor_radius, 0.0),
                "align": np.where(in_turn, 1.0, -1.0) * c.align_weight / (1.0 + dxy),
                "direction": c.direction_weight * cos,
                "misbehave": np.where(bad, c.misbehave_penalty, 0.0),
            }
        )
        return TaskStep(
            rewards=self._zeros(),
            components=components,
            terminated=bad,
            truncated=np.zeros(self.num_courts, dtype=bool),
            info={"passes": self.passes.copy(), "misbehave": bad.copy()},
        )


class SetAndSpike(_TeamDrill):
    """A setter passes to an attacker, who spikes the ball over the net into a target circle.

    ``defender=True`` is VolleyBots' hard variant: a scripted board on the far side intercepts
    the spike and sends the ball back (a kinematic disc, 0.5 m radius, moving at most 8 m/s).
    """

    name = "set_and_spike"
    roles = ("drone",)
    default_steps = 800

    @dataclass(frozen=True)
    class Config(Task.Config):
        """VolleyBots' Set-and-Spike (MultiAttack) constants."""

        setter: tuple[float, float, float] = (2.0, -2.5, 2.5)
        """Setter start (m)."""
        attacker: tuple[float, float, float] = (2.0, 2.5, 3.5)
        """Attacker start (m)."""
        ball_height: float = 1.5
        """The ball starts at rest this far above the setter (m) (ours)."""
        target: tuple[float, float] = (-4.5, 0.0)
        """Centre of the landing target on the far side (m)."""
        target_radius: float = 1.0
        """(m)."""
        event_reward: float = 5.0
        """Each of: the set, the spike, a downward spike, the ball over the net, in the target."""
        speed_weight: float = 0.2
        """Spike bonus ``w * (5 - v_z)`` (v_z of the ball just after the spike)."""
        direction_weight: float = 1.0
        """At a hit: cosine of the ball's direction toward its goal (attacker, then target)."""
        misbehave_penalty: float = -10.0
        """Wrong order, hull touch, drone out of its height band or over the net."""
        min_height: float = 0.4
        """Drone floor (m)."""
        max_height: float = 5.0
        """Drone ceiling (m) (ours)."""
        ground_height: float = 0.2
        """The ball has landed below this (m)."""
        defender: bool = False
        """The hard variant's scripted defender board."""

    def __init__(self, num_courts: int = 1, **kwargs: Any):
        super().__init__(num_courts, **kwargs)
        c = self.config
        self.anchors = np.array([c.setter, c.attacker])
        self.turn = np.zeros(num_courts, dtype=int)
        self.phase = np.zeros(num_courts, dtype=int)  # 0 serve-to-set, 1 set done, 2 spiked
        self.over = np.zeros(num_courts, dtype=bool)
        self.spike_wait = np.full(num_courts, -1)  # steps since a spike not yet judged, else -1
        self._last_ball_vel = np.zeros((num_courts, 3))

    def _place(self, ids, rng):
        k = len(ids)
        ball = self.anchors[0] + np.array([0.0, 0.0, self.config.ball_height])
        self._place_drones(ids, np.tile(self.anchors, (k, 1, 1)), np.tile(ball, (k, 1)))
        self.turn[ids] = 0
        self.phase[ids] = 0
        self.over[ids] = False
        self.spike_wait[ids] = -1
        self._last_ball_vel[ids] = self.sim.ball_vel[ids]
        if self.config.defender:
            self._defender_reset(ids)

    def _defender_reset(self, ids):
        # The board is simulated analytically: a disc that returns a spiked ball it reaches.
        if not hasattr(self, "board"):
            self.board = np.tile([-4.0, 0.0, 0.5], (self.num_courts, 1))
            self.board_goal = self.board.copy()
        self.board[ids] = [-4.0, 0.0, 0.5]
        self.board_goal[ids] = [-4.0, 0.0, 0.5]

    def _defend(self, spiked: np.ndarray) -> np.ndarray:
        """Move the board toward where the ball will pass z = 1.1 m; returns courts it blocked."""
        s = self.sim
        dt = s.physics.control_dt
        ball, vel = s.ball_pos, s.ball_vel
        g = 9.81
        # Time until the ball falls to z = 1.1 on its ballistic path.
        a, b, c = -0.5 * g, vel[:, 2], ball[:, 2] - 1.1
        disc = np.maximum(b * b - 4 * a * c, 0.0)
        t = (-b - np.sqrt(disc)) / (2 * a)
        goal = np.stack(
            [ball[:, 0] + vel[:, 0] * t, ball[:, 1] + vel[:, 1] * t, np.full(len(t), 1.1)], -1
        )
        # Only a ball coming at its side: once returned, the board stays where it blocked.
        moving = spiked & (ball[:, 0] < 0) & (vel[:, 0] < 0)
        self.board_goal = np.where(moving[:, None], goal, self.board_goal)
        delta = self.board_goal - self.board
        dist = np.linalg.norm(delta, axis=-1, keepdims=True)
        self.board += delta * np.minimum(1.0, 8.0 * dt / np.maximum(dist, 1e-9))
        rel = ball - self.board
        blocked = (
            moving
            & (np.linalg.norm(rel[:, :2], axis=-1) < 0.5)
            & (np.abs(rel[:, 2]) < 0.25)
            & (vel[:, 2] < 0)
        )
        if blocked.any():
            rows = np.flatnonzero(blocked)
            back = vel[rows].copy()
            back[:, 2] = -0.8 * back[:, 2]
            back[:, 0] = np.abs(back[:, 0]) * 0.8 + 2.0  # sent back toward the attackers
            self.sim.set_ball(rows, ball[rows], back)
        return blocked

    def _evaluate(self, events):
        c, s = self.config, self.sim
        ball, pos = s.ball_pos, s.drone_pos
        hit = events.hit
        expected = np.where(self.phase == 0, 0, 1)
        wrong = hit & ((self.phase == 2) | (events.hitter != expected))
        set_hit = hit & ~wrong & (self.phase == 0)
        spike = hit & ~wrong & (self.phase == 1)
        goal = np.where(
            spike[:, None],
            np.concatenate(
                [np.tile(c.target, (self.num_courts, 1)), np.zeros((self.num_courts, 1))], 1
            ),
            pos[:, 1],
        )
        cos = np.where(set_hit, self._direction_cos(events.hitter, goal), 0.0)
        self.phase = np.where(set_hit, 1, np.where(spike, 2, self.phase))
        self.turn = np.where(self.phase == 0, 0, 1)
        # The racket contact is soft and can span two control steps, so at the hit the ball may
        # still be moving down: judge the spike (direction, downward, speed) by the velocity it
        # leaves with, on its first step of free flight (at most 3 steps after the hit).
        gravity_step = np.array([0.0, 0.0, -self.hits.jump_z])
        free = np.linalg.norm(s.ball_vel - self._last_ball_vel - gravity_step, axis=-1) < 0.05
        self._last_ball_vel = s.ball_vel.copy()
        waiting = self.spike_wait >= 0
        self.spike_wait = np.where(spike, 0, np.where(waiting, self.spike_wait + 1, -1))
        judged = (self.spike_wait >= 1) & (free | (self.spike_wait >= 3))
        self.spike_wait[judged] = -1
        target = np.concatenate(
            [np.tile(c.target, (self.num_courts, 1)), np.zeros((self.num_courts, 1))], 1
        )
        attacker = np.ones(self.num_courts, dtype=int)
        cos = np.where(judged, self._direction_cos(attacker, target), cos)
        downward = judged & (s.ball_vel[:, 2] < 0)
        speed = np.where(judged, c.speed_weight * (5.0 - np.maximum(s.ball_vel[:, 2], -20.0)), 0.0)
        over_now = (
            (self.phase == 2) & ~self.over & (ball[:, 0] < 0) & (ball[:, 2] > self.court.net_height)
        )
        self.over |= over_now
        blocked = self._defend(self.phase == 2) if c.defender else np.zeros(self.num_courts, bool)
        landed = ball[:, 2] < c.ground_height
        in_target = (
            landed
            & self.over
            & (np.linalg.norm(ball[:, :2] - np.asarray(c.target), axis=-1) < c.target_radius)
        )
        bad = (
            wrong
            | events.touch
            | (pos[..., 2] < c.min_height).any(axis=1)
            | (pos[..., 2] > c.max_height).any(axis=1)
            | (pos[..., 0] < 0.0).any(axis=1)
        )
        ev = c.event_reward
        components = self._shared(
            {
                "set": np.where(set_hit, ev, 0.0),
                "spike": np.where(spike, ev, 0.0),
                "downward": np.where(downward, ev, 0.0),
                "over_net": np.where(over_now, ev, 0.0),
                "in_target": np.where(in_target, ev, 0.0),
                "speed": speed,
                "direction": c.direction_weight * cos,
                "misbehave": np.where(bad, c.misbehave_penalty, 0.0),
            }
        )
        return TaskStep(
            rewards=self._zeros(),
            components=components,
            terminated=bad | landed,
            truncated=np.zeros(self.num_courts, dtype=bool),
            info={
                "in_target": in_target.copy(),
                "blocked": blocked.copy(),
                "misbehave": bad.copy(),
            },
        )


# ---- competitive ----------------------------------------------------------------------------------
class Match(Task):
    """One rally between two teams; subclasses fix the team size and court."""

    roles = ("blue", "red")
    court_name = "3v3"
    default_steps = 500
    near_anchors: ClassVar[tuple[tuple[float, float, float], ...]] = ()
    server_seat: ClassVar[int] = 0
    serve_height: ClassVar[float] = 3.0

    @dataclass(frozen=True)
    class Config(Task.Config):
        """VolleyBots' competitive constants (3v3 values; 1v1 overrides some)."""

        reward_mode: str = "dense"
        """``"dense"`` (VolleyBots' shaped rewards) or ``"sparse"`` (+1 win, -1 loss, 0 draw)."""
        win_reward: float = 100.0
        """+ to the winners, - to the losers."""
        hit_reward: float = 10.0
        """Per valid hit, to the hitter's whole team (1v1: 5, to the hitter)."""
        approach_weight: float = 0.5
        """``w / (1 + d_ball)`` for drones still allowed to touch with the ball on their side."""
        anchor_weight: float = 0.05
        """``w / (1 + d_anchor)`` per drone."""
        crash_penalty: float = -100.0
        """To a team with a drone on the ground."""
        separation_penalty: float = -100.0
        """To a team with two drones closer than ``min_separation``."""
        position_penalty: float = 0.0
        """1v1: per step near the net, outside the own half or far from 2 m height."""
        random_serve: bool = True
        """Draw the serving team per rally (VolleyBots' ``random_turn``); else team 0 serves."""
        rally: RallyConfig = field(default_factory=RallyConfig)
        """Fault thresholds."""

    @classmethod
    def team_size(cls) -> int:
        """Drones per team."""
        return len(cls.near_anchors)

    def __init__(self, num_courts: int = 1, **kwargs: Any):
        super().__init__(num_courts, **kwargs)
        c = self.config
        if c.reward_mode not in ("dense", "sparse"):
            raise ValueError(f"expected reward_mode 'dense' or 'sparse', got {c.reward_mode!r}")
        near = np.asarray(self.near_anchors)
        self.anchors = np.concatenate([near, near * _MIRROR])
        self.rules = RallyRules(
            num_courts, self.team_arr, self.court, self.sim.physics.ball.radius, c.rally
        )
        self.server = np.zeros(num_courts, dtype=int)
        self.winner = np.full(num_courts, -1)
        n, m = self.n_drones, self.team_size()
        # Each observer lists all drones own team first: row i is drone i's order.
        self._order = np.stack([np.roll(np.arange(n), -m * t) for t in self.team_arr])
        self._ident = np.eye(m)[np.arange(n) % m]

    def _place(self, ids, rng):
        k = len(ids)
        server = rng.integers(0, 2, k) if self.config.random_serve else np.zeros(k, dtype=int)
        serving_drone = server * self.team_size() + self.server_seat
        ball = self.anchors[serving_drone] + np.array([0.0, 0.0, self.serve_height])
        self._place_drones(ids, np.tile(self.anchors, (k, 1, 1)), ball)
        self.server[ids] = server
        self.winner[ids] = -1
        self.rules.reset(ids, server, ball)

    def _observe_drones(self):
        s = self.sim
        n, m = self.n_drones, self.team_size()
        pos = s.drone_pos
        obs = np.empty((self.num_courts, n, 37 if m == 1 else 36 + m + 3 * n))
        obs[..., :23] = self._state()
        obs[..., 23:26] = (pos - self.anchors) * self.flip
        if m == 1:  # VolleyBots' 1v1: the other drone and whose turn it is
            obs[..., 26:29] = (pos - pos[:, ::-1]) * self.flip
            at = 29
        else:
            at = 26
        obs[..., at : at + 3] = (pos - s.ball_pos[:, None, :]) * self.flip
        obs[..., at + 3 : at + 6] = s.ball_vel[:, None, :] * self.flip
        at += 6
        if m == 1:
            mine = self.rules.turn[:, None] == self.team_arr[None, :]
            obs[..., at] = mine
            obs[..., at + 1] = ~mine
        else:
            own_side = self.rules.ball_side[:, None] == self.team_arr[None, :]
            hit = self.rules.already_hit
            obs[..., at] = own_side
            obs[..., at + 1] = ~own_side
            obs[..., at + 2 : at + 2 + m] = self._ident
            at += 2 + m
            obs[..., at] = hit
            obs[..., at + 1] = ~hit
            # All drone positions, own team first, mirrored for the observer's side.
            others = pos[:, self._order] * self.flip[None, :, None, :]
            obs[..., at + 2 :] = others.reshape(self.num_courts, n, 3 * n)
        return obs

    def _evaluate(self, events):
        c, s = self.config, self.sim
        pos, ball = s.drone_pos, s.ball_pos
        was_hit = self.rules.already_hit.copy()
        turn_before = self.rules.turn.copy()
        faults = self.rules.update(events, pos, ball)
        result = outcome(faults)
        self.winner = result
        done = result >= 0
        team = self.team_arr[None, :]
        won = _WON[result + 1][:, self.team_arr]  # +1 winners, -1 losers, 0 draw or playing
        zeros = self._zeros()
        if c.reward_mode == "sparse":
            components = {"outcome": won}
        else:
            if events.hit.any():
                hitter = np.maximum(events.hitter, 0)
                valid = events.hit & (
                    faults[np.arange(self.num_courts), self.team_arr[hitter]] != 1
                )
                hit_mask = self._per_drone(valid, events.hitter)
            else:
                hit_mask = np.zeros((self.num_courts, self.n_drones), dtype=bool)
            if self.team_size() == 1:
                hit_reward = c.hit_reward * hit_mask
                own_turn = turn_before[:, None] == team
                eligible = own_turn
            else:
                team_hit = (hit_mask[:, :, None] & (self.team_arr[:, None] == _TEAMS)).any(1)
                hit_reward = c.hit_reward * team_hit[:, self.team_arr]
                eligible = ~was_hit & (self.rules.ball_side[:, None] == team)
            # sqrt of summed squares: np.linalg.norm's arithmetic without its call overhead
            to_ball = pos - ball[:, None, :]
            d_ball = np.sqrt((to_ball * to_ball).sum(axis=-1))
            to_anchor = pos - self.anchors
            d_anchor = np.sqrt((to_anchor * to_anchor).sum(axis=-1))
            crash = (faults == 7)[:, self.team_arr]
            close = (faults == 8)[:, self.team_arr]
            if c.position_penalty:
                x, y, z = pos[..., 0] * self.flip[:, 0], pos[..., 1], pos[..., 2]
                misplaced = (
                    (x < 0.5)
                    | (x > self.court.half_length)
                    | (np.abs(y) > self.court.half_width)
                    | (np.abs(z - 2.0) > 1.0)
                )
            else:  # no penalty to pay (3v3, 6v6): skip the test
                misplaced = False
            components = {
                "outcome": c.win_reward * won,
                "hit": hit_reward,
                "approach": np.where(eligible, c.approach_weight / (1.0 + d_ball), 0.0),
                "anchor": c.anchor_weight / (1.0 + d_anchor),
                "crash": np.where(crash, c.crash_penalty, 0.0),
                "separation": np.where(close, c.separation_penalty, 0.0),
                "position": np.where(misplaced, c.position_penalty, 0.0) + zeros,
            }
        fault_names = _FAULT_NAME_ARRAY[faults]
        return TaskStep(
            rewards=zeros,
            components=components,
            terminated=done,
            truncated=np.zeros(self.num_courts, dtype=bool),
            info={"winner": result.copy(), "fault": faults.copy(), "fault_name": fault_names},
        )


class Match1v1(Match):
    """1v1 on the 6 x 3 court: one touch per side, turns alternate."""

    name = "1v1"
    court_name = "1v1"
    team = (0, 1)
    obs_dim = 37
    default_steps = 1000
    near_anchors = ((1.5, 0.0, 2.0),)
    serve_height = 1.5

    @dataclass(frozen=True)
    class Config(Match.Config):
        """VolleyBots' 1v1 constants."""

        hit_reward: float = 5.0
        """Per hit on the drone's own turn."""
        anchor_weight: float = 0.0
        """1v1 has no anchor shaping."""
        position_penalty: float = -0.2
        """Per step near the net, outside the own half, or more than 1 m from 2 m height."""
        rally: RallyConfig = field(default_factory=lambda: RallyConfig(turn_based=True))
        """One touch per side."""


class Match3v3(Match):
    """3v3 on the 12 x 6 court: each drone touches at most once per possession."""

    name = "3v3"
    court_name = "3v3"
    team = (0, 0, 0, 1, 1, 1)
    obs_dim = 57
    near_anchors = ((3.0, 1.5, 2.0), (3.0, -1.5, 2.0), (6.0, 0.0, 2.0))
    server_seat = 2


class Match6v6(Match):
    """6v6 on the 18 x 9 court: each drone touches at most once per possession (no 3-touch cap)."""

    name = "6v6"
    court_name = "6v6"
    team = (0,) * 6 + (1,) * 6
    obs_dim = 78
    # Two rows of three (ours: VolleyBots' 6v6 anchors are not in the reference).
    near_anchors = (
        (3.0, 3.0, 2.0),
        (3.0, 0.0, 2.0),
        (3.0, -3.0, 2.0),
        (7.0, 3.0, 2.0),
        (7.0, -3.0, 2.0),
        (7.0, 0.0, 2.0),
    )
    server_seat = 5


TASKS: dict[str, type[Task]] = {
    cls.name: cls
    for cls in (
        BackAndForth,
        HitTheBall,
        SoloBump,
        BumpAndPass,
        SetAndSpike,
        Match1v1,
        Match3v3,
        Match6v6,
    )
}
"""Task name -> class."""


def make_task(name: str, num_courts: int = 1, **kwargs: Any) -> Task:
    """The task ``name`` over ``num_courts`` courts; keywords are task options or physics settings."""
    if name not in TASKS:
        raise ValueError(f"expected a task in {sorted(TASKS)}, got {name!r}")
    return TASKS[name](num_courts, **kwargs)
