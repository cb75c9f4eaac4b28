"""The preference game through the batched rollout engine: scripted players, then the tiny model as responders."""

from __future__ import annotations

import pytest

from selfplay_gym.rollout import RolloutEngine

PREFERENCE = "selfplay/PreferenceGame-v0"


def returns_match_rewards(records):
    steps = [r for r in records if r["type"] == "step"]
    episodes = [r for r in records if r["type"] == "episode"]
    for ep in episodes:
        for agent, ret in ep["returns"].items():
            mine = [r for r in steps if r["episode_id"] == ep["episode_id"] and r["agent"] == agent]
            assert sum(r["reward"] for r in mine) == pytest.approx(ret)
    return steps, episodes


def test_scripted_rollout_with_a_creator_is_constant_sum_over_responders():
    engine = RolloutEngine(
        PREFERENCE, {"scripted": "scripted"}, num_envs=2, env_kwargs={"creator": True}, seed=3
    )
    engine.run(8)
    steps, episodes = returns_match_rewards(engine.records)
    assert len(episodes) == 8
    for ep in episodes:
        assert sum(ep["returns"][f"responder_{i}"] for i in range(5)) == pytest.approx(2.5)
        assert 0.0 <= ep["returns"]["creator_0"] <= 0.5


def test_tiny_model_answers_and_is_ranked_through_the_rollout_engine(tiny_model_path):
    from selfplay_gym.llm import LLMPolicy, SamplingParams
    from selfplay_gym.llm.transformers_backend import TransformersBackend

    policy = LLMPolicy(
        TransformersBackend(str(tiny_model_path)),
        sampling=SamplingParams(max_new_tokens=12, seed=None),
        chat=False,
        name="tiny",
    )
    engine = RolloutEngine(
        PREFERENCE,
        {"tiny": policy, "scripted": "scripted"},
        mapping={"responder_0": "scripted", "responder": "tiny"},
        num_envs=2,
        env_kwargs={"num_responses": 3},
        seed=0,
    )
    engine.run(3)
    steps, episodes = returns_match_rewards(engine.records)
    assert len(episodes) == 3
    tiny_steps = [r for r in steps if r["policy"] == "tiny" and r["token_ids"]]
    assert tiny_steps and all(not r["invalid_action"] for r in tiny_steps)  # any text is a response
    for ep in episodes:
        returns = [ep["returns"][f"responder_{i}"] for i in range(3)]
        assert all(0.0 <= r <= 1.0 for r in returns) and sum(returns) == pytest.approx(1.5)
