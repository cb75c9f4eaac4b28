"""MAE through the batched rollout engine: scripted players, and the tiny model as solver and judge."""

from __future__ import annotations

import pytest

from selfplay_gym.rollout import RolloutEngine

MAE = "selfplay/ProposerSolverJudge-v0"


def returns_match_rewards(records):
    steps = [r for r in records if r["type"] == "step"]
    episodes = [r for r in records if r["type"] == "episode"]
    for ep in episodes:
        for agent, ret in ep["returns"].items():
            mine = [r for r in steps if r["episode_id"] == ep["episode_id"] and r["agent"] == agent]
            assert sum(r["reward"] for r in mine) == pytest.approx(ret)
    return steps, episodes


def test_scripted_rollout_records_every_role():
    engine = RolloutEngine(
        MAE,
        {"scripted": "scripted"},
        mapping={"proposer": "scripted", "solver": "scripted", "judge": "scripted"},
        num_envs=2,
        env_kwargs={"num_solvers": 2},
        seed=3,
    )
    engine.run(6)
    steps, episodes = returns_match_rewards(engine.records)
    assert len(episodes) == 6
    assert {r["role"] for r in steps} >= {"proposer", "solver", "judge"}
    for ep in episodes:  # the judge's format reward never exceeds 1 per episode
        assert 0.0 <= ep["returns"]["judge_0"] <= 1.0 + 1e-9


def test_tiny_model_solves_and_judges_through_the_rollout_engine(tiny_model_path):
    from selfplay_gym.llm import LLMPolicy, SamplingParams
    from selfplay_gym.llm.transformers_backend import TransformersBackend

    policy = LLMPolicy(
        TransformersBackend(str(tiny_model_path)),
        sampling=SamplingParams(max_new_tokens=12, seed=None),
        chat=False,
        name="tiny",
    )
    engine = RolloutEngine(
        MAE,
        {"tiny": policy, "scripted": "scripted"},
        mapping={"proposer": "scripted", "solver": "tiny", "judge": "tiny"},
        num_envs=2,
        env_kwargs={"num_solvers": 2, "seed_tasks": ["What is 2 + 2?"]},
        seed=0,
    )
    engine.run(3)
    steps, episodes = returns_match_rewards(engine.records)
    assert len(episodes) == 3
    model_steps = [r for r in steps if r["role"] in ("solver", "judge")]
    assert model_steps, "valid questions reach the model's seats"
    for r in model_steps:
        assert r["token_ids"] and r["invalid_action"] == (not r["parse_ok"])
    for ep in episodes:  # noise is unreadable: solvers score 0, the judge falls back to 0.5
        for i in range(2):
            assert 0.0 <= ep["returns"][f"solver_{i}"] <= 1.0
