"""Batched rollouts with the tiny local model on CPU: where the time goes, and what batching buys.

For each bundled text game, one language-model policy plays every seat of ``--envs`` games at
once through :class:`selfplay_gym.rollout.RolloutEngine` (an invalid move costs a penalty and
the game goes on, up to 24 turns, so an untrained model still plays whole games). The script prints, side by side:

(a) the share of the rollout's wall time spent outside generation (envs, prompts, records);
(b) the rollout's generated tokens per second against the backend's own batched ``generate``
    replayed on exactly the same batches of prompts, and the ratio of the two;
(c) the same episodes played one env at a time (batch 1) against the batched rollout.

Run: ``make bench`` or ``python benchmarks/rollout.py [--envs 32] [--episodes 32]``.
Generation dominates: the tiny model is the cheapest policy there is, so (a) is an upper bound
of the engine's share for any real model.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

from selfplay_gym.llm import LLMPolicy, SamplingParams  # noqa: E402
from selfplay_gym.llm.tiny import build_tiny_model  # noqa: E402
from selfplay_gym.llm.transformers_backend import TransformersBackend  # noqa: E402
from selfplay_gym.rollout import RolloutEngine  # noqa: E402

GAMES = ["selfplay/TicTacToe-v0", "selfplay/KuhnPoker-v0", "selfplay/SimpleNegotiation-v0"]


class RecordingPolicy(LLMPolicy):
    """An LLMPolicy that keeps every batch it was asked for, to replay it raw later."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.batches = []

    def generate(self, observations, infos=None, sampling=None):
        self.batches.append((list(observations), list(infos or [])))
        return super().generate(observations, infos, sampling)


def rollout(env_id, backend, sampling, envs, episodes, seed):
    policy = RecordingPolicy(backend, sampling=sampling, name="tiny")
    engine = RolloutEngine(
        env_id,
        policy,
        num_envs=envs,
        seed=seed,
        env_kwargs={"invalid_move": "penalize", "max_turns": 24},
        keep_records=False,
    )
    stats = engine.run(episodes)
    engine.close()
    return stats, policy


def replay_raw(backend, policy, sampling):
    """The backend's own batched generate on the rollout's batches: (seconds, tokens)."""
    seconds = 0.0
    tokens = 0
    for observations, infos in policy.batches:
        prompts = policy.prompts(observations, infos)
        t0 = time.perf_counter()
        generations = backend.generate(prompts, sampling)
        seconds += time.perf_counter() - t0
        tokens += sum(g.num_tokens for g in generations)
    return seconds, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", type=int, default=32, help="games in flight (batch size)")
    parser.add_argument("--episodes", type=int, default=32, help="episodes per game")
    parser.add_argument("--single-episodes", type=int, default=4, help="episodes at batch 1")
    parser.add_argument("--new-tokens", type=int, default=16, help="tokens generated per move")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default=None, help="model directory (default: the tiny model)")
    args = parser.parse_args()

    torch.set_num_threads(1)
    path = args.model or build_tiny_model(os.path.join(tempfile.gettempdir(), "selfplay-gym-tiny"))
    backend = TransformersBackend(path, threads=1, max_batch_size=args.envs, seed=args.seed)
    sampling = SamplingParams(max_new_tokens=args.new_tokens, temperature=1.0, logprobs=True)
    n_params = sum(p.numel() for p in backend.model.parameters())
    print(
        f"model {path} ({n_params / 1e3:.0f} k parameters), {args.new_tokens} new tokens per move, "
        f"torch threads {torch.get_num_threads()}, {os.cpu_count()} CPUs"
    )
    # Warm-up: the first calls pay for lazy initialisation.
    rollout(GAMES[0], backend, sampling, 4, 4, args.seed)

    header = (
        f"{'game':<30} {'moves':>6} {'(a) outside gen':>15} {'rollout tok/s':>13} "
        f"{'raw tok/s':>9} {'(b) ratio':>9} {'B=1 ep/s':>8} {'B=N ep/s':>8} {'(c) speedup':>11}"
    )
    print(header)
    print("-" * len(header))
    totals = {"wall": 0.0, "gen": 0.0}
    for env_id in GAMES:
        stats, policy = rollout(env_id, backend, sampling, args.envs, args.episodes, args.seed)
        raw_seconds, raw_tokens = replay_raw(backend, policy, sampling)
        single, _ = rollout(env_id, backend, sampling, 1, args.single_episodes, args.seed)
        totals["wall"] += stats.wall_seconds
        totals["gen"] += stats.policy_seconds
        rollout_tps = stats.tokens / stats.wall_seconds
        raw_tps = raw_tokens / raw_seconds
        print(
            f"{env_id:<30} {stats.model_steps:>6} {stats.overhead_share:>15.2%} "
            f"{rollout_tps:>13.0f} {raw_tps:>9.0f} {rollout_tps / raw_tps:>9.3f} "
            f"{single.episodes_per_second:>8.3f} {stats.episodes_per_second:>8.3f} "
            f"{stats.episodes_per_second / single.episodes_per_second:>10.1f}x"
        )
    share = 1 - totals["gen"] / totals["wall"]
    print(
        f"\n(a) over the three games at batch {args.envs}: {share:.2%} of wall time outside generation"
    )


if __name__ == "__main__":
    main()
