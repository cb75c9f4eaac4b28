"""The one import of ``pyspiel``, with the install hint when the ``openspiel`` extra is missing."""

from __future__ import annotations

try:
    import pyspiel
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        'the OpenSpiel envs need the "openspiel" extra: pip install "selfplay-gym[openspiel]" '
        f"({exc})"
    ) from exc

__all__ = ["pyspiel"]
