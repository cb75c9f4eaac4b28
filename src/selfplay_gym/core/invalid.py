"""What happens when an agent's output is not a legal move.

Three policies, as used across the self-play literature:

* ``forfeit`` -- the game ends at once; the offender gets ``offender_reward`` and every other
  player ``opponent_reward``. SPIRAL trains with -1.5 / +0.5 and evaluates with -1 / +1.
* ``penalize`` -- the offender gets ``penalty``, the game plays the game's fallback move for it
  (for example *check, else fold* in poker; *pass the turn* in TicTacToe) and continues.
* ``retry`` -- the offender keeps the turn and its next prompt says what was wrong, up to
  ``retry_budget`` extra attempts per turn, each costing ``retry_penalty``; when the budget is
  spent, ``exhausted`` (``forfeit`` or ``penalize``) applies.

Example:
    >>> InvalidMovePolicy.coerce("retry").retry_budget
    2
    >>> InvalidMovePolicy.coerce({"mode": "forfeit", "offender_reward": -1.0}).opponent_reward
    0.5
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["InvalidMovePolicy", "INVALID_MODES"]

INVALID_MODES = ("forfeit", "penalize", "retry")


@dataclass(frozen=True)
class InvalidMovePolicy:
    """How an env treats an unparseable or illegal move."""

    mode: str = "forfeit"
    """One of ``forfeit``, ``penalize``, ``retry``."""
    offender_reward: float = -1.5
    """Forfeit: terminal reward of the player who made the invalid move (SPIRAL training value)."""
    opponent_reward: float = 0.5
    """Forfeit: terminal reward of each other player (SPIRAL training value)."""
    penalty: float = -1.0
    """Penalize: reward of the offender for each invalid move; the game goes on."""
    retry_budget: int = 2
    """Retry: extra attempts allowed per turn before ``exhausted`` applies."""
    retry_penalty: float = 0.0
    """Retry: reward of the offender for each failed attempt."""
    exhausted: str = "forfeit"
    """Retry: the policy applied once the budget is spent (``forfeit`` or ``penalize``)."""

    def __post_init__(self) -> None:
        if self.mode not in INVALID_MODES:
            raise ValueError(f"expected mode in {INVALID_MODES}, got {self.mode!r}")
        if self.exhausted not in ("forfeit", "penalize"):
            raise ValueError(
                f"expected exhausted in ('forfeit', 'penalize'), got {self.exhausted!r}"
            )
        if not isinstance(self.retry_budget, int) or self.retry_budget < 0:
            raise ValueError(f"expected retry_budget to be an int >= 0, got {self.retry_budget!r}")
        for name in ("offender_reward", "opponent_reward", "penalty", "retry_penalty"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value != value:
                raise ValueError(f"expected {name} to be a finite number, got {value!r}")

    @classmethod
    def coerce(cls, value: InvalidMovePolicy | str | Mapping[str, Any] | None) -> InvalidMovePolicy:
        """Build a policy from a policy, a mode name, a mapping of fields, or ``None`` (default)."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            return cls(mode=value)
        if isinstance(value, Mapping):
            known = {f.name for f in dataclasses.fields(cls)}
            unknown = sorted(set(value) - known)
            if unknown:
                raise ValueError(
                    f"unknown invalid-move policy fields {unknown}; expected {sorted(known)}"
                )
            return cls(**value)
        raise TypeError(
            f"expected an InvalidMovePolicy, a mode name or a mapping, got {type(value).__name__}"
        )
