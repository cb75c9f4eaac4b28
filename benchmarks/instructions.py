#!/usr/bin/env python
"""Instructions per step, counted by valgrind, for our text games and TextArena's.

Wall-clock rates on a shared 2-core machine move by +-30 % from run to run (see
``benchmarks/README.md``); instruction counts do not. This script runs the same loops as
``text_games.py`` (random legal play; our env reused with ``reset(seed=i)``; TextArena with a fresh
``ta.make`` per game and the agent parsing the move list out of the text) under
``valgrind --tool=callgrind`` twice, with a small and a large number of games, and divides the
difference in instructions by the difference in acting steps, so start-up and imports cancel
out. Fewer instructions per step is the machine-independent form of "faster".

Usage::

    python benchmarks/instructions.py            # ~3 min; needs valgrind (apt-get install valgrind)
    python benchmarks/instructions.py --games 200 800
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Our game -> the TextArena id it is compared with.
PAIRS = {
    "TicTacToe": "TicTacToe-v0",
    "KuhnPoker": "KuhnPoker-v0-short",
    "SimpleNegotiation": "SimpleNegotiation-v0",
}


def child(workload: str, games: int) -> None:
    """Play ``games`` games of ``workload`` (``ours:<Game>`` or ``ta:<id>``); print the steps."""
    sys.path.insert(0, str(HERE))
    import text_games as tg

    rng = random.Random(0)
    kind, name = workload.split(":", 1)
    steps = 0
    if kind == "ours":
        import selfplay_gym

        env = selfplay_gym.make(f"selfplay/{name}-v0")
        for seed in range(games):
            steps += tg.play_ours_text(env, rng, seed)[0]
    else:
        import textarena as ta

        game = name.split("-")[0]
        agent = (
            tg.ta_negotiation_agent
            if game == "SimpleNegotiation"
            else tg.ta_list_agent(tg._TA_MOVE_MARKERS[game])
        )
        counters = {"invalid_games": 0}
        for _ in range(games):
            steps += tg.play_textarena(ta, name, agent, rng, counters)
    print(f"steps {steps}")


def count(workload: str, games: int) -> tuple[int, int]:
    """(instructions, steps) of one child run under callgrind."""
    env = {**os.environ, "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            __file__,
            "--child",
            workload,
            str(games),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    steps = re.search(r"^steps (\d+)", proc.stdout, re.M)
    collected = re.search(r"Collected : (\d+)", proc.stderr)
    if proc.returncode != 0 or not steps or not collected:
        raise RuntimeError(f"{workload}: valgrind run failed:\n{proc.stderr[-2000:]}")
    return int(collected.group(1)), int(steps.group(1))


def per_step(workload: str, small: int, large: int) -> float:
    """Instructions per acting step, start-up cancelled out."""
    i1, s1 = count(workload, small)
    i2, s2 = count(workload, large)
    return (i2 - i1) / (s2 - s1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--games", type=int, nargs=2, default=(100, 400), metavar=("SMALL", "LARGE")
    )
    parser.add_argument("--child", nargs=2, metavar=("WORKLOAD", "GAMES"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], int(args.child[1]))
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: apt-get install valgrind", file=sys.stderr)
        return 2
    small, large = args.games
    print(f"instructions per acting step (valgrind callgrind; games {small} -> {large})")
    print(
        f"| {'game':<18} | {'selfplay-gym':>12} | {'TextArena':>12} | {'TextArena id':<22} | ratio |"
    )
    print(f"|{'-' * 20}|{'-' * 14}|{'-' * 14}|{'-' * 24}|-------|")
    for game, ta_id in PAIRS.items():
        ours = per_step(f"ours:{game}", small, large)
        theirs = per_step(f"ta:{ta_id}", small, large)
        print(
            f"| {game:<18} | {ours:>12,.0f} | {theirs:>12,.0f} | {ta_id:<22} | {theirs / ours:5.2f} |",
            flush=True,
        )
    print("ratio = TextArena instructions / ours (higher is better for selfplay-gym)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
