"""SPC through the batched rollout engine: the tiny model as the critic, a scripted sneaky generator."""

from __future__ import annotations

import pytest

from selfplay_gym.rollout import RolloutEngine

SPC = "selfplay/SneakyCritic-v0"


def test_tiny_model_critiques_through_the_rollout_engine(tiny_model_path):
    from selfplay_gym.llm import LLMPolicy, SamplingParams
    from selfplay_gym.llm.transformers_backend import TransformersBackend

    policy = LLMPolicy(
        TransformersBackend(str(tiny_model_path)),
        sampling=SamplingParams(max_new_tokens=16, seed=None),
        chat=False,
        name="tiny",
    )
    engine = RolloutEngine(
        SPC,
        {"tiny": policy, "scripted": "scripted"},
        mapping={"sneaky": "scripted", "critic": "tiny"},
        num_envs=2,
        seed=0,
    )
    engine.run(4)
    steps = [r for r in engine.records if r["type"] == "step"]
    episodes = [r for r in engine.records if r["type"] == "episode"]
    assert len(episodes) == 4
    for ep in episodes:
        # Zero-sum unless the generator's step was invalid (its -1 is its own part).
        assert ep["returns"]["critic_0"] in (-1.0, 1.0)
        assert ep["returns"]["sneaky_0"] in (-1.0, 0.0, 1.0)
        for agent, ret in ep["returns"].items():
            mine = [r for r in steps if r["episode_id"] == ep["episode_id"] and r["agent"] == agent]
            assert sum(r["reward"] for r in mine) == pytest.approx(ret)
    critic_steps = [r for r in steps if r["role"] == "critic"]
    assert critic_steps and all(
        "Latest step" in r["prompt"] and r["token_ids"] for r in critic_steps
    )
    assert all(r["invalid_action"] == (not r["parse_ok"]) for r in critic_steps)
