"""``selfplay-gym volleyball video``: play one episode with scripted drones and save it as a video."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> None:
    """Add the ``volleyball`` command to ``commands`` (an argparse subparsers)."""
    volleyball = commands.add_parser("volleyball", help="drone volleyball: render an episode")
    sub = volleyball.add_subparsers(dest="volleyball_command", metavar="SUBCOMMAND", required=True)
    video = sub.add_parser(
        "video", help="play one episode with bots in every seat and write a GIF or MP4"
    )
    video.add_argument(
        "--id", default="selfplay/Volleyball3v3-v0", help="a volleyball id (default 3v3)"
    )
    video.add_argument(
        "--bot",
        action="append",
        default=[],
        metavar="SEAT=BOT",
        help="bot of a seat or a role, e.g. blue=scripted red_0=random (default: the id's)",
    )
    video.add_argument("--out", default="volleyball.gif", help="output path (.gif or .mp4)")
    video.add_argument("--seed", type=int, default=0, help="episode seed (default 0)")
    video.add_argument("--camera", default="side", help="camera: side or end (default side)")
    video.add_argument("--width", type=int, default=480)
    video.add_argument("--height", type=int, default=320)
    video.add_argument("--fps", type=int, default=25, help="frames per second of the video")
    video.add_argument("--max-steps", type=int, default=500, help="control steps at most")


def run(args: argparse.Namespace) -> int:
    """Run ``selfplay-gym volleyball SUBCOMMAND``; returns the exit code (2 for bad arguments)."""
    try:
        return _video(args)
    except (ValueError, TypeError, ImportError) as exc:
        print(f"selfplay-gym volleyball: {exc}", file=sys.stderr)
        return 2


def _video(args: argparse.Namespace) -> int:
    import selfplay_gym
    from selfplay_gym.core.bots import Bot
    from selfplay_gym.envs.volleyball.env import save_video

    spec = selfplay_gym.spec(args.id)
    if spec.family != "volleyball":
        raise ValueError(f"expected a volleyball id, got {args.id}")
    env = spec.make(
        render_mode="rgb_array", camera=args.camera, width=args.width, height=args.height
    )
    chosen: dict[str, str] = {}
    for item in args.bot:
        seat, sep, name = item.partition("=")
        if not sep:
            raise ValueError(f"expected SEAT=BOT, got {item!r}")
        chosen[seat] = name
    bots: dict[str, Bot] = {}
    for agent in env.possible_agents:
        role = agent.rpartition("_")[0]
        name = chosen.get(agent, chosen.get(role, spec.default_opponent))
        bots[agent] = selfplay_gym.registry.resolve_opponent(args.id, name)
    for i, bot in enumerate(bots.values()):
        bot.reset(args.seed * 1000 + i)
    env.reset(seed=args.seed)
    every = max(1, round(env.metadata["render_fps"] / args.fps))
    frames = [env.render()]
    steps, infos = 0, {}
    while env.agents and steps < args.max_steps:
        _, _, _, _, infos = env.step({a: bots[a].act(env, a) for a in env.agents})
        steps += 1
        if steps % every == 0:
            frames.append(env.render())
    save_video(frames, args.out, fps=args.fps)
    env.close()
    first = next(iter(infos.values()), {})
    summary = {
        "out": args.out,
        "frames": len(frames),
        "steps": steps,
        "bots": {a: type(b).__name__ for a, b in bots.items()},
        **{k: first[k] for k in ("winner", "fault_name") if k in first},
    }
    print(json.dumps(summary))
    return 0
