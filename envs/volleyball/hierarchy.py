"""HCSP's high level: one agent per team picks a skill for each role at every hit, skills fly.

HCSP (thu-uav/HCSP, CoRL 2025) plays 3v3 with a centralized, event-triggered policy per team:
at every hit (a "switch turn" event) it picks one option per role from a ``MultiDiscrete
[6, 3, 4]`` action, and frozen low-level skills fly the drones until the next hit. This module
is that layer over the vectorized :class:`~.tasks.Match3v3`, with the scripted skills of
:mod:`~.skills` as the default low level (any :class:`~.skills.Skill`, learned ones included,
can replace one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

import gymnasium
import numpy as np
from gymnasium.utils import seeding
from pettingzoo import ParallelEnv

from selfplay_gym.core.bots import Bot
from selfplay_gym.envs.volleyball.env import CourtView, _rebuild
from selfplay_gym.envs.volleyball.skills import (
    Goto,
    Hover,
    Skill,
    contact_point,
    make_skill,
)
from selfplay_gym.envs.volleyball.tasks import Match3v3, mirror_quat

__all__ = [
    "HighLevelVolleyballEnv",
    "HighLevelConfig",
    "ROLES",
    "OPTIONS",
    "HighLevelScriptedBot",
    "HighLevelRandomBot",
]

ROLES = ("first_pass", "sec_pass", "att")
"""HCSP's roles, one per head of the action: FirstPass (back), SecPass (setter), Att."""

OPTIONS = {
    "first_pass": ("goto_left", "goto_centre", "goto_right", "pass_left", "pass_right", "hover"),
    "sec_pass": ("goto", "set", "hover"),
    "att": ("goto", "attack_left", "attack_right", "hover"),
}
"""The options of each head (HCSP's ``nvec [6, 3, 4]``). Left is +y in the team's own frame
(the red team's frame is mirrored, so the same option means the same thing for both sides)."""

_ROLE_SEAT = (2, 0, 1)
"""Seat of each role in a 3v3 team: the back drone (and server) passes, the front two set and
attack."""

_MIRROR = np.array([-1.0, -1.0, 1.0])


@dataclass(frozen=True)
class HighLevelConfig:
    """Rewards and timing of the high-level game (HCSP's values by default)."""

    hit_reward: float = 2.0
    """Per valid team hit made by the role whose turn it was (FirstPass, then SecPass, Att)."""
    first_pass_reward: float = 1.0
    """Extra, per valid FirstPass hit."""
    win_reward: float = 20.0
    """+ to the team that wins the rally, - to the team that loses it."""
    max_steps: int = 750
    """Low-level control steps per episode (15 s at 50 Hz, HCSP's episode length)."""
    max_wait: int = 150
    """Low-level steps without a hit after which the teams decide again anyway (3 s)."""
    pass_offset: float = 0.5
    """How far (m) left or right of the setter a pass aims."""
    attack_depth: float = 2.0
    """Distance (m) past the net an attack aims at."""
    attack_side: float = 1.5
    """Distance (m) left or right of the centre line an attack aims at."""
    random_serve: bool = True
    """Draw the serving team per episode; else blue serves."""


class HighLevelVolleyballEnv(ParallelEnv):
    """HCSP's high-level 3v3 game: each team picks a skill per role at every hit.

    ## Description
    Two teams of three Iris drones play a 3v3 rally (VolleyBots' 12 x 6 court, MuJoCo physics,
    50 Hz control). The agents are the teams, ``blue_0`` (x > 0) and ``red_0``. Each drone has
    a fixed role: FirstPass (the back drone, which serves and receives), SecPass (the setter,
    front) and Att (the attacker, front). At the start and after every hit (or ``max_wait``
    steps without one) both teams choose an option per role; the scripted skills then fly
    the drones until the next hit. A hitting option (pass, set, attack) engages only on the
    role's touch of the possession (FirstPass first, SecPass second, Att third, as HCSP
    enforces) and only for a ball coming down on the team's side; otherwise the drone holds
    its place, and idle drones make room around the drone that plays. The serving team's
    first touch is scripted (a pass to the setter), as HCSP scripts the serve.

    ## Action Space
    ``MultiDiscrete([6, 3, 4])`` per team: FirstPass (goto left / centre / right, pass left /
    right of the setter, hover), SecPass (goto its anchor, set to the attacker, hover), Att
    (goto its anchor, attack left / right, hover). See :data:`OPTIONS`.

    ## Observation Space
    ``Box(-inf, inf, (94,), float32)`` per team, in the team's own (mirrored) frame: position,
    quaternion, velocity and angular velocity (13 numbers) of the six drones, own team first
    in role order, then the ball's position and velocity, who already touched the ball in
    this possession (6), the ball's side (2, own/other) and the phase (2, serve/rally).

    ## Rewards
    Accumulated over the low-level steps between decisions: ``hit_reward`` (+2) per valid team
    hit by the role in turn, ``first_pass_reward`` (+1) per FirstPass hit, and
    ``+-win_reward`` (20) for the rally's outcome; ``infos[agent]["reward_components"]`` holds
    the three parts (``hit``, ``first_pass``, ``outcome``).

    ## Starting State
    As ``selfplay/Volleyball3v3-v0``: drones at their anchors, the ball 3 m above the serving
    team's back drone; the serving team is drawn per episode.

    ## Episode End
    Terminated when the rally is decided (any fault of the rules, see
    :mod:`~selfplay_gym.envs.volleyball.rules`); truncated after ``max_steps`` low-level
    steps. ``infos`` carry ``winner``, ``fault``, ``low_level_steps``, and what ended the
    last stretch of low-level steps: ``trigger`` (``"hit"``, ``"wait"`` or ``"end"``) and
    ``hitter`` (the drone that hit, -1 if none).

    ## Arguments
    * ``config`` / keywords: a :class:`HighLevelConfig` or its fields.
    * ``skills``: mapping from skill name (``goto``, ``hover``, ``pass``, ``set``, ``attack``)
      to a :class:`~.skills.Skill` replacing the scripted one (e.g. a learned
      :class:`~.skills.PolicySkill`).
    * ``render_mode``: ``"rgb_array"``; ``width``, ``height``, ``camera``.
    * ``physics``: a :class:`~.physics.PhysicsConfig`.

    ## Version History
    * v0: first version.
    """

    metadata = {
        "name": "volleyball_high_level_v0",
        "render_modes": ["rgb_array"],
        "render_fps": 50,
        "is_parallelizable": True,
    }
    move_names: tuple[str, ...] = ()
    """Actions are MultiDiscrete vectors, not a list of named moves."""
    obs_dim = 94

    def __init__(
        self,
        config: HighLevelConfig | None = None,
        *,
        skills: Mapping[str, Skill] | None = None,
        physics: Any = None,
        render_mode: str | None = None,
        width: int = 640,
        height: int = 480,
        camera: str = "side",
        **overrides: Any,
    ):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"expected render_mode in {self.metadata['render_modes']} or None, got {render_mode!r}"
            )
        config = config or HighLevelConfig()
        if overrides:
            known = {f.name for f in fields(config)}
            unknown = sorted(set(overrides) - known)
            if unknown:
                raise TypeError(f"unknown option(s) {unknown}; expected some of {sorted(known)}")
            config = replace(config, **overrides)
        self.config = config
        self._args = dict(
            config=config,
            skills=skills,
            physics=physics,
            render_mode=render_mode,
            width=width,
            height=height,
            camera=camera,
        )
        self.task = Match3v3(
            1, physics=physics, max_steps=config.max_steps, random_serve=config.random_serve
        )
        self.skills: dict[str, Skill] = {
            "goto": Goto(),
            "hover": Hover(),
            "serve": make_skill("pass"),
            "pass": make_skill("pass"),
            "set": make_skill("set"),
            "attack": make_skill("attack"),
        }
        self.skills.update(skills or {})
        self.render_mode, self.width, self.height, self.camera = render_mode, width, height, camera
        self.possible_agents = ["blue_0", "red_0"]
        self.agents: list[str] = []
        self.action_spaces = {
            a: gymnasium.spaces.MultiDiscrete([len(OPTIONS[r]) for r in ROLES])
            for a in self.possible_agents
        }
        self.observation_spaces = {
            a: gymnasium.spaces.Box(-np.inf, np.inf, (self.obs_dim,), np.float32)
            for a in self.possible_agents
        }
        self.np_random, _ = seeding.np_random()
        self.decisions = 0
        self._choices = np.zeros((2, 3), dtype=int)
        self._view = CourtView(width, height, camera)
        self._flyer = Goto()  # flies every scripted skill's targets in one controller call
        self._trigger = ("reset", -1)
        # Each team's drones in role order, and the back-court goto points in team 0's frame.
        self.role_drones = np.array([[t * 3 + s for s in _ROLE_SEAT] for t in (0, 1)])
        self._goto_points = np.array([[6.0, 1.5, 2.0], [6.0, 0.0, 2.0], [6.0, -1.5, 2.0]])

    def observation_space(self, agent: str) -> gymnasium.spaces.Box:
        """The team's observation space (the same object every call)."""
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> gymnasium.spaces.MultiDiscrete:
        """The team's ``MultiDiscrete([6, 3, 4])``."""
        return self.action_spaces[agent]

    # ---- PettingZoo ---------------------------------------------------------------------------
    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start a rally; returns both teams' observations and infos."""
        if seed is not None:
            self.np_random, _ = seeding.np_random(seed)
        self.task.reset(np.array([0]), self.np_random)
        self.agents = list(self.possible_agents)
        self.decisions = 0
        self._choices[:] = 0
        self._trigger = ("reset", -1)
        obs = self._observe()
        infos = {a: self._info(t, None) for t, a in enumerate(self.agents)}
        return {a: obs[t] for t, a in enumerate(self.agents)}, infos

    def step(self, actions: Mapping[str, Any]):
        """Apply both teams' choices and fly the skills until the next hit (or the end)."""
        if not self.agents:
            raise RuntimeError("the episode is over: call reset() before step()")
        if not isinstance(actions, Mapping):
            raise TypeError(f"expected a dict of actions by agent, got {type(actions).__name__}")
        missing = [a for a in self.agents if a not in actions]
        unknown = sorted(set(actions) - set(self.agents))
        if missing or unknown:
            raise ValueError(
                f"expected one action for each live agent {self.agents}; "
                f"missing {missing}, unknown {unknown}"
            )
        for t, agent in enumerate(self.possible_agents):
            a = np.asarray(actions[agent])
            if a.shape != (3,) or not self.action_spaces[agent].contains(a.astype(np.int64)):
                raise ValueError(
                    f"expected {agent}'s action in {self.action_spaces[agent]}, got {a.tolist()}"
                )
            self._choices[t] = a.astype(int)
        self.decisions += 1
        parts = {k: np.zeros(2) for k in ("hit", "first_pass", "outcome")}
        c = self.config
        steps = 0
        result = None
        while True:
            touches_before = self.task.rules.touches[0].copy()
            result = self.task.step(self._commands())
            steps += 1
            hitter = (
                int(result.drone_info["hit"][0].argmax())
                if result.drone_info["hit"][0].any()
                else -1
            )
            if hitter >= 0:
                team = int(self.task.team_arr[hitter])
                role = int(np.flatnonzero(self.role_drones[team] == hitter)[0])
                in_turn = role == min(int(touches_before[team]), 2)
                valid = result.info["fault"][0, team] != 1
                if in_turn and valid:
                    parts["hit"][team] += c.hit_reward
                    if role == 0:
                        parts["first_pass"][team] += c.first_pass_reward
            winner = int(result.info["winner"][0])
            if winner in (0, 1):
                parts["outcome"][winner] += c.win_reward
                parts["outcome"][1 - winner] -= c.win_reward
            if result.terminated[0] or result.truncated[0] or hitter >= 0 or steps >= c.max_wait:
                ended = result.terminated[0] or result.truncated[0]
                why = "end" if ended else ("hit" if hitter >= 0 else "wait")
                self._trigger = (why, hitter)
                break
        term, trunc = bool(result.terminated[0]), bool(result.truncated[0])
        obs = self._observe()
        agents = list(self.agents)
        rewards = {a: float(sum(p[t] for p in parts.values())) for t, a in enumerate(agents)}
        infos = {a: self._info(t, result, parts, steps) for t, a in enumerate(agents)}
        observations = {a: obs[t] for t, a in enumerate(agents)}
        if term or trunc:
            self.agents = []
        return (
            observations,
            rewards,
            {a: term for a in agents},
            {a: trunc for a in agents},
            infos,
        )

    # ---- the low level ------------------------------------------------------------------------
    def _commands(self) -> np.ndarray:
        """Rotor commands of all drones for one control step under the current choices."""
        task, rules = self.task, self.task.rules
        cfg = self.config
        out = np.zeros((1, task.n_drones, 4))
        s = task.sim
        fly_drones: list[int] = []
        fly_targets: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for team in (0, 1):
            flip = _MIRROR if team == 1 else np.ones(3)
            drones = self.role_drones[team]
            anchors = task.anchors[drones].copy()
            choice = self._choices[team]
            serving = rules.last_team[0] < 0 and task.server[0] == team
            touches = int(rules.touches[0, team])
            # Which role plays now: the one whose touch of the possession it is.
            turn_role = min(touches, 2)
            # Where the ball will next come down (for the idle drones to make room).
            t, contact, _ = contact_point(task)
            ours = np.isfinite(t[0]) and contact[0, 0] * (1 if team == 0 else -1) > 0.2
            rest = anchors.copy()
            if choice[0] <= 2:
                rest[0] = self._goto_points[choice[0]] * flip
            hitting = [
                serving or choice[0] in (3, 4),
                choice[1] == 1,
                choice[2] in (1, 2),
            ]
            active = turn_role if (ours and hitting[turn_role]) else -1
            if active >= 0:  # idle drones keep clear of the contact point
                away = rest[:, :2] - contact[0, :2]
                dist = np.linalg.norm(away, axis=-1, keepdims=True)
                push = np.where(dist < 1.3, (1.3 - dist) / np.maximum(dist, 1e-6), 0.0)
                idle = np.arange(3) != active
                rest[idle, :2] += (away * push)[idle]
            for role in range(3):
                d = drones[role : role + 1]
                option = OPTIONS[ROLES[role]][choice[role]]
                params: dict[str, Any] = {"target": rest[None, role : role + 1]}
                if role == active:
                    params["rest"] = params["target"]
                    if role == 0:
                        if serving:
                            side = 0.0
                        else:
                            side = cfg.pass_offset if choice[0] == 3 else -cfg.pass_offset
                        target = s.drone_pos[0, drones[1]] + np.array([0.0, side, 0.0]) * flip
                        name = "serve" if serving else "pass"
                    elif role == 1:
                        target = s.drone_pos[0, drones[2]].copy()
                        name = "set"
                    else:
                        y = cfg.attack_side if choice[2] == 1 else -cfg.attack_side
                        target = np.array([-cfg.attack_depth, y, 0.0]) * flip
                        name = "attack"
                    target[2] = 2.2
                    params["target"] = target[None, None, :]
                else:
                    name = "hover" if option == "hover" else "goto"
                skill = self.skills[name]
                if hasattr(skill, "targets") and hasattr(skill, "fly"):
                    # Scripted skills: gather targets, one controller call for all drones.
                    p, v, acc = skill.targets(task, d, params)
                    fly_drones.append(d[0])
                    fly_targets.append((p[:, 0], v[:, 0], acc[:, 0]))
                else:
                    out[:, d] = skill.act(task, d, params)
        if fly_drones:
            idx = np.array(fly_drones)
            pos, vel, acc = (np.stack(x, axis=1) for x in zip(*fly_targets, strict=True))
            out[:, idx] = self._flyer.fly(task, idx, pos, target_vel=vel, target_acc=acc)
        return out

    # ---- observations and infos ---------------------------------------------------------------
    def _observe(self) -> np.ndarray:
        s, rules = self.task.sim, self.task.rules
        obs = np.zeros((2, self.obs_dim), dtype=np.float32)
        for team in (0, 1):
            flip = _MIRROR if team == 1 else np.ones(3)
            order = np.concatenate([self.role_drones[team], self.role_drones[1 - team]])
            pos = s.drone_pos[0, order] * flip
            vel = s.drone_vel[0, order] * flip
            angvel = s.drone_angvel[0, order] * flip
            quat = s.drone_quat[0, order]
            if team == 1:
                quat = mirror_quat(quat)
            drones = np.concatenate([pos, quat, vel, angvel], axis=-1).reshape(-1)
            ball = np.concatenate([s.ball_pos[0] * flip, s.ball_vel[0] * flip])
            hit = rules.already_hit[0, order].astype(float)
            own_side = float(rules.ball_side[0] == team)
            serve = float(rules.last_team[0] < 0)
            obs[team] = np.concatenate(
                [drones, ball, hit, [own_side, 1 - own_side, serve, 1 - serve]]
            )
        return obs

    def _info(self, team: int, result, parts=None, steps: int = 0) -> dict[str, Any]:
        rules = self.task.rules
        info: dict[str, Any] = {
            "role": self.possible_agents[team].rpartition("_")[0],
            "seat": 0,
            "team": team,
            "turn": self.decisions,
            "phase": "serve" if rules.last_team[0] < 0 else "rally",
            "reward_components": (
                {k: float(v[team]) for k, v in parts.items()} if parts is not None else {}
            ),
            "low_level_steps": int(self.task.steps[0]),
            "steps_since_decision": steps,
            "trigger": self._trigger[0],
            "hitter": self._trigger[1],
            "touches": int(rules.touches[0, team]),
        }
        if result is not None:
            info["winner"] = int(result.info["winner"][0])
            info["fault"] = result.info["fault"][0].tolist()
            info["fault_name"] = result.info["fault_name"][0].tolist()
        return info

    # ---- rendering, pickling ------------------------------------------------------------------
    def render(self) -> np.ndarray | None:
        """An RGB frame of the court (``render_mode="rgb_array"``)."""
        return self._view.render(self.task, self.render_mode)

    def close(self) -> None:
        """Release the renderer."""
        self._view.close()

    def __reduce__(self):
        # MuJoCo's batch does not pickle: an unpickled env is a fresh one with the same settings.
        return (_rebuild, (type(self), self._args))

    def __str__(self) -> str:
        return "HighLevelVolleyballEnv<3v3>"


class HighLevelScriptedBot(Bot):
    """The rule-based choice: FirstPass passes, SecPass sets, Att attacks.

    A drone that has already touched the ball in this possession goes back (goto); the pass
    and attack sides are drawn from the bot's generator.
    """

    name = "scripted"

    def act(self, env, agent: str) -> np.ndarray:
        """The team's ``[FirstPass, SecPass, Att]`` options."""
        env = getattr(env, "unwrapped", env)
        team = env.possible_agents.index(agent)
        hit = env.task.rules.already_hit[0, env.role_drones[team]]
        side = 1 + self.rng.randrange(2)
        return np.array(
            [1 if hit[0] else 3 + self.rng.randrange(2), 0 if hit[1] else 1, 0 if hit[2] else side],
            dtype=np.int64,
        )


class HighLevelRandomBot(Bot):
    """Uniformly random options for every role."""

    name = "random_options"

    def act(self, env, agent: str) -> np.ndarray:
        """A uniform draw from the team's ``MultiDiscrete`` action space."""
        env = getattr(env, "unwrapped", env)
        nvec = env.action_space(agent).nvec
        return np.array([self.rng.randrange(int(n)) for n in nvec], dtype=np.int64)
