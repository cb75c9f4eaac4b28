"""Advantages from trajectory records: the baselines of the self-play papers.

Each function takes ``step`` records (see :mod:`selfplay_gym.rollout.records`) and returns new
dicts with an ``advantage`` field, computed from each record's ``return`` (the agent's episode
reward, gamma = 1, which every action of the episode shares -- SPIRAL puts it on the last token
of each turn). Inputs are never modified.

* :class:`RoleBaseline` -- SPIRAL's role-conditioned advantage (RAE): an exponential moving
  average of the return per (env id, role, seat), decay 0.95, read before it is updated.
* :func:`group_relative` -- GRPO: the return minus the mean of its group (episodes sharing a
  seed), optionally divided by the group's standard deviation.
* :func:`per_role_normalized` -- MARS: the same, but each group is split by role and seat, so
  player 0 and player 1 are normalised separately.
* :func:`drop_zero_advantage` -- SPIRAL's ``filter_zero_adv``: samples with no signal removed.

Example:
    >>> recs = [{"env_id": "g", "group_id": 0, "episode_id": e, "agent": f"player_{s}",
    ...          "role": "player", "seat": s, "return": r}
    ...         for e, s, r in [(0, 0, 1.0), (0, 1, -1.0), (1, 0, 0.0), (1, 1, 0.0)]]
    >>> [r["advantage"] for r in group_relative(recs, std=False)]
    [1.0, -1.0, 0.0, 0.0]
    >>> [r["advantage"] for r in per_role_normalized(recs, std=False)]
    [0.5, -0.5, -0.5, 0.5]
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["RoleBaseline", "group_relative", "per_role_normalized", "drop_zero_advantage"]

RoleKey = tuple[Any, ...]


def _steps(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in records:
        if r.get("type", "step") != "step":
            continue
        if "return" not in r:
            raise KeyError(f"record has no 'return' field: {dict(r)!r:.120}")
        out.append(dict(r))
    return out


class RoleBaseline:
    """SPIRAL's role-conditioned advantage estimation (RAE).

    One baseline per key (by default env id, role and seat), starting at 0. For a batch of
    records, every record's advantage is ``scale * return - baseline[key]`` with the baseline
    as it was *before* the batch; then each key's baseline moves toward the mean scaled return
    of its records in the batch: ``b <- decay * b + (1 - decay) * mean``.

    Args:
        decay: EMA decay (SPIRAL: 0.95).
        scale: Multiplier of the return (SPIRAL's reward scale, 1 by default).
        keys: Record fields that identify a role.
    """

    def __init__(
        self,
        decay: float = 0.95,
        scale: float = 1.0,
        keys: Sequence[str] = ("env_id", "role", "seat"),
    ):
        if not 0 <= decay < 1:
            raise ValueError(f"expected 0 <= decay < 1, got {decay}")
        self.decay = float(decay)
        self.scale = float(scale)
        self.keys = tuple(keys)
        self.baselines: dict[RoleKey, float] = {}

    def key(self, record: Mapping[str, Any]) -> RoleKey:
        """The role key of a record."""
        return tuple(record.get(k) for k in self.keys)

    def __call__(self, records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Advantages for a batch of records, then the baselines' update."""
        steps = _steps(records)
        sums: dict[RoleKey, list[float]] = defaultdict(lambda: [0.0, 0])
        for r in steps:
            k = self.key(r)
            value = self.scale * float(r["return"])
            r["advantage"] = value - self.baselines.get(k, 0.0)
            acc = sums[k]
            acc[0] += value
            acc[1] += 1
        for k, (total, count) in sums.items():
            b = self.baselines.get(k, 0.0)
            self.baselines[k] = self.decay * b + (1 - self.decay) * total / count
        return steps

    def state_dict(self) -> dict[str, Any]:
        """The baselines, JSON-ready (to checkpoint a trainer)."""
        return {
            "decay": self.decay,
            "scale": self.scale,
            "keys": list(self.keys),
            "baselines": [[list(k), v] for k, v in self.baselines.items()],
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.decay = float(state["decay"])
        self.scale = float(state["scale"])
        self.keys = tuple(state["keys"])
        self.baselines = {tuple(k): float(v) for k, v in state["baselines"]}


def _normalized(
    records: Iterable[Mapping[str, Any]],
    keys: Sequence[str],
    std: bool,
    eps: float,
    episode_level: bool,
) -> list[dict[str, Any]]:
    steps = _steps(records)
    groups: dict[RoleKey, list[dict[str, Any]]] = defaultdict(list)
    for r in steps:
        groups[tuple(r.get(k) for k in keys)].append(r)
    for members in groups.values():
        if episode_level:
            # Each (episode, agent) counts once, however many turns it took.
            seen: dict[tuple[Any, Any], float] = {}
            for r in members:
                seen.setdefault((r.get("episode_id"), r.get("agent")), float(r["return"]))
            values = list(seen.values())
        else:
            values = [float(r["return"]) for r in members]
        mean = sum(values) / len(values)
        scale = 1.0
        if std:
            var = sum((v - mean) ** 2 for v in values) / len(values)
            scale = 1.0 / (math.sqrt(var) + eps)
        for r in members:
            r["advantage"] = (float(r["return"]) - mean) * scale
    return steps


def group_relative(
    records: Iterable[Mapping[str, Any]],
    *,
    std: bool = True,
    eps: float = 1e-6,
    keys: Sequence[str] = ("run_id", "env_id", "group_id"),
    episode_level: bool = True,
) -> list[dict[str, Any]]:
    """GRPO advantages: ``(return - group mean) / (group std + eps)``.

    Args:
        records: Step records.
        std: Divide by the group's standard deviation (``False``: Dr. GRPO, mean only).
        eps: Added to the standard deviation.
        keys: Fields that define a group (``run_id`` keeps runs appended to one file apart).
        episode_level: Each agent's episode counts once in the mean and std (a long game
            does not outweigh a short one); ``False`` counts every record.
    """
    return _normalized(records, keys, std, eps, episode_level)


def per_role_normalized(
    records: Iterable[Mapping[str, Any]],
    *,
    std: bool = True,
    eps: float = 1e-6,
    keys: Sequence[str] = ("run_id", "env_id", "group_id", "role", "seat"),
    episode_level: bool = True,
) -> list[dict[str, Any]]:
    """MARS's agent-specific normalisation: :func:`group_relative` within each role and seat."""
    return _normalized(records, keys, std, eps, episode_level)


def drop_zero_advantage(
    records: Iterable[Mapping[str, Any]], *, atol: float = 0.0
) -> list[dict[str, Any]]:
    """The records whose ``|advantage| > atol`` (SPIRAL drops zero-advantage samples)."""
    out = []
    for r in records:
        if "advantage" not in r:
            raise KeyError("records need an 'advantage' field: compute advantages first")
        if abs(float(r["advantage"])) > atol:
            out.append(dict(r))
    return out
