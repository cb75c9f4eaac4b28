"""Self-RedTeam through the batched rollout engine: scripted players, then the tiny model in both seats."""

from __future__ import annotations

from rollout_checks import rollout

RED_TEAM = "selfplay/RedTeam-v0"


def test_scripted_rollout_gives_general_sum_returns():
    steps, episodes = rollout(RED_TEAM, {"scripted": "scripted"}, 12, num_envs=3, seed=1)
    assert len(episodes) == 12
    # attacker: format +-1 plus at most 0.5 + 0.5 + 1; defender: format plus at most 1 + 1
    for ep in episodes:
        assert -3.0 <= ep["returns"]["attacker_0"] <= 3.0
        assert -3.0 <= ep["returns"]["defender_0"] <= 3.0
    assert len({ep["returns"]["defender_0"] for ep in episodes}) > 1


def test_tiny_model_plays_both_seats_through_the_rollout_engine(tiny_text_policy):
    policy = tiny_text_policy(stop=("</answer>",))
    steps, episodes = rollout(RED_TEAM, {"tiny": policy}, 3, num_envs=2, seed=0)
    assert len(episodes) == 3
    acted = [r for r in steps if r["token_ids"]]
    assert {r["role"] for r in acted} == {"attacker", "defender"}
    for r in acted:
        # The tiny model writes noise: invalid replies are recorded, never raised.
        assert r["invalid_action"] == (not r["parse_ok"])
        if r["role"] == "defender":
            assert "User:" in r["prompt"]
    # Noise fails the strict format: the attacker's part ends with the format penalty alone.
    failed = [r for r in acted if r["role"] == "attacker" and r["invalid_action"]]
    for r in failed:
        assert r["return"] == -1.0
