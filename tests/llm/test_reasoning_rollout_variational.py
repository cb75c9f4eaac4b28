"""SvS through the batched rollout engine: the tiny model as the solvers, scripted synthesizer."""

from __future__ import annotations

from rollout_checks import rollout

SVS = "selfplay/VariationalSynthesis-v0"


def test_tiny_model_solves_through_the_rollout_engine(tiny_text_policy):
    policy = tiny_text_policy()
    steps, episodes = rollout(
        SVS,
        {"tiny": policy, "scripted": "scripted"},
        3,
        mapping={"solver": "tiny", "synthesizer": "scripted", "variantsolver": "scripted"},
        num_envs=2,
        env_kwargs={"num_solvers": 2, "num_variant_solvers": 2},
        seed=0,
    )
    assert len(episodes) == 3
    solver_steps = [r for r in steps if r["role"] == "solver"]
    assert solver_steps and all("Problem:" in r["prompt"] and r["token_ids"] for r in solver_steps)
    # The tiny model writes noise: its replies are recorded as they are parsed, never raised.
    assert all(r["invalid_action"] == (not r["parse_ok"]) for r in solver_steps)
    assert all(ep["returns"][f"solver_{i}"] in (0.0, 1.0) for ep in episodes for i in range(2))
