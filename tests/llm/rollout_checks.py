"""Shared checks of the tiny-model smoke tests that run through :class:`RolloutEngine`.

Imported as ``from rollout_checks import ...``: pytest puts this directory (no ``__init__.py``)
on ``sys.path``, the same way ``fake_openai_server`` is found.
"""

from __future__ import annotations

from typing import Any

import pytest

from selfplay_gym.rollout import RolloutEngine

Record = dict[str, Any]


def returns_match_rewards(records: list[Record]) -> tuple[list[Record], list[Record]]:
    """Assert each episode's returns equal the sum of its step rewards, agent by agent.

    Returns the ``(steps, episodes)`` records.
    """
    steps = [r for r in records if r["type"] == "step"]
    episodes = [r for r in records if r["type"] == "episode"]
    for ep in episodes:
        for agent, ret in ep["returns"].items():
            mine = [r for r in steps if r["episode_id"] == ep["episode_id"] and r["agent"] == agent]
            assert sum(r["reward"] for r in mine) == pytest.approx(ret)
    return steps, episodes


def rollout(
    env_id: str, policies: dict[str, Any], episodes: int, **engine_kwargs: Any
) -> tuple[list[Record], list[Record]]:
    """Run ``episodes`` episodes of ``env_id`` and return its checked ``(steps, episodes)``."""
    engine = RolloutEngine(env_id, policies, **engine_kwargs)
    engine.run(episodes)
    return returns_match_rewards(engine.records)
