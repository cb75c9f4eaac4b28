"""MAE through the batched rollout engine: scripted players, and the tiny model as solver and judge."""

from __future__ import annotations

from rollout_checks import rollout

MAE = "selfplay/ProposerSolverJudge-v0"


def test_scripted_rollout_records_every_role():
    steps, episodes = rollout(
        MAE,
        {"scripted": "scripted"},
        6,
        mapping={"proposer": "scripted", "solver": "scripted", "judge": "scripted"},
        num_envs=2,
        env_kwargs={"num_solvers": 2},
        seed=3,
    )
    assert len(episodes) == 6
    assert {r["role"] for r in steps} >= {"proposer", "solver", "judge"}
    for ep in episodes:  # the judge's format reward never exceeds 1 per episode
        assert 0.0 <= ep["returns"]["judge_0"] <= 1.0 + 1e-9


def test_tiny_model_solves_and_judges_through_the_rollout_engine(tiny_text_policy):
    policy = tiny_text_policy()
    steps, episodes = rollout(
        MAE,
        {"tiny": policy, "scripted": "scripted"},
        3,
        mapping={"proposer": "scripted", "solver": "tiny", "judge": "tiny"},
        num_envs=2,
        env_kwargs={"num_solvers": 2, "seed_tasks": ["What is 2 + 2?"]},
        seed=0,
    )
    assert len(episodes) == 3
    model_steps = [r for r in steps if r["role"] in ("solver", "judge")]
    assert model_steps, "valid questions reach the model's seats"
    for r in model_steps:
        assert r["token_ids"] and r["invalid_action"] == (not r["parse_ok"])
    for ep in episodes:  # noise is unreadable: solvers score 0, the judge falls back to 0.5
        for i in range(2):
            assert 0.0 <= ep["returns"][f"solver_{i}"] <= 1.0
