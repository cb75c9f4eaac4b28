"""Search self-play through the batched rollout engine: the tiny model and the scripted players."""

from __future__ import annotations

import pytest

from selfplay_gym.envs.search.protocol import STOP_STRINGS
from selfplay_gym.rollout import RolloutEngine

SEARCH = "selfplay/SearchSelfPlay-v0"


def returns_match_rewards(records):
    steps = [r for r in records if r["type"] == "step"]
    episodes = [r for r in records if r["type"] == "episode"]
    for ep in episodes:
        for agent, ret in ep["returns"].items():
            mine = [r for r in steps if r["episode_id"] == ep["episode_id"] and r["agent"] == agent]
            assert sum(r["reward"] for r in mine) == pytest.approx(ret)
    return steps, episodes


def test_scripted_rollout_credits_the_proposer_with_one_minus_the_success_rate():
    engine = RolloutEngine(
        SEARCH,
        {"proposer": "careful", "solver": "scripted"},
        mapping={"proposer": "proposer", "solver": "solver"},
        num_envs=3,
        env_kwargs={"num_solvers": 3},
        seed=1,
    )
    engine.run(9)
    steps, episodes = returns_match_rewards(engine.records)
    assert len(episodes) == 9
    checked = 0
    for ep in episodes:
        solvers = [ep["returns"][f"solver_{i}"] for i in range(3)]
        if any(r["agent"] == "solver_0" for r in steps if r["episode_id"] == ep["episode_id"]):
            s = sum(1 for r in solvers if r > 0) / 3
            assert ep["returns"]["proposer_0"] == pytest.approx(1 - s)
            checked += 1
    assert checked >= 5


def test_tiny_model_solves_through_the_rollout_engine(tiny_model_path):
    from selfplay_gym.llm import LLMPolicy, SamplingParams
    from selfplay_gym.llm.transformers_backend import TransformersBackend

    policy = LLMPolicy(
        TransformersBackend(str(tiny_model_path)),
        sampling=SamplingParams(max_new_tokens=12, stop=STOP_STRINGS, seed=None),
        chat=False,
        name="tiny",
    )
    engine = RolloutEngine(
        SEARCH,
        {"tiny": policy, "careful": "careful"},
        mapping={"proposer": "careful", "solver": "tiny"},
        num_envs=2,
        env_kwargs={"num_solvers": 2, "max_turns": 3},
        seed=0,
    )
    engine.run(4)
    steps, episodes = returns_match_rewards(engine.records)
    assert len(episodes) == 4
    solver_steps = [r for r in steps if r["role"] == "solver"]
    assert solver_steps, "the careful proposer writes valid questions, so the model gets to answer"
    for r in solver_steps:
        assert "Question:" in r["prompt"] and r["token_ids"]
        # The tiny model writes noise: invalid turns are recorded, never raised.
        assert r["invalid_action"] == (not r["parse_ok"])
    # A solver that never answers runs out of its 3 turns and is truncated with reward 0.
    assert all(ep["returns"][f"solver_{i}"] in (0.0, 1.0) for ep in episodes for i in range(2))
