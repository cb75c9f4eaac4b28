"""Where selfplay-gym caches what it builds once: search indexes, repository snapshots, the tiny model."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_root"]


def cache_root() -> Path:
    """The cache directory (not created here).

    ``$SELFPLAY_GYM_CACHE`` if set, else ``$XDG_CACHE_HOME/selfplay-gym``, else
    ``~/.cache/selfplay-gym``.
    """
    explicit = os.environ.get("SELFPLAY_GYM_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "selfplay-gym"
