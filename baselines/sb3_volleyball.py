"""PPO on drone volleyball: the single-drone drills, and 1v1 self-play against a league of snapshots.

Stable-Baselines3's PPO (MLP policy, Gaussian actions on the four rotor commands) trains on
many courts stepped together: :class:`~selfplay_gym.envs.volleyball.env.VolleyballVectorEnv`
behind SB3's ``VecEnv`` interface (:mod:`selfplay_gym.envs.volleyball.sb3`), with running
normalization of observations and rewards (``VecNormalize``).

* ``--task back_and_forth``: fly between two waypoints; the measure is targets reached per
  episode, against a drone hovering at the start (which reaches none) and random commands.
* ``--task hit_the_ball``: hit a ball dropped from 3 m; the measure is the hit rate (episodes
  with at least one racket hit), against hovering and random commands.
* ``--task 1v1``: self-play. The learner plays blue; red is played, court by court and episode
  by episode, by an opponent drawn from a :class:`~selfplay_gym.league.League` of the hover bot
  and frozen snapshots of the learner (one added every ``snapshot_every`` PPO updates; the
  snapshots see their own mirrored observations, so they play red with the same network). The
  measure is the win rate against the hover bot, the random bot and the first snapshot.

Every ``eval_every`` updates the deterministic policy plays ``eval_episodes`` fresh episodes
(one per court) and the measure goes into the learning curve, written as ``curve.png`` next to
``summary.json`` in ``--out``.

Run::

    python -m selfplay_gym.baselines.sb3_volleyball --task back_and_forth
    python -m selfplay_gym.baselines.sb3_volleyball --task hit_the_ball --out runs/volleyball_hit
    python -m selfplay_gym.baselines.sb3_volleyball --task 1v1 --total-timesteps 2000000

Needs ``pip install "selfplay-gym[sb3,drones]"`` (stable-baselines3, torch, matplotlib, mujoco).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecNormalize

from selfplay_gym.envs.volleyball import VolleyballVectorEnv
from selfplay_gym.envs.volleyball.bots import DroneBot, HoverBot, RandomDroneBot
from selfplay_gym.envs.volleyball.sb3 import SB3VolleyballVecEnv
from selfplay_gym.league import League

__all__ = [
    "Args",
    "TaskRecipe",
    "RECIPES",
    "MEASURE_KEYS",
    "PolicyDroneBot",
    "LeagueOpponent",
    "evaluate",
    "train",
    "main",
]


@dataclass(frozen=True)
class TaskRecipe:
    """Defaults and the measure of one task."""

    measure: str
    """Name of the number the curve and the evaluation report."""
    total_timesteps: int
    """Default learner steps."""
    learners: tuple[str, ...] | None
    """Seats the policy drives (``None``: every seat)."""
    self_play: bool = False
    """Other seats are played by a league of the learner's snapshots."""
    ent_coef: float = 0.0
    """Default entropy bonus."""
    log_std_init: float = -1.0
    """Default initial log standard deviation of the actions."""
    seed: int = 0
    """Default seed."""
    gamma: float = 0.99
    """Default discount."""
    action_mode: str = "prt"
    """Default action space of the drones."""


RECIPES = {
    # Per-rotor actions reach the far waypoint and overshoot (one target per episode at 3M steps,
    # with gamma 0.99 or 0.995); velocity actions with VolleyBots' discount 0.995 and a small
    # entropy bonus learn round trips within 3M steps (docs/volleyball_results.md).
    "back_and_forth": TaskRecipe(
        "targets reached per episode",
        3_000_000,
        None,
        ent_coef=0.005,
        gamma=0.995,
        action_mode="vel",
    ),
    # Without the entropy bonus PPO settled on dodging the ball (a touch with poor control
    # often costs a -10 hull touch or double hit); with it, the same budget learned to hit.
    "hit_the_ball": TaskRecipe(
        "hit rate", 4_000_000, None, ent_coef=0.01, log_std_init=-0.5, seed=1
    ),
    "1v1": TaskRecipe("win rate against hover", 2_000_000, ("blue_0",), self_play=True),
}
"""The tasks of ``--task``."""


@dataclass
class Args:
    """Arguments of the recipe (each is a command-line flag: ``--num-courts 32``)."""

    task: str = "back_and_forth"
    """``back_and_forth``, ``hit_the_ball`` or ``1v1`` (self-play)."""
    seed: int | None = None
    """Seeds PPO, the courts, the league and the evaluations; ``None``: the task's default
    (hit_the_ball 1, the others 0)."""
    total_timesteps: int | None = None
    """Learner steps of training; ``None``: the task's default (back_and_forth 3M, hit_the_ball
    4M, 1v1 2M)."""
    num_courts: int = 32
    """Courts stepped together (one learner row each)."""
    n_steps: int = 256
    """Steps per court per PPO update."""
    batch_size: int = 2048
    """Minibatch size of the PPO update."""
    n_epochs: int = 5
    """Passes over each rollout."""
    learning_rate: float = 3e-4
    """Adam step size (constant)."""
    gamma: float | None = None
    """Discount; ``None``: the task's default (back_and_forth 0.995, the others 0.99)."""
    gae_lambda: float = 0.95
    """GAE's lambda."""
    ent_coef: float | None = None
    """Entropy bonus; ``None``: the task's default (hit_the_ball 0.01, back_and_forth 0.005,
    1v1 0)."""
    action_mode: str | None = None
    """The drones' action space; ``None``: the task's default (back_and_forth ``vel``, the
    others ``prt``). ``prt`` (VolleyBots' per-rotor thrusts), ``ctbr``
    (body rates and thrust) or ``vel`` (velocity targets through the position controller; ours,
    an easier space). The reference policies (hover, random) always fly ``prt``; in ``vel``
    mode the evaluation adds ``hold``, zero velocity commands (the drone holds its start)."""
    log_std_init: float | None = None
    """Initial log standard deviation of the actions (commands live in [-1, 1]; SB3's default 0
    makes the first drones tumble); ``None``: the task's default (hit_the_ball -0.5, the
    others -1)."""
    net_arch: tuple[int, ...] = (256, 256)
    """Hidden layers of the policy and the value networks."""
    eval_every: int = 10
    """PPO updates between points of the learning curve."""
    eval_episodes: int = 32
    """Episodes (one per court) of each evaluation."""
    final_eval_episodes: int = 128
    """Episodes of the final evaluation of the policy and of the reference policies."""
    stop_at: float | None = None
    """Stop early once two evaluations in a row reach this measure (``None``: never)."""
    snapshot_every: int = 10
    """1v1: add a frozen snapshot of the learner to the league every this many updates."""
    max_snapshots: int = 10
    """1v1: snapshots kept in the league (the oldest leave first)."""
    league_rule: str = "uniform"
    """1v1: how the league draws the opponent of each episode: ``uniform``, ``latest``,
    ``prioritized``."""
    out: str | None = None
    """Directory of ``summary.json``, ``curve.png`` and ``model.zip`` (``None``:
    ``runs/volleyball_<task>``)."""
    save_model: bool = True
    """Save the model and its normalization statistics in ``out``."""
    verbose: int = 0
    """SB3 verbosity (0 silent, 1 training tables)."""

    @property
    def recipe(self) -> TaskRecipe:
        """The :class:`TaskRecipe` of :attr:`task`."""
        if self.task not in RECIPES:
            raise ValueError(f"expected --task in {sorted(RECIPES)}, got {self.task!r}")
        return RECIPES[self.task]


# ---- policies as drone bots -----------------------------------------------------------------------
class PolicyDroneBot(DroneBot):
    """The mean action of a PPO actor as a vectorized drone bot (a league snapshot, an opponent).

    It observes the drones it plays through the task (mirrored for red, as the learner sees
    blue), normalizes with the statistics it was given, and plays the Gaussian's mean.

    Args:
        policy: ``model.policy`` of a PPO model; the bot follows its actor until
            :meth:`snapshot` freezes a copy.
        obs_mean, obs_var: Observation normalization (``VecNormalize``'s running statistics);
            ``None``: raw observations.
        clip_obs: Normalized observations are clipped to +-this.
    """

    name = "policy"

    def __init__(
        self,
        policy: Any,
        obs_mean: np.ndarray | None = None,
        obs_var: np.ndarray | None = None,
        clip_obs: float = 10.0,
    ):
        super().__init__()
        self.actor = torch.nn.Sequential(
            policy.pi_features_extractor, policy.mlp_extractor.policy_net, policy.action_net
        )
        self.obs_mean, self.obs_var, self.clip_obs = obs_mean, obs_var, clip_obs

    def snapshot(self) -> PolicyDroneBot:
        """A frozen copy of the actor and of the statistics as they are now."""
        frozen = copy.copy(self)
        frozen.actor = copy.deepcopy(self.actor).requires_grad_(False).eval()
        if self.obs_mean is not None:
            frozen.obs_mean, frozen.obs_var = self.obs_mean.copy(), self.obs_var.copy()
        return frozen

    def actions(self, obs: np.ndarray) -> np.ndarray:
        """Mean actions of observations ``(rows, obs_dim)``, clipped to [-1, 1]."""
        if self.obs_mean is not None:
            obs = np.clip(
                (obs - self.obs_mean) / np.sqrt(self.obs_var + 1e-8), -self.clip_obs, self.clip_obs
            )
        with torch.no_grad():
            mean = self.actor(torch.as_tensor(obs, dtype=torch.float32))
        return np.clip(mean.numpy().astype(float), -1.0, 1.0)

    def act_batch(self, task, drones):
        """Mean actions of ``drones`` on every court, ``(courts, len(drones), 4)``."""
        obs = task.observe()[:, drones]
        return self.actions(obs.reshape(-1, obs.shape[-1])).reshape(*obs.shape[:-1], 4)


class LeagueOpponent(DroneBot):
    """Plays the non-learner seats with opponents drawn from a league, one draw per court episode.

    A court whose episode has just started (``task.steps == 0``) gets a new draw; :attr:`current`
    names each court's opponent until its episode ends, so the results can be recorded against
    the right entry. Drone bots act on every court at once, so each entry in play has one
    instance (the league hands out a fresh copy of a bot per draw) and acts once per step for
    all the courts that drew it.

    Args:
        league: The pool (bots and snapshots, all vectorized drone bots).
        seed: Seed of the draws.
    """

    name = "league"

    def __init__(self, league: League, seed: int | None = None):
        super().__init__(seed)
        self.league = league
        self.draws = np.random.default_rng(seed)
        self.current: list[str] = []
        self._players: dict[str, Any] = {}

    def act_batch(self, task, drones):
        """Each court's drawn opponent plays ``drones`` there, ``(courts, len(drones), 4)``."""
        if len(self.current) != task.num_courts:
            self.current = [""] * task.num_courts
        for court in range(task.num_courts):
            if task.steps[court] == 0 or not self.current[court]:
                name = self.league.draw(self.draws)
                if name not in self._players:
                    self._players[name] = self.league.opponent(name)
                self.current[court] = name
        # Entries no court plays any more (e.g. snapshots the league dropped) are let go.
        self._players = {n: p for n, p in self._players.items() if n in self.current}
        out = np.zeros((task.num_courts, len(drones), 4))
        courts_of: dict[str, list[int]] = {}
        for court, name in enumerate(self.current):
            courts_of.setdefault(name, []).append(court)
        for name, courts in courts_of.items():
            # A bot acts on every court at once; keep the rows of the courts it plays.
            out[courts] = self._players[name].act_batch(task, drones)[courts]
        return out


# ---- evaluation --------------------------------------------------------------------------------------
def evaluate(
    task: str,
    policy: Callable[[np.ndarray, Any], np.ndarray],
    episodes: int,
    seed: int,
    *,
    learners: tuple[str, ...] | None = None,
    opponent: Any = None,
    action_mode: str = "prt",
) -> dict[str, float]:
    """Play one episode on each of ``episodes`` courts with ``policy(obs, env) -> actions``.

    Returns the mean return and length and the task's measures: ``targets_reached``
    (back_and_forth), ``hit_rate`` and ``hits`` (ball drills and 1v1), ``ball_distance``
    (hit_the_ball), ``win_rate``/``draw_rate``/``loss_rate`` of the learner's team (1v1).
    """
    env = VolleyballVectorEnv(
        task,
        episodes,
        learners=list(learners) if learners else None,
        opponent=opponent,
        action_mode=action_mode,
    )
    if opponent is not None and hasattr(opponent, "reset"):
        opponent.reset(seed)
    obs, _ = env.reset(seed=seed)
    rows_per_court = len(env.learner_idx)
    finished = np.zeros(env.num_envs, dtype=bool)
    records: dict[str, np.ndarray] = {}
    while not finished.all():
        obs, _, terminated, truncated, infos = env.step(policy(obs, env))
        new = (terminated | truncated) & ~finished
        if new.any():
            for key in ("r", "l"):
                records.setdefault(key, np.zeros(env.num_envs))[new] = infos["episode"][key][new]
            for key in ("targets_reached", "hits", "ball_distance", "winner"):
                if key in infos:
                    records.setdefault(key, np.zeros(env.num_envs))[new] = infos[key][new]
            finished |= new
    result = {"episodes": float(episodes), "mean_return": float(records["r"].mean())}
    result["mean_length"] = float(records["l"].mean())
    if "targets_reached" in records:
        result["targets_reached"] = float(records["targets_reached"].mean())
    if "hits" in records:
        result["hits"] = float(records["hits"].mean())
        result["hit_rate"] = float((records["hits"] > 0).mean())
    if task == "hit_the_ball":
        result["ball_distance"] = float(records["ball_distance"].mean())
    if "winner" in records:
        team = env.task.team_arr[env.learner_idx][np.arange(env.num_envs) % rows_per_court]
        winner = records["winner"]
        result["win_rate"] = float((winner == team).mean())
        result["loss_rate"] = float((winner == 1 - team).mean())
        result["draw_rate"] = 1.0 - result["win_rate"] - result["loss_rate"]
    return result


MEASURE_KEYS = {"back_and_forth": "targets_reached", "hit_the_ball": "hit_rate", "1v1": "win_rate"}
"""The key of :func:`evaluate`'s result that is each task's measure."""


def _bot_policy(bot: DroneBot) -> Callable[[np.ndarray, Any], np.ndarray]:
    def act(obs: np.ndarray, env: VolleyballVectorEnv) -> np.ndarray:
        return bot.act_batch(env.task, env.learner_idx).reshape(env.num_envs, 4)

    return act


def _model_policy(model: PPO, norm: VecNormalize) -> Callable[[np.ndarray, Any], np.ndarray]:
    def act(obs: np.ndarray, env: VolleyballVectorEnv) -> np.ndarray:
        action, _ = model.predict(norm.normalize_obs(obs), deterministic=True)
        return action

    return act


# ---- training ----------------------------------------------------------------------------------------
class Curve(BaseCallback):
    """Evaluates the deterministic policy every ``eval_every`` updates; snapshots into the league.

    Args:
        args: The recipe's arguments.
        norm: The normalization wrapper of the training envs (its statistics evaluate the policy).
        league: 1v1: the league the opponents come from (snapshots are added to it).
        opponent: 1v1: the league opponent of the training courts (results are recorded
            against the entry each court played).
    """

    def __init__(self, args: Args, norm: VecNormalize, league=None, opponent=None):
        super().__init__()
        self.args, self.norm, self.league, self.opponent = args, norm, league, opponent
        self.updates = 0
        self.points: list[dict[str, float]] = []
        self.snapshots: list[tuple[int, PolicyDroneBot]] = []
        self.stop = False
        self._above = 0
        self._start = time.perf_counter()

    def learner_bot(self) -> PolicyDroneBot:
        rms = self.norm.obs_rms
        return PolicyDroneBot(self.model.policy, rms.mean, rms.var, self.norm.clip_obs)

    def _on_rollout_end(self) -> None:
        self.updates += 1

    def _on_rollout_start(self) -> None:
        # Called before every rollout: after update n (n >= 1) when self.updates == n.
        a = self.args
        if self.league is not None and self.updates and self.updates % a.snapshot_every == 0:
            entry = self.league.add_snapshot(
                self.learner_bot(), name=f"snapshot@{self.model.num_timesteps}"
            )
            self.snapshots.append((self.model.num_timesteps, entry.source))
        if self.updates and self.updates % a.eval_every == 0:
            self.points.append(self.evaluate_now())
            measure = self.points[-1]["measure"]
            self._above = self._above + 1 if a.stop_at is not None and measure >= a.stop_at else 0
            self.stop = self._above >= 2

    def evaluate_now(self) -> dict[str, float]:
        a = self.args
        opponent = HoverBot() if a.recipe.self_play else None
        result = evaluate(
            a.task,
            _model_policy(self.model, self.norm),
            a.eval_episodes,
            seed=10**6,
            learners=a.recipe.learners,
            opponent=opponent,
            action_mode=a.action_mode,
        )
        returns = [e["r"] for e in self.model.ep_info_buffer or ()]
        point = {
            "timesteps": float(self.model.num_timesteps),
            "wall_seconds": time.perf_counter() - self._start,
            "measure": result[MEASURE_KEYS[a.task]],
            "train_return": float(np.mean(returns)) if returns else float("nan"),
            **{f"eval_{k}": v for k, v in result.items()},
        }
        print(
            f"[{a.task}] {self.model.num_timesteps:>9} steps {point['wall_seconds']:7.0f} s  "
            f"{a.recipe.measure}: {point['measure']:.3f}  train return {point['train_return']:.1f}",
            flush=True,
        )
        return point

    def _on_step(self) -> bool:
        if self.league is not None:
            infos, dones = self.locals["infos"], self.locals["dones"]
            for row in np.flatnonzero(dones):
                # One learner per court: row == court. Blue (team 0) is the learner.
                winner = infos[row].get("winner", -1)
                score = 1.0 if winner == 0 else 0.0 if winner == 1 else 0.5
                self.league.record(self.opponent.current[row], score)
        return not self.stop


def plot_curve(
    points: list[dict[str, float]],
    references: dict[str, float],
    measure: str,
    path: str,
    title: str,
) -> None:
    """The learning curve: the evaluated measure and the training return against steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [p["timesteps"] for p in points]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.plot(steps, [p["measure"] for p in points], marker="o", label="PPO (deterministic)")
    for (name, value), style in zip(references.items(), ("--", ":", "-."), strict=False):
        left.axhline(value, linestyle=style, color="grey", label=name)
    left.set_xlabel("learner steps")
    left.set_ylabel(measure)
    left.legend()
    right.plot(steps, [p["train_return"] for p in points], marker=".", color="tab:green")
    right.set_xlabel("learner steps")
    right.set_ylabel("mean training episode return")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def train(args: Args) -> dict[str, Any]:
    """Train, evaluate against the reference policies, write the curve and the summary."""
    torch.set_num_threads(1)
    recipe = args.recipe
    # The task's defaults fill the arguments left at None (the summary records the values used).
    args = dataclasses.replace(
        args,
        total_timesteps=args.total_timesteps or recipe.total_timesteps,
        ent_coef=recipe.ent_coef if args.ent_coef is None else args.ent_coef,
        log_std_init=recipe.log_std_init if args.log_std_init is None else args.log_std_init,
        seed=recipe.seed if args.seed is None else args.seed,
        gamma=recipe.gamma if args.gamma is None else args.gamma,
        action_mode=recipe.action_mode if args.action_mode is None else args.action_mode,
    )
    out = args.out or os.path.join("runs", f"volleyball_{args.task}")
    os.makedirs(out, exist_ok=True)
    wall, cpu = time.perf_counter(), time.process_time()

    league = opponent = None
    if recipe.self_play and args.action_mode != "prt":
        raise ValueError("self-play's league bots fly in action_mode 'prt'")
    if recipe.self_play:
        league = League(rule=args.league_rule, max_snapshots=args.max_snapshots, seed=args.seed)
        league.add("hover", HoverBot())
        opponent = LeagueOpponent(league, seed=args.seed)
    vector = VolleyballVectorEnv(
        args.task,
        args.num_courts,
        learners=list(recipe.learners) if recipe.learners else None,
        opponent=opponent,
        action_mode=args.action_mode,
    )
    venv = SB3VolleyballVecEnv(vector)
    venv.seed(args.seed)
    norm = VecNormalize(venv, gamma=args.gamma)
    model = PPO(
        "MlpPolicy",
        norm,
        n_steps=args.n_steps,
        batch_size=args.batch_size,
        n_epochs=args.n_epochs,
        learning_rate=args.learning_rate,
        gamma=args.gamma,
        gae_lambda=args.gae_lambda,
        ent_coef=args.ent_coef,
        policy_kwargs={"net_arch": list(args.net_arch), "log_std_init": args.log_std_init},
        seed=args.seed,
        device="cpu",
        verbose=args.verbose,
    )
    curve = Curve(args, norm, league, opponent)
    curve.init_callback(model)
    curve.points.append(curve.evaluate_now())  # the untrained policy
    model.learn(args.total_timesteps, callback=curve)
    if not curve.points or curve.points[-1]["timesteps"] != model.num_timesteps:
        curve.points.append(curve.evaluate_now())
    train_wall, train_cpu = time.perf_counter() - wall, time.process_time() - cpu

    # Final evaluation: the policy and the references on the same seeded episodes.
    n, seed = args.final_eval_episodes, 2 * 10**6
    policy = _model_policy(model, norm)
    evaluation: dict[str, dict[str, float]] = {}
    if recipe.self_play:
        first = curve.snapshots[0][1] if curve.snapshots else None
        opponents = {"hover": HoverBot(), "random": RandomDroneBot()}
        if first is not None:
            opponents["first snapshot"] = first
        for name, bot in opponents.items():
            evaluation[f"ppo vs {name}"] = evaluate(
                args.task, policy, n, seed, learners=recipe.learners, opponent=bot
            )
        evaluation["hover vs hover"] = evaluate(
            args.task,
            _bot_policy(HoverBot()),
            n,
            seed,
            learners=recipe.learners,
            opponent=HoverBot(),
        )
    else:
        evaluation["ppo"] = evaluate(args.task, policy, n, seed, action_mode=args.action_mode)
        if args.action_mode == "vel":
            evaluation["hold"] = evaluate(
                args.task, lambda obs, env: np.zeros((env.num_envs, 4)), n, seed, action_mode="vel"
            )
        evaluation["hover"] = evaluate(args.task, _bot_policy(HoverBot()), n, seed)
        random_bot = RandomDroneBot(seed=args.seed)
        evaluation["random"] = evaluate(args.task, _bot_policy(random_bot), n, seed)
    key = MEASURE_KEYS[args.task]
    print(f"\n{args.task}: {n} episodes per row (deterministic PPO policy)")
    print(f"  {'policy':<22} {key:>16} {'hits':>6} {'return':>9} {'length':>7}")
    for name, r in evaluation.items():
        print(
            f"  {name:<22} {r[key]:>16.3f} {r.get('hits', float('nan')):>6.2f} "
            f"{r['mean_return']:>9.1f} {r['mean_length']:>7.0f}"
        )
    if league is not None:
        print(league.table())

    references = (
        {"hover vs hover": evaluation["hover vs hover"]["win_rate"]}
        if recipe.self_play
        else {
            name: evaluation[name][key]
            for name in ("hover", "random", "hold")
            if name in evaluation
        }
    )
    plot_curve(
        curve.points,
        references,
        recipe.measure,
        os.path.join(out, "curve.png"),
        f"PPO on {args.task} ({args.action_mode} actions, {model.num_timesteps} steps, "
        f"{args.num_courts} courts)",
    )
    if args.save_model:
        model.save(os.path.join(out, "model.zip"))
        norm.save(os.path.join(out, "vecnormalize.pkl"))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"\n{model.num_timesteps} training steps in {train_wall:.0f} s wall, {train_cpu:.0f} s CPU "
        f"({model.num_timesteps / train_wall:.0f} steps/s); total {wall:.0f} s wall"
    )
    summary = {
        "task": args.task,
        "measure": recipe.measure,
        "measure_key": key,
        "args": dataclasses.asdict(args),
        "timesteps": model.num_timesteps,
        "stopped_early": curve.stop,
        "train_wall_seconds": train_wall,
        "train_cpu_seconds": train_cpu,
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "curve": curve.points,
        "evaluation": evaluation,
        "league": None
        if league is None
        else [
            {
                "name": e.name,
                "kind": e.kind,
                "games": e.games,
                "wins": e.wins,
                "draws": e.draws,
                "losses": e.losses,
                "rating": league.ratings.rating(e.name),
            }
            for e in league
        ],
        "snapshots": [t for t, _ in curve.snapshots],
    }
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(_json_safe(summary), f, indent=2)
    return summary


def _json_safe(value: Any) -> Any:
    """``value`` with NaN floats (e.g. no finished training episode yet) as ``None``: strict JSON."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def parse_args(argv: list[str] | None = None) -> Args:
    """:class:`Args` from the command line: one flag per field, its docstring as help."""
    from selfplay_gym.baselines._cli import parse_dataclass

    return parse_dataclass(
        Args,
        argv,
        description=__doc__.split("\n\n")[0],
        choices={
            "task": sorted(RECIPES),
            "league_rule": ["uniform", "latest", "prioritized"],
            "action_mode": ["prt", "ctbr", "vel"],
        },
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the recipe with command-line arguments."""
    return train(parse_args(argv))


if __name__ == "__main__":
    main()
