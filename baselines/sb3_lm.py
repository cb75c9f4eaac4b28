"""Self-play PPO on a language model with Stable-Baselines3: the LM's move likelihoods are the policy.

The recipe of ``make demo``. One causal LM (the tiny local GPT-2 by default) learns TicTacToe
by self-play:

1. the single-agent view puts the learner in a random seat each game (``learner="any"``) and
   draws the other seat from a :class:`~selfplay_gym.league.League` holding the random bot and
   frozen snapshots of the learner (one added every ``snapshot_every`` PPO updates);
2. :class:`~selfplay_gym.wrappers.TokenView` turns each prompt into token arrays;
3. SB3's ``PPO`` trains :class:`~selfplay_gym.baselines.sb3_lm_policy.LMActorCriticPolicy`: the
   action distribution is the softmax of the LM's log-likelihood of each legal move, the value
   a head on its last hidden state; the LM's weights are updated;
4. before and after, the model is saved as a Hugging Face directory, loaded back, and plays
   the random and the perfect bot in both seats, many games at once through the batched scorer
   (the distribution of an ``hf:`` policy in score mode), both as trained (a move sampled from
   the softmax of its likelihoods at the policy's temperature) and greedy (the likeliest move);
   the same two evaluations against random every ``eval_every`` updates draw the learning curve.

Run::

    python -m selfplay_gym.baselines.sb3_lm                       # the demo's settings
    python -m selfplay_gym.baselines.sb3_lm --model PATH --total-timesteps 50000

It writes ``OUT/curve.png``, ``OUT/summary.json`` and the trained model as a Hugging Face
directory ``OUT/model`` (``hf:OUT/model`` plays it anywhere a policy is accepted).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Args", "train", "evaluate", "main"]


@dataclass
class Args:
    """Arguments of the recipe (each is a ``--flag`` of the command line)."""

    model: str = ""
    """A causal LM directory; empty builds the tiny local GPT-2 (no download)."""
    env_id: str = "selfplay/TicTacToe-v0"
    """A game with a finite move set."""
    out: str = "runs/sb3_lm"
    """Output directory."""
    total_timesteps: int = 6144
    """Learner moves to train on."""
    n_envs: int = 8
    """Games played side by side (one batched LM call per step of all of them)."""
    n_steps: int = 64
    """Moves per env per PPO update (a rollout is ``n_envs * n_steps`` moves)."""
    batch_size: int = 64
    """PPO minibatch size."""
    n_epochs: int = 4
    """PPO epochs per update."""
    learning_rate: float = 1e-3
    """Adam step size (the tiny model is small and starts from random weights)."""
    gamma: float = 1.0
    """Discount (1: every move of a game is paid the game's result)."""
    gae_lambda: float = 0.95
    """GAE lambda."""
    ent_coef: float = 0.0
    """Entropy bonus."""
    clip_range: float = 0.2
    """PPO clip range."""
    temperature: float = 0.25
    """Divides the LM's log-likelihoods in the policy's softmax (below 1: the same change of the
    weights moves the policy further, which is what an untrained model with near-equal move
    likelihoods needs; the evaluation's sampled mode plays at 1/temperature sharper odds too)."""
    detach_value: bool = False
    """Keep the value loss's gradient out of the LM (the value head still trains)."""
    history_lines: int | None = None
    """Newest lines of the move history kept in the prompt (``None``: all, the env's default;
    ``0``: none, the prompt is the rules and the board, so every board sits at the same
    token positions)."""
    system_prompt: str | None = None
    """A template replacing the game's rules in the prompt (the env's ``system_prompt``, e.g.
    ``"Tic-tac-toe. You play {mark}."``); ``None``: the game's rules."""
    max_prompt_tokens: int = 384
    """Width of the token view (longer prompts keep their newest tokens; they are counted)."""
    league_rule: str = "uniform"
    """How the opponent is drawn each game: ``uniform``, ``prioritized`` or ``latest``."""
    snapshot_every: int = 2
    """PPO updates between snapshots of the learner added to the league."""
    max_snapshots: int = 3
    """Snapshots kept in the league (the oldest leaves first)."""
    eval_games: int = 100
    """Games per opponent and seat in the before/after tables."""
    curve_games: int = 100
    """Games against random (both seats) at each point of the learning curve."""
    eval_every: int = 2
    """PPO updates between points of the learning curve."""
    seed: int = 0
    """Seed of the envs, the league, the bots and torch."""
    threads: int = 1
    """Torch threads (1 is fastest on a busy 2-core machine)."""
    progress: bool = True
    """Show progress bars."""


# ---- evaluation ---------------------------------------------------------------------------
def _table(title: str, rows: list[dict[str, Any]]) -> str:
    from selfplay_gym.core.tables import format_table

    header = ("opponent", "seat", "games", "W", "D", "L", "win rate")
    lines = []
    for row in rows:
        for seat, t in row["seats"].items():
            n = t["wins"] + t["draws"] + t["losses"]
            lines.append(
                (
                    row["opponent"],
                    seat,
                    str(n),
                    str(t["wins"]),
                    str(t["draws"]),
                    str(t["losses"]),
                    f"{t['wins'] / n:.1%}",
                )
            )
        lines.append(
            (
                row["opponent"],
                "both",
                str(row["games"]),
                str(row["wins"]),
                str(row["draws"]),
                str(row["losses"]),
                f"{row['win_rate']:.1%}",
            )
        )
    return format_table(title, header, lines)


def evaluate(
    env_id: str,
    policy: Any,
    opponent: str,
    games: int,
    seed: int,
    num_envs: int = 64,
    env_kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``policy`` (batched, with ``act``) against ``opponent`` for ``games`` games in each seat.

    The rollout engine plays up to ``num_envs`` games at once, so each of the policy's moves
    is one batched call. A game is a win if the policy's return is positive, a loss if
    negative. Returns W/D/L overall and per seat (``seats``), the win rate and the invalid moves.
    """
    from selfplay_gym.rollout import RolloutEngine

    def seat_of(agent: str, role: str, episode: int) -> str:
        learner = "player_0" if episode % 2 == 0 else "player_1"
        return "lm" if agent == learner else "opponent"

    engine = RolloutEngine(
        env_id,
        {"lm": policy, "opponent": opponent},
        num_envs=min(num_envs, 2 * games),
        mapping=seat_of,
        seed=seed,
        env_kwargs=env_kwargs,
    )
    engine.run(2 * games)
    seats: dict[str, dict[str, int]] = {}
    invalid = 0
    for record in engine.records:
        if record["type"] != "episode":
            continue
        for agent, name in record["policies"].items():
            if name != "lm":
                continue
            ret = record["returns"][agent]
            tally = seats.setdefault(agent, {"wins": 0, "draws": 0, "losses": 0})
            tally["wins" if ret > 0 else "losses" if ret < 0 else "draws"] += 1
            invalid += record["invalid"].get(agent, 0)
    engine.close()
    total = {k: sum(t[k] for t in seats.values()) for k in ("wins", "draws", "losses")}
    played = sum(total.values())
    return {
        "opponent": opponent,
        "games": played,
        **total,
        "win_rate": total["wins"] / played,
        "invalid_moves": invalid,
        "seats": dict(sorted(seats.items())),
    }


def _env_kwargs(args: Args) -> dict[str, Any]:
    """Keywords of the game's env (training and evaluation play the same prompts)."""
    kwargs = {"history_lines": args.history_lines, "system_prompt": args.system_prompt}
    return {k: v for k, v in kwargs.items() if v is not None}


MODES = ("sampled", "greedy")
"""The two ways the model is evaluated: its PPO policy (moves sampled at the policy's
temperature), and its likeliest move."""


def _evaluate_model(
    path: str, view: Any, args: Args, label: str
) -> dict[str, list[dict[str, Any]]]:
    """The saved model at ``path``, in both modes, against random and the perfect bot.

    The model is loaded back from its Hugging Face directory and plays through the batched
    scorer (:class:`LMBatchPolicy`), which gives the ``hf:`` policy's distribution in score
    mode (the trainer tests check the two agree); prints a table per mode.
    """
    from selfplay_gym.baselines.sb3_lm_policy import LMBatchPolicy

    tables = {}
    for mode in MODES:
        player = LMBatchPolicy.from_pretrained(
            path, view, temperature=args.temperature, greedy=mode == "greedy", seed=args.seed
        )
        print(f"evaluating the {label} model, {mode} ({4 * args.eval_games} games) ...")
        tables[mode] = [
            evaluate(
                args.env_id, player, opp, args.eval_games, 10_000, env_kwargs=_env_kwargs(args)
            )
            for opp in ("random", "strong")
        ]
        print(_table(f"{label} model, {mode} moves", tables[mode]))
    return tables


def _plot(curve: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    xs = [p["timesteps"] for p in curve]
    for mode, style in (("sampled", "o-"), ("greedy", "s-")):
        ax.plot(xs, [100 * p[mode] for p in curve], style, label=f"{mode} moves vs random")
    train = [p for p in curve if p.get("train_win_rate") is not None]
    if train:
        ax.plot(
            [p["timesteps"] for p in train],
            [100 * p["train_win_rate"] for p in train],
            "^:",
            alpha=0.6,
            label="training games vs random (last 100)",
        )
    ax.set_xlabel("learner moves trained on")
    ax.set_ylabel("win rate against random (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# ---- training -----------------------------------------------------------------------------
def train(args: Args) -> dict[str, Any]:
    """Run the recipe; return the summary also written to ``OUT/summary.json``."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor

    import selfplay_gym
    from selfplay_gym.baselines.sb3_lm_policy import (
        LMActorCriticPolicy,
        LMBatchPolicy,
    )
    from selfplay_gym.league import League
    from selfplay_gym.wrappers import TokenView

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    cpu_started = time.process_time()

    model_path = args.model
    if not model_path:
        from selfplay_gym.llm.tiny import build_tiny_model

        model_path = str(build_tiny_model())
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # weight loading and saving bars: noise between the tables
    tokenizer = AutoTokenizer.from_pretrained(model_path)

    league = League(
        rule=args.league_rule,
        max_snapshots=args.max_snapshots,
        env_id=args.env_id,
        seed=args.seed,
    )
    league.add("random", "random")

    def make_env(rank: int):
        def thunk():
            view = selfplay_gym.make_single_agent(
                args.env_id, learner="any", opponent=league, **_env_kwargs(args)
            )
            env = TokenView(view, tokenizer, max_prompt_tokens=args.max_prompt_tokens)
            env.reset(seed=args.seed * 1000 + rank)
            return env

        return thunk

    envs = DummyVecEnv([make_env(i) for i in range(args.n_envs)])
    envs.seed(args.seed)
    token_view = envs.envs[0]
    vec = VecMonitor(envs)  # info["episode"]["r"]: the learner's return of each finished game
    model = PPO(
        LMActorCriticPolicy,
        vec,
        n_steps=args.n_steps,
        batch_size=args.batch_size,
        n_epochs=args.n_epochs,
        learning_rate=args.learning_rate,
        gamma=args.gamma,
        gae_lambda=args.gae_lambda,
        ent_coef=args.ent_coef,
        clip_range=args.clip_range,
        seed=args.seed,
        device="cpu",
        policy_kwargs={
            "model_path": model_path,
            "candidate_ids": token_view.candidate_ids,
            "temperature": args.temperature,
            "detach_value": args.detach_value,
        },
        verbose=0,
    )
    policy: LMActorCriticPolicy = model.policy

    # Before: the untrained model, saved and loaded back as a Hugging Face directory.
    initial = out / "initial_model"
    policy.save_lm(initial, tokenizer)
    before = _evaluate_model(str(initial), token_view, args, "untrained")

    curve: list[dict[str, Any]] = []
    train_results: list[float] = []
    truncated_prompts = [0]

    class Curve(BaseCallback):
        """Snapshots into the league, training-game results, and greedy curve points."""

        def __init__(self) -> None:
            super().__init__()
            self.updates = 0

        def _on_step(self) -> bool:
            for info, done in zip(self.locals["infos"], self.locals["dones"], strict=True):
                truncated_prompts[0] += bool(info.get("prompt_truncated"))
                if done and info.get("opponent") == "random":
                    train_results.append(float(np.sign(info["episode"]["r"])))
            return True

        def _on_rollout_end(self) -> None:
            self.updates += 1
            if self.updates % args.snapshot_every == 0:
                league.add_snapshot(_Snapshotter(policy, token_view))
            if self.updates % args.eval_every == 0:
                _curve_point(self.num_timesteps)

    def _curve_point(timesteps: int) -> None:
        point: dict[str, Any] = {"timesteps": int(timesteps)}
        for mode in MODES:
            batch_policy = LMBatchPolicy.from_policy(
                policy, token_view, greedy=mode == "greedy", seed=args.seed
            )
            games = args.curve_games // 2
            point[mode] = evaluate(
                args.env_id,
                batch_policy,
                "random",
                games,
                seed=20_000,
                env_kwargs=_env_kwargs(args),
            )["win_rate"]
        recent = train_results[-100:]
        point["train_win_rate"] = (sum(r > 0 for r in recent) / len(recent)) if recent else None
        point["minutes"] = (time.perf_counter() - started) / 60
        curve.append(point)
        print(
            f"  {timesteps:>7} moves  win rate vs random: sampled {point['sampled']:.0%}, "
            f"greedy {point['greedy']:.0%}  ({point['minutes']:.1f} min)",
            flush=True,
        )

    _curve_point(0)
    model.learn(total_timesteps=args.total_timesteps, callback=Curve(), progress_bar=args.progress)
    if not curve or curve[-1]["timesteps"] != model.num_timesteps:
        _curve_point(model.num_timesteps)

    final = out / "model"
    policy.save_lm(final, tokenizer)
    after = _evaluate_model(str(final), token_view, args, "trained")
    print(league.table())

    gains = {m: after[m][0]["win_rate"] - before[m][0]["win_rate"] for m in MODES}
    _plot(curve, out / "curve.png", f"{args.env_id}: SB3 PPO on the LM's move likelihoods")
    summary = {
        "args": dataclasses.asdict(args),
        "model": model_path,
        "before": before,
        "after": after,
        "win_rate_gain_vs_random": gains,
        "curve": curve,
        "timesteps": int(model.num_timesteps),
        "truncated_prompts": truncated_prompts[0],
        "league": [
            {"name": e.name, "kind": e.kind, "games": e.games, "win_rate": e.win_rate}
            for e in league
        ],
        "wall_seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu_started,
        "outputs": {"curve": str(out / "curve.png"), "model": str(final)},
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    for mode in MODES:
        b, a = before[mode][0]["win_rate"], after[mode][0]["win_rate"]
        print(
            f"win rate against random, {mode} moves: {b:.0%} -> {a:.0%} ({100 * (a - b):+.0f} points)"
        )
    print(f"{summary['wall_seconds'] / 60:.1f} min; curve: {out / 'curve.png'}; model: hf:{final}")
    return summary


class _Snapshotter:
    """What :meth:`League.add_snapshot` copies: its ``snapshot()`` freezes the learner's LM.

    Snapshots sample their moves, so the learner meets varied play.
    """

    def __init__(self, policy: Any, view: Any):
        self._policy, self._view = policy, view

    def snapshot(self) -> Any:
        from selfplay_gym.baselines.sb3_lm_policy import LMSnapshotBot

        return LMSnapshotBot(self._policy, self._view)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Command line: one ``--flag`` per field of :class:`Args`."""
    from selfplay_gym.baselines._cli import parse_dataclass

    args = parse_dataclass(Args, argv, description=__doc__.split("\n\n")[0])
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return train(args)


if __name__ == "__main__":
    main()
