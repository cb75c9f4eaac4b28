"""SelfPlayView and NumericView: who moves when, and what the learner is paid."""

from __future__ import annotations

from collections import Counter

import gymnasium
import numpy as np
import pytest

import selfplay_gym
from selfplay_gym.core.bots import Bot


class Scripted(Bot):
    """Plays a fixed list of moves."""

    def __init__(self, moves):
        super().__init__()
        self.moves = list(moves)

    def act(self, env, agent):
        return self.moves.pop(0)


def test_learner_in_the_second_seat_sees_the_opponent_move_first():
    env = gymnasium.make("selfplay/TicTacToe-v0", learner="player_1", opponent=Scripted(["[4]"]))
    obs, info = env.reset(seed=0)
    assert "player_0 (X) takes cell 4." in obs
    assert "[4]" not in info["legal_actions"] and len(info["legal_actions"]) == 8


def test_reward_includes_the_opponents_winning_move():
    # The opponent completes the top row after the learner's third move: -1 arrives in that step.
    env = gymnasium.make(
        "selfplay/TicTacToe-v0", learner="player_1", opponent=Scripted(["[0]", "[1]", "[2]"])
    )
    env.reset(seed=0)
    assert env.step("[3]")[1:4] == (0.0, False, False)
    _, reward, terminated, truncated, info = env.step("[4]")
    assert (reward, terminated, truncated) == (-1.0, True, False)
    assert info["reward_components"] == {"outcome": -1.0}
    with pytest.raises(RuntimeError, match="reset"):
        env.unwrapped.step("[5]")


def test_a_callable_opponent_gets_the_prompt_and_info():
    seen = []

    def opponent(observation, info):
        seen.append((observation, list(info["legal_actions"])))
        return info["legal_actions"][-1]

    env = gymnasium.make("selfplay/KuhnPoker-v0", opponent=opponent, first_opener=0)
    obs, info = env.reset(seed=1)
    env.step("[bet]")
    assert seen and "Kuhn Poker" in seen[0][0]
    assert seen[0][1] == ["[call]", "[fold]"]


def test_forfeit_by_the_learner_ends_the_episode_with_the_penalty():
    env = gymnasium.make("selfplay/TicTacToe-v0")
    env.reset(seed=0)
    _, reward, terminated, _, info = env.step("I refuse to play.")
    assert (reward, terminated) == (-1.5, True)
    assert info["invalid_action"] and info["parse"]["error"].startswith("no move found")


def test_bots_are_reseeded_so_a_seed_replays_the_same_game():
    def run(seed):
        env = gymnasium.make("selfplay/KuhnPoker-v0", opponent="strong")
        obs, info = env.reset(seed=seed)
        trace = [obs]
        done = False
        while not done:
            obs, reward, terminated, truncated, info = env.step(info["legal_actions"][0])
            trace.append((obs, reward))
            done = terminated or truncated
        return trace

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_per_seat_opponents_and_their_validation():
    env = gymnasium.make("selfplay/TicTacToe-v0", opponent={"player_1": "strong"})
    assert type(env.unwrapped.opponents["player_1"]).__name__ == "PerfectTicTacToeBot"
    with pytest.raises(ValueError, match="player_7"):
        gymnasium.make("selfplay/TicTacToe-v0", opponent={"player_7": "strong"})
    with pytest.raises(ValueError, match="learner"):
        gymnasium.make("selfplay/TicTacToe-v0", learner="player_9")


def test_numeric_view_plays_move_indices_and_masks_illegal_ones():
    env = gymnasium.make("selfplay/TicTacToe-v0", numeric=True, opponent=Scripted(["[0]", "[1]"]))
    obs, info = env.reset(seed=0)
    assert obs.dtype == np.float32 and not obs.any()
    obs, reward, terminated, _, info = env.step(4)
    assert obs[4] == 1.0 and obs[9 + 0] == 1.0  # own mark at 4, opponent's at 0
    assert info["action_mask"][0] == 0 and info["action_mask"][4] == 0
    assert not env.unwrapped.action_masks()[0]
    _, reward, terminated, _, info = env.step(0)  # occupied: invalid, forfeit
    assert (reward, terminated, info["invalid_action"]) == (-1.5, True, True)


def test_random_numeric_play_never_hits_an_invalid_move_when_respecting_the_mask():
    finite = [s for s in selfplay_gym.ENV_SPECS if selfplay_gym.make(s.id).move_names]
    for env_id in [s.id for s in finite]:
        env = gymnasium.make(env_id, numeric=True, opponent="random")
        rng = np.random.default_rng(0)
        for episode in range(30):
            obs, info = env.reset(seed=episode)
            done = False
            while not done:
                action = rng.choice(np.flatnonzero(info["action_mask"]))
                obs, reward, terminated, truncated, info = env.step(action)
                assert not info["invalid_action"]
                assert obs in env.observation_space
                done = terminated or truncated
            # The game's own end, never a penalty; games that score points along the way
            # (repeated matrix games) pay them in other components, the outcome is still -1/0/+1.
            components = info["reward_components"]
            assert not {"forfeit", "invalid_move"} & set(components)
            assert components["outcome"] in (-1.0, 0.0, 1.0)
            assert reward == pytest.approx(sum(components.values()))


def test_a_game_that_ends_before_the_learners_first_move_pays_on_the_next_step():
    def forfeiting(observation, info):
        return "no idea"

    env = gymnasium.make("selfplay/TicTacToe-v0", learner="player_1", opponent=forfeiting)
    obs, info = env.reset(seed=0)
    assert info["legal_actions"] == []
    _, reward, terminated, truncated, info = env.step("[4]")
    assert (reward, terminated, truncated) == (0.5, True, False)
    assert info["ended_before_first_move"] and info["reward_components"] == {"forfeit": 0.5}
    with pytest.raises(RuntimeError, match="reset"):
        env.unwrapped.step("[4]")
    obs, info = env.reset(seed=1)  # and the next episode starts clean
    assert info["legal_actions"] == [] and env.step("[0]")[1] == 0.5


# ---- a league as the opponent ----------------------------------------------------------------
def play_episode(env, seed):
    """Play first-legal moves to the end; return the reset info and the last step's."""
    obs, first_info = env.reset(seed=seed)
    info, done = first_info, False
    while not done:
        obs, reward, terminated, truncated, info = env.step(info["legal_actions"][0])
        done = terminated or truncated
    return first_info, info


def two_bot_league(**kwargs):
    from selfplay_gym.league import League

    league = League(rule="uniform", **kwargs)
    league.add("random", "random")
    league.add("strong", "strong")
    return league


def test_a_league_opponent_is_drawn_per_episode_and_named_in_info():
    league = two_bot_league()
    env = gymnasium.make("selfplay/TicTacToe-v0", opponent=league)
    seen = []
    for seed in range(12):
        first, last = play_episode(env, seed)
        assert first["opponent"] == last["opponent"] in ("random", "strong")
        assert first["opponents"] == {"player_1": first["opponent"]}
        assert env.unwrapped.drawn_opponents == {"player_1": first["opponent"]}
        seen.append(first["opponent"])
    assert set(seen) == {"random", "strong"}
    # The bot playing is the drawn one: the perfect bot never loses.
    assert league["strong"].wins == 0


def test_results_are_recorded_after_each_episode():
    league = two_bot_league(learner="agent")
    env = gymnasium.make("selfplay/TicTacToe-v0", opponent=league)
    outcomes = Counter()
    for seed in range(10):
        _, last = play_episode(env, seed)
        outcomes[last["opponent"]] += 1
        assert sum(e.games for e in league) == seed + 1
    assert {e.name: e.games for e in league} == dict(outcomes)
    assert league.ratings.games["agent"] == 10
    env.reset(seed=99)  # an episode abandoned by reset is not reported
    env.step(env.unwrapped.legal_actions()[0])
    env.reset(seed=100)
    assert sum(e.games for e in league) == 10


def test_the_same_seed_replays_the_same_opponent_draws():
    def draws(seed):
        env = gymnasium.make("selfplay/TicTacToe-v0", opponent=two_bot_league(seed=123))
        env.reset(seed=seed)
        return [play_episode(env, None)[0]["opponent"] for _ in range(20)]

    assert draws(1) == draws(1)
    assert draws(1) != draws(2)


def test_a_league_seat_in_a_mapping_and_a_result_before_the_first_move():
    from selfplay_gym.league import League

    def forfeiting(observation, info):
        return "no idea"

    league = League(rule="latest")
    league.add("forfeiter", forfeiting)
    env = gymnasium.make("selfplay/TicTacToe-v0", learner="player_1", opponent={"player_0": league})
    obs, info = env.reset(seed=0)
    assert info["opponent"] == "forfeiter" and info["legal_actions"] == []
    _, reward, terminated, _, info = env.step("[4]")
    assert (reward, terminated, info["ended_before_first_move"]) == (0.5, True, True)
    assert (league["forfeiter"].games, league["forfeiter"].wins) == (1, 1)


def test_numeric_view_plays_a_league_of_snapshots():
    from selfplay_gym.league import League

    league = League(rule="uniform", env_id="selfplay/KuhnPoker-v0", seed=0)
    league.add("nash", "strong")
    league.add_snapshot(lambda observation, info: info["legal_actions"][0])
    env = gymnasium.make("selfplay/KuhnPoker-v0", numeric=True, opponent=league)
    for seed in range(6):
        obs, info = env.reset(seed=seed)
        done = False
        while not done:
            obs, reward, terminated, truncated, info = env.step(
                int(np.flatnonzero(info["action_mask"])[0])
            )
            done = terminated or truncated
        assert info["opponent"] in ("nash", "snapshot_0")
    assert sum(e.games for e in league) == 6
