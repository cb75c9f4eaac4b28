"""The ``selfplay-gym`` command line: list the ids, play one in the terminal, or run an arena.

Examples::

    selfplay-gym list
    selfplay-gym play selfplay/TicTacToe-v0 --opponent strong --seat 1
    selfplay-gym arena selfplay/KuhnPoker-v0 --players strong,random --games 200 --json
    selfplay-gym arena selfplay/TicTacToe-v0 --players hf:/models/my-checkpoint,random
    selfplay-gym search serve --corpus fixture --port 8000

``python -m selfplay_gym`` runs the same program. Exit codes: 0 on success, 1 when a game is
cut short (end of input) or a player fails, 2 for bad arguments (an unknown id, an unknown
opponent name, a seat that does not exist, a model player that cannot be loaded or whose
backend is not installed).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import gymnasium

import selfplay_gym
from selfplay_gym.core.arena import bot_seed, play_match
from selfplay_gym.core.bots import Bot, ask
from selfplay_gym.core.invalid import INVALID_MODES
from selfplay_gym.league.pool import is_model_spec
from selfplay_gym.registry import ENV_SPECS, load_entry_point, resolve_opponent, spec

__all__ = ["main", "build_parser", "FAMILY_COMMANDS"]

FAMILY_COMMANDS = {
    "search": "selfplay_gym.envs.search.cli",
    "repos": "selfplay_gym.envs.code_repair.cli",
    "textarena": "selfplay_gym.envs.textarena.cli",
    "volleyball": "selfplay_gym.envs.volleyball.cli",
}
"""Commands an env family adds: name -> module with ``add_parser(commands)`` and ``run(args)``.

Named by string, like the registry's entry points: the core imports no family by name."""

_USAGE_ERROR = 2
_CUT_SHORT = 1


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``selfplay-gym`` (subcommands ``list``, ``play``, ``arena``)."""
    parser = argparse.ArgumentParser(
        prog="selfplay-gym",
        description="Self-play environments: list them, play one, or run an arena.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    commands.add_parser("list", help="list every registered environment id")

    play = commands.add_parser("play", help="play a game in the terminal against an opponent")
    play.add_argument("env_id", metavar="ID", help="environment id, e.g. selfplay/TicTacToe-v0")
    play.add_argument(
        "--opponent",
        default=None,
        help='opponent name ("random", "strong", ...); default: "strong" if the id has one, '
        'else "random"',
    )
    play.add_argument("--seat", type=int, default=0, help="your seat N, i.e. player_N (default 0)")
    play.add_argument("--seed", type=_non_negative_int, default=0, help="game seed (default 0)")
    play.add_argument(
        "--invalid-move",
        choices=INVALID_MODES,
        default=None,
        help="invalid-move policy (default: the game's own, usually forfeit)",
    )

    arena = commands.add_parser("arena", help="play many games between opponents and tabulate")
    arena.add_argument("env_id", metavar="ID", help="environment id, e.g. selfplay/KuhnPoker-v0")
    arena.add_argument(
        "--players",
        required=True,
        help='comma-separated players, one per seat: bot names ("strong", "random") or '
        'language models ("hf:PATH", "vllm:PATH", "openai:URL#MODEL"), e.g. "hf:./ckpt,random"',
    )
    arena.add_argument(
        "--games", type=_positive_int, default=100, help="number of games (default 100)"
    )
    arena.add_argument("--seed", type=_non_negative_int, default=0, help="base seed (default 0)")
    arena.add_argument(
        "--no-swap",
        action="store_true",
        help="keep each player in its seat instead of rotating seats",
    )
    arena.add_argument(
        "--json", action="store_true", help="print the result as JSON instead of a table"
    )
    for module in FAMILY_COMMANDS.values():
        load_entry_point(f"{module}:add_parser")(commands)
    return parser


def _positive_int(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an int >= 1, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an int >= 0, got {text!r}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an int, got {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    """Run the ``selfplay-gym`` program with ``argv`` (``sys.argv[1:]`` by default).

    Returns:
        The exit code: 0 success, 1 game cut short or a player failed, 2 bad arguments.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        # argparse exits on --help and on usage errors; return its code so main() always returns.
        return int(exit_.code or 0)
    commands = {"list": _cmd_list, "play": _cmd_play, "arena": _cmd_arena}
    commands.update(
        {name: load_entry_point(f"{module}:run") for name, module in FAMILY_COMMANDS.items()}
    )
    try:
        return commands[args.command](args)
    except gymnasium.error.Error as exc:
        # Unknown ids: the registry's message already suggests the closest registered id.
        print(f"selfplay-gym: {exc}", file=sys.stderr)
        return _USAGE_ERROR


# ---- list ------------------------------------------------------------------------------------
def _cmd_list(args: argparse.Namespace) -> int:
    header = ("id", "kind", "agents", "observation space", "action space", "moves", "summary")
    rows = []
    families: list[str] = []
    for s in sorted(ENV_SPECS, key=lambda s: _first_index(s.family)):
        families.append(s.family)
        try:
            env = s.make()
        except ImportError as exc:  # a family whose extra is not installed: say so, list the rest
            rows.append((s.id, s.kind, "-", "-", "-", "-", f"(not available: {exc})"))
            continue
        agents = list(env.possible_agents)
        first = agents[0]
        moves = getattr(env.unwrapped, "move_names", None)
        rows.append(
            (
                s.id,
                s.kind,
                ",".join(agents),
                repr(env.observation_space(first)),
                repr(env.action_space(first)),
                str(len(moves)) if moves else "-",
                s.summary,
            )
        )
        env.close()
    lines = _columns(header, rows).splitlines()
    out = lines[:1]
    for i, (family, line) in enumerate(zip(families, lines[1:], strict=True)):
        if i == 0 or family != families[i - 1]:  # a heading per family, in registry order
            out += ["", f"[{family}]"]
        out.append(line)
    print("\n".join(out))
    return 0


def _first_index(family: str) -> int:
    """The position of ``family``'s first id in the registry (families keep their order)."""
    return next(i for i, s in enumerate(ENV_SPECS) if s.family == family)


def _columns(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces; the last column is not padded."""
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(header), *(line(r) for r in rows)])


# ---- play ------------------------------------------------------------------------------------
def _cmd_play(args: argparse.Namespace) -> int:
    env_spec = spec(args.env_id)
    opponent_name = args.opponent or (
        "strong" if "strong" in env_spec.bots else env_spec.default_opponent
    )
    kwargs: dict[str, Any] = {"render_mode": "ansi"}
    if args.invalid_move is not None:
        kwargs["invalid_move"] = args.invalid_move
    env = selfplay_gym.make(args.env_id, **kwargs)
    if env_spec.kind == "parallel":
        from pettingzoo.utils.conversions import parallel_to_aec

        env = parallel_to_aec(env)
    seats = list(env.possible_agents)
    if not 0 <= args.seat < len(seats):
        print(
            f"selfplay-gym: expected --seat in 0..{len(seats) - 1} for {args.env_id}, "
            f"got {args.seat}",
            file=sys.stderr,
        )
        return _USAGE_ERROR
    human = seats[args.seat]
    try:
        opponents = {a: resolve_opponent(args.env_id, opponent_name) for a in seats if a != human}
    except ValueError as exc:
        print(f"selfplay-gym: {exc}", file=sys.stderr)
        return _USAGE_ERROR

    env.reset(seed=args.seed)
    for agent, opponent in opponents.items():
        if isinstance(opponent, Bot):
            # The seeds the arena gives in its first game, so the same bot moves replay there.
            opponent.reset(bot_seed(args.seed, 0, seats.index(agent)))
    print(
        f"You are {human} in {args.env_id}; your opponent is {opponent_name!r}. Seed {args.seed}."
    )
    print("Type your move and press Enter (end of input quits).\n")

    totals = dict.fromkeys(seats, 0.0)
    for agent in env.agent_iter():
        _, _, terminated, truncated, _ = env.last()
        if terminated or truncated:
            env.step(None)
        elif agent == human:
            print(env.observe(agent))
            try:
                line = input(f"{agent}> ")
            except EOFError:
                print(
                    f"\nEnd of input before the game was over; stopping ({human} to move).",
                    file=sys.stderr,
                )
                env.close()
                return _CUT_SHORT
            if not sys.stdin.isatty():
                # Piped input is not echoed by a terminal; echo it so the session reads in order.
                print(line)
            env.step(line)
            info = env.infos.get(agent, {})
            if info.get("invalid_action"):
                print(f"Invalid move: {info['parse']['error']}")
            print()
        else:
            env.step(ask(opponents[agent], env, agent))
            parsed = env.infos.get(agent, {}).get("parse", {})
            if parsed.get("ok"):
                print(f"{agent} ({opponent_name}) plays {parsed.get('extracted')}.\n")
            else:
                print(f"{agent} ({opponent_name}) made an invalid move: {parsed.get('error')}\n")
        for a, r in env.rewards.items():
            totals[a] += float(r)

    print("Game over.\n")
    print("Transcript:")
    print(env.render())
    print("\nFinal rewards:")
    for a in seats:
        who = "you" if a == human else opponent_name
        print(f"  {a} ({who}): {totals[a]:+g}")
    env.close()
    return 0


# ---- arena -----------------------------------------------------------------------------------
def _cmd_arena(args: argparse.Namespace) -> int:
    spec(args.env_id)  # an unknown id fails here, before any name is checked
    players = [p.strip() for p in args.players.split(",")]
    if any(not p for p in players):
        print(
            f"selfplay-gym: expected comma-separated player names, got {args.players!r}",
            file=sys.stderr,
        )
        return _USAGE_ERROR
    if any(is_model_spec(p) for p in players):
        # Check the seat count before loading a model, which can take a while.
        seats = list(selfplay_gym.make(args.env_id).possible_agents)
        if len(players) != len(seats):
            print(
                f"selfplay-gym: expected {len(seats)} players for {args.env_id} "
                f"(seats {seats}), got {len(players)}: {players}",
                file=sys.stderr,
            )
            return _USAGE_ERROR
    loaded: list[Any] = []
    for player in players:
        if not is_model_spec(player):
            loaded.append(player)
            continue
        try:
            loaded.append(_load_model_player(player))
        except ImportError as exc:
            extra = "vllm" if player.startswith("vllm:") else "llm"
            print(
                f"selfplay-gym: player {player!r} needs a language-model backend that is not "
                f'installed ({exc}); install it with: pip install "selfplay-gym[{extra}]"',
                file=sys.stderr,
            )
            return _USAGE_ERROR
        except (ValueError, OSError) as exc:
            print(f"selfplay-gym: cannot load player {player!r}: {exc}", file=sys.stderr)
            return _USAGE_ERROR
        except Exception as exc:
            print(
                f"selfplay-gym: loading player {player!r} failed with {type(exc).__name__}: {exc}",
                file=sys.stderr,
            )
            return _CUT_SHORT
    try:
        result = play_match(
            args.env_id,
            loaded,
            games=args.games,
            seed=args.seed,
            swap_seats=not args.no_swap,
            progress=True,
            names=players,
        )
    except ValueError as exc:
        print(f"selfplay-gym: {exc}", file=sys.stderr)
        return _USAGE_ERROR
    except RuntimeError as exc:
        print(f"selfplay-gym: {exc}", file=sys.stderr)
        return _CUT_SHORT
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(result.table())
        print()
        print(result.ratings().table())
    return 0


def _load_model_player(player: str) -> Any:
    """A language-model policy from a spec such as ``hf:PATH`` (transformers loads only now)."""
    from selfplay_gym.llm import load_policy

    return load_policy(player)
