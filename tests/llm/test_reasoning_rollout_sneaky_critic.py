"""SPC through the batched rollout engine: the tiny model as the critic, a scripted sneaky generator."""

from __future__ import annotations

from rollout_checks import rollout

SPC = "selfplay/SneakyCritic-v0"


def test_tiny_model_critiques_through_the_rollout_engine(tiny_text_policy):
    policy = tiny_text_policy(max_new_tokens=16)
    steps, episodes = rollout(
        SPC,
        {"tiny": policy, "scripted": "scripted"},
        4,
        mapping={"sneaky": "scripted", "critic": "tiny"},
        num_envs=2,
        seed=0,
    )
    assert len(episodes) == 4
    for ep in episodes:
        # Zero-sum unless the generator's step was invalid (its -1 is its own part).
        assert ep["returns"]["critic_0"] in (-1.0, 1.0)
        assert ep["returns"]["sneaky_0"] in (-1.0, 0.0, 1.0)
    critic_steps = [r for r in steps if r["role"] == "critic"]
    assert critic_steps and all(
        "Latest step" in r["prompt"] and r["token_ids"] for r in critic_steps
    )
    assert all(r["invalid_action"] == (not r["parse_ok"]) for r in critic_steps)
