"""MaskablePPO self-play on the numeric view of a finite game, against a league of its past selves.

One policy learns both seats of TicTacToe or of one-hand Kuhn Poker (``learner="any"``: the
view draws the learner's seat every episode). The other seat is played by an opponent drawn
from a :class:`~selfplay_gym.league.League` that holds the random bot and frozen snapshots of
the learner, one added every ``snapshot_every`` PPO updates (the newest ``max_snapshots`` kept);
the league draws uniformly among them (fictitious self-play over a window of recent selves).

At the end the recipe prints the league table, plays the deterministic policy against the
random bot and the game's strong bot (perfect minimax in TicTacToe, a Nash strategy in Kuhn
Poker) in both seats, and, for Kuhn Poker, computes the exact exploitability of the learned
(stochastic) policy in chips per hand.

Run::

    python -m selfplay_gym.baselines.sb3_numeric --env tictactoe
    python -m selfplay_gym.baselines.sb3_numeric --env kuhn --json kuhn.json

Needs ``pip install "selfplay-gym[sb3]"`` (stable-baselines3, sb3-contrib, torch).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium
import numpy as np
import torch
from sb3_contrib import MaskablePPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env

import selfplay_gym  # noqa: F401  (registers the ids)
from selfplay_gym.core.bots import Bot
from selfplay_gym.league import League

__all__ = ["Args", "Game", "GAMES", "PolicyBot", "LeagueSnapshots", "evaluate", "main", "train"]


@dataclass(frozen=True)
class Game:
    """A game the recipe trains on, with the budget that reaches its targets."""

    env_id: str
    """The registered id."""
    env_kwargs: dict[str, Any]
    """Keywords of the multi-agent env."""
    total_timesteps: int
    """Default learner steps of training."""
    ent_coef: float
    """Default entropy bonus."""


GAMES = {
    "tictactoe": Game("selfplay/TicTacToe-v0", {}, total_timesteps=500_000, ent_coef=0.01),
    # One hand, paid in net chips: the classic game, in which exploitability is defined.
    "kuhn": Game(
        "selfplay/KuhnPoker-v0",
        {"num_hands": 1, "payoff": "chips", "ante": 1},
        total_timesteps=200_000,
        ent_coef=0.01,
    ),
}
"""The games of ``--env``."""


@dataclass
class Args:
    """Arguments of the recipe (each is a command-line flag: ``--snapshot-every 5``)."""

    env: str = "tictactoe"
    """The game: ``tictactoe`` or ``kuhn``."""
    seed: int = 0
    """Seeds PPO, the envs, the league and the evaluation: a seeded run replays exactly."""
    total_timesteps: int | None = None
    """Learner steps of training; ``None``: the game's default."""
    n_envs: int = 8
    """Envs stepped together (in this process)."""
    n_steps: int = 256
    """Steps per env per PPO update."""
    batch_size: int = 512
    """Minibatch size of the PPO update."""
    n_epochs: int = 10
    """Passes over each rollout."""
    learning_rate: float = 1e-3
    """Adam step size (decays linearly to 0 over training)."""
    gamma: float = 1.0
    """Discount: the games are short and only the end pays, so none."""
    ent_coef: float | None = None
    """Entropy bonus; ``None``: the game's default."""
    net_arch: tuple[int, ...] = (128, 128)
    """Hidden layers of the policy and the value networks."""
    snapshot_every: int = 2
    """Add a frozen snapshot of the learner to the league every this many PPO updates."""
    max_snapshots: int = 10
    """Snapshots kept in the league (the oldest leave first)."""
    league_rule: str = "uniform"
    """How the league draws opponents: ``uniform``, ``prioritized`` or ``latest``. Uniform by
    default: with one noisy result per game, ``prioritized`` starved snapshots whose first
    one or two games the learner happened to win (win rate 1, weight 0, never drawn again)."""
    league_window: int = 200
    """Win rates in the league count each entry's last this many games."""
    eval_games: int = 200
    """Evaluation games per opponent and per seat."""
    json: str | None = None
    """Write a JSON summary (evaluation, exploitability, league, timings) to this path."""
    save: str | None = None
    """Save the trained model to this path (a ``.zip``)."""
    verbose: int = 0
    """SB3 verbosity (0 silent, 1 training tables)."""

    @property
    def game(self) -> Game:
        """The :class:`Game` of :attr:`env`."""
        if self.env not in GAMES:
            raise ValueError(f"expected --env in {sorted(GAMES)}, got {self.env!r}")
        return GAMES[self.env]


class PolicyBot(Bot):
    """The actor of a MaskablePPO policy as a :class:`~selfplay_gym.core.bots.Bot`.

    It reads ``env.state_tensor(agent)`` and the legal-move mask of ``env.infos[agent]``, and
    plays the most likely legal move (``deterministic``) or samples one with the bot's own
    generator (never torch's global one), so a game re-seeded by the view or the arena replays.
    :meth:`snapshot` gives a frozen copy, which is what :meth:`League.add_snapshot
    <selfplay_gym.league.League.add_snapshot>` stores.

    Args:
        policy: The ``model.policy`` of a ``MaskablePPO``; the bot plays its actor modules as
            they are (it follows training until :meth:`snapshot` freezes a copy).
        deterministic: Play the most likely legal move instead of sampling.
        seed: Seed of the bot's generator.
    """

    name = "policy"

    def __init__(self, policy: Any, deterministic: bool = False, seed: int | None = None):
        super().__init__(seed)
        # Observation -> move logits: the modules MaskableActorCriticPolicy runs for its actor.
        self.actor = torch.nn.Sequential(
            policy.pi_features_extractor, policy.mlp_extractor.policy_net, policy.action_net
        )
        self.deterministic = deterministic

    def snapshot(self) -> PolicyBot:
        """A bot playing a frozen copy of the actor as it is now (later training leaves it)."""
        frozen = copy.copy(self)
        frozen.actor = copy.deepcopy(self.actor).requires_grad_(False).eval()
        frozen.reset()
        return frozen

    def probabilities(self, env: Any, agent: str) -> np.ndarray:
        """The policy's probability of each of ``env.move_names`` (zero on illegal moves)."""
        mask = np.asarray(env.infos[agent]["action_mask"], dtype=bool)
        with torch.no_grad():
            logits = self.actor(torch.as_tensor(env.state_tensor(agent)).unsqueeze(0))
        logits = logits[0].double().numpy()
        logits[~mask] = -np.inf
        p = np.exp(logits - logits.max())
        return p / p.sum()

    def act(self, env: Any, agent: str) -> int:
        """The index of the chosen legal move."""
        p = self.probabilities(env, agent)
        if self.deterministic:
            return int(np.argmax(p))
        r = self.rng.random()
        legal = np.flatnonzero(p > 0)
        for move in legal:
            r -= p[move]
            if r < 0:
                return int(move)
        return int(legal[-1])  # r was within rounding of 1

    def __call__(self, env: Any, agent: str) -> np.ndarray:
        """Same as :meth:`probabilities`: the ``policy(env, agent)`` form of exploitability."""
        return self.probabilities(env, agent)


class LeagueSnapshots(BaseCallback):
    """Adds a frozen snapshot of the learner to ``league`` every ``every`` PPO updates.

    Args:
        league: The league the training envs draw their opponents from.
        every: PPO updates between snapshots.
        measure: Optional ``measure(bot) -> float`` of each new snapshot (Kuhn Poker: its
            exploitability), printed and kept in :attr:`history`.
    """

    def __init__(
        self, league: League, every: int, measure: Callable[[PolicyBot], float] | None = None
    ):
        super().__init__()
        self.league = league
        self.every = every
        self.measure = measure
        self.updates = 0
        self.history: list[tuple[int, float]] = []
        """(timesteps, measure) at each snapshot."""

    def _on_rollout_start(self) -> None:
        # Called before each rollout, i.e. after each update but the first rollout.
        if self.updates and self.updates % self.every == 0:
            name = f"snapshot@{self.num_timesteps}"
            entry = self.league.add_snapshot(PolicyBot(self.model.policy), name=name)
            if self.measure is not None:
                self.history.append((self.num_timesteps, self.measure(entry.source)))
                print(f"{name}: {self.history[-1][1]:.4f}", flush=True)

    def _on_rollout_end(self) -> None:
        self.updates += 1

    def _on_step(self) -> bool:
        return True


@dataclass
class SeatResult:
    """The learner's results in one seat against one opponent."""

    opponent: str
    """The opponent's bot name."""
    seat: str
    """The learner's seat."""
    games: int = 0
    """Games played."""
    wins: int = 0
    """Games with a positive return."""
    draws: int = 0
    """Games with a zero return."""
    losses: int = 0
    """Games with a negative return."""
    total_reward: float = 0.0
    """Summed returns (chips, in Kuhn Poker)."""

    @property
    def mean_reward(self) -> float:
        """Return per game."""
        return self.total_reward / self.games if self.games else 0.0


def evaluate(
    model: MaskablePPO,
    game: Game,
    opponent: str,
    seat: str,
    games: int,
    seed: int,
    deterministic: bool = True,
) -> SeatResult:
    """Play ``games`` seeded games of ``model`` in ``seat`` against the bot named ``opponent``.

    Game ``g`` resets the numeric view with ``seed + g`` (the view re-seeds the bot from it), so
    the evaluation replays. The arena's ``play_match`` would do the same, but it builds the
    id's default env and so cannot play one-hand, chips-paid Kuhn Poker.
    """
    env = gymnasium.make(
        game.env_id, numeric=True, learner=seat, opponent=opponent, **game.env_kwargs
    )
    result = SeatResult(opponent=opponent, seat=seat)
    for g in range(games):
        obs, _ = env.reset(seed=seed + g)
        total, done = 0.0, False
        while not done:
            action, _ = model.predict(
                obs, action_masks=env.unwrapped.action_masks(), deterministic=deterministic
            )
            obs, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            done = terminated or truncated
        result.games += 1
        result.total_reward += total
        result.wins += total > 0
        result.draws += total == 0
        result.losses += total < 0
    env.close()
    return result


def train(args: Args) -> dict[str, Any]:
    """Train by self-play against the league, evaluate, and return the summary."""
    torch.set_num_threads(1)
    game = args.game
    wall, cpu = time.perf_counter(), time.process_time()
    league = League(
        rule=args.league_rule,
        env_id=game.env_id,
        window=args.league_window,
        max_snapshots=args.max_snapshots,
        seed=args.seed,
    )
    league.add("random", "random")
    vec = make_vec_env(
        lambda: gymnasium.make(
            game.env_id, numeric=True, learner="any", opponent=league, **game.env_kwargs
        ),
        n_envs=args.n_envs,
        seed=args.seed,
    )
    total_timesteps = args.total_timesteps or game.total_timesteps
    model = MaskablePPO(
        "MlpPolicy",
        vec,
        n_steps=args.n_steps,
        batch_size=args.batch_size,
        n_epochs=args.n_epochs,
        learning_rate=lambda remaining: args.learning_rate * remaining,
        gamma=args.gamma,
        ent_coef=game.ent_coef if args.ent_coef is None else args.ent_coef,
        policy_kwargs={"net_arch": list(args.net_arch)},
        seed=args.seed,
        device="cpu",
        verbose=args.verbose,
    )
    measure = None
    if args.env == "kuhn":
        from selfplay_gym.envs.text_games.kuhn_poker import exploitability as kuhn_exploitability

        def measure(bot: PolicyBot) -> float:
            return kuhn_exploitability(bot, **_kuhn_position(game))

    snapshots = LeagueSnapshots(league, args.snapshot_every, measure)
    model.learn(total_timesteps, callback=snapshots)
    train_wall, train_cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(league.table())
    if args.save:
        model.save(args.save)

    evaluation = []
    seats = ("player_0", "player_1")
    for opponent in ("random", "strong"):
        for i, seat in enumerate(seats):
            evaluation.append(
                evaluate(model, game, opponent, seat, args.eval_games, seed=10**6 * (i + 1))
            )
    print(
        f"\n{game.env_id} {game.env_kwargs or ''}: deterministic policy, {args.eval_games} games each"
    )
    print(f"  {'opponent':<8} {'seat':<9} {'W':>4} {'D':>4} {'L':>4} {'mean reward':>12}")
    for r in evaluation:
        print(
            f"  {r.opponent:<8} {r.seat:<9} {r.wins:>4} {r.draws:>4} {r.losses:>4} {r.mean_reward:>+12.3f}"
        )

    exploitability = None
    if measure is not None:
        exploitability = measure(PolicyBot(model.policy))
        print(f"\nexploitability of the learned policy: {exploitability:.4f} chips per hand")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"\n{model.num_timesteps} training steps in {train_wall:.0f} s wall, {train_cpu:.0f} s CPU; "
        f"total {wall:.0f} s wall, {cpu:.0f} s CPU"
    )
    summary = {
        "env_id": game.env_id,
        "env_kwargs": game.env_kwargs,
        "args": dataclasses.asdict(args),
        "timesteps": model.num_timesteps,
        "train_wall_seconds": train_wall,
        "train_cpu_seconds": train_cpu,
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "evaluation": [{**dataclasses.asdict(r), "mean_reward": r.mean_reward} for r in evaluation],
        "exploitability": exploitability,
        "exploitability_of_snapshots": snapshots.history,
        "league": [
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
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)
    return summary


def _kuhn_position(game: Game) -> dict[str, int]:
    """The exploitability keywords matching the training env's ante and opener."""
    kwargs = game.env_kwargs
    return {"ante": kwargs.get("ante", 1), "first_opener": kwargs.get("first_opener", 1)}


def parse_args(argv: list[str] | None = None) -> Args:
    """:class:`Args` from the command line: one flag per field, its docstring as help."""
    import ast
    import inspect

    # Field docstrings are the string literals right after each field in the class body.
    tree = ast.parse(inspect.getsource(Args))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs = {
        node.target.id: nxt.value.value
        for node, nxt in zip(body, body[1:], strict=False)
        if isinstance(node, ast.AnnAssign) and isinstance(nxt, ast.Expr)
    }
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for f in dataclasses.fields(Args):
        flag = "--" + f.name.replace("_", "-")
        help_text = docs.get(f.name, "")
        if f.name == "net_arch":
            parser.add_argument(flag, type=int, nargs="+", default=f.default, help=help_text)
        elif f.name == "env":
            parser.add_argument(flag, choices=sorted(GAMES), default=f.default, help=help_text)
        else:
            kind = {"int": int, "float": float, "str": str}[str(f.type).split(" ")[0]]
            parser.add_argument(flag, type=kind, default=f.default, help=help_text)
    values = vars(parser.parse_args(argv))
    values["net_arch"] = tuple(values["net_arch"])
    return Args(**values)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the recipe with command-line arguments."""
    return train(parse_args(argv))


if __name__ == "__main__":
    main()
