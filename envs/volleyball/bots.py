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

__all__ = [
    "DroneBot",
    "HoverBot",
    "RandomDroneBot",
    "ScriptedTeam",
    "ScriptedPlayer",
    "TeamPlan",
    "team_plan",
]


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


class ScriptedTeam(DroneBot):
    """A rule-based team built on the scripted skills (:mod:`~.skills`), for any match size.

    Each court is read afresh every step (the bot keeps no state, so it may be asked for one
    seat at a time). When the ball will next come down on the team's side and the team may
    touch it, the *active* drone is the one still allowed to touch (not yet hit in this
    possession; in 1v1, when it is the side's turn) nearest to where the ball falls through
    hitting height. It plays, by HCSP's roles:

    * nobody has touched the ball yet and the drone is alone (1v1): **serve** over the net;
    * first touch of the possession (the serve included) with two free teammates near the net
      (FirstPass): **receive/pass** the ball up to the one nearest the net;
    * otherwise, with a free teammate near the net (SecPass): **set** it up to that teammate
      (a drone at the back line is too slow to come forward for it);
    * otherwise (Att, and every touch in 1v1): **attack** a third of the way into the far half.

    Balls the opponents sent out of bounds are left alone. The other drones **goto** their
    anchors, pushed away from the active drone's contact point so teammates keep their
    distance (the rules end a rally when two come within 0.8 m).
    """

    name = "scripted"
    clearance = 1.3
    """Distance (m) the idle drones keep from the active drone's contact point."""

    def __init__(self, seed: int | None = None):
        super().__init__(seed)
        from selfplay_gym.envs.volleyball.skills import Goto, make_skill

        self.goto = Goto()
        self.hits = {name: make_skill(name) for name in ("serve", "pass", "set", "attack")}

    def act_batch(self, task, drones):  # noqa: D102 (documented on DroneBot)
        if getattr(task, "rules", None) is None:
            raise ValueError(
                f"the scripted team plays the matches (1v1, 3v3, 6v6), not {task.name!r}; "
                "use 'hover' there"
            )
        drones = np.asarray(drones, dtype=int)
        out = np.zeros((task.num_courts, len(drones), 4))
        for team in np.unique(task.team_arr[drones]):
            members = np.flatnonzero(task.team_arr == team)
            # The single-agent view asks once per seat: plan each team once per state.
            key = (id(task), int(team), task.sim.ball_pos.tobytes(), task.sim.drone_pos.tobytes())
            cached = getattr(self, "_cache", None)
            if cached is not None and cached[0] == key:
                commands = cached[1]
            else:
                commands = self.team_commands(task, int(team))
                self._cache = (key, commands)
            for j, d in enumerate(drones):
                if task.team_arr[d] == team:
                    out[:, j] = commands[:, int(np.flatnonzero(members == d)[0])]
        return out

    def team_commands(self, task, team: int) -> np.ndarray:
        """Rotor commands of every drone of ``team``, ``(courts, team size, 4)``."""
        plan = team_plan(task, team)
        members = plan.members
        rest = np.broadcast_to(task.anchors[members], (task.num_courts, len(members), 3)).copy()
        # Idle drones make room around the active drone's contact point.
        away = rest[..., :2] - plan.contact[:, None, :2]
        dist = np.linalg.norm(away, axis=-1, keepdims=True)
        push = np.where(
            dist < self.clearance, (self.clearance - dist) / np.maximum(dist, 1e-6), 0.0
        )
        shifted = rest.copy()
        shifted[..., :2] += away * push * plan.playing[:, None, None]
        commands = self.goto.act(task, members, {"target": shifted})
        for name, skill in self.hits.items():
            rows = np.flatnonzero(plan.playing & (plan.skill == name))
            if rows.size == 0:
                continue
            cmd = skill.act(
                task, members, {"target": plan.target[:, None, :], "apex": skill.config.apex}
            )
            active = plan.active[rows]
            commands[rows, active] = cmd[rows, active]
        return commands


ScriptedPlayer = ScriptedTeam
"""The 1v1 player: the same rules with one drone per side (every touch is an attack)."""


class TeamPlan:
    """What a scripted team does on every court this step (see :func:`team_plan`)."""

    def __init__(self, members, playing, active, skill, target, contact):
        self.members = members
        """Drone indices of the team."""
        self.playing = playing
        """(courts,) bool: the ball is the team's to play."""
        self.active = active
        """(courts,) int: index into ``members`` of the drone that plays it."""
        self.skill = skill
        """(courts,) str: serve, pass, set or attack."""
        self.target = target
        """(courts, 3): where the hit should send the ball (at the receiver's hitting height)."""
        self.contact = contact
        """(courts, 3): where the ball next falls through hitting height."""


def team_plan(task, team: int, hit_height: float = 2.2, front_depth: float = 4.5) -> TeamPlan:
    """The scripted team's reading of every court: who plays the ball, with which skill, where to."""
    from selfplay_gym.envs.volleyball.skills import contact_point

    s, rules = task.sim, task.rules
    members = np.flatnonzero(task.team_arr == team)
    courts = np.arange(task.num_courts)
    sign = 1.0 if team == 0 else -1.0
    t, contact, _ = contact_point(task, hit_height)
    ours = np.isfinite(t) & (contact[:, 0] * sign > 0.2)
    free = ~rules.already_hit[:, members]
    if rules.config.turn_based:
        free &= (rules.turn == team)[:, None]
    touches = rules.touches[:, team]
    untouched = rules.last_team < 0
    out = (np.abs(contact[:, 0]) > task.court.half_length) | (
        np.abs(contact[:, 1]) > task.court.half_width
    )
    playing = ours & free.any(axis=1) & ~(out & (touches == 0) & ~untouched)
    d = np.linalg.norm(s.drone_pos[:, members, :2] - contact[:, None, :2], axis=-1)
    active = np.argmin(np.where(free, d, np.inf), axis=1)
    # The free teammates other than the active drone; those near the net can take a pass or a
    # set (a drone at the back line is too slow to get forward in the ball's flight time).
    others = free.copy()
    others[courts, active] = False
    n_others = others.sum(axis=1)
    to_net = np.abs(s.drone_pos[:, members, 0])
    near = others & (to_net <= front_depth)
    n_near = near.sum(axis=1)
    receiver = np.argmin(np.where(near, to_net, np.inf), axis=1)
    receiver_pos = s.drone_pos[courts[:, None], members[receiver][:, None]][:, 0].copy()
    receiver_pos[:, 2] = hit_height
    attack_target = np.tile(
        [-sign * task.court.half_length / 3, 0.0, hit_height], (task.num_courts, 1)
    )
    # A team serves to itself when it can (a serve from the back line is a long, inaccurate
    # hit); a lone drone serves over the net.
    skill = np.where(
        untouched & (n_others == 0),
        "serve",
        np.where((touches == 0) & (n_near >= 2), "pass", np.where(n_near >= 1, "set", "attack")),
    )
    # Passes and sets go to the receiver, but never deep: an attack from the back line needs
    # a tilt the Iris cannot reach in time (the ball then strikes its hull).
    depth = np.where(skill == "set", 3.0, 3.5)
    receiver_pos[:, 0] = sign * np.minimum(np.abs(receiver_pos[:, 0]), depth)
    target = np.where(np.isin(skill, ["pass", "set"])[:, None], receiver_pos, attack_target)
    return TeamPlan(members, playing, active, skill, target, contact)
