"""``selfplay-gym textarena``: the bridge's commands (``sweep``, ``ids``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> None:
    """Add the ``textarena`` command and its subcommands to ``commands`` (argparse subparsers)."""
    textarena = commands.add_parser("textarena", help="the TextArena bridge: sweep, ids")
    sub = textarena.add_subparsers(dest="textarena_command", metavar="SUBCOMMAND", required=True)
    sweep = sub.add_parser(
        "sweep", help="run the conformance checks on every TextArena base game; write the page"
    )
    sweep.add_argument("ids", nargs="*", help="TextArena ids (default: every base game)")
    sweep.add_argument(
        "--output", type=Path, default=None, help="page to write (default docs/textarena_status.md)"
    )
    sub.add_parser("ids", help="list every bridged id with its TextArena id and player counts")


def run(args: argparse.Namespace) -> int:
    """Run ``selfplay-gym textarena <subcommand>``."""
    if args.textarena_command == "ids":
        from selfplay_gym.envs.textarena.catalog import main

        return main([])
    from selfplay_gym.envs.textarena.sweep import main

    argv = list(args.ids)
    if args.output is not None:
        argv += ["--output", str(args.output)]
    return main(argv)
