"""Search self-play through the batched rollout engine: the tiny model and the scripted players."""

from __future__ import annotations

import pytest
from rollout_checks import rollout

from selfplay_gym.envs.search.protocol import STOP_STRINGS

SEARCH = "selfplay/SearchSelfPlay-v0"


def test_scripted_rollout_credits_the_proposer_with_one_minus_the_success_rate():
    steps, episodes = rollout(
        SEARCH,
        {"proposer": "careful", "solver": "scripted"},
        9,
        mapping={"proposer": "proposer", "solver": "solver"},
        num_envs=3,
        env_kwargs={"num_solvers": 3},
        seed=1,
    )
    assert len(episodes) == 9
    checked = 0
    for ep in episodes:
        solvers = [ep["returns"][f"solver_{i}"] for i in range(3)]
        if any(r["agent"] == "solver_0" for r in steps if r["episode_id"] == ep["episode_id"]):
            s = sum(1 for r in solvers if r > 0) / 3
            assert ep["returns"]["proposer_0"] == pytest.approx(1 - s)
            checked += 1
    assert checked >= 5


def test_tiny_model_solves_through_the_rollout_engine(tiny_text_policy):
    steps, episodes = rollout(
        SEARCH,
        {"tiny": tiny_text_policy(stop=STOP_STRINGS), "careful": "careful"},
        4,
        mapping={"proposer": "careful", "solver": "tiny"},
        num_envs=2,
        env_kwargs={"num_solvers": 2, "max_turns": 3},
        seed=0,
    )
    assert len(episodes) == 4
    solver_steps = [r for r in steps if r["role"] == "solver"]
    assert solver_steps, "the careful proposer writes valid questions, so the model gets to answer"
    for r in solver_steps:
        assert "Question:" in r["prompt"] and r["token_ids"]
        # The tiny model writes noise: invalid turns are recorded, never raised.
        assert r["invalid_action"] == (not r["parse_ok"])
    # A solver that never answers runs out of its 3 turns and is truncated with reward 0.
    assert all(ep["returns"][f"solver_{i}"] in (0.0, 1.0) for ep in episodes for i in range(2))
