"""The preference game through the batched rollout engine: scripted players, then the tiny model as responders."""

from __future__ import annotations

import pytest
from rollout_checks import rollout

PREFERENCE = "selfplay/PreferenceGame-v0"


def test_scripted_rollout_with_a_creator_is_constant_sum_over_responders():
    steps, episodes = rollout(
        PREFERENCE, {"scripted": "scripted"}, 8, num_envs=2, env_kwargs={"creator": True}, seed=3
    )
    assert len(episodes) == 8
    for ep in episodes:
        assert sum(ep["returns"][f"responder_{i}"] for i in range(5)) == pytest.approx(2.5)
        assert 0.0 <= ep["returns"]["creator_0"] <= 0.5


def test_tiny_model_answers_and_is_ranked_through_the_rollout_engine(tiny_text_policy):
    policy = tiny_text_policy()
    steps, episodes = rollout(
        PREFERENCE,
        {"tiny": policy, "scripted": "scripted"},
        3,
        mapping={"responder_0": "scripted", "responder": "tiny"},
        num_envs=2,
        env_kwargs={"num_responses": 3},
        seed=0,
    )
    assert len(episodes) == 3
    tiny_steps = [r for r in steps if r["policy"] == "tiny" and r["token_ids"]]
    assert tiny_steps and all(not r["invalid_action"] for r in tiny_steps)  # any text is a response
    for ep in episodes:
        returns = [ep["returns"][f"responder_{i}"] for i in range(3)]
        assert all(0.0 <= r <= 1.0 for r in returns) and sum(returns) == pytest.approx(1.5)
