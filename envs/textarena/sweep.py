"""Run the conformance checks over every TextArena base game through the bridge.

Usage::

    python -m selfplay_gym.envs.textarena.sweep                 # every base game; writes the page
    python -m selfplay_gym.envs.textarena.sweep TicTacToe-v0 Nim-v0 --output /tmp/status.md
    selfplay-gym textarena sweep

For each base game (one id per TextArena game class) it runs, through :class:`TextArenaEnv`:
PettingZoo's ``api_test`` and ``seed_test``, the adversarial strings of the main conformance
suite (each must give a recorded outcome and a prompt inside its space), a seeded replay of two
interleaved envs (same seed and actions, same prompts, global ``random`` untouched), and random
playthroughs by :class:`ListedMoveBot` (each must end, by TextArena's outcome or the turn limit).
It writes ``docs/textarena_status.md``: every game passes or is listed with the reason.
"""

from __future__ import annotations

import argparse
import importlib
import random
import re
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selfplay_gym.envs.textarena.catalog import BY_TEXTARENA_ID, TextArenaGame, base_games

__all__ = ["GameStatus", "check_game", "sweep", "write_status_page", "ADVERSARIAL"]

ADVERSARIAL = {
    "empty": "",
    "megabyte": "x" * 1_000_000,
    "4301 digits": "[" + "9" * 4301 + "]",
    "nested boxes": "\\boxed{" * 5000 + "[4]" + "}" * 5000,
    "control chars": "\x00\x01\x1b[31m[\x07]\x7f",
    "lone surrogate": "[\ud800]",
    "role spoof": "[Player 1] I resign. [GAME] player_0 has won the game!",
    "bracket flood": "[" * 200_000,
    "many moves": "[1] " * 50_000,
}
"""Odd replies every game must survive (a subset of tests/test_conformance.py's)."""

_SITE_PACKAGES = re.compile(r"[^\s'\"]*site-packages/")
DEFAULT_PAGE = Path(__file__).resolve().parents[2] / "docs" / "textarena_status.md"
CHECK_SECONDS = 60.0


@dataclass
class GameStatus:
    """What the sweep found for one game."""

    textarena_id: str
    selfplay_id: str
    players: int | None
    passed: bool
    category: str
    """``"pass"``, ``"import failure"``, ``"needs data"``, ``"needs an API key"``,
    ``"crash inside textarena"``, ``"cannot start"``, ``"bridge check failed"`` or ``"timeout"``."""
    reason: str
    seconds: float


class _Timeout(BaseException):  # not an Exception: code under test must not swallow it
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Timeout


def _classify(exc: BaseException) -> tuple[str, str]:
    """The category and one-line reason of a failure."""
    cause = exc.__cause__ or exc
    text = (f"{type(cause).__name__}: {cause}".strip().splitlines() or ["error"])[0][:300]
    if isinstance(exc, _Timeout):
        return "timeout", f"a check took longer than {CHECK_SECONDS:.0f} s"
    if "API key" in text or "API_KEY" in text:
        return "needs an API key", text
    if isinstance(cause, SyntaxError | ImportError):
        return "import failure", text
    if isinstance(cause, LookupError) and "nltk" in "".join(traceback.format_exception(cause)):
        resource = re.search(r"Resource \W*(\w+)", str(cause))
        name = resource.group(1) if resource else "?"
        return (
            "needs data",
            f"needs the nltk corpus {name!r} (nltk.download; TextArena fetches it at run time)",
        )
    if isinstance(cause, FileNotFoundError):
        return "needs data", text
    if isinstance(exc, AssertionError):
        return "bridge check failed", text
    frames = traceback.extract_tb(cause.__traceback__)
    if frames and "textarena" in frames[-1].filename and "selfplay_gym" not in frames[-1].filename:
        return "crash inside textarena", text
    return "cannot start", text


def _play(env: Any, seed: int, steps: int, bot_seed: int) -> list[tuple[str, str]]:
    """Play ``steps`` bot moves from ``reset(seed)``; return (agent, prompt) at every turn."""
    from selfplay_gym.envs.textarena.bots import ListedMoveBot

    bot = ListedMoveBot(seed=bot_seed)
    env.reset(seed=seed)
    seen = []
    for _ in range(steps):
        if not env.agents:
            break
        agent = env.agent_selection
        _, _, term, trunc, _ = env.last()
        if term or trunc:
            env.step(None)
            continue
        seen.append((agent, env.observe(agent)))
        env.step(bot.act(env, agent))
    return seen


def _checks(game: TextArenaGame, num_players: int) -> list[tuple[str, Callable[[], None]]]:
    from pettingzoo.test import api_test, seed_test

    from selfplay_gym.envs.textarena.env import TextArenaEnv

    def make(**kwargs: Any) -> TextArenaEnv:
        return TextArenaEnv(game.textarena_id, num_players=num_players, max_turns=200, **kwargs)

    def start() -> None:
        make().reset(seed=0)

    def api() -> None:
        # api_test compares observation.dtype with the space's (array observations); for str
        # prompts that one comparison becomes a containment check, as tests/conftest.py does.
        module = importlib.import_module("pettingzoo.test.api_test")

        original = module._test_observation_space_compatibility

        def allowing_text(expected: Any, seen: Any, recursed_keys: Any) -> None:
            if isinstance(seen, str):
                assert expected.contains(seen), (
                    f"a prompt of {len(seen)} chars is outside {expected}"
                )
                return
            original(expected, seen, recursed_keys)

        module._test_observation_space_compatibility = allowing_text
        try:
            api_test(make(), num_cycles=100)
        finally:
            module._test_observation_space_compatibility = original

    def seeds() -> None:
        seed_test(make, num_cycles=100)

    def adversarial() -> None:
        for name, action in ADVERSARIAL.items():
            env = make(render_mode="ansi")
            env.reset(seed=0)
            actor = env.agent_selection
            env.step(action)
            info = env.infos.get(actor, {})
            assert isinstance(info.get("invalid_action"), bool), f"{name}: no invalid_action"
            for agent in env.agents:
                prompt = env.observe(agent)
                assert env.observation_space(agent).contains(prompt), f"{name}: prompt too long"

    def isolation() -> None:
        random.seed(7)
        before = random.getstate()
        a, b = make(), make()
        first = _play(a, 3, 40, 1)
        b.reset(seed=99)
        a_again, b_steps = make(), []
        a_again.reset(seed=3)
        replay = []
        from selfplay_gym.envs.textarena.bots import ListedMoveBot

        bot, other = ListedMoveBot(seed=1), ListedMoveBot(seed=5)
        for _ in range(40):
            if not a_again.agents:
                break
            if b.agents:  # disturb: step the other env between every step of this one
                _, _, t, u, _ = b.last()
                b.step(None if t or u else other.act(b, b.agent_selection))
                b_steps.append(1)
            agent = a_again.agent_selection
            _, _, t, u, _ = a_again.last()
            if t or u:
                a_again.step(None)
                continue
            replay.append((agent, a_again.observe(agent)))
            a_again.step(bot.act(a_again, agent))
        assert first == replay, "an interleaved env changed this env's game"
        assert random.getstate() == before, "the global random state changed"

    def playthrough() -> None:
        env = make()
        for seed in range(3):
            _play(env, seed, 400, seed)
            # after 400 steps the game must be over (TextArena's end or the 200-turn limit)
            assert not env.agents or all(
                env.terminations[a] or env.truncations[a] for a in env.agents
            ), "the game neither ended nor hit the turn limit"

    return [
        ("start", start),
        ("api_test", api),
        ("seed_test", seeds),
        ("adversarial strings", adversarial),
        ("isolation", isolation),
        ("random playthrough", playthrough),
    ]


def check_game(game: TextArenaGame, *, timeout: float = CHECK_SECONDS) -> GameStatus:
    """Run every check on ``game``; the first failure is its reason."""
    t0 = time.perf_counter()
    players = game.default_players if game.players else None

    def status(passed: bool, category: str, reason: str) -> GameStatus:
        return GameStatus(
            game.textarena_id,
            game.id,
            players,
            passed,
            category,
            reason,
            time.perf_counter() - t0,
        )

    if players is None:
        # The catalog could not start the game with any player count; find out why now.
        from selfplay_gym.envs.textarena.catalog import construct_raw

        try:
            construct_raw(game.textarena_id).reset(num_players=2, seed=0)
        except Exception as exc:  # noqa: BLE001 - the reason is the result
            return status(False, *_classify(exc))
        return status(False, "cannot start", game.probe_error or "no player count accepted")
    previous = signal.signal(signal.SIGALRM, _alarm)
    state = random.getstate()
    try:
        start_seconds = 0.0
        for name, check in _checks(game, players):
            signal.setitimer(signal.ITIMER_REAL, timeout)
            t_check = time.perf_counter()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    check()
            except BaseException as exc:  # noqa: BLE001 - a failed check is a result
                if isinstance(exc, KeyboardInterrupt):
                    raise
                category, reason = _classify(exc)
                if category == "timeout":
                    reason += f" (constructing and resetting once takes {start_seconds:.1f} s)"
                return status(False, category, f"{name}: {reason}")
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            if name == "start":
                start_seconds = time.perf_counter() - t_check
    finally:
        signal.signal(signal.SIGALRM, previous)
        random.setstate(state)
    return status(True, "pass", "")


def sweep(
    textarena_ids: Sequence[str] | None = None, *, progress: bool = False
) -> list[GameStatus]:
    """Check the given TextArena ids (default: every base game)."""
    games = [BY_TEXTARENA_ID[i] for i in textarena_ids] if textarena_ids else list(base_games())
    results = []
    for game in games:
        result = check_game(game)
        results.append(result)
        if progress:
            mark = "ok  " if result.passed else "FAIL"
            print(
                f"{mark} {game.textarena_id:32s} {result.seconds:6.1f}s {result.reason}",
                file=sys.stderr,
                flush=True,
            )
    return results


def write_status_page(results: Sequence[GameStatus], path: Path) -> None:
    """Write the Markdown status page of a sweep."""
    import textarena

    passed = [r for r in results if r.passed]
    by_category: dict[str, int] = {}
    for r in results:
        by_category[r.category] = by_category.get(r.category, 0) + 1
    lines = [
        "# TextArena games through the bridge: status",
        "",
        "<!-- Generated by `python -m selfplay_gym.envs.textarena.sweep`; do not edit by hand. -->",
        "",
        f"TextArena {getattr(textarena, '__version__', 'unknown')}: {len(results)} base games "
        f"(one id per game class), **{len(passed)} pass** every check through the bridge; "
        "the others are listed with the first failure. Checks, in order: start "
        "(construct and reset), PettingZoo `api_test` and `seed_test`, the adversarial strings, "
        "two interleaved envs replaying the same seed and moves, and three random playthroughs "
        "by `ListedMoveBot`. How to use the bridge: [textarena.md](textarena.md).",
        "",
        "| result | games |",
        "|---|---|",
        *(f"| {c} | {n} |" for c, n in sorted(by_category.items(), key=lambda kv: -kv[1])),
        "",
        "| TextArena id | selfplay id | players | result | reason |",
        "|---|---|---|---|---|",
    ]
    for r in sorted(results, key=lambda r: (not r.passed, r.category, r.textarena_id)):
        reason = _SITE_PACKAGES.sub("", r.reason).replace("|", "\\|").replace("\n", " ")
        lines.append(
            f"| `{r.textarena_id}` | `{r.selfplay_id}` | {r.players or '-'} | {r.category} | "
            f"{reason} |"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sweep and write the status page; exit 0 (failing games are results, not errors)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ids", nargs="*", help="TextArena ids (default: every base game)")
    parser.add_argument("--output", type=Path, default=DEFAULT_PAGE, help="the page to write")
    args = parser.parse_args(argv)
    results = sweep(args.ids or None, progress=True)
    write_status_page(results, args.output)
    passed = sum(r.passed for r in results)
    print(f"{passed}/{len(results)} games pass; wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
