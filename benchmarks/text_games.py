#!/usr/bin/env python
"""Random legal play on selfplay-gym's text games, side by side with TextArena and PettingZoo.

What it measures (all in one process, single-threaded, workloads interleaved round-robin so that
machine noise hits them alike; see ``benchmarks/README.md``):

(a) **ours, text mode** -- ``selfplay_gym.make(id)``, one env reused across episodes,
    ``reset(seed=i)`` per episode, ``env.last()`` every step (the full text prompt is built every
    step, like TextArena's ``get_observation``), a random pick from ``info["legal_actions"]``.
(b) **ours, numeric mode** -- the same AEC env, ``env.last(observe=False)`` +
    ``state_tensor(agent)`` every step, a random legal index from ``info["action_mask"]``.
    TextArena ``TicTacToe-v0``, ``KuhnPoker-v0-short`` (5 rounds, as ours), ``KuhnPoker-v0``
    (3 rounds) and ``SimpleNegotiation-v0`` (5 resources: the closest equivalent of our 2-resource
    game), timed as in ``performance-anchors.md``: fresh ``ta.make(id)`` + ``reset(num_players=2)``
    per game, the random agent parses the legal moves out of the observation text.
    PettingZoo ``tictactoe_v3.env()`` and ``raw_env()``, mask -> ``np.flatnonzero`` + random choice.
(c) **flat per-step cost** -- 1,000 episodes on ONE text env of each of our games: steps/s and
    mean observation length over episodes 1-100, 451-550 and 901-1000; and, for contrast, one
    TextArena env reset 300 times (its observation wrappers keep history across resets).
(d) **TextArena bridge** -- ``TextArenaEnv`` (``selfplay/TextArena*`` ids) against raw TextArena on
    the same games: in (a)+(b), one bridged env reused with ``reset(seed=i)`` against a fresh
    ``ta.make`` per game, the same move-list agent on both (the bridge's overhead per step); and
    1,000 episodes on ONE bridged env against ONE reused ``ta.make`` env (TextArena slows down as
    its history grows, the bridge stays flat).

Only steps of acting players count (not the ``None`` steps of finished agents). Each workload
reports the median over repeats of wall-clock steps/s and of steps per CPU-second
(``time.process_time``).

Usage::

    python benchmarks/text_games.py                 # ~1.5-2 min
    python benchmarks/text_games.py --quick         # ~15 s
    python benchmarks/text_games.py --json results.json
    python benchmarks/text_games.py --profile TicTacToe   # cProfile of our text-mode loop
    python benchmarks/text_games.py --profile TicTacToe --profile-mode numeric
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# One thread everywhere (numpy's BLAS is not used here, but keep the measurement single-core).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

import selfplay_gym  # noqa: E402

OUR_GAMES = ("TicTacToe", "KuhnPoker", "SimpleNegotiation")
# Our game -> the TextArena ids it is compared with (the first one is the headline comparison).
TA_IDS = {
    "TicTacToe": ("TicTacToe-v0",),
    "KuhnPoker": ("KuhnPoker-v0-short", "KuhnPoker-v0"),
    "SimpleNegotiation": ("SimpleNegotiation-v0",),
}
TA_NOTES = {
    "KuhnPoker-v0-short": "5 rounds, as ours",
    "KuhnPoker-v0": "TextArena default: 3 rounds",
    "SimpleNegotiation-v0": "5 resources, random values; closest equivalent of our 2-resource game",
}
TARGET_TEXT_OVER_TA = 3.0
BRIDGE_IDS = ("TicTacToe-v0", "KuhnPoker-v0-short")
"""TextArena ids timed through the bridge (d), each against the same id in raw TextArena."""
NOTES = """\
Notes:
* ours = one env reused, reset(seed=i) per episode. Text mode builds the full prompt every step
  (env.last()) and picks from info["legal_actions"] (SimpleNegotiation: uniformly among ~800
  canonical moves, so nearly always an offer). Numeric mode reads state_tensor(agent) and picks
  from info["action_mask"] (np.flatnonzero + random.choice, as for PettingZoo).
* TextArena = fresh ta.make + reset(num_players=2) per game; the agent parses the move list out of
  the observation text. Its SimpleNegotiation-v0 (5 resources, random values; agent 30 % [Accept],
  20 % [Deny], 50 % offer) is the closest equivalent of ours, not the same game; its games last 11
  steps. KuhnPoker-v0-short has 5 rounds as ours; KuhnPoker-v0 (TextArena's default) has 3.
  "invalid games" = games TextArena ended on an invalid move (rare offers/accepts the agent could
  not pay for)."""

# ---------------------------------------------------------------------------------------------
# Policies and game loops. Each `play(rng)` plays one whole game and returns the acting steps.
# ---------------------------------------------------------------------------------------------


def play_ours_text(env: Any, rng: random.Random, seed: int) -> tuple[int, int]:
    """One episode of our AEC env in text mode: (acting steps, total prompt length they saw)."""
    env.reset(seed=seed)
    steps = chars = 0
    choice = rng.choice
    for _agent in env.agent_iter():
        obs, _reward, term, trunc, info = env.last()
        if term or trunc:
            env.step(None)
        else:
            chars += len(obs)
            env.step(choice(info["legal_actions"]))
            steps += 1
    return steps, chars


def play_ours_numeric(env: Any, rng: random.Random, seed: int) -> tuple[int, int]:
    """One episode with integer actions and the state tensor instead of the prompt: (steps, 0)."""
    env.reset(seed=seed)
    steps = 0
    choice = rng.choice
    flatnonzero = np.flatnonzero
    state_tensor = env.unwrapped.state_tensor
    for agent in env.agent_iter():
        _, _reward, term, trunc, info = env.last(observe=False)
        if term or trunc:
            env.step(None)
        else:
            state_tensor(agent)
            env.step(choice(flatnonzero(info["action_mask"])))
            steps += 1
    return steps, 0


_BRACKETED = re.compile(r"\[[^\[\]\n]+\]")
_TA_MOVE_MARKERS = {
    "TicTacToe": "Available Moves:",
    "KuhnPoker": "Your available actions are:",
}
_TA_NEGOTIATION_RESOURCES = ("Wheat", "Wood", "Sheep", "Brick", "Ore")


def ta_list_agent(marker: str) -> Callable[[str, random.Random], str]:
    """A random agent picking from the last legal-move list after ``marker`` in the text."""

    def act(obs: str, rng: random.Random) -> str:
        start = obs.rfind(marker)
        if start < 0:
            raise RuntimeError(
                f"expected {marker!r} in the TextArena observation, got ...{obs[-300:]!r}"
            )
        start += len(marker)
        end = obs.find("\n", start)
        moves = _BRACKETED.findall(obs[start:] if end < 0 else obs[start:end])
        if not moves:
            raise RuntimeError(f"expected bracketed moves after {marker!r}, got ...{obs[-300:]!r}")
        return rng.choice(moves)

    return act


def ta_negotiation_agent(obs: str, rng: random.Random) -> str:
    """30 % [Accept], 20 % [Deny], 50 % a small one-for-one offer (as in performance-anchors.md)."""
    r = rng.random()
    if r < 0.3:
        return "[Accept]"
    if r < 0.5:
        return "[Deny]"
    give, get = rng.sample(_TA_NEGOTIATION_RESOURCES, 2)
    return (
        f"I propose a fair deal. [Offer: {rng.randint(1, 3)} {give} -> {rng.randint(1, 3)} {get}]"
    )


def play_textarena(
    ta: Any,
    env_id: str,
    agent: Callable[[str, random.Random], str],
    rng: random.Random,
    counters: dict[str, int],
) -> int:
    """One TextArena game with a fresh ``ta.make``; returns the steps (``env.step`` calls)."""
    env = ta.make(env_id)
    env.reset(num_players=2)
    done = False
    steps = 0
    while not done:
        _pid, obs = env.get_observation()
        done, _info = env.step(agent(obs, rng))
        steps += 1
    _rewards, game_info = env.close()
    if any(info.get("invalid_move") for info in game_info.values()):
        counters["invalid_games"] += 1
    return steps


def play_bridge(
    env: Any, agent: Callable[[str, random.Random], str], rng: random.Random, seed: int
) -> tuple[int, int]:
    """One episode of a bridged TextArena env, ``agent`` reading the prompt: (steps, prompt chars)."""
    env.reset(seed=seed)
    steps = chars = 0
    for _agent in env.agent_iter():
        obs, _reward, term, trunc, _info = env.last()
        if term or trunc:
            env.step(None)
        else:
            chars += len(obs)
            env.step(agent(obs, rng))
            steps += 1
    return steps, chars


def _ta_agent(ta_id: str) -> Callable[[str, random.Random], str]:
    return ta_list_agent(_TA_MOVE_MARKERS["KuhnPoker" if ta_id.startswith("Kuhn") else "TicTacToe"])


def play_pettingzoo(env: Any, rng: random.Random) -> int:
    """One PettingZoo classic game, mask -> np.flatnonzero -> random choice."""
    env.reset()
    steps = 0
    choice = rng.choice
    flatnonzero = np.flatnonzero
    for _agent in env.agent_iter():
        obs, _reward, term, trunc, _info = env.last()
        if term or trunc:
            env.step(None)
        else:
            env.step(choice(flatnonzero(obs["action_mask"])))
            steps += 1
    return steps


# ---------------------------------------------------------------------------------------------
# Workloads and timing
# ---------------------------------------------------------------------------------------------


@dataclass
class Workload:
    """One timed loop: ``play(rng)`` plays a game and returns its acting steps."""

    key: str
    """Short unique name, e.g. ``ours-text:TicTacToe``."""
    label: str
    """What is measured, for the table."""
    play: Callable[[random.Random], int]
    rng: random.Random
    counters: dict[str, int] = field(default_factory=lambda: {"invalid_games": 0})
    wall: list[float] = field(default_factory=list)
    """steps/s (wall clock) per repeat."""
    cpu: list[float] = field(default_factory=list)
    """steps per CPU-second per repeat."""
    games: int = 0
    steps: int = 0

    def run(self, seconds: float, record: bool = True) -> None:
        """Play whole games for at least ``seconds`` of wall time."""
        play, rng = self.play, self.rng
        perf, cpu_clock = time.perf_counter, time.process_time
        steps = games = 0
        t0, c0 = perf(), cpu_clock()
        deadline = t0 + seconds
        while True:
            steps += play(rng)
            games += 1
            if perf() >= deadline:
                break
        wall, cpu = perf() - t0, cpu_clock() - c0
        if record:
            self.wall.append(steps / wall)
            self.cpu.append(steps / cpu if cpu > 0 else float("nan"))
            self.games += games
            self.steps += steps

    def summary(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "wall_steps_per_s": _stats(self.wall),
            "steps_per_cpu_s": _stats(self.cpu),
            "games": self.games,
            "steps": self.steps,
            "steps_per_game": self.steps / self.games if self.games else None,
            "invalid_games": self.counters["invalid_games"],
            "wall_per_repeat": self.wall,
            "cpu_per_repeat": self.cpu,
        }


def _stats(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _seeded(master: random.Random) -> random.Random:
    return random.Random(master.randrange(2**63))


def _episode_counter() -> Callable[[], int]:
    count = -1

    def next_seed() -> int:
        nonlocal count
        count += 1
        return count

    return next_seed


def build_workloads(master: random.Random, skip: set[str]) -> tuple[list[Workload], list[str]]:
    """Every workload that can run here, and notes on the ones that cannot."""
    workloads: list[Workload] = []
    notes: list[str] = []
    for game in OUR_GAMES:
        env_id = f"selfplay/{game}-v0"
        for mode, loop in (("text", play_ours_text), ("numeric", play_ours_numeric)):
            env = selfplay_gym.make(env_id)
            next_seed = _episode_counter()
            workloads.append(
                Workload(
                    key=f"ours-{mode}:{game}",
                    label=f"ours {env_id} ({mode})",
                    play=lambda rng, env=env, loop=loop, next_seed=next_seed: loop(
                        env, rng, next_seed()
                    )[0],
                    rng=_seeded(master),
                )
            )
    if "textarena" not in skip:
        try:
            import textarena as ta
        except ImportError as exc:  # pragma: no cover - depends on the environment
            notes.append(f"TextArena skipped: {exc} (pip install 'selfplay-gym[bench]')")
        else:
            for game, ids in TA_IDS.items():
                agent = (
                    ta_negotiation_agent
                    if game == "SimpleNegotiation"
                    else ta_list_agent(_TA_MOVE_MARKERS[game])
                )
                for ta_id in ids:
                    w = Workload(
                        key=f"textarena:{ta_id}",
                        label=f"TextArena {ta_id} (fresh ta.make per game)",
                        play=lambda rng: 0,
                        rng=_seeded(master),
                    )
                    w.play = lambda rng, ta_id=ta_id, agent=agent, counters=w.counters: (
                        play_textarena(ta, ta_id, agent, rng, counters)
                    )
                    workloads.append(w)
            if "bridge" not in skip:
                from selfplay_gym.envs.textarena import TextArenaEnv

                for ta_id in BRIDGE_IDS:
                    env = TextArenaEnv(ta_id)
                    next_seed = _episode_counter()
                    workloads.append(
                        Workload(
                            key=f"bridge:{ta_id}",
                            label=f"bridge TextArenaEnv({ta_id!r}) (one env, reset(seed=i))",
                            play=lambda rng, env=env, ta_id=ta_id, next_seed=next_seed: play_bridge(
                                env, _ta_agent(ta_id), rng, next_seed()
                            )[0],
                            rng=_seeded(master),
                        )
                    )
    if "pettingzoo" not in skip:
        try:
            from pettingzoo.classic import tictactoe_v3
        except ImportError as exc:  # pragma: no cover - depends on the environment
            notes.append(f"PettingZoo classic skipped: {exc} (needs pygame)")
        else:
            for ctor in ("env", "raw_env"):
                env = getattr(tictactoe_v3, ctor)()
                workloads.append(
                    Workload(
                        key=f"pettingzoo:tictactoe_v3.{ctor}()",
                        label=f"PettingZoo tictactoe_v3.{ctor}() (mask -> flatnonzero -> choice)",
                        play=lambda rng, env=env: play_pettingzoo(env, rng),
                        rng=_seeded(master),
                    )
                )
    return workloads, notes


def run_interleaved(workloads: list[Workload], repeats: int, seconds: float, warmup: float) -> None:
    """A warm-up of each workload, then ``repeats`` round-robin passes (order rotated each pass)."""
    for w in workloads:
        w.run(warmup, record=False)
    n = len(workloads)
    for r in range(repeats):
        order = workloads[r % n :] + workloads[: r % n]
        for w in order:
            w.run(seconds)
        print(f"  repeat {r + 1}/{repeats} done ({time.strftime('%H:%M:%S')})", flush=True)


# ---------------------------------------------------------------------------------------------
# (c) flat per-step cost
# ---------------------------------------------------------------------------------------------


def _windows(n: int) -> list[tuple[int, int]]:
    """First, middle and last 10 % of ``n`` episodes, 1-based (1-100, 451-550, 901-1000)."""
    w = max(1, n // 10)
    mid = (n - w) // 2
    return [(1, w), (mid + 1, mid + w), (n - w + 1, n)]


def _window_rates(per_episode: list[tuple[float, float, int, int]], n: int) -> list[dict[str, Any]]:
    """Per window: wall steps/s, steps per CPU-s and mean observation length per acting step."""
    rows = []
    for lo, hi in _windows(n):
        chunk = per_episode[lo - 1 : hi]
        wall = sum(c[0] for c in chunk)
        cpu = sum(c[1] for c in chunk)
        steps = sum(c[2] for c in chunk)
        chars = sum(c[3] for c in chunk)
        rows.append(
            {
                "episodes": f"{lo}-{hi}",
                "steps_per_s": steps / wall if wall else float("nan"),
                "steps_per_cpu_s": steps / cpu if cpu else float("nan"),
                "mean_obs_chars": chars / steps if steps else float("nan"),
            }
        )
    return rows


def flat_cost_ours(
    game: str, episodes: int, passes: int, rng: random.Random
) -> list[dict[str, Any]]:
    """``episodes`` episodes on ONE text env, ``passes`` times (a fresh env each pass).

    Returns per window (first, middle, last 10 % of the episodes) the median over passes of the
    wall and CPU step rates, and the mean observation length. A throwaway env plays a few
    episodes first so that class-level caches and the interpreter are warm for window 1.
    """
    warm = selfplay_gym.make(f"selfplay/{game}-v0")
    for i in range(20):
        play_ours_text(warm, rng, i)
    perf, cpu_clock = time.perf_counter, time.process_time
    runs = []
    for _ in range(passes):
        env = selfplay_gym.make(f"selfplay/{game}-v0")
        per_episode = []
        for i in range(episodes):
            t0, c0 = perf(), cpu_clock()
            steps, chars = play_ours_text(env, rng, i)
            per_episode.append((perf() - t0, cpu_clock() - c0, steps, chars))
        runs.append(_window_rates(per_episode, episodes))
    merged = []
    for k, window in enumerate(runs[0]):
        row = dict(window)
        for key in ("steps_per_s", "steps_per_cpu_s", "mean_obs_chars"):
            row[key] = statistics.median(run[k][key] for run in runs)
        row["passes"] = passes
        merged.append(row)
    return merged


def flat_cost_bridge(ta_id: str, episodes: int, rng: random.Random) -> dict[str, Any]:
    """``episodes`` episodes on ONE bridged env; per window: step rates and prompt length."""
    from selfplay_gym.envs.textarena import TextArenaEnv

    agent = _ta_agent(ta_id)
    warm = TextArenaEnv(ta_id)
    for i in range(20):
        play_bridge(warm, agent, rng, i)
    env = TextArenaEnv(ta_id)
    perf, cpu_clock = time.perf_counter, time.process_time
    per_episode = []
    for i in range(episodes):
        t0, c0 = perf(), cpu_clock()
        steps, chars = play_bridge(env, agent, rng, i)
        per_episode.append((perf() - t0, cpu_clock() - c0, steps, chars))
    return {
        "env_id": ta_id,
        "games_played": episodes,
        "windows": _window_rates(per_episode, episodes),
    }


def flat_cost_textarena(
    env_id: str, resets: int, budget: float, rng: random.Random
) -> dict[str, Any] | None:
    """One TextArena env reset ``resets`` times (stops early past ``budget`` seconds)."""
    try:
        import textarena as ta
    except ImportError:
        return None
    game = "KuhnPoker" if env_id.startswith("KuhnPoker") else "TicTacToe"
    agent = ta_list_agent(_TA_MOVE_MARKERS[game])
    env = ta.make(env_id)
    perf, cpu_clock = time.perf_counter, time.process_time
    per_episode = []
    start = perf()
    for _ in range(resets):
        t0, c0 = perf(), cpu_clock()
        env.reset(num_players=2)
        done, steps, chars = False, 0, 0
        while not done:
            _pid, obs = env.get_observation()
            chars += len(obs)
            done, _info = env.step(agent(obs, rng))
            steps += 1
        env.close()
        per_episode.append((perf() - t0, cpu_clock() - c0, steps, chars))
        if perf() - start > budget:
            break
    played = len(per_episode)
    return {
        "env_id": env_id,
        "resets_requested": resets,
        "games_played": played,
        "windows": _window_rates(per_episode, played),
    }


# ---------------------------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------------------------


def _k(x: float | None) -> str:
    if x is None or x != x:
        return "-"
    if x >= 1e6:
        return f"{x / 1e6:.2f} M"
    if x >= 1e4:
        return f"{x / 1e3:.1f} k"
    if x >= 1e3:
        return f"{x / 1e3:.2f} k"
    return f"{x:.0f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)
    ]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows
    ]
    return "\n".join([line, sep, *body])


def _paired(a: Workload, b: Workload, attr: str) -> tuple[float, float, float]:
    """Ratio of medians, and the min-max of the per-repeat ratios (same round-robin pass)."""
    va, vb = getattr(a, attr), getattr(b, attr)
    per_repeat = [x / y for x, y in zip(va, vb, strict=True) if y]
    return statistics.median(va) / statistics.median(vb), min(per_repeat), max(per_repeat)


def report(workloads: list[Workload]) -> tuple[str, list[dict[str, Any]]]:
    by_key = {w.key: w for w in workloads}
    rows = []
    for w in workloads:
        s = w.summary()
        wall, cpu = s["wall_steps_per_s"], s["steps_per_cpu_s"]
        rows.append(
            [
                w.key,
                f"{_k(wall['median'])} ({_k(wall['min'])}-{_k(wall['max'])})",
                f"{_k(cpu['median'])} ({_k(cpu['min'])}-{_k(cpu['max'])})",
                f"{1e6 / cpu['median']:.1f}",
                f"{s['steps_per_game']:.1f}",
                str(s["invalid_games"]) if w.key.startswith("textarena") else "-",
            ]
        )
    out = [
        _table(
            [
                "workload",
                "wall steps/s, median (min-max)",
                "steps per CPU-s, median (min-max)",
                "CPU us/step",
                "steps/game",
                "invalid games",
            ],
            rows,
        )
    ]

    ratio_rows: list[list[str]] = []
    ratios: list[dict[str, Any]] = []

    def add(num_key: str, den_key: str, note: str = "") -> None:
        a, b = by_key.get(num_key), by_key.get(den_key)
        if a is None or b is None or not a.wall or not b.wall:
            return
        rw, rw_lo, rw_hi = _paired(a, b, "wall")
        rc, rc_lo, rc_hi = _paired(a, b, "cpu")
        ratio_rows.append(
            [
                f"{num_key} / {den_key}",
                f"{rw:.2f} ({rw_lo:.2f}-{rw_hi:.2f})",
                f"{rc:.2f} ({rc_lo:.2f}-{rc_hi:.2f})",
                note,
            ]
        )
        ratios.append(
            {
                "numerator": num_key,
                "denominator": den_key,
                "wall": rw,
                "wall_range": [rw_lo, rw_hi],
                "cpu": rc,
                "cpu_range": [rc_lo, rc_hi],
                "note": note,
            }
        )

    for game, ids in TA_IDS.items():
        for ta_id in ids:
            note = TA_NOTES.get(ta_id, "")
            target = ""
            a, b = by_key.get(f"ours-text:{game}"), by_key.get(f"textarena:{ta_id}")
            if ta_id == ids[0] and a and b and a.wall and b.wall:
                ok = statistics.median(a.wall) / statistics.median(b.wall) >= TARGET_TEXT_OVER_TA
                target = f"target >= {TARGET_TEXT_OVER_TA:g}x: {'MET' if ok else 'NOT MET'}"
            add(
                f"ours-text:{game}", f"textarena:{ta_id}", "; ".join(x for x in (note, target) if x)
            )
            add(f"ours-numeric:{game}", f"textarena:{ta_id}", note)
    for ctor in ("env", "raw_env"):
        for mode in ("text", "numeric"):
            add(f"ours-{mode}:TicTacToe", f"pettingzoo:tictactoe_v3.{ctor}()")
    for game in OUR_GAMES:
        add(f"ours-numeric:{game}", f"ours-text:{game}", "numeric speed-up over text")
    for ta_id in BRIDGE_IDS:
        add(
            f"bridge:{ta_id}",
            f"textarena:{ta_id}",
            "the bridge's cost: below 1 = slower than raw TextArena (fresh ta.make per game)",
        )
    if ratio_rows:
        out.append("")
        out.append(
            "Ratios (ratio of the medians; in brackets the min-max of the per-repeat ratios, "
            "each repeat being one round-robin pass):"
        )
        out.append(_table(["ratio", "wall steps/s", "steps per CPU-s", "note"], ratio_rows))
    return "\n".join(out), ratios


def _git_state() -> str | None:
    """Commit of the checkout, with ``+dirty`` when the package's sources have local changes."""
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src", "envs", "wrappers"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


def machine_info() -> dict[str, Any]:
    versions = {}
    for name in ("selfplay_gym", "textarena", "pettingzoo", "gymnasium", "numpy"):
        try:
            module = __import__(name)
            versions[name] = getattr(module, "__version__", "?")
        except ImportError:
            versions[name] = None
    try:
        from importlib.metadata import version

        versions["textarena"] = version("textarena") if versions["textarena"] is not None else None
    except Exception:  # noqa: BLE001 - metadata is best effort
        pass
    return {
        "git": _git_state(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "loadavg": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "versions": versions,
    }


# ---------------------------------------------------------------------------------------------
# Profiling helper
# ---------------------------------------------------------------------------------------------


def profile_loop(game: str, mode: str, episodes: int, top: int) -> None:
    """cProfile of our ``mode`` loop (text or numeric) on ``game``; top functions by self time."""
    import cProfile
    import pstats

    loop = play_ours_text if mode == "text" else play_ours_numeric
    env = selfplay_gym.make(f"selfplay/{game}-v0")
    rng = random.Random(0)
    for i in range(50):
        loop(env, rng, i)
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    profiler.enable()
    steps = sum(loop(env, rng, i)[0] for i in range(episodes))
    profiler.disable()
    elapsed = time.perf_counter() - t0
    print(
        f"cProfile: ours-{mode}:{game}, {episodes} episodes, {steps} acting steps, "
        f"{elapsed:.2f} s under the profiler ({1e6 * elapsed / steps:.1f} us/step profiled)"
    )
    pstats.Stats(profiler).strip_dirs().sort_stats("tottime").print_stats(top)


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="timed round-robin passes (default 5; quick 3)"
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=None,
        help="seconds per workload per repeat (default 1.2; quick 0.3)",
    )
    parser.add_argument(
        "--episodes",
        type=int,
        default=None,
        help="episodes of the flat per-step cost run (default 1000; quick 300)",
    )
    parser.add_argument(
        "--flat-passes",
        type=int,
        default=3,
        help="passes of the flat per-step cost run, each on a fresh env (median reported)",
    )
    parser.add_argument(
        "--ta-resets",
        type=int,
        default=None,
        help="resets of one TextArena env in the (c) contrast (default 300; quick 100; 0 skips)",
    )
    parser.add_argument(
        "--bridge-budget",
        type=float,
        default=120.0,
        help="seconds the reused raw TextArena env may run in (d) before it is stopped",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a ~15 s run with fewer, shorter repeats"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the script's random.Random")
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["textarena", "pettingzoo", "flat", "bridge"],
        help="leave out a group of workloads (repeatable)",
    )
    parser.add_argument("--json", metavar="PATH", help="write every number to PATH as JSON")
    parser.add_argument(
        "--profile",
        metavar="GAME",
        choices=OUR_GAMES,
        help="only profile our loop on GAME (cProfile, top functions by self time)",
    )
    parser.add_argument("--profile-mode", choices=["text", "numeric"], default="text")
    parser.add_argument("--profile-episodes", type=int, default=3000)
    parser.add_argument("--profile-top", type=int, default=15)
    args = parser.parse_args(argv)

    if args.profile:
        profile_loop(args.profile, args.profile_mode, args.profile_episodes, args.profile_top)
        return 0

    repeats = args.repeats or (3 if args.quick else 5)
    seconds = args.seconds or (0.3 if args.quick else 1.2)
    episodes = args.episodes or (300 if args.quick else 1000)
    flat_passes = max(1, args.flat_passes)
    ta_resets = args.ta_resets if args.ta_resets is not None else (100 if args.quick else 300)
    warmup = min(0.3, seconds / 3)
    skip = set(args.skip)

    master = random.Random(args.seed)
    # TextArena draws from the global `random` module (cards, resources); seed it from ours.
    random.seed(master.randrange(2**63))

    info = machine_info()
    t_start = time.perf_counter()
    print(
        f"selfplay-gym text-game benchmark: python {info['python']}, {info['platform']}, "
        f"{info['cpu_count']} CPU(s), load average {info['loadavg']}"
    )
    print(f"versions: {info['versions']}; checkout {info['git']}")
    print(
        f"repeats={repeats}, seconds per workload per repeat={seconds}, warm-up={warmup:.2f} s, "
        f"seed={args.seed}; one thread; rates are acting-player steps"
    )

    workloads, notes = build_workloads(master, skip)
    for note in notes:
        print(f"NOTE: {note}")
    print(f"\n(a)+(b) {len(workloads)} workloads interleaved round-robin:")
    run_interleaved(workloads, repeats, seconds, warmup)
    table, ratios = report(workloads)
    print()
    print(table)
    print()
    print(NOTES)

    flat: dict[str, Any] = {}
    if "flat" not in skip:
        print(
            f"\n(c) flat per-step cost: {episodes} episodes on ONE text env per game "
            f"(median of {flat_passes} passes, each on a fresh env)"
        )
        rows = []
        for game in OUR_GAMES:
            windows = flat_cost_ours(game, episodes, flat_passes, _seeded(master))
            flat[f"ours-text:{game}"] = windows
            first, last = windows[0]["steps_per_cpu_s"], windows[-1]["steps_per_cpu_s"]
            rows.append(
                [game]
                + [
                    f"{_k(w['steps_per_s'])} / {_k(w['steps_per_cpu_s'])} / "
                    f"{w['mean_obs_chars']:.0f}"
                    for w in windows
                ]
                + [f"{last / first:.2f}"]
            )
        header = (
            ["game"]
            + [
                f"ep {lo}-{hi}: wall steps/s / per CPU-s / obs chars"
                for lo, hi in _windows(episodes)
            ]
            + ["last/first (CPU)"]
        )
        print(_table(header, rows))
        if ta_resets > 0 and "textarena" not in skip:
            contrast = flat_cost_textarena("TicTacToe-v0", ta_resets, 5.0, _seeded(master))
            if contrast is not None:
                flat["textarena:TicTacToe-v0:one-env-reused"] = contrast
                print(
                    "\nContrast: TextArena's observation wrappers keep the history across "
                    "reset() (performance-anchors.md section 2), so one reused env slows down "
                    "and its prompts grow. One TextArena TicTacToe-v0 env, reset "
                    f"{contrast['games_played']} times:"
                )
                print(
                    _table(
                        ["games", "wall steps/s", "steps per CPU-s", "mean obs chars"],
                        [
                            [
                                w["episodes"],
                                _k(w["steps_per_s"]),
                                _k(w["steps_per_cpu_s"]),
                                f"{w['mean_obs_chars']:.0f}",
                            ]
                            for w in contrast["windows"]
                        ],
                    )
                )
        else:
            print(
                "\n(TextArena's observation wrappers keep history across reset(); see "
                "performance-anchors.md section 2. Contrast run skipped.)"
            )

    if not ({"flat", "bridge", "textarena"} & skip):
        print(
            f"\n(d) TextArena bridge, flat per-step cost: {episodes} episodes on ONE bridged env "
            f"against ONE reused ta.make env (TextArena stops at {args.bridge_budget:g} s)"
        )
        rows = []
        for ta_id in BRIDGE_IDS:
            runs = {
                "bridge": flat_cost_bridge(ta_id, episodes, _seeded(master)),
                "textarena reused": flat_cost_textarena(
                    ta_id, episodes, args.bridge_budget, _seeded(master)
                ),
            }
            for name, run in runs.items():
                if run is None:
                    continue
                flat[f"{name}:{ta_id}"] = run
                windows = run["windows"]
                first, last = windows[0]["steps_per_cpu_s"], windows[-1]["steps_per_cpu_s"]
                rows.append(
                    [f"{name} {ta_id} ({run['games_played']} games)"]
                    + [
                        f"{w['episodes']}: {_k(w['steps_per_s'])} / {_k(w['steps_per_cpu_s'])} / "
                        f"{w['mean_obs_chars']:.0f}"
                        for w in windows
                    ]
                    + [f"{last / first:.2f}"]
                )
        header = ["env"] + [
            f"window {i}: games: wall steps/s / per CPU-s / obs chars" for i in (1, 2, 3)
        ]
        print(_table([*header, "last/first (CPU)"], rows))

    total = time.perf_counter() - t_start
    load = os.getloadavg() if hasattr(os, "getloadavg") else "-"
    print(f"\ntotal time {total:.1f} s; load average at the end {load}")

    if args.json:
        result = {
            "config": {
                "repeats": repeats,
                "seconds": seconds,
                "warmup": warmup,
                "episodes": episodes,
                "ta_resets": ta_resets,
                "flat_passes": flat_passes,
                "seed": args.seed,
                "quick": args.quick,
                "skip": sorted(skip),
            },
            "machine": info,
            "workloads": {w.key: w.summary() for w in workloads},
            "ratios": ratios,
            "flat_per_step_cost": flat,
            "notes": notes,
            "total_seconds": total,
        }
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
