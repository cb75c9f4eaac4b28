"""SvS through the batched rollout engine: the tiny model as the solvers, scripted synthesizer."""

from __future__ import annotations

import pytest

from selfplay_gym.rollout import RolloutEngine

SVS = "selfplay/VariationalSynthesis-v0"


def test_tiny_model_solves_through_the_rollout_engine(tiny_model_path):
    from selfplay_gym.llm import LLMPolicy, SamplingParams
    from selfplay_gym.llm.transformers_backend import TransformersBackend

    policy = LLMPolicy(
        TransformersBackend(str(tiny_model_path)),
        sampling=SamplingParams(max_new_tokens=12, seed=None),
        chat=False,
        name="tiny",
    )
    engine = RolloutEngine(
        SVS,
        {"tiny": policy, "scripted": "scripted"},
        mapping={"solver": "tiny", "synthesizer": "scripted", "variantsolver": "scripted"},
        num_envs=2,
        env_kwargs={"num_solvers": 2, "num_variant_solvers": 2},
        seed=0,
    )
    engine.run(3)
    steps = [r for r in engine.records if r["type"] == "step"]
    episodes = [r for r in engine.records if r["type"] == "episode"]
    assert len(episodes) == 3
    for ep in episodes:
        for agent, ret in ep["returns"].items():
            mine = [r for r in steps if r["episode_id"] == ep["episode_id"] and r["agent"] == agent]
            assert sum(r["reward"] for r in mine) == pytest.approx(ret)
    solver_steps = [r for r in steps if r["role"] == "solver"]
    assert solver_steps and all("Problem:" in r["prompt"] and r["token_ids"] for r in solver_steps)
    # The tiny model writes noise: its replies are recorded as they are parsed, never raised.
    assert all(r["invalid_action"] == (not r["parse_ok"]) for r in solver_steps)
    assert all(ep["returns"][f"solver_{i}"] in (0.0, 1.0) for ep in episodes for i in range(2))
