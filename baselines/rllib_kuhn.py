"""RLlib recipe: multi-agent PPO self-play on Kuhn Poker, one shared policy for every seat.

Both seats of ``selfplay/KuhnPoker-v0`` are played by the same RLlib module, ``"player"`` (agents
are named ``<role>_<index>``, and the policy is chosen by role), so every hand it plays trains it
from both sides of the table. The multi-agent env is the package's PettingZoo AEC env made
numeric by :class:`~selfplay_gym.wrappers.MaskedNumericAEC` (state tensor plus action mask, ``Discrete`` moves) and
handed to RLlib through its own ``PettingZooEnv`` wrapper. The recipe uses RLlib's current API
stack (RLModule, Learner, env runners); :class:`MaskedActorCritic` is a small RLModule that
gives illegal moves zero probability.

After training, the policy plays the random bot and the Nash bot (``"strong"``) from both seats;
the Nash bot plays the same games in the learner's place as a reference. Against the Nash bot
nobody can beat the game value (+1/18 chips per hand for the second player, -1/18 for the
first, in the classic one-hand game), so "as good as the reference" is the ceiling there.

Run it (a few minutes on one core)::

    python -m selfplay_gym.baselines.rllib_kuhn --json runs/rllib_kuhn/summary.json

Needs ``pip install "selfplay-gym[rllib]"`` (Ray RLlib and torch). ``--ray-address auto`` and
``--num-env-runners N`` spread sampling over a Ray cluster; see ``docs/trainers/rllib.md``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import selfplay_gym
from selfplay_gym.wrappers import MaskedNumericAEC

__all__ = [
    "Args",
    "policy_for_agent",
    "train",
    "evaluate",
    "main",
]

SHARED_POLICY = "player"
"""The one module id: the role every seat of Kuhn Poker has."""


@dataclass
class Args:
    """Arguments of the recipe (each is also a ``--command-line-flag``)."""

    env_id: str = "selfplay/KuhnPoker-v0"
    """The Kuhn Poker id (``num_hands`` and ``payoff`` are its arguments)."""
    num_hands: int = 1
    """Hands per episode; 1 is classic Kuhn Poker."""
    payoff: str = "chips"
    """``"chips"``: each hand pays its net chips (classic Kuhn); ``"match"``: +1/-1 per match."""
    iterations: int = 40
    """PPO iterations (each samples ``train_batch_size`` env steps, then updates)."""
    train_batch_size: int = 4000
    """Env steps sampled per iteration (both seats' moves count)."""
    minibatch_size: int = 500
    """SGD minibatch size."""
    num_epochs: int = 10
    """Passes over each batch."""
    lr: float = 1e-3
    """Adam learning rate."""
    entropy_coeff: float = 0.01
    """Entropy bonus; Kuhn's equilibrium is mixed, so the policy must not collapse early."""
    hidden: tuple[int, ...] = (64, 64)
    """Hidden layer sizes of the policy and the value networks (separate, same shape)."""
    num_env_runners: int = 0
    """Ray actors that sample; 0 samples in the driver process (local mode)."""
    num_envs_per_env_runner: int = 8
    """Envs each sampler steps side by side (one batched forward pass for all; 2x faster than 1)."""
    num_cpus: int = 1
    """CPUs of the local Ray instance the recipe starts (at least ``num_env_runners``; ignored with ``ray_address``)."""
    ray_address: str | None = None
    """Join this Ray cluster (``"auto"`` or ``"host:6379"``) instead of starting a local one."""
    eval_games: int = 5000
    """Evaluation games per opponent and per seat."""
    seed: int = 0
    """Seed of RLlib (networks, sampling) and of the evaluation games."""
    checkpoint_dir: str = "runs/rllib_kuhn/checkpoint"
    """Where the trained algorithm is saved (``Algorithm.from_checkpoint`` restores it)."""
    json: str | None = None
    """Write the summary (training curve, evaluation, learned strategy) to this file."""


# ---- the numeric PettingZoo env RLlib trains on -------------------------------------------------
def make_rllib_env(config: dict[str, Any]) -> Any:
    """RLlib's env creator: the AEC game, made numeric, in RLlib's ``PettingZooEnv``."""
    from ray.rllib.env.wrappers.pettingzoo_env import PettingZooEnv

    game = selfplay_gym.make(config["env_id"], **config.get("env_kwargs", {}))
    return PettingZooEnv(MaskedNumericAEC(game))


def policy_for_agent(agent_id: str, episode: Any = None, **kwargs: Any) -> str:
    """The policy of an agent is its role: ``player_0`` and ``player_1`` both map to ``player``."""
    return agent_id.rpartition("_")[0]


# ---- the RLModule -------------------------------------------------------------------------------
def _masked_actor_critic_class() -> type:
    """Build the RLModule class on first use, so importing this file does not import torch or ray."""
    import torch
    from ray.rllib.core.columns import Columns
    from ray.rllib.core.rl_module.apis.value_function_api import ValueFunctionAPI
    from ray.rllib.core.rl_module.torch import TorchRLModule
    from ray.rllib.utils.torch_utils import FLOAT_MIN

    def mlp(sizes: list[int]) -> torch.nn.Sequential:
        layers: list[torch.nn.Module] = []
        for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:], strict=False)):
            layers.append(torch.nn.Linear(n_in, n_out))
            if i < len(sizes) - 2:
                layers.append(torch.nn.Tanh())
        return torch.nn.Sequential(*layers)

    class MaskedActorCritic(TorchRLModule, ValueFunctionAPI):
        """Policy and value MLPs over ``obs["observations"]``; illegal moves get logit ``FLOAT_MIN``.

        ``model_config``: ``{"hidden": [64, 64]}``. The mask is applied in every forward pass
        (sampling, evaluation and the PPO loss), so probabilities and their log-probabilities
        agree everywhere and an illegal move is never sampled.
        """

        def setup(self) -> None:
            size = self.observation_space["observations"].shape[0]
            hidden = list(self.model_config.get("hidden", [64, 64]))
            self.pi = mlp([size, *hidden, self.action_space.n])
            self.vf = mlp([size, *hidden, 1])

        def _forward(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
            obs = batch[Columns.OBS]
            logits = self.pi(obs["observations"])
            # A finished agent's mask is all zeros; its logits become uniform, never NaN.
            masked = torch.where(obs["action_mask"] > 0, logits, torch.full_like(logits, FLOAT_MIN))
            return {Columns.ACTION_DIST_INPUTS: masked}

        def compute_values(self, batch: dict[str, Any], embeddings: Any = None) -> Any:
            return self.vf(batch[Columns.OBS]["observations"]).squeeze(-1)

    # Picklable by reference (Ray ships the spec to its actors; checkpoints store the class):
    # unpickling looks the name up in this module, whose __getattr__ builds the class there.
    MaskedActorCritic.__module__ = "selfplay_gym.baselines.rllib_kuhn"
    MaskedActorCritic.__qualname__ = "MaskedActorCritic"
    return MaskedActorCritic


def _masked_actor_critic() -> type:
    """The class, built once per process."""
    cls = globals().get("MaskedActorCritic")
    if cls is None:
        cls = globals()["MaskedActorCritic"] = _masked_actor_critic_class()
    return cls


def __getattr__(name: str) -> Any:
    # ``from selfplay_gym.baselines.rllib_kuhn import MaskedActorCritic`` builds it on demand.
    if name == "MaskedActorCritic":
        return _masked_actor_critic()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---- training -----------------------------------------------------------------------------------
def build_config(args: Args) -> Any:
    """The PPO config: one shared module for every seat, chosen by role."""
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec
    from ray.tune.registry import register_env

    register_env("selfplay_rllib_env", make_rllib_env)
    env_config = {
        "env_id": args.env_id,
        "env_kwargs": {"num_hands": args.num_hands, "payoff": args.payoff},
    }
    module = RLModuleSpec(
        module_class=_masked_actor_critic(),
        model_config={"hidden": list(args.hidden)},
    )
    return (
        PPOConfig()
        .environment("selfplay_rllib_env", env_config=env_config)
        .env_runners(
            num_env_runners=args.num_env_runners,
            num_envs_per_env_runner=args.num_envs_per_env_runner,
            num_cpus_per_env_runner=1,
            # Keep sampled episodes as lists. The numpy conversion (on by default in Ray 2.60)
            # runs over every finished episode after every env step, which is quadratic in
            # the batch for games a few moves long: 40x slower here.
            episodes_to_numpy=False,
        )
        .learners(num_learners=0)  # the learner runs in the driver process
        .multi_agent(policies={SHARED_POLICY}, policy_mapping_fn=policy_for_agent)
        .rl_module(rl_module_spec=MultiRLModuleSpec(rl_module_specs={SHARED_POLICY: module}))
        .training(
            train_batch_size_per_learner=args.train_batch_size,
            minibatch_size=args.minibatch_size,
            num_epochs=args.num_epochs,
            lr=args.lr,
            entropy_coeff=args.entropy_coeff,
            gamma=1.0,  # episodes are a few moves long and pay at the end: no discount
            lambda_=1.0,
        )
        # Returns printed per iteration average this many of the latest episodes (~1 iteration).
        .reporting(metrics_num_episodes_for_smoothing=1000)
        .debugging(seed=args.seed)
    )


def train(args: Args) -> dict[str, Any]:
    """Train, evaluate, save a checkpoint; return (and with ``args.json``, write) the summary."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray
    import torch

    torch.set_num_threads(1)
    started, cpu_started = time.perf_counter(), time.process_time()
    cluster = args.ray_address or os.environ.get("RAY_ADDRESS")  # Ray's own variable wins too
    if cluster:
        ray.init(address=cluster)
    else:
        ray.init(
            address="local",  # a fresh instance, even when `ray start` runs on this machine
            # Each env runner is an actor that reserves one CPU; the learner runs in this process.
            num_cpus=max(args.num_cpus, args.num_env_runners),
            include_dashboard=False,
            object_store_memory=100 * 1024 * 1024,  # only weights and small batches pass through it
        )
    # Kuhn's exact exploitability is defined for one hand of the classic game.
    classic_kuhn = args.env_id.startswith("selfplay/KuhnPoker") and args.num_hands == 1
    try:
        algo = build_config(args).build_algo()
        curve = []
        for iteration in range(1, args.iterations + 1):
            result = algo.train()
            point = _progress(iteration, result)
            if classic_kuhn:
                point["exploitability"] = kuhn_exploitability(
                    ModulePolicy(algo.get_module(SHARED_POLICY))
                )
            curve.append(point)
            returns = "  ".join(f"{a} {r:+.3f}" for a, r in sorted(point["agent_returns"].items()))
            exploitability = point.get("exploitability")
            print(
                f"iter {iteration:3d}  env steps {point['env_steps']:7d}  "
                f"episodes {point['episodes']:6d}  return {point['episode_return']:+.3f} "
                f"({returns})"
                + ("" if exploitability is None else f"  exploitability {exploitability:.3f}"),
                flush=True,
            )
        train_seconds = time.perf_counter() - started
        checkpoint = algo.save_to_path(str(Path(args.checkpoint_dir).resolve()))
        algo.stop()
    finally:
        ray.shutdown()

    # Evaluate what the checkpoint holds: the learner's modules, restored as a user would.
    from ray.rllib.core.rl_module.rl_module import RLModule

    modules = RLModule.from_checkpoint(Path(checkpoint, "learner_group", "learner", "rl_module"))
    policy = ModulePolicy(modules[SHARED_POLICY], seed=args.seed)
    evaluation = evaluate(policy, args)
    summary: dict[str, Any] = {
        "args": dataclasses.asdict(args),
        "ray_version": ray.__version__,
        "policies": sorted(modules.keys()),
        "iterations": len(curve),
        "curve": curve,
        "evaluation": evaluation,
        "checkpoint": checkpoint,
        "train_wall_seconds": round(train_seconds, 1),
    }
    if classic_kuhn:
        summary["strategy"] = kuhn_strategy(policy, args)
        summary["exploitability"] = kuhn_exploitability(policy)
    summary["wall_seconds"] = round(time.perf_counter() - started, 1)
    summary["driver_cpu_seconds"] = round(time.process_time() - cpu_started, 1)
    _print_evaluation(evaluation, summary)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _progress(iteration: int, result: dict[str, Any]) -> dict[str, Any]:
    """The numbers of one iteration that the summary keeps."""
    runners = result.get("env_runners", {})
    return {
        "iteration": iteration,
        "env_steps": int(runners.get("num_env_steps_sampled_lifetime", 0)),
        "episodes": int(runners.get("num_episodes_lifetime", 0)),
        "episode_return": float(runners.get("episode_return_mean", math.nan)),
        "agent_returns": {
            str(a): float(r) for a, r in runners.get("agent_episode_returns_mean", {}).items()
        },
        "module_returns": {
            str(m): float(r) for m, r in runners.get("module_episode_returns_mean", {}).items()
        },
    }


# ---- evaluation ---------------------------------------------------------------------------------
class ModulePolicy:
    """The trained module as a sampler over legal moves, for games outside RLlib.

    The module's output depends only on the observation, so each distinct observation is run
    through the network once; Kuhn Poker has a handful of them.
    """

    def __init__(self, module: Any, seed: int = 0):
        self.module = module
        self.rng = np.random.default_rng(seed)
        self._cache: dict[bytes, np.ndarray] = {}

    def probabilities(self, state: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Move probabilities (zero on illegal moves) for one state tensor and mask."""
        mask = np.asarray(mask, dtype=np.int8)
        key = state.tobytes() + mask.tobytes()
        probs = self._cache.get(key)
        if probs is None:
            import torch
            from ray.rllib.core.columns import Columns

            obs = {
                "observations": torch.tensor(state, dtype=torch.float32)[None],
                "action_mask": torch.tensor(mask, dtype=torch.float32)[None],
            }
            with torch.no_grad():
                logits = self.module.forward_inference({Columns.OBS: obs})[
                    Columns.ACTION_DIST_INPUTS
                ]
            probs = torch.softmax(logits[0].double(), -1).numpy() * (mask > 0)
            probs = self._cache[key] = probs / probs.sum()
        return probs

    def act(self, state: np.ndarray, mask: np.ndarray) -> int:
        """Sample a move index."""
        return int(self.rng.choice(len(mask), p=self.probabilities(state, mask)))


def evaluate(policy: ModulePolicy, args: Args) -> list[dict[str, Any]]:
    """The policy, and the Nash bot in its place, against each bot from each seat."""
    rows = []
    seats = selfplay_gym.make(args.env_id).possible_agents
    for opponent in ("random", "strong"):
        for seat in seats:
            for player in ("learned", "reference"):
                rows.append(_play(policy, player, opponent, seat, args))
    return rows


def _play(policy: ModulePolicy, player: str, opponent: str, seat: str, args: Args) -> dict:
    """``args.eval_games`` games of ``player`` in ``seat`` against bot ``opponent``."""
    env = selfplay_gym.make_single_agent(
        args.env_id,
        learner=seat,
        opponent=opponent,
        numeric=True,
        num_hands=args.num_hands,
        payoff=args.payoff,
    )
    game = env.unwrapped.aec_env.unwrapped
    reference = selfplay_gym.registry.resolve_opponent(args.env_id, "strong")
    chips, wins, draws, invalid = [], 0, 0, 0
    for g in range(args.eval_games):
        # The same seeds for the learned policy and the reference: both face the same deals.
        state, info = env.reset(seed=args.seed * 1_000_003 + g)
        reference.reset(seed=g)
        done = False
        while not done:
            if player == "learned":
                action = policy.act(state, info["action_mask"])
            else:
                action = reference.act(game, seat)
                if isinstance(action, str):  # bots answer in text; the numeric view takes indices
                    action = game.move_names.index(action)
            state, _, terminated, truncated, info = env.step(action)
            invalid += bool(info.get("invalid_action"))
            done = terminated or truncated
        view = game.agent_view(seat)
        balance = view["chips"] - view["opponent_chips"]
        chips.append(view["chips"])
        wins += balance > 0
        draws += balance == 0
    chips_arr = np.asarray(chips, dtype=np.float64) / args.num_hands
    return {
        "player": player,
        "opponent": opponent,
        "seat": seat,
        "games": args.eval_games,
        "chips_per_hand": float(chips_arr.mean()),
        "chips_per_hand_stderr": float(chips_arr.std(ddof=1) / math.sqrt(len(chips_arr)))
        if len(chips_arr) > 1
        else 0.0,
        "win_rate": wins / args.eval_games,
        "draw_rate": draws / args.eval_games,
        "invalid_moves": invalid,
    }


def kuhn_strategy(policy: ModulePolicy, args: Args) -> dict[str, dict[str, float]]:
    """The learned strategy of one Kuhn hand: ``"K:check"`` (own card: moves so far) -> move probabilities.

    Read by playing every deal and every betting sequence in a real env, so the policy sees
    exactly the positions of a game.
    """
    env = MaskedNumericAEC(selfplay_gym.make(args.env_id, num_hands=1, payoff=args.payoff))
    game = env.unwrapped
    names = [m.strip("[]") for m in game.move_names]
    strategy: dict[str, dict[str, float]] = {}

    def visit(seed: int, moves: tuple[int, ...]) -> None:
        env.reset(seed=seed)
        for move in moves:
            env.step(move)
        agent = env.agent_selection
        if env.terminations[agent] or env.truncations[agent]:
            return
        obs = env.observe(agent)
        view = game.agent_view(agent)
        legal = np.flatnonzero(obs["action_mask"])
        probs = policy.probabilities(obs["observations"], obs["action_mask"])
        strategy[f"{view['card']}:{','.join(view['bets'])}"] = {
            names[i]: round(float(probs[i]), 3) for i in legal
        }
        for i in legal:
            visit(seed, (*moves, int(i)))

    deals: set[tuple[str, str]] = set()
    for seed in range(1000):  # the six deals turn up within a few dozen seeds
        env.reset(seed=seed)
        deal = (game.agent_view("player_0")["card"], game.agent_view("player_1")["card"])
        if deal not in deals:
            deals.add(deal)
            visit(seed, ())
        if len(deals) == 6:
            break
    return dict(sorted(strategy.items()))


def kuhn_exploitability(policy: ModulePolicy) -> float | None:
    """Exact exploitability of the policy in classic Kuhn Poker (ante 1), if the env module has it."""
    from selfplay_gym.envs.text_games import kuhn_poker

    exploitability = getattr(kuhn_poker, "exploitability", None)
    if exploitability is None:
        return None

    def probabilities(env: Any, agent: str) -> np.ndarray:
        return policy.probabilities(env.state_tensor(agent), env.infos[agent]["action_mask"])

    return float(exploitability(probabilities))


def _print_evaluation(rows: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    print(
        "\nEvaluation (chips per hand of the player in the seat; "
        "reference = the Nash bot in the same seat, same deals)"
    )
    header = f"{'opponent':<8} {'seat':<9} {'player':<10} {'games':>6} {'chips/hand':>14} {'win':>6} {'draw':>6}"
    print(header)
    print("-" * len(header))
    for r in rows:
        chips = f"{r['chips_per_hand']:+.3f}±{r['chips_per_hand_stderr']:.3f}"
        print(
            f"{r['opponent']:<8} {r['seat']:<9} {r['player']:<10} {r['games']:>6} "
            f"{chips:>14} {r['win_rate']:>6.3f} {r['draw_rate']:>6.3f}"
        )
    if summary.get("exploitability") is not None:
        print(f"exploitability of the learned strategy: {summary['exploitability']:.4f}")
    print(
        f"wall {summary['wall_seconds']}s (training {summary['train_wall_seconds']}s), "
        f"driver CPU {summary['driver_cpu_seconds']}s; checkpoint: {summary['checkpoint']}"
    )


# ---- command line -------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> Args:
    """Command-line flags from the fields of :class:`Args` (``--num-env-runners 2``)."""
    from selfplay_gym.baselines._cli import parse_dataclass

    return parse_dataclass(Args, argv, description=__doc__.split("\n", 1)[0])


def main(argv: list[str] | None = None) -> None:
    """Parse flags and train."""
    train(parse_args(argv))


if __name__ == "__main__":
    # Run the imported module, not this __main__ copy, so that Ray and checkpoints refer to
    # the recipe's functions and classes by their importable names.
    from selfplay_gym.baselines.rllib_kuhn import main as _main

    _main()
