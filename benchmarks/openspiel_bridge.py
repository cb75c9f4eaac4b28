#!/usr/bin/env python
"""The OpenSpiel bridge's cost per step, against raw ``pyspiel`` on the same random games.

For each game a set of random games is first recorded through the bridge (every decision and
every chance outcome). Then, timed round-robin so machine noise hits all loops alike:

* **raw** -- ``game.new_initial_state()``, and at every decision ``state.legal_actions()`` plus
  ``state.apply_action(a)`` with the recorded action; chance outcomes applied from the record.
  This is the least any wrapper must do.
* **bridge-numeric** -- ``env.reset(seed)``; each step ``env.last(observe=False)`` and
  ``env.step(a)`` with the recorded action id (what a numeric trainer does; the mask is in info).
* **bridge-text** -- the same with ``env.last()`` (the full prompt is built every step) and the
  move's text name as the action (what a language-model rollout does, minus the model).

Only decisions count as steps (chance outcomes are part of a step). The ratio printed is raw
steps/s over bridge steps/s: how many times slower the bridge is than bare OpenSpiel.

Usage::

    python benchmarks/openspiel_bridge.py            # ~30 s
    python benchmarks/openspiel_bridge.py --quick    # ~5 s
    python benchmarks/openspiel_bridge.py --json results.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import pyspiel  # noqa: E402

import selfplay_gym  # noqa: E402

GAMES = {
    "tic_tac_toe": "selfplay/MarsTicTacToe-v0",
    "kuhn_poker": "selfplay/MarsKuhnPoker-v0",
    "connect_four": "selfplay/MarsConnectFour-v0",
    "leduc_poker": "selfplay/MarsLeducHoldem-v0",
    "hanabi (MiniHanabi)": "selfplay/MarsMiniHanabi-v0",
}

Record = tuple[int, list[tuple[bool, int]]]
"""One recorded game: its reset seed and its history as (is_decision, action) pairs."""


def record(env_id: str, games: int, seed: int) -> list[Record]:
    """Play ``games`` random games through the bridge; keep each seed and full history."""
    env = selfplay_gym.make(env_id, reward_shaping="none")
    rng = random.Random(seed)
    records = []
    for game in range(games):
        env.reset(seed=seed + game)
        decisions = []
        while not (env.terminations[env.agent_selection] or env.truncations[env.agent_selection]):
            action = rng.choice(env.unwrapped._legal_indices(env.agent_selection))
            decisions.append(action)
            env.step(action)
        if env.truncations[env.agent_selection]:
            continue  # the raw loop has no turn limit: keep games that end on their own
        # Rebuild the full history (chance included) from the state the env ended in.
        state = env.unwrapped.state
        history = []
        replay = state.get_game().new_initial_state()
        for action in state.history():
            history.append((not replay.is_chance_node(), action))
            replay.apply_action(action)
        assert [a for d, a in history if d] == decisions
        records.append((seed + game, history))
    return records


def raw_loop(game_string: str, records: list[Record]) -> Callable[[], int]:
    game = pyspiel.load_game(game_string)

    def run() -> int:
        steps = 0
        for _, history in records:
            state = game.new_initial_state()
            for decision, action in history:
                if decision:
                    state.legal_actions()
                    steps += 1
                state.apply_action(action)
        return steps

    return run


def bridge_loop(env_id: str, records: list[Record], text: bool) -> Callable[[], int]:
    env = selfplay_gym.make(env_id, reward_shaping="none")
    names = env.move_names
    plans = [(seed, [a for d, a in history if d]) for seed, history in records]

    def run() -> int:
        steps = 0
        for seed, decisions in plans:
            env.reset(seed=seed)
            for action in decisions:
                if text:
                    env.last()
                    env.step(names[action])
                else:
                    env.last(observe=False)
                    env.step(action)
            steps += len(decisions)
        return steps

    return run


def timed(run: Callable[[], int]) -> float:
    start = time.perf_counter()
    steps = run()
    return steps / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print one table; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=2000, help="recorded games per game")
    parser.add_argument("--repeats", type=int, default=5, help="timed round-robin passes")
    parser.add_argument("--quick", action="store_true", help="300 games, 3 repeats")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write every number to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.games, args.repeats = 300, 3

    results = {}
    print(f"{args.games} recorded random games per game, median of {args.repeats} passes")
    print(
        f"{'game':22} {'raw steps/s':>12} {'numeric':>10} {'text':>10} {'raw/num':>8} {'raw/text':>9}"
    )
    for label, env_id in GAMES.items():
        game_string = selfplay_gym.make(env_id).game_string
        records = record(env_id, args.games, args.seed)
        loops = {
            "raw": raw_loop(game_string, records),
            "numeric": bridge_loop(env_id, records, text=False),
            "text": bridge_loop(env_id, records, text=True),
        }
        samples: dict[str, list[float]] = {k: [] for k in loops}
        for _ in range(args.repeats):
            for name, run in loops.items():
                samples[name].append(timed(run))
        median = {k: statistics.median(v) for k, v in samples.items()}
        results[label] = {
            "env_id": env_id,
            "games": len(records),
            "steps_per_second": median,
            "raw_over_numeric": median["raw"] / median["numeric"],
            "raw_over_text": median["raw"] / median["text"],
        }
        print(
            f"{label:22} {median['raw']:12,.0f} {median['numeric']:10,.0f} {median['text']:10,.0f} "
            f"{median['raw'] / median['numeric']:7.1f}x {median['raw'] / median['text']:8.1f}x"
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
