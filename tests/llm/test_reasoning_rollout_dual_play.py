"""PasoDoble through the batched rollout engine: scripted players, and the tiny model as solver."""

from __future__ import annotations

from rollout_checks import rollout

DUAL = "selfplay/DualPlay-v0"


def test_scripted_rollout_credits_the_proposer_by_pasodoble():
    steps, episodes = rollout(
        DUAL,
        {"scripted": "scripted"},
        6,
        mapping={"proposer": "scripted", "solver": "scripted"},
        num_envs=2,
        seed=1,
    )
    assert len(episodes) == 6
    for ep in episodes:
        p = sum(ep["returns"][f"solver_{i}"] for i in range(6)) / 6
        proposer = ep["returns"]["proposer_0"]
        # diversity is in [0, 1]: the reward is 0 or 1.1 - p plus a bonus of at most 0.2
        assert proposer == 0.0 or (p > 0.2 and 1.1 - p < proposer <= 1.3 - p + 1e-9)


def test_tiny_model_solves_through_the_rollout_engine(tiny_text_policy):
    policy = tiny_text_policy()
    steps, episodes = rollout(
        DUAL,
        {"tiny": policy, "scripted": "scripted"},
        3,
        mapping={"proposer": "scripted", "solver": "tiny"},
        num_envs=2,
        env_kwargs={"num_solvers": 2},
        seed=0,
    )
    assert len(episodes) == 3
    solver_steps = [r for r in steps if r["role"] == "solver"]
    assert solver_steps, "the scripted proposer's valid problems reach the model"
    for r in solver_steps:
        assert "Problem:" in r["prompt"] and r["token_ids"]
        assert r["invalid_action"] == (not r["parse_ok"])
    assert all(ep["returns"][f"solver_{i}"] in (0.0, 1.0) for ep in episodes for i in range(2))
