"""HCSP's high-level env: event-triggered team decisions over scripted skills, full episodes."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mujoco")

import gymnasium  # noqa: E402
from pettingzoo.test import parallel_api_test, parallel_seed_test  # noqa: E402

import selfplay_gym  # noqa: E402, F401
from selfplay_gym.envs.volleyball.hierarchy import (  # noqa: E402
    OPTIONS,
    ROLES,
    HighLevelRandomBot,
    HighLevelScriptedBot,
    HighLevelVolleyballEnv,
)
from selfplay_gym.envs.volleyball.skills import Goto, PolicySkill  # noqa: E402


def _episode(env, blue, red, seed):
    """Play one episode; returns (steps, infos of the last step, summed rewards, per-step infos)."""
    env.reset(seed=seed)
    totals = {a: 0.0 for a in env.possible_agents}
    history = []
    while env.agents:
        actions = {"blue_0": blue.act(env, "blue_0"), "red_0": red.act(env, "red_0")}
        _, rewards, _, _, infos = env.step(actions)
        for a, r in rewards.items():
            totals[a] += r
        history.append(infos)
    return len(history), infos, totals, history


def test_spaces_follow_hcsp():
    env = HighLevelVolleyballEnv()
    assert env.possible_agents == ["blue_0", "red_0"]
    assert env.action_space("red_0").nvec.tolist() == [6, 3, 4]
    assert [len(OPTIONS[r]) for r in ROLES] == [6, 3, 4]
    assert env.observation_space("blue_0").shape == (94,)
    assert env.observation_space("blue_0") is env.observation_space("blue_0")


def test_parallel_api_and_seed_tests_pass():
    parallel_api_test(HighLevelVolleyballEnv(), num_cycles=20)
    parallel_seed_test(HighLevelVolleyballEnv, num_cycles=10)


def test_full_episodes_end_with_a_winner_and_rewards_equal_their_components():
    env = HighLevelVolleyballEnv()
    blue, red = HighLevelScriptedBot(0), HighLevelRandomBot(1)
    wins = 0
    for seed in range(4):
        blue.reset(seed)
        red.reset(seed + 100)
        steps, last, totals, history = _episode(env, blue, red, seed)
        assert steps >= 1 and not env.agents
        assert last["blue_0"]["winner"] in (0, 1, 2) or last["blue_0"]["low_level_steps"] == 750
        for infos in history:
            for info in infos.values():
                assert info["role"] in ("blue", "red")
                assert set(info["reward_components"]) == {"hit", "first_pass", "outcome"}
        # The outcome part is +-20 and opposite for the two teams.
        outcome = [last[a]["reward_components"]["outcome"] for a in ("blue_0", "red_0")]
        if last["blue_0"]["winner"] in (0, 1):
            assert sorted(outcome) == [-20.0, 20.0]
        wins += last["blue_0"]["winner"] == 0
    assert wins >= 3  # the rule-based choices beat random options


def test_decisions_happen_at_hits():
    env = HighLevelVolleyballEnv(random_serve=False)
    bot = HighLevelScriptedBot(0)
    _, last, _, history = _episode(env, bot, bot, seed=0)
    triggers = [h["blue_0"]["trigger"] for h in history]
    assert triggers[-1] == "end" and set(triggers[:-1]) <= {"hit", "wait"}
    assert triggers[:3] == ["hit", "hit", "hit"]  # blue's serve-pass, set and attack
    hitters = [h["blue_0"]["hitter"] for h in history[:3]]
    assert hitters == [2, 0, 1]  # FirstPass (back), SecPass, Att: HCSP's order
    for h in history:
        if h["blue_0"]["trigger"] == "wait":
            assert h["blue_0"]["steps_since_decision"] == env.config.max_wait


def test_teams_decide_again_after_max_wait_without_a_hit():
    env = HighLevelVolleyballEnv(random_serve=False, max_wait=10)
    env.reset(seed=0)
    hover = np.array([5, 2, 3])
    _, rewards, terms, _, infos = env.step({"blue_0": hover, "red_0": hover})
    # The serve drops from 3 m: no hit within 10 steps, so the teams are asked again.
    assert infos["blue_0"]["trigger"] == "wait" and infos["blue_0"]["steps_since_decision"] == 10
    assert not terms["blue_0"] and rewards == {"blue_0": 0.0, "red_0": 0.0}


def test_hit_rewards_follow_hcsp_roles():
    env = HighLevelVolleyballEnv(random_serve=False)  # blue serves: its FirstPass touches first
    bot = HighLevelScriptedBot(0)
    env.reset(seed=0)
    _, rewards, _, _, infos = env.step({a: bot.act(env, a) for a in env.agents})
    parts = infos["blue_0"]["reward_components"]
    assert parts == {"hit": 2.0, "first_pass": 1.0, "outcome": 0.0}
    assert rewards["blue_0"] == 3.0 and rewards["red_0"] == 0.0
    # Next the setter: +2, no FirstPass bonus.
    _, rewards, _, _, infos = env.step({a: bot.act(env, a) for a in env.agents})
    assert infos["blue_0"]["reward_components"]["hit"] == 2.0
    assert infos["blue_0"]["reward_components"]["first_pass"] == 0.0


def test_rewards_are_configurable():
    env = HighLevelVolleyballEnv(random_serve=False, hit_reward=0.5, first_pass_reward=0.0)
    bot = HighLevelScriptedBot(0)
    env.reset(seed=0)
    _, rewards, _, _, _ = env.step({a: bot.act(env, a) for a in env.agents})
    assert rewards["blue_0"] == 0.5


def test_hovering_teams_let_the_ball_drop_on_the_servers_side():
    # Every drone hovering: after the scripted serve-pass nobody sets, the ball comes down on
    # blue's side and blue loses the rally.
    env = HighLevelVolleyballEnv(random_serve=False)
    env.reset(seed=0)
    hover = np.array([5, 2, 3])
    while env.agents:
        _, rewards, _, _, infos = env.step({"blue_0": hover, "red_0": hover})
    assert infos["blue_0"]["winner"] == 1
    assert infos["blue_0"]["fault_name"][0] == "ball_down_in_own_half"
    parts = infos["blue_0"]["reward_components"]
    assert parts["outcome"] == -20.0 and rewards["blue_0"] == sum(parts.values())


def test_invalid_actions_raise_with_the_expected_space():
    env = HighLevelVolleyballEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="MultiDiscrete"):
        env.step({"blue_0": np.array([6, 0, 0]), "red_0": np.array([0, 0, 0])})
    with pytest.raises(ValueError, match="missing"):
        env.step({"blue_0": np.array([0, 0, 0])})


def test_a_learned_skill_can_replace_a_scripted_one():
    calls = []
    goto = Goto()

    class Counting(PolicySkill):
        def act(self, task, drones, params=None):
            calls.append(len(drones))
            return goto.act(task, drones, params)

    env = HighLevelVolleyballEnv(skills={"goto": Counting(policy=None)})
    env.reset(seed=0)
    env.step({"blue_0": np.array([1, 0, 0]), "red_0": np.array([1, 0, 0])})
    assert calls and set(calls) == {1}


def test_gymnasium_view_plays_against_the_scripted_team():
    env = gymnasium.make("selfplay/VolleyballHighLevel3v3-v0")
    obs, info = env.reset(seed=0)
    assert obs.shape == (94,) and info["role"] == "blue"
    done, steps = False, 0
    while not done:
        obs, reward, term, trunc, info = env.step(env.action_space.sample())
        done = term or trunc
        steps += 1
    assert info["winner"] in (0, 1, 2) and steps < 200
