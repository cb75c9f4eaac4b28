"""The rules of drone volleyball in numpy, vectorized over courts: hit detection and rally faults.

Hit detection is VolleyBots' geometric rule (``competitive/utils/rules.py``), not a contact
sensor: a drone *hits* the ball when the ball is inside its racket cylinder (radius 0.2 m,
reaching 0.2 m along the body z axis from the drone's origin) in this control step or the last
one, and the ball's velocity jumped (``dv_z > g * dt`` or ``|dv_xy| > 0.5`` m/s). Hits closer than
``debounce`` steps to the previous one are the same touch (a soft contact spans a few steps). A
velocity jump with the ball within 0.5 m of a drone but outside every racket is a *wrong touch*
(the ball struck the hull).

A rally is lost by a team for any of VolleyBots' six fault cases, plus two episode-ending
misbehaviours that VolleyBots penalizes without a winner (here they lose the point too, so
every rally has an outcome):

=====  =================================================================================
case   fault of team i
=====  =================================================================================
1      a drone of team i hits out of turn (hits twice in a possession; in 1v1, when it is
       the other side's turn)
2      a drone of team i touches the ball with its hull, not the racket
3      a drone of team i crosses the net plane x = 0 (``net_margin`` on its own side)
4      the ball reaches the ground (centre below ``ground_height``) in team i's half
5      the ball reaches the ground out of bounds and team i touched it last
6      the ball is in the net zone (``|x| < 3 r``, under the net) and team i touched it last
7      a drone of team i is on the ground (``z < crash_height``)
8      two drones of team i are closer than ``min_separation``
=====  =================================================================================

If both teams fault in the same step the rally is a draw. Team 0 plays x > 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from selfplay_gym.envs.volleyball.physics import GRAVITY, Court

__all__ = ["HitDetector", "HitEvents", "RallyRules", "RallyConfig", "FAULT_NAMES"]

_TEAMS = np.array([0, 1])

FAULT_NAMES = {
    0: "none",
    1: "hit_out_of_turn",
    2: "hull_touch",
    3: "crossed_net",
    4: "ball_down_in_own_half",
    5: "ball_out_after_touch",
    6: "ball_in_net_after_touch",
    7: "drone_on_ground",
    8: "teammates_too_close",
}
"""Fault case -> name, as reported in ``info["fault"]``."""


@dataclass
class HitEvents:
    """What happened to the ball in one control step, per court."""

    hit: np.ndarray
    """(courts,) bool: a racket hit."""
    hitter: np.ndarray
    """(courts,) int: the drone that hit, -1 if none."""
    touch: np.ndarray
    """(courts,) bool: a hull touch (wrong touch)."""
    toucher: np.ndarray
    """(courts,) int: the drone whose hull touched, -1 if none."""


class HitDetector:
    """VolleyBots' racket-cylinder + velocity-jump hit rule, with a debounce.

    Args:
        num_courts: Courts.
        racket_radius: Cylinder radius (m).
        racket_reach: Cylinder length along body +z (m).
        control_dt: Control step (s), for the gravity term of the velocity jump.
        debounce: Steps a new hit must be after the last one (VolleyBots: more than 3).
        touch_radius: Distance (m) within which a velocity jump off the racket is a hull touch.
    """

    def __init__(
        self,
        num_courts: int,
        *,
        racket_radius: float = 0.2,
        racket_reach: float = 0.2,
        control_dt: float = 0.02,
        debounce: int = 3,
        touch_radius: float = 0.5,
        jump_xy: float = 0.5,
    ):
        self.racket_radius, self.racket_reach = racket_radius, racket_reach
        self.jump_z = GRAVITY * control_dt
        self.jump_xy = jump_xy
        self.debounce, self.touch_radius = debounce, touch_radius
        self.since_hit = np.full(num_courts, 10**6)
        self.was_in = None
        self.last_ball_vel = np.zeros((num_courts, 3))

    def reset(self, ids: np.ndarray, ball_vel: np.ndarray, n_drones: int) -> None:
        """Forget the history of courts ``ids``."""
        if self.was_in is None:
            self.was_in = np.zeros((len(self.since_hit), n_drones), dtype=bool)
        self.since_hit[ids] = 10**6
        self.was_in[ids] = False
        self.last_ball_vel[ids] = ball_vel

    def in_racket(
        self, drone_pos: np.ndarray, drone_up: np.ndarray, ball_pos: np.ndarray
    ) -> np.ndarray:
        """(courts, drones) bool: the ball centre is inside each drone's racket cylinder."""
        rel = ball_pos[:, None, :] - drone_pos
        along = np.einsum("cdi,cdi->cd", rel, drone_up)
        radial = np.linalg.norm(rel - along[..., None] * drone_up, axis=-1)
        return (along >= 0.0) & (along <= self.racket_reach) & (radial <= self.racket_radius)

    def update(
        self,
        drone_pos: np.ndarray,
        drone_up: np.ndarray,
        ball_pos: np.ndarray,
        ball_vel: np.ndarray,
    ) -> HitEvents:
        """Detect this step's hit per court from the new state."""
        # in_racket and the distances inline, sharing ball - drone; sqrt of summed squares is
        # exactly what np.linalg.norm computes, without its per-call overhead.
        rel = ball_pos[:, None, :] - drone_pos
        along = (rel * drone_up).sum(axis=-1)
        radial_vec = rel - along[..., None] * drone_up
        radial = np.sqrt((radial_vec * radial_vec).sum(axis=-1))
        inside = (along >= 0.0) & (along <= self.racket_reach) & (radial <= self.racket_radius)
        if self.was_in is None:
            self.was_in = np.zeros_like(inside)
        near = inside | self.was_in
        dv = ball_vel - self.last_ball_vel
        dv_xy = dv[:, :2]
        jumped = (dv[:, 2] > self.jump_z) | (np.sqrt((dv_xy * dv_xy).sum(axis=-1)) > self.jump_xy)
        self.since_hit += 1
        self.was_in = inside
        self.last_ball_vel = ball_vel.copy()
        ready_jump = jumped & (self.since_hit > self.debounce)
        if not ready_jump.any():  # the common step: nothing struck the ball
            none = np.zeros(len(ball_pos), dtype=bool)
            return HitEvents(
                hit=none,
                hitter=np.full(len(ball_pos), -1),
                touch=none.copy(),
                toucher=np.full(len(ball_pos), -1),
            )
        dist = np.sqrt((rel * rel).sum(axis=-1))
        masked = np.where(near, dist, np.inf)
        hitter = np.argmin(masked, axis=1)
        hit = ready_jump & near.any(axis=1)
        close = np.where(dist <= self.touch_radius, dist, np.inf)
        toucher = np.argmin(close, axis=1)
        touch = ready_jump & ~near.any(axis=1) & np.isfinite(close.min(axis=1))
        self.since_hit[hit | touch] = 0
        return HitEvents(
            hit=hit,
            hitter=np.where(hit, hitter, -1),
            touch=touch,
            toucher=np.where(touch, toucher, -1),
        )


@dataclass(frozen=True)
class RallyConfig:
    """Thresholds of the rally rules (VolleyBots' values)."""

    ground_height: float = 0.2
    """The ball is down when its centre is below this (m); HCSP uses 0.3."""
    crash_height: float = 0.3
    """A drone below this is on the ground (m)."""
    min_separation: float = 0.8
    """Teammates closer than this (m) end the rally."""
    net_margin: float = 0.0
    """Team 0's drones must keep x > net_margin, team 1's x < -net_margin (HCSP: 0.2)."""
    turn_based: bool = False
    """1v1: the sides must alternate touches (one touch per side)."""
    role_order: bool = False
    """HCSP: within a possession the team's drones must touch in seat order 0, 1, 2."""


class RallyRules:
    """Possession state and fault detection for ``num_courts`` rallies.

    ``team`` gives each drone's team (0 or 1). :meth:`update` returns the fault case of each
    team this step, ``(courts, 2)`` ints (0 = none), and advances the possession state.
    """

    def __init__(
        self,
        num_courts: int,
        team: np.ndarray,
        court: Court,
        ball_radius: float,
        config: RallyConfig | None = None,
    ):
        self.team = np.asarray(team, dtype=int)
        self.n = len(self.team)
        self.seat = np.array([(self.team[:i] == t).sum() for i, t in enumerate(self.team)])
        self.court, self.ball_radius = court, ball_radius
        self.config = config or RallyConfig()
        self.already_hit = np.zeros((num_courts, self.n), dtype=bool)
        self.touches = np.zeros((num_courts, 2), dtype=int)
        self.last_team = np.full(num_courts, -1)
        self.turn = np.zeros(num_courts, dtype=int)
        self.ball_side = np.zeros(num_courts, dtype=int)
        # Per-step work is done on (courts, team) masks: each drone's team as a one-hot row, and
        # the pairs of teammates (i < j) whose distance the separation rule checks.
        self._member = self.team[:, None] == _TEAMS
        self._net_sign = np.where(self.team == 0, 1.0, -1.0)
        pairs = [
            (i, j)
            for i in range(self.n)
            for j in range(i + 1, self.n)
            if self.team[i] == self.team[j]
        ]
        self._pairs = np.array(pairs, dtype=int).reshape(-1, 2)
        self._pair_member = self._member[self._pairs[:, 0]]

    def reset(self, ids: np.ndarray, server_team: np.ndarray, ball_pos: np.ndarray) -> None:
        """Start rallies on courts ``ids``; ``server_team`` serves (must touch first in 1v1)."""
        self.already_hit[ids] = False
        self.touches[ids] = 0
        self.last_team[ids] = -1
        self.turn[ids] = server_team
        self.ball_side[ids] = np.where(ball_pos[:, 0] > 0, 0, 1)

    def side_of(self, x: np.ndarray) -> np.ndarray:
        """The team whose half contains x (team 0 owns x > 0)."""
        return np.where(x > 0, 0, 1)

    def update(
        self,
        events: HitEvents,
        drone_pos: np.ndarray,
        ball_pos: np.ndarray,
    ) -> np.ndarray:
        """Fault case per team this step ``(courts, 2)`` and advance possession."""
        c = self.config
        faults = np.zeros((len(ball_pos), 2), dtype=int)

        def mark(cond: np.ndarray, case: int) -> None:
            # cond (courts, 2): the team commits this case; a team's first case found stands.
            if cond.any():
                faults[cond & (faults == 0)] = case

        def of_team(mask: np.ndarray, team: np.ndarray) -> np.ndarray:
            return mask[:, None] & (team[:, None] == _TEAMS)

        def any_member(per_drone: np.ndarray) -> np.ndarray:
            return (per_drone[:, :, None] & self._member).any(axis=1)

        # Possession resets when the ball crosses the net plane.
        side = self.side_of(ball_pos[:, 0])
        crossed = side != self.ball_side
        if crossed.any():
            self.already_hit[crossed] = False
            self.touches[crossed] = 0
        self.ball_side = side

        # Case 1 (out of turn) and the possession bookkeeping of a hit.
        if events.hit.any():
            courts = np.arange(len(ball_pos))
            hitter = np.maximum(events.hitter, 0)
            hit_team = self.team[hitter]
            twice = events.hit & self.already_hit[courts, hitter]
            if c.turn_based:
                twice |= events.hit & (hit_team != self.turn)
            if c.role_order:
                twice |= events.hit & (self.seat[hitter] != self.touches[courts, hit_team])
            mark(of_team(twice, hit_team), 1)
            rows = np.flatnonzero(events.hit)
            self.already_hit[rows, hitter[rows]] = True
            self.touches[rows, hit_team[rows]] += 1
            self.last_team[rows] = hit_team[rows]
            self.turn[rows] = 1 - hit_team[rows]

        # Case 2: a hull touch.
        if events.touch.any():
            toucher_team = self.team[np.maximum(events.toucher, 0)]
            mark(of_team(events.touch, toucher_team), 2)
            rows = np.flatnonzero(events.touch)
            self.last_team[rows] = toucher_team[rows]

        # Case 3: a drone past the net plane.
        # Team 0 must keep x > margin, team 1 -x > margin: x times the team's sign (exact).
        over = drone_pos[..., 0] * self._net_sign < c.net_margin
        mark(any_member(over), 3)

        # Cases 4 and 5: the ball on the ground, in or out.
        down = ball_pos[:, 2] < c.ground_height
        touched = self.last_team >= 0
        if down.any():
            out = (np.abs(ball_pos[:, 0]) > self.court.half_length) | (
                np.abs(ball_pos[:, 1]) > self.court.half_width
            )
            mark(of_team(down & out & touched, self.last_team), 5)
            mark(of_team(down & ~(out & touched), side), 4)

        # Case 6: the ball in the net zone.
        in_net = (
            (np.abs(ball_pos[:, 0]) < 3 * self.ball_radius)
            & (np.abs(ball_pos[:, 1]) < self.court.half_width)
            & (ball_pos[:, 2] < self.court.net_height)
        )
        if in_net.any():
            mark(of_team(in_net, np.where(touched, self.last_team, side)), 6)

        # Cases 7 and 8: misbehaviour.
        mark(any_member(drone_pos[..., 2] < c.crash_height), 7)
        if len(self._pairs):
            gap = drone_pos[:, self._pairs[:, 0]] - drone_pos[:, self._pairs[:, 1]]
            close = np.sqrt((gap * gap).sum(axis=-1)) < c.min_separation
            mark((close[:, :, None] & self._pair_member).any(axis=1), 8)
        return faults


def outcome(faults: np.ndarray) -> np.ndarray:
    """Winner per court from ``faults (courts, 2)``: 0 or 1, 2 for a draw, -1 while playing."""
    f0, f1 = faults[:, 0] > 0, faults[:, 1] > 0
    winner = np.full(len(faults), -1)
    winner[f0] = 1
    winner[f1] = 0
    winner[f0 & f1] = 2
    return winner
