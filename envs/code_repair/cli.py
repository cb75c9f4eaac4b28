"""``selfplay-gym repos``: fetch a PyPI project's sdist into the cache, or list the repositories.

Examples::

    selfplay-gym repos list                       # embedded + cached snapshots + known projects
    selfplay-gym repos list --json
    selfplay-gym repos fetch inflection           # the pinned 0.5.1, sha256-checked
    selfplay-gym repos fetch toolz --version 1.2.0
    selfplay-gym repos fetch embedded             # snapshot the embedded library (offline)

The core program (:mod:`selfplay_gym.cli`) adds this command by name; nothing here is imported
until ``selfplay-gym repos`` runs. Exit codes: 0 on success, 1 when a fetch fails (pip or PyPI
unavailable, a bad archive), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> None:
    """Add the ``repos`` command and its subcommands to ``commands`` (an argparse subparsers)."""
    repos = commands.add_parser(
        "repos", help="code-repair repositories: fetch PyPI sdists into the cache, list them"
    )
    sub = repos.add_subparsers(dest="repos_command", metavar="SUBCOMMAND", required=True)
    fetch = sub.add_parser(
        "fetch", help="download a PyPI project's sdist (pip download) and snapshot it"
    )
    fetch.add_argument(
        "name",
        metavar="NAME",
        help='PyPI project (inflection, parse, toolz, cachetools are pinned) or "embedded"',
    )
    fetch.add_argument("--version", default=None, help="version (default: pinned, else latest)")
    fetch.add_argument("--json", action="store_true", help="print the repository as JSON")
    listing = sub.add_parser("list", help="list the embedded, cached and known repositories")
    listing.add_argument("--json", action="store_true", help="print the list as JSON")


def run(args: argparse.Namespace) -> int:
    """Run ``selfplay-gym repos SUBCOMMAND``; returns the exit code."""
    from selfplay_gym.envs.code_repair.repos import RepoError

    try:
        if args.repos_command == "fetch":
            return _fetch(args)
        return _list(args)
    except RepoError as exc:
        print(f"selfplay-gym repos: {exc}", file=sys.stderr)
        return 2 if str(exc).startswith("expected") else 1


def _fetch(args: argparse.Namespace) -> int:
    from selfplay_gym.envs.code_repair.repos import embedded_repo, fetch

    if args.name == "embedded":
        repo = embedded_repo()
    else:
        print(
            f"fetching {args.name}{'==' + args.version if args.version else ''} ...",
            file=sys.stderr,
        )
        repo = fetch(args.name, args.version)
    if args.json:
        print(json.dumps(repo.as_dict(), indent=1))
        return 0
    print(f"{repo.name} {repo.version} ({repo.source}, licence {repo.license})")
    print(f"snapshot: {repo.root}")
    print(f"tests: {', '.join(repo.test_paths)} ({len(repo.test_files())} files)")
    print(f"pythonpath: {', '.join(repo.pythonpath)}; fingerprint {repo.fingerprint[:16]}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from selfplay_gym.envs.code_repair.repos import KNOWN_PROJECTS, cached_repos, embedded_repo

    rows: list[dict[str, Any]] = []
    embedded = embedded_repo()
    rows.append({**embedded.as_dict(), "cached": True})
    seen = {("embedded", embedded.name, embedded.version)}
    for record in cached_repos():
        key = (record.get("source"), record.get("name"), record.get("version"))
        if key in seen:
            continue
        seen.add(key)
        rows.append({**record, "root": f"{record['dir']}/tree", "cached": True})
    for name, known in sorted(KNOWN_PROJECTS.items()):
        if ("pypi", name, known.version) not in seen:
            rows.append({"name": name, "version": known.version, "source": "pypi", "cached": False})
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    for row in rows:
        where = (
            row["root"] if row["cached"] else "not fetched: selfplay-gym repos fetch " + row["name"]
        )
        licence = row.get("license") or "?"
        print(f"{row['source']:<9}{row['name']:<14}{row['version']:<10}{licence:<14}{where}")
    return 0
