"""KuhnPoker payoff="chips" (each hand pays its net chips) and learner="any" (seat drawn per episode)."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest

import selfplay_gym
from selfplay_gym.core.bots import RandomBot

ENV_ID = "selfplay/KuhnPoker-v0"


def make(**kwargs):
    kwargs.setdefault("num_hands", 1)
    return selfplay_gym.make(ENV_ID, payoff="chips", first_opener=0, **kwargs)


def seed_for(deal, **kwargs):
    """A seed whose first hand deals ``deal`` = (card of player_0, card of player_1)."""
    env = make(**kwargs)
    for seed in range(200):
        env.reset(seed=seed)
        if (env.agent_view("player_0")["card"], env.agent_view("player_1")["card"]) == deal:
            return seed
    raise AssertionError(f"no seed deals {deal}")


def play_hand(deal, moves, **kwargs):
    """Play ``moves`` (player_0 opens) on ``deal``; return the rewards of the last step."""
    env = make(**kwargs)
    env.reset(seed=seed_for(deal, **kwargs))
    for move in moves:
        assert not any(env.terminations.values())
        env.step(move)
    assert all(env.terminations.values())
    assert env.infos["player_0"]["reward_components"]["chips"] == env.rewards["player_0"]
    return env.rewards


@pytest.mark.parametrize(
    "deal, moves, chips_0",
    [
        # A fold gives the bettor the folder's ante, whatever the cards.
        (("K", "J"), ["[bet]", "[fold]"], 1.0),
        (("J", "K"), ["[check]", "[bet]", "[fold]"], -1.0),
        # A called bet: the higher card wins ante + bet.
        (("Q", "K"), ["[bet]", "[call]"], -2.0),
        (("K", "Q"), ["[check]", "[bet]", "[call]"], 2.0),
        # Check-check: the higher card wins the ante.
        (("Q", "J"), ["[check]", "[check]"], 1.0),
        (("J", "Q"), ["[check]", "[check]"], -1.0),
    ],
)
def test_a_hand_pays_its_net_chips(deal, moves, chips_0):
    rewards = play_hand(deal, moves)
    assert rewards == {"player_0": chips_0, "player_1": -chips_0}


def test_the_ante_scales_what_a_hand_pays():
    assert play_hand(("K", "J"), ["[bet]", "[fold]"], ante=2)["player_0"] == 2.0
    assert play_hand(("K", "J"), ["[bet]", "[call]"], ante=2)["player_0"] == 3.0
    assert play_hand(("K", "J"), ["[check]", "[check]"], ante=2)["player_0"] == 2.0


def test_each_hand_pays_when_it_ends_and_the_returns_are_the_chip_balance():
    env = make(num_hands=5)
    bots = {a: RandomBot(seed=i) for i, a in enumerate(env.possible_agents)}
    for seed in range(20):
        env.reset(seed=seed)
        returns = dict.fromkeys(env.possible_agents, 0.0)
        paying_steps = 0
        while not all(env.terminations.values()):
            agent = env.agent_selection
            env.step(bots[agent].act(env, agent))
            assert sum(env.rewards.values()) == 0.0
            paying_steps += any(env.rewards.values())
            for a, r in env.rewards.items():
                returns[a] += r
        assert paying_steps == 5  # one payment per hand; the match's end pays nothing more
        for agent in env.possible_agents:
            assert returns[agent] == env.agent_view(agent)["chips"]


def test_the_match_payoff_is_still_the_default():
    env = selfplay_gym.make(ENV_ID, num_hands=1, first_opener=0)
    env.reset(seed=seed_for(("K", "Q")))
    env.step("[bet]")
    env.step("[call]")
    assert env.rewards == {"player_0": 1.0, "player_1": -1.0}


def test_payoff_is_checked():
    with pytest.raises(ValueError, match="expected payoff 'match' or 'chips', got 'pot'"):
        selfplay_gym.make(ENV_ID, payoff="pot")


# ---- learner="any": one policy in both seats ------------------------------------------------
def run_episodes(env_id, seed, episodes=30, **kwargs):
    """Seeded episodes with random legal moves; the trace of seats, observations and rewards."""
    env = gymnasium.make(env_id, numeric=True, learner="any", **kwargs)
    rng = np.random.default_rng(seed)
    view = env.unwrapped
    trace = []
    obs, info = env.reset(seed=seed)
    for _ in range(episodes):
        seat = view.learner
        done = False
        while not done:
            assert f"player_{info['seat']}" == view.learner == seat
            assert np.array_equal(obs, view.aec_env.unwrapped.state_tensor(seat))
            action = int(rng.choice(np.flatnonzero(info["action_mask"])))
            obs, reward, terminated, truncated, info = env.step(action)
            trace.append((seat, obs.tobytes(), reward))
            done = terminated or truncated
        assert f"player_{info['seat']}" == seat
        obs, info = env.reset()
    return trace


@pytest.mark.parametrize(
    "env_id, kwargs",
    [
        ("selfplay/TicTacToe-v0", {"opponent": "strong"}),
        (ENV_ID, {"opponent": "random", "num_hands": 1, "payoff": "chips"}),
    ],
)
def test_learner_any_draws_both_seats_and_a_seed_replays(env_id, kwargs):
    trace = run_episodes(env_id, seed=3, **kwargs)
    assert {seat for seat, _, _ in trace} == {"player_0", "player_1"}
    assert run_episodes(env_id, seed=3, **kwargs) == trace
    assert run_episodes(env_id, seed=4, **kwargs) != trace


def test_learner_any_in_the_second_seat_sees_the_opponents_first_move():
    env = gymnasium.make("selfplay/TicTacToe-v0", numeric=True, learner="any", opponent="strong")
    seen = set()
    for seed in range(20):
        obs, info = env.reset(seed=seed)
        seat = env.unwrapped.learner
        seen.add(seat)
        # 18 floats: own marks, then the opponent's; X has moved iff the learner is O.
        assert (obs[:9].sum(), obs[9:].sum()) == ((0, 0) if seat == "player_0" else (0, 1))
    assert seen == {"player_0", "player_1"}


def test_learner_any_with_a_league_reports_every_episode():
    from selfplay_gym.league import League

    league = League(rule="uniform", env_id=ENV_ID, seed=0)
    league.add("random", "random")
    league.add("nash", "strong")
    env = gymnasium.make(ENV_ID, learner="any", opponent=league, num_hands=1, payoff="chips")
    seats = []
    for seed in range(16):
        obs, info = env.reset(seed=seed)
        seats.append(env.unwrapped.learner)
        done = False
        while not done:
            obs, reward, terminated, truncated, info = env.step(info["legal_actions"][0])
            done = terminated or truncated
        assert info["opponents"] == {
            ("player_1" if seats[-1] == "player_0" else "player_0"): info["opponent"]
        }
    assert set(seats) == {"player_0", "player_1"}
    assert sum(e.games for e in league) == 16
