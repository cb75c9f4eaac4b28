"""The volleyball environments, thin views of a vectorized :class:`~.tasks.Task`.

:class:`VolleyballEnv` is a PettingZoo ``ParallelEnv`` over one court; :class:`VolleyballVectorEnv`
is a Gymnasium vector env over many.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium
import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from pettingzoo import ParallelEnv

from selfplay_gym.envs.volleyball.physics import PhysicsConfig
from selfplay_gym.envs.volleyball.tasks import TASKS, Task, TaskStep, make_task

__all__ = ["VolleyballEnv", "VolleyballVectorEnv", "episode_frames", "save_video"]


def _physics(physics: PhysicsConfig | Mapping[str, Any] | None) -> PhysicsConfig | None:
    if physics is None or isinstance(physics, PhysicsConfig):
        return physics
    if isinstance(physics, Mapping):
        return PhysicsConfig(**physics)
    raise TypeError(
        f"expected a PhysicsConfig or a mapping of its fields, got {type(physics).__name__}"
    )


def _plain(value: Any) -> Any:
    """A numpy scalar or array as plain Python (infos stay JSON-friendly)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value.item() if isinstance(value, np.generic) else value


_ARRAY = object()  # marks a per-court info entry that is an array (converted per agent)


def _columns(result: TaskStep, n_drones: int) -> tuple[dict, dict, dict]:
    """Court 0 of a step as plain Python, converted once for all agents' infos.

    Returns the reward components and the per-drone entries as lists indexed by drone, and the
    per-court entries as scalars (or ``_ARRAY`` for arrays).
    """
    components = {}
    for k, v in result.components.items():
        row = [float(x) for x in v[0].tolist()]
        components[k] = row if len(row) == n_drones else row * n_drones  # (courts, 1) shared
    court = {
        k: _ARRAY if isinstance(v[0], np.ndarray) else _plain(v[0]) for k, v in result.info.items()
    }
    drone = {k: v[0].tolist() for k, v in result.drone_info.items()}
    return components, court, drone


class VolleyballEnv(ParallelEnv):
    """Drone volleyball on MuJoCo (VolleyBots' tasks), one court, all drones acting at once.

    ## Description
    Iris quadrotors with rackets play with a 5 g ball on a court whose net is the plane x = 0.
    ``task`` picks one of VolleyBots' nine settings: the drills ``back_and_forth``,
    ``hit_the_ball`` and ``solo_bump`` (one drone), the cooperative ``bump_and_pass`` and
    ``set_and_spike`` (two drones of one team; ``defender=True`` is the hard variant), and the
    competitive ``1v1``, ``3v3`` and ``6v6`` rallies (teams ``blue`` on x > 0, ``red`` on x < 0).
    Physics runs at 200 Hz (timestep 0.005 s), control at 50 Hz.

    ## Action Space
    ``Box(-1, 1, (4,), float32)`` per drone. ``action_mode="prt"`` (default): one command per
    rotor, thrust ``(c + 1) / 2 * 6.0 N`` at steady state behind a 36 ms motor lag.
    ``action_mode="ctbr"``: roll, pitch and yaw rate targets (+-144 deg/s) and a collective thrust,
    through VolleyBots' PID rate controller. ``action_mode="vel"``: velocity targets (+-5 m/s)
    and a yaw rate (+-2 rad/s) through the package's position controller (not in VolleyBots: an
    easier space for drills and skills).

    ## Observation Space
    ``Box(-inf, inf, (d,), float32)`` per drone: the 23-number drone state (position,
    quaternion, linear and angular velocity, heading, up, rotor throttles) followed by the task's
    relative vectors: 26 numbers for back_and_forth, 32 for the ball drills, 37 for the
    cooperative tasks and 1v1, 57 for 3v3, 78 for 6v6. The red team's observations are mirrored
    ((x, y) -> (-x, -y)) so one policy plays both sides.

    ## Rewards
    The task's named terms, each reported in ``infos[agent]["reward_components"]`` and summing
    to the reward. Competitive rallies pay +-100 for the outcome plus VolleyBots' shaping terms;
    ``reward_mode="sparse"`` pays +1/-1/0 only.

    ## Starting State
    The task's anchors (with the drills' random offsets and headings); the ball at rest above the
    serving drone; rotors at hover throttle. Competitive rallies draw the serving team.

    ## Episode End
    Terminated by the task's rules (a fault decides a rally; drills end on misbehaviour, a lost
    ball or their goal); truncated at the task's step limit (800 drills, 1000 for 1v1, 500 for
    3v3 and 6v6). ``infos[agent]`` carries ``winner`` (0, 1, 2 = draw) and ``fault`` for rallies.

    ## Arguments
    * ``task``: one of the task names above.
    * ``physics``: a :class:`~.physics.PhysicsConfig` or a mapping of its fields (timestep,
      control_dt, drone and ball constants).
    * ``action_mode``: ``"prt"`` or ``"ctbr"``.
    * ``render_mode``: ``"rgb_array"`` (offscreen; ``MUJOCO_GL=egl`` by default) or ``"human"``.
    * ``width``, ``height``, ``camera``: the rendered image.
    * any option of the task's ``Config`` (episode length, reward weights, thresholds).

    ## Version History
    * v0: first version.
    """

    metadata = {
        "name": "volleyball_v0",
        "render_modes": ["rgb_array", "human"],
        "render_fps": 50,
        "is_parallelizable": True,
    }
    move_names: tuple[str, ...] = ()
    """No finite move set: actions are continuous rotor commands."""

    def __init__(
        self,
        task: str = "1v1",
        *,
        physics: PhysicsConfig | Mapping[str, Any] | None = None,
        action_mode: str = "prt",
        render_mode: str | None = None,
        width: int = 640,
        height: int = 480,
        camera: str = "side",
        **options: Any,
    ):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"expected render_mode in {self.metadata['render_modes']} or None, got {render_mode!r}"
            )
        self._args = dict(
            task=task,
            physics=physics,
            action_mode=action_mode,
            render_mode=render_mode,
            width=width,
            height=height,
            camera=camera,
            **options,
        )
        self.task: Task = make_task(
            task, 1, physics=_physics(physics), action_mode=action_mode, **options
        )
        self.render_mode, self.width, self.height, self.camera = render_mode, width, height, camera
        self.possible_agents = list(self.task.agents)
        self.agents: list[str] = []
        obs = gymnasium.spaces.Box(-np.inf, np.inf, (self.task.obs_dim,), np.float32)
        act = gymnasium.spaces.Box(-1.0, 1.0, (4,), np.float32)
        self.observation_spaces = {a: obs for a in self.possible_agents}
        self.action_spaces = {a: act for a in self.possible_agents}
        self.np_random, _ = seeding.np_random()
        self._view = CourtView(width, height, camera)
        self.infos: dict[str, dict[str, Any]] = {}

    def observation_space(self, agent: str) -> gymnasium.spaces.Box:
        """The observation space of ``agent`` (the same object on every call)."""
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> gymnasium.spaces.Box:
        """The action space of ``agent``: four commands in [-1, 1]."""
        return self.action_spaces[agent]

    # ---- PettingZoo ---------------------------------------------------------------------------
    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start an episode; returns observations and infos by agent."""
        if seed is not None:
            self.np_random, _ = seeding.np_random(seed)
        self.task.reset(np.array([0]), self.np_random)
        self.agents = list(self.possible_agents)
        obs = self.task.observe()[0]
        self.infos = {a: self._info(i, None) for i, a in enumerate(self.agents)}
        return {a: obs[i] for i, a in enumerate(self.agents)}, self.infos

    def step(self, actions: Mapping[str, Any]):
        """Apply one action per live agent for one control step (20 ms)."""
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
        commands = self._commands(actions)
        result = self.task.step(commands)
        obs = self.task.observe()[0]
        term, trunc = bool(result.terminated[0]), bool(result.truncated[0])
        agents = self.agents
        observations = {a: obs[i] for i, a in enumerate(agents)}
        rewards = {a: float(result.rewards[0, i]) for i, a in enumerate(agents)}
        terminations = {a: term for a in agents}
        truncations = {a: trunc for a in agents}
        columns = _columns(result, self.task.n_drones)
        self.infos = {a: self._info(i, result, columns) for i, a in enumerate(agents)}
        if term or trunc:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return observations, rewards, terminations, truncations, dict(self.infos)

    def _commands(self, actions: Mapping[str, Any]) -> np.ndarray:
        """The actions as one ``(1, drones, 4)`` array, each checked (shape, finite)."""
        try:  # the common case in one conversion; anything odd gets the per-agent checks
            stacked = np.array([actions[a] for a in self.possible_agents], dtype=float)
            if stacked.shape == (self.task.n_drones, 4) and np.isfinite(stacked).all():
                return stacked[None]
        except (ValueError, TypeError):
            pass
        commands = np.zeros((1, self.task.n_drones, 4))
        for i, agent in enumerate(self.possible_agents):
            a = np.asarray(actions[agent], dtype=float)
            if a.shape != (4,):
                raise ValueError(f"expected an action of shape (4,) for {agent}, got {a.shape}")
            if not np.all(np.isfinite(a)):
                raise ValueError(f"expected a finite action for {agent}, got {a.tolist()}")
            commands[0, i] = a
        return commands

    def _info(
        self, i: int, result: TaskStep | None, columns: tuple[dict, dict, dict] | None = None
    ) -> dict[str, Any]:
        t = self.task
        role, _, seat = t.agents[i].rpartition("_")
        info: dict[str, Any] = {
            "role": role,
            "seat": int(seat),
            "team": int(t.team[i]),
            "turn": int(t.steps[0]),
            "phase": "play",
            "reward_components": {},
        }
        if result is not None:
            components, court, drone = columns or _columns(result, t.n_drones)
            info["reward_components"] = {k: v[i] for k, v in components.items()}
            for key, value in court.items():
                # Arrays become lists: a fresh one per agent, as every agent owns its info.
                info[key] = _plain(result.info[key][0]) if value is _ARRAY else value
            for key, value in drone.items():
                info[key] = value[i]
        return info

    # ---- rendering ----------------------------------------------------------------------------
    def render(self) -> np.ndarray | None:
        """An RGB frame (``rgb_array``) or an update of the interactive viewer (``human``)."""
        return self._view.render(self.task, self.render_mode)

    def close(self) -> None:
        """Free the renderer and close the viewer."""
        self._view.close()

    def __reduce__(self):
        # MuJoCo's batch does not pickle: an unpickled env is a fresh one with the same settings.
        return (_rebuild, (type(self), self._args))

    def __str__(self) -> str:
        return f"VolleyballEnv<{self.task.name}>"


def _rebuild(cls, args):
    return cls(**args)


class CourtView:
    """Renders court 0 of a task: offscreen frames, or MuJoCo's viewer where a display exists."""

    def __init__(self, width: int, height: int, camera: str):
        self.width, self.height, self.camera = width, height, camera
        self._renderer = None
        self._viewer = None

    def render(self, task: Task, mode: str | None) -> np.ndarray | None:
        """A frame in ``rgb_array`` mode; in ``human`` mode the viewer is synced (returns None)."""
        if mode is None:
            gymnasium.logger.warn("render() called without a render_mode; pass render_mode=...")
            return None
        data = task.sim.get_data(0)
        if mode == "human":
            if self._viewer is None:
                import mujoco.viewer

                self._viewer = mujoco.viewer.launch_passive(task.sim.model, data)
            self._viewer.sync()
            return None
        if self._renderer is None:
            import mujoco

            try:
                self._renderer = mujoco.Renderer(task.sim.model, self.height, self.width)
            except Exception as exc:
                raise RuntimeError(
                    f"offscreen rendering failed ({exc}); without a display, set MUJOCO_GL=egl "
                    "(or osmesa) before mujoco is first imported, and install libegl1 "
                    "(or libosmesa6)"
                ) from exc
        self._renderer.update_scene(data, camera=self.camera)
        return self._renderer.render()

    def close(self) -> None:
        """Free the renderer and close the viewer."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        if self._viewer is not None:
            self._viewer.close()
            self._viewer = None


def episode_frames(
    env: VolleyballEnv, policy, *, seed: int | None = None, max_frames: int = 1000, every: int = 1
) -> list[np.ndarray]:
    """Play one episode with ``policy(observations, infos) -> actions`` and return its frames."""
    if env.render_mode != "rgb_array":
        raise ValueError("episode_frames needs an env made with render_mode='rgb_array'")
    obs, infos = env.reset(seed=seed)
    frames = [env.render()]
    step = 0
    while env.agents and len(frames) < max_frames:
        obs, _, _, _, infos = env.step(policy(obs, infos))
        step += 1
        if step % every == 0:
            frames.append(env.render())
    return frames


def save_video(frames: Sequence[np.ndarray], path: str | os.PathLike, fps: int = 50) -> str:
    """Write frames as a GIF or MP4 (by the file extension) with imageio; returns the path."""
    import imageio.v2 as imageio

    path = os.fspath(path)
    if path.endswith(".gif"):
        imageio.mimsave(path, list(frames), duration=1.0 / fps, loop=0)
    else:
        imageio.mimsave(path, list(frames), fps=fps)
    return path


class VolleyballVectorEnv(VectorEnv):
    """Many courts as one Gymnasium vector env; each row is one learner drone on one court.

    ``learners`` are the seats the vector env's actions drive (default: every drone, so one
    shared policy plays all seats of every court, VolleyBots' self-play set-up); the other seats
    are played by ``opponent`` (a vectorized bot with ``act_batch(task, drones)``, see
    :mod:`~.bots`). Rows are ordered court-major: row ``c * len(learners) + j``. Episodes reset
    in the same step they end (``AutoresetMode.SAME_STEP``): the returned observation is the new
    episode's, the last one is in ``infos["final_obs"]``.

    Args:
        task: A task name (see :class:`VolleyballEnv`).
        num_courts: Courts stepped together.
        learners: Seat names driven by the actions, or ``None`` for all.
        opponent: The bot of the other seats (required when ``learners`` is not every seat).
        seed: Seed of the first reset.
        physics, action_mode, **options: As :class:`VolleyballEnv`.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(
        self,
        task: str,
        num_courts: int = 32,
        *,
        learners: Sequence[str] | None = None,
        opponent: Any = None,
        physics: PhysicsConfig | Mapping[str, Any] | None = None,
        action_mode: str = "prt",
        **options: Any,
    ):
        if task not in TASKS:
            raise ValueError(f"expected a task in {sorted(TASKS)}, got {task!r}")
        self.task = make_task(
            task, num_courts, physics=_physics(physics), action_mode=action_mode, **options
        )
        agents = list(self.task.agents)
        learners = agents if learners is None else list(learners)
        unknown = [a for a in learners if a not in agents]
        if unknown or not learners:
            raise ValueError(f"expected learner seats among {agents}, got {learners}")
        self.learner_idx = np.array([agents.index(a) for a in learners])
        self.other_idx = np.array([i for i in range(len(agents)) if i not in set(self.learner_idx)])
        if len(self.other_idx) and opponent is None:
            raise ValueError(f"seats {[agents[i] for i in self.other_idx]} need an opponent bot")
        self.opponent = opponent
        self.num_courts = num_courts
        self.num_envs = num_courts * len(learners)
        self.single_observation_space = gymnasium.spaces.Box(
            -np.inf, np.inf, (self.task.obs_dim,), np.float32
        )
        self.single_action_space = gymnasium.spaces.Box(-1.0, 1.0, (4,), np.float32)
        self.observation_space = gymnasium.vector.utils.batch_space(
            self.single_observation_space, self.num_envs
        )
        self.action_space = gymnasium.vector.utils.batch_space(
            self.single_action_space, self.num_envs
        )
        self.np_random, _ = seeding.np_random()
        self.episode_return = np.zeros(self.num_envs)
        self.episode_length = np.zeros(self.num_envs, dtype=int)
        self._per_row = np.repeat(np.arange(num_courts), len(learners))  # row -> court

    def _rows(self, per_court_drone: np.ndarray) -> np.ndarray:
        return per_court_drone[:, self.learner_idx].reshape(
            self.num_envs, *per_court_drone.shape[2:]
        )

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Reset every court; returns the stacked observations and an empty info."""
        if seed is not None:
            self.np_random, _ = seeding.np_random(seed)
            if hasattr(self.opponent, "reset"):
                self.opponent.reset(seed)
        self.task.reset(np.arange(self.num_courts), self.np_random)
        self.episode_return[:] = 0
        self.episode_length[:] = 0
        return self._rows(self.task.observe()), {}

    def step(self, actions: np.ndarray):
        """Step every court with one action per row; finished courts reset in the same step."""
        actions = np.asarray(actions, dtype=float).reshape(
            self.num_courts, len(self.learner_idx), 4
        )
        if not np.all(np.isfinite(actions)):
            raise ValueError("expected finite actions")
        commands = np.zeros((self.num_courts, self.task.n_drones, 4))
        commands[:, self.learner_idx] = actions
        if len(self.other_idx):
            commands[:, self.other_idx] = self.opponent.act_batch(self.task, self.other_idx)
        result = self.task.step(commands)
        rewards = self._rows(result.rewards)
        per_row = self._per_row
        terminated = result.terminated[per_row]
        truncated = result.truncated[per_row]
        obs = self._rows(self.task.observe())
        self.episode_return += rewards
        self.episode_length += 1
        infos: dict[str, Any] = {}
        done_courts = np.flatnonzero(result.terminated | result.truncated)
        if done_courts.size:
            done_rows = terminated | truncated
            infos["final_obs"] = np.where(done_rows[:, None], obs, 0.0)
            infos["_final_obs"] = done_rows
            infos["episode"] = {
                "r": np.where(done_rows, self.episode_return, 0.0),
                "l": np.where(done_rows, self.episode_length, 0),
            }
            infos["_episode"] = done_rows
            for key, value in result.info.items():
                infos[key] = value[per_row]
            for key, value in result.drone_info.items():
                infos[key] = self._rows(value)
            self.task.reset(done_courts, self.np_random)
            self.episode_return[done_rows] = 0.0
            self.episode_length[done_rows] = 0
            obs = self._rows(self.task.observe())
        return obs.astype(np.float32, copy=False), rewards, terminated, truncated, infos
