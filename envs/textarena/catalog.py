"""The static table of TextArena ids the bridge registers, and the script that writes it.

``import selfplay_gym`` must know every bridged id without importing textarena (a 1.5 s import
that is an optional extra), so the ids live in a committed table, :mod:`selfplay_gym._textarena_ids`, written by::

    python -m selfplay_gym.envs.textarena.catalog --write

which imports textarena, reads its registry and probes each game for the player counts its
``reset`` accepts. Run it again after upgrading textarena and commit the new table.

Id mapping: a TextArena id ``<Name>-v<N>[-<variant>]`` becomes
``selfplay/TextArena<Name><Variant>-v<N>``, the variant's words capitalised and joined
(``TicTacToe-v0`` -> ``selfplay/TextArenaTicTacToe-v0``, ``KuhnPoker-v0-short`` ->
``selfplay/TextArenaKuhnPokerShort-v0``, ``Taboo-v0-city/country`` ->
``selfplay/TextArenaTabooCityCountry-v0``). TextArena's ``-raw`` and ``-train`` ids differ from
the default id only in TextArena's observation wrappers, which the bridge replaces with its own
prompt, so they are not registered separately.
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import selfplay_gym

# The table lives in the core (the registry imports it without importing this family).
_TABLE_PATH = Path(selfplay_gym.__file__).with_name("_textarena_ids.py")

__all__ = ["TextArenaGame", "GAMES", "BY_TEXTARENA_ID", "BY_NAME", "selfplay_id", "base_games"]

_TA_ID_RE = re.compile(r"^(?P<name>[A-Za-z0-9]+)-v(?P<version>\d+)(?:-(?P<variant>.+))?$")
WRAPPER_SUFFIXES = ("-raw", "-train")
"""TextArena id suffixes that only change TextArena's own observation wrappers."""
MAX_PROBED_PLAYERS = 15


@dataclass(frozen=True)
class TextArenaGame:
    """One TextArena id as the bridge registers it."""

    textarena_id: str
    """The id in TextArena's registry, e.g. ``"KuhnPoker-v0-short"``."""
    name: str
    """The bridged id's name, e.g. ``"TextArenaKuhnPokerShort"``."""
    version: int
    """The ``N`` of ``-vN`` (TextArena's version, kept)."""
    entry_point: str
    """TextArena's ``"module:Class"`` of the game."""
    players: tuple[int, ...]
    """Player counts whose ``reset`` succeeded when the table was written (empty: none did)."""
    format_actions: bool
    """TextArena's default wrappers bracket an action without brackets (``ActionFormattingWrapper``)."""
    clip_chars: int
    """TextArena's default wrappers clip actions to this many characters (0: no clipping)."""
    numpy_random: bool
    """The game's module draws from ``numpy.random`` (its global state is isolated too)."""
    probe_error: str
    """Why no player count could be probed (empty when one could)."""

    @property
    def id(self) -> str:
        """The registered id, e.g. ``"selfplay/TextArenaKuhnPokerShort-v0"``."""
        return f"selfplay/{self.name}-v{self.version}"

    @property
    def base(self) -> bool:
        """Whether this is a base id (no variant suffix)."""
        return "-v" in self.textarena_id and _TA_ID_RE.match(self.textarena_id)["variant"] is None

    @property
    def default_players(self) -> int:
        """The player count the bridged id uses unless told otherwise (the smallest that works)."""
        multi = [n for n in self.players if n >= 2]
        return min(multi) if multi else (self.players[0] if self.players else 2)


def selfplay_id(textarena_id: str) -> str:
    """The registered id of a TextArena id (see the module docstring for the mapping)."""
    name, version = _split(textarena_id)
    return f"selfplay/{name}-v{version}"


def _split(textarena_id: str) -> tuple[str, int]:
    match = _TA_ID_RE.match(textarena_id)
    if match is None:
        raise ValueError(
            f"expected a TextArena id like 'TicTacToe-v0[-variant]', got {textarena_id!r}"
        )
    words = re.split(r"[^A-Za-z0-9]+", match["variant"] or "")
    variant = "".join(w[:1].upper() + w[1:] for w in words if w)
    return f"TextArena{match['name']}{variant}", int(match["version"])


def base_games() -> tuple[TextArenaGame, ...]:
    """One id per TextArena game class: its base id, else its first variant."""
    seen: dict[str, TextArenaGame] = {}
    for game in GAMES:
        current = seen.get(game.entry_point)
        if current is None or (game.base and not current.base):
            seen[game.entry_point] = game
    return tuple(seen.values())


# ---- writing the table (imports textarena) ---------------------------------------------------
def construct_raw(textarena_id: str) -> Any:
    """A TextArena game without TextArena's wrappers (what its ``-raw`` id gives)."""
    import importlib

    import textarena  # noqa: F401 - fills the registry
    from textarena.envs.registration import ENV_REGISTRY

    spec = ENV_REGISTRY[textarena_id]
    entry = spec.entry_point
    if isinstance(entry, str):
        module, _, attr = entry.partition(":")
        entry = getattr(importlib.import_module(module), attr)
    return entry(**spec.kwargs)


class _ProbeTimeout(Exception):
    pass


def _on_alarm(signum: int, frame: Any) -> None:
    raise _ProbeTimeout


def _probe_players(spec: Any, timeout: float = 60.0) -> tuple[tuple[int, ...], str]:
    """Player counts in 1..MAX_PROBED_PLAYERS whose reset works, and the first error otherwise."""
    import random

    state = random.getstate()
    ok: list[int] = []
    error = ""
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    try:
        for n in range(1, MAX_PROBED_PLAYERS + 1):
            signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                env = construct_raw(spec.id)
                env.reset(num_players=n, seed=0)
                ok.append(n)
            except _ProbeTimeout:
                error = error or f"reset timed out after {timeout:.0f} s"
                break
            except BaseException as exc:  # noqa: BLE001 - any failure is a result of the probe
                if isinstance(exc, KeyboardInterrupt):
                    raise
                lines = f"{type(exc).__name__}: {exc}".strip().splitlines() or ["error"]
                error = error or lines[0][:200]
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.signal(signal.SIGALRM, previous)
        random.setstate(state)
    error = re.sub(r"[^\s'\"]*site-packages/", "", error)  # no paths of this machine in the table
    return tuple(ok), ("" if ok else error or "no player count from 1 to 15 was accepted")


def build_table() -> list[TextArenaGame]:
    """Read TextArena's registry and probe every game (slow: resets every game up to 15 times)."""
    import importlib
    import inspect

    import textarena  # noqa: F401 - fills the registry
    from textarena.envs.registration import ENV_REGISTRY

    games = []
    names: dict[str, str] = {}
    for textarena_id, spec in ENV_REGISTRY.items():
        if textarena_id.endswith(WRAPPER_SUFFIXES):
            continue
        name, version = _split(textarena_id)
        if (name, version) in names:
            raise ValueError(f"{textarena_id} and {names[name, version]} map to the same id")
        names[name, version] = textarena_id
        entry = spec.entry_point
        if not isinstance(entry, str):
            entry = f"{entry.__module__}:{entry.__qualname__}"
        wrappers = [w.__name__ for w in spec.default_wrappers or ()]
        clip = 0
        if "ClipCharactersActionWrapper" in wrappers:
            from textarena.wrappers import ClipCharactersActionWrapper

            default = inspect.signature(ClipCharactersActionWrapper.__init__).parameters
            clip = int(default["max_num_characters"].default)
        try:
            source = inspect.getsource(importlib.import_module(entry.partition(":")[0]))
        except Exception:  # noqa: BLE001 - an import failure shows in the probe too
            source = ""
        players, error = _probe_players(spec)
        print(f"{textarena_id:40s} players={players} {error}", file=sys.stderr)
        games.append(
            TextArenaGame(
                textarena_id=textarena_id,
                name=name,
                version=version,
                entry_point=entry,
                players=players,
                format_actions="ActionFormattingWrapper" in wrappers,
                clip_chars=clip,
                numpy_random="np.random" in source or "numpy.random" in source,
                probe_error=error,
            )
        )
    return games


def write_table(games: list[TextArenaGame], path: Path) -> None:
    """Write ``games`` as the Python module :mod:`selfplay_gym._textarena_ids`."""
    import textarena

    version = getattr(textarena, "__version__", "unknown")
    lines = [
        '"""TextArena ids and their player counts (generated: do not edit by hand).',
        "",
        "Written by ``python -m selfplay_gym.envs.textarena.catalog --write``.",
        f"Written from textarena {version}. Fields: textarena id, name, version, entry point,",
        "player counts, format_actions, clip_chars, numpy_random, probe_error.",
        '"""',
        "",
        f"TEXTARENA_VERSION = {version!r}",
        "",
        "ROWS = (",
    ]
    for g in games:
        row = (
            g.textarena_id,
            g.name,
            g.version,
            g.entry_point,
            g.players,
            g.format_actions,
            g.clip_chars,
            g.numpy_random,
            g.probe_error,
        )
        lines.append(f"    {row!r},")
    lines.append(")")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _load() -> tuple[TextArenaGame, ...]:
    from selfplay_gym._textarena_ids import ROWS

    return tuple(TextArenaGame(*row) for row in ROWS)


GAMES: tuple[TextArenaGame, ...] = _load()
"""Every bridged TextArena id, in TextArena's registry order."""
BY_TEXTARENA_ID = {g.textarena_id: g for g in GAMES}
BY_NAME = {g.name: g for g in GAMES}


def main(argv: list[str] | None = None) -> int:
    """``--write``: regenerate the table; otherwise list the ids."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--write", action="store_true", help="probe textarena and rewrite selfplay_gym/_textarena_ids.py"
    )
    args = parser.parse_args(argv)
    if args.write:
        games = build_table()
        write_table(games, _TABLE_PATH)
        print(f"wrote {len(games)} ids")
        return 0
    for g in GAMES:
        print(f"{g.id:55s} {g.textarena_id:35s} players={list(g.players)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
