"""The RLlib recipe: its numeric PettingZoo wrapper, and a tiny end-to-end run as a subprocess."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from pettingzoo.test import api_test

import selfplay_gym
from selfplay_gym.baselines.rllib_kuhn import policy_for_agent
from selfplay_gym.wrappers import MaskedNumericAEC

KUHN = "selfplay/KuhnPoker-v0"
CHECK, BET, CALL, FOLD = range(4)


def kuhn(**kwargs):
    return MaskedNumericAEC(selfplay_gym.make(KUHN, num_hands=1, payoff="chips", **kwargs))


def legal_indices(env, agent):
    names = env.unwrapped.move_names
    return sorted(names.index(name) for name in env.env.legal_actions(agent))


@pytest.mark.parametrize("env_id", [s.id for s in selfplay_gym.ENV_SPECS if s.numeric])
def test_mask_in_the_observation_is_the_legal_moves(env_id):
    env = MaskedNumericAEC(selfplay_gym.make(env_id))
    rng = np.random.default_rng(0)
    for episode in range(5):
        env.reset(seed=episode)
        steps = 0
        while env.agents:
            obs, _, terminated, truncated, info = env.last()
            agent = env.agent_selection
            assert env.observation_space(agent).contains(obs)
            assert info["role"] == "player" and "messages" not in info
            for other in env.agents:
                if other != agent:
                    assert not env.observe(other)["action_mask"].any()
            if terminated or truncated:
                assert not obs["action_mask"].any()
                env.step(None)
                continue
            legal = legal_indices(env, agent)
            assert np.flatnonzero(obs["action_mask"]).tolist() == legal
            assert np.array_equal(obs["action_mask"], env.env.infos[agent]["action_mask"])
            assert env.infos[agent] == info
            np.testing.assert_array_equal(
                obs["observations"], env.unwrapped.state_tensor(agent), strict=True
            )
            env.step(rng.choice(legal))
            assert not env.env.infos[agent]["invalid_action"]
            steps += 1
        assert steps > 0


# Dict observations are what RLlib's action masking reads; api_test merely notes they are unusual.
@pytest.mark.filterwarnings("ignore:Observation:UserWarning")
def test_the_wrapper_passes_the_pettingzoo_api_test():
    api_test(kuhn(), num_cycles=50)


def test_an_illegal_index_forfeits_under_the_default_policy():
    env = kuhn()
    env.reset(seed=0)
    offender = env.agent_selection
    assert env.observe(offender)["action_mask"][CALL] == 0
    env.step(CALL)  # nothing to call at the start of a hand
    _, reward, terminated, _, info = env.last()
    assert terminated and all(env.terminations.values())
    rewards = env.rewards
    other = next(a for a in env.agents if a != offender)
    assert rewards[offender] == -1.5 and rewards[other] == 0.5
    assert env.env.infos[offender]["invalid_action"] is True


def test_an_illegal_index_under_penalize_plays_the_fallback_move():
    env = kuhn(invalid_move="penalize")
    env.reset(seed=0)
    offender = env.agent_selection
    env.step(7)  # not even a move index: still just an invalid move
    assert env.env.infos[offender]["invalid_action"] is True
    assert env.env.infos[offender]["reward_components"] == {"invalid_move": -1.0}
    # The fallback (check) was played: the opponent now acts, facing a check.
    assert env.agent_selection != offender
    assert env.unwrapped.agent_view(env.agent_selection)["bets"] == ["check"]
    assert not any(env.terminations.values())


def test_every_seat_maps_to_the_one_shared_policy():
    assert {policy_for_agent(a) for a in kuhn().possible_agents} == {"player"}


def test_rllib_pettingzoo_env_over_the_wrapper():
    pytest.importorskip("ray.rllib")
    from selfplay_gym.baselines.rllib_kuhn import make_rllib_env

    env = make_rllib_env({"env_id": KUHN, "env_kwargs": {"num_hands": 1, "payoff": "chips"}})
    obs, _ = env.reset(seed=3)
    (agent,) = obs
    assert env.observation_spaces[agent].contains(obs[agent])
    assert obs[agent]["action_mask"].tolist() == [1, 1, 0, 0]
    obs, rewards, terminateds, _, _ = env.step({agent: FOLD})  # illegal: forfeits the match
    assert terminateds["__all__"]
    assert sorted(rewards.values()) == [-1.5, 0.5]


def test_recipe_runs_end_to_end_with_a_tiny_budget(tmp_path):
    pytest.importorskip("ray.rllib")
    pytest.importorskip("torch")
    summary_path = tmp_path / "summary.json"
    games = 30
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(RAY_USAGE_STATS_ENABLED="0", OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
    command = [
        sys.executable,
        "-m",
        "selfplay_gym.baselines.rllib_kuhn",
        "--iterations", "2",
        "--train-batch-size", "256",
        "--minibatch-size", "128",
        "--num-epochs", "1",
        "--num-envs-per-env-runner", "4",
        "--hidden", "16",
        "--eval-games", str(games),
        "--checkpoint-dir", str(tmp_path / "checkpoint"),
        "--json", str(summary_path),
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "iter   2" in done.stdout and "Evaluation" in done.stdout

    summary = json.loads(summary_path.read_text())
    assert summary["iterations"] == 2
    curve = summary["curve"]
    assert [p["iteration"] for p in curve] == [1, 2]
    assert 0 < curve[0]["env_steps"] < curve[1]["env_steps"]
    assert curve[1]["episodes"] > curve[0]["episodes"] > 0
    for point in curve:
        assert set(point["agent_returns"]) == {"player_0", "player_1"}
        assert all(math.isfinite(r) for r in point["agent_returns"].values())
        # Self-play of a zero-sum game: the shared policy's returns from both seats cancel.
        assert set(point["module_returns"]) == {"player"}
        assert abs(point["episode_return"]) < 1e-6

    assert summary["policies"] == ["player"]
    rows = summary["evaluation"]
    assert len(rows) == 2 * 2 * 2  # opponents x seats x (learned, reference)
    assert {(r["opponent"], r["seat"], r["player"]) for r in rows} == {
        (o, s, p)
        for o in ("random", "strong")
        for s in ("player_0", "player_1")
        for p in ("learned", "reference")
    }
    for row in rows:
        assert row["games"] == games
        assert row["invalid_moves"] == 0
        assert math.isfinite(row["chips_per_hand"]) and abs(row["chips_per_hand"]) <= 2
        assert 0 <= row["win_rate"] + row["draw_rate"] <= 1
        # One hand: whoever wins the pot has more chips, so there are no draws.
        assert row["draw_rate"] == 0

    strategy = summary["strategy"]
    assert len(strategy) == 12  # 3 cards x 4 decision points of a hand
    for probs in strategy.values():
        assert len(probs) == 2 and abs(sum(probs.values()) - 1) < 1e-2
    if summary["exploitability"] is not None:
        assert 0 <= summary["exploitability"] <= 2
    assert (tmp_path / "checkpoint" / "rllib_checkpoint.json").exists()
