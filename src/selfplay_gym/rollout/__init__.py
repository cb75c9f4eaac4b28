"""Batched self-play rollouts, trajectory files and advantage estimators.

* :class:`RolloutEngine` -- many envs in flight; every pending prompt that maps to the same
  policy goes out in one batch, whatever turn each env is at.
* :class:`TrajectoryWriter`, :func:`read_records`, :data:`SCHEMA_VERSION` -- the JSONL
  trajectory file (layout documented in :mod:`selfplay_gym.rollout.records`).
* :class:`RoleBaseline`, :func:`group_relative`, :func:`per_role_normalized`,
  :func:`drop_zero_advantage` -- SPIRAL's RAE, GRPO groups, MARS's per-role normalisation.
"""

from selfplay_gym.rollout.advantages import (
    RoleBaseline,
    drop_zero_advantage,
    group_relative,
    per_role_normalized,
)
from selfplay_gym.rollout.engine import PolicyMapping, RolloutEngine, RolloutStats
from selfplay_gym.rollout.records import (
    SCHEMA_VERSION,
    TrajectoryWriter,
    read_records,
    step_records,
)

__all__ = [
    "SCHEMA_VERSION",
    "PolicyMapping",
    "RoleBaseline",
    "RolloutEngine",
    "RolloutStats",
    "TrajectoryWriter",
    "drop_zero_advantage",
    "group_relative",
    "per_role_normalized",
    "read_records",
    "step_records",
]
