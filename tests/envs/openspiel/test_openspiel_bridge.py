"""Rules of the OpenSpiel bridge: chance, names, rewards, MARS's shaping, bots, numeric view."""

from __future__ import annotations

import random
from collections import Counter

import gymnasium
import numpy as np
import pyspiel
import pytest

import selfplay_gym
from selfplay_gym.core.bots import RandomBot
from selfplay_gym.envs.openspiel import (
    MARS_FORFEIT,
    CFRBot,
    MarsKuhnPokerEnv,
    MarsTicTacToeEnv,
    MCTS100Bot,
    MCTS1000Bot,
    OpenSpielEnv,
    cfr_policy,
)


def play(env, moves_by_agent, seed=0, rng=None):
    """Play a game with bots (agent -> Bot or None for random moves); return the final rewards."""
    rng = rng or random.Random(seed)
    env.reset(seed=seed)
    while not (env.terminations[env.agent_selection] or env.truncations[env.agent_selection]):
        agent = env.agent_selection
        bot = moves_by_agent.get(agent)
        env.step(bot.act(env, agent) if bot else rng.choice(env.legal_actions()))
    return dict(env.rewards)


def test_chance_follows_openspiel_probabilities_with_the_envs_own_generator():
    env = OpenSpielEnv("kuhn_poker")
    deals = Counter()
    for seed in range(1200):
        env.reset(seed=seed)
        deals[tuple(env.state.history()[:2])] += 1
    # Six equally likely deals: each about 200 of 1200 (4 standard deviations: +-52).
    assert len(deals) == 6 and all(150 < n < 250 for n in deals.values())
    # The same seed deals the same cards; the global generators are not used.
    random.seed(5)
    np.random.seed(5)
    env.reset(seed=42)
    first = env.state.history()
    random.seed(6)
    np.random.seed(6)
    env.reset(seed=42)
    assert env.state.history() == first


def test_simultaneous_move_games_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="simultaneous"):
        OpenSpielEnv("matrix_rps")


def test_any_sequential_game_with_three_players_plays_to_a_zero_sum_end():
    env = OpenSpielEnv("kuhn_poker", {"players": 3})
    assert env.possible_agents == ["player_0", "player_1", "player_2"]
    assert env.game_string == "kuhn_poker(players=3)"
    for seed in range(30):
        rewards = play(env, {}, seed=seed)
        assert sum(rewards.values()) == pytest.approx(0.0)
        assert list(rewards.values()) == list(env.state.returns())


def test_move_names_are_seat_independent_and_seat_strings_are_checked():
    env = MarsTicTacToeEnv()
    env.reset(seed=0)
    env.step("<answer><X(1,1)></answer>")  # MARS's spelling, X's mark
    assert env.infos["player_0"]["parse"]["extracted"] == "[(1,1)]"
    env.step("<answer><X(0,0)></answer>")  # O may not write X's mark
    info = env.infos["player_1"]
    assert info["invalid_action"] and "[(0,0)]" in info["parse"]["error"]
    assert env.terminations["player_1"]  # the default policy forfeits
    assert info["reward_components"] == {"forfeit": -1.5}


def test_hanabi_accepts_marss_card_wording_and_names_are_unique():
    env = selfplay_gym.make("selfplay/MarsMiniHanabi-v0")
    assert len(set(env.move_names)) == len(env.move_names) == env.game.num_distinct_actions()
    env.reset(seed=0)
    env.step("<answer><Reveal player +1 rank 1></answer>")
    env.step("<answer><Play card 0></answer>")
    assert env.infos["player_0"]["parse"]["ok"] and env.infos["player_1"]["parse"]["ok"]
    assert env.transcript.count("player_1 plays [Play 0].") == 1


def test_mars_shaping_pays_format_per_move_and_the_draw_bonus_only_where_mars_does():
    draw = ["[(0,0)]", "[(1,1)]", "[(2,2)]", "[(0,1)]", "[(2,1)]", "[(2,0)]", "[(0,2)]"]
    draw += ["[(1,2)]", "[(1,0)]"]
    env = selfplay_gym.make("selfplay/MarsTicTacToe-v0")
    env.reset(seed=0)
    totals = Counter()
    for move in draw:
        env.step(move)
        for agent, reward in env.rewards.items():
            totals[agent] += reward
    assert env.state.is_terminal() and env.state.returns() == [0.0, 0.0]
    # X made 5 moves, O 4; a draw pays MARS's +0.1 to both.
    assert totals["player_0"] == pytest.approx(5 * 0.05 + 0.1)
    assert totals["player_1"] == pytest.approx(4 * 0.05 + 0.1)
    assert env.infos["player_0"]["reward_components"] == {
        "format": 0.05,
        "draw_bonus": 0.1,
        "outcome": 0.0,
    }
    # O's last move's format reward is still in its components (collected at its next last()).
    assert env.infos["player_1"]["reward_components"] == {
        "format": 0.05,
        "draw_bonus": 0.1,
        "outcome": 0.0,
    }
    plain = MarsTicTacToeEnv()  # the class default: no shaping
    plain.reset(seed=0)
    for move in draw:
        plain.step(move)
    assert plain.rewards == {"player_0": 0.0, "player_1": 0.0}
    # Kuhn has no draws; MARS pays no bonus there even under its shaping.
    assert MarsKuhnPokerEnv(reward_shaping="mars").draw_bonus == 0.0


def test_mars_forfeit_costs_ten_plus_the_offenders_stake():
    env = selfplay_gym.make(
        "selfplay/MarsKuhnPoker-v0", invalid_move=MARS_FORFEIT, forfeit_stake=True
    )
    env.reset(seed=0)
    env.step("[Pass]")
    env.step("[Bet]")  # player_1 bets: 2 chips in the pot
    env.step("I fold, obviously")  # player_0 (1 chip in) answers without a move
    components = env.infos["player_0"]["reward_components"]
    assert components == {"forfeit": -10.0, "stake": -1.0}
    assert env.infos["player_1"]["reward_components"] == {"format": 0.05, "forfeit": 0.0}
    ttt = selfplay_gym.make(
        "selfplay/MarsTicTacToe-v0", invalid_move=MARS_FORFEIT, forfeit_stake=True
    )
    ttt.reset(seed=0)
    ttt.step("nonsense")  # MARS: -11 in TicTacToe
    assert sum(ttt.infos["player_0"]["reward_components"].values()) == -11.0


def test_penalize_plays_the_lowest_legal_action():
    env = OpenSpielEnv("connect_four", invalid_move="penalize")
    env.reset(seed=0)
    env.step("no idea")
    assert env.infos["player_0"]["reward_components"] == {"invalid_move": -1.0}
    assert env.state.history() == [0] and env.agent_selection == "player_1"


def test_hidden_moves_stay_hidden_in_imperfect_information_games_by_default():
    env = OpenSpielEnv("kuhn_poker")  # generic: imperfect information, moves told only to the mover
    env.reset(seed=0)
    env.step("[Bet]")
    # The other seat is told that a move was made, not which (its OpenSpiel view tells it what
    # the game reveals).
    assert "player_0 moves." in env.observe("player_1")
    assert "player_0 plays" not in env.observe("player_1")
    public = OpenSpielEnv("kuhn_poker", public_actions=True)
    public.reset(seed=0)
    public.step("[Bet]")
    assert "player_0 plays [Bet]." in public.observe("player_1")


def test_private_cards_reach_only_their_holders_prompt():
    env = MarsKuhnPokerEnv()
    env.reset(seed=0)
    cards = ["JQK"[c] for c in env.state.history()[:2]]
    assert f"Your card: {cards[0]}." in env.observe("player_0")
    assert f"Your card: {cards[1]}." in env.observe("player_1")
    assert f"Your card: {cards[1]}." not in env.observe("player_0")


def test_numeric_view_is_openspiels_tensor_and_mask():
    env = gymnasium.make("selfplay/MarsConnectFour-v0", numeric=True)
    obs, info = env.reset(seed=0)
    game = env.unwrapped.aec_env.unwrapped
    assert obs.shape == (126,) and env.action_space.n == 7
    assert np.array_equal(obs, np.asarray(game.state.observation_tensor(0), dtype=np.float32))
    assert info["action_mask"].tolist() == game.state.legal_actions_mask()


def test_mcts_bots_are_seeded_and_beat_random_play():
    env = MarsTicTacToeEnv()
    strong = MCTS1000Bot(seed=0)
    losses = 0
    for game in range(20):
        seat = f"player_{game % 2}"
        strong.reset(seed=game)
        rewards = play(env, {seat: strong}, seed=game)
        losses += rewards[seat] < 0
    assert losses == 0
    # Same seed, same game.
    a, b = MCTS100Bot(seed=3), MCTS100Bot(seed=3)
    play(env, {"player_0": a, "player_1": RandomBot(1)}, seed=1)
    first = env.state.history()
    play(env, {"player_0": b, "player_1": RandomBot(1)}, seed=1)
    assert env.state.history() == first


def test_mcts_refuses_hidden_information():
    env = MarsKuhnPokerEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="perfect-information"):
        MCTS100Bot(seed=0).act(env, "player_0")


def test_cfr_bot_plays_a_near_equilibrium_of_kuhn_poker():
    game = pyspiel.load_game("kuhn_poker")
    assert pyspiel.nash_conv(game, cfr_policy("kuhn_poker")) < 1e-3
    # Its moves follow the policy: with a K facing a bet it always calls.
    env = MarsKuhnPokerEnv()
    bot = CFRBot(seed=0)
    seen = Counter()
    for seed in range(300):
        env.reset(seed=seed)
        if env.state.history()[1] != 2:  # player_1 must hold the K
            continue
        env.step("[Bet]")
        seen[bot.act(env, "player_1")] += 1
    assert seen and set(seen) == {1}


def test_cfr_bot_is_registered_as_strong_for_the_poker_ids():
    assert selfplay_gym.spec("selfplay/MarsLeducHoldem-v0").bots["strong"].endswith(":CFRBot")
    assert selfplay_gym.spec("selfplay/MarsConnectFour-v0").bots["strong"].endswith(":MCTS1000Bot")


def test_leduc_cfr_bot_wins_chips_from_random_play():
    env = selfplay_gym.make("selfplay/MarsLeducHoldem-v0")
    bot, random_bot = CFRBot(seed=0), RandomBot(seed=0)
    chips = 0.0
    hands = 300
    for hand in range(hands):
        seat = f"player_{hand % 2}"
        other = "player_1" if seat == "player_0" else "player_0"
        rewards = play(env, {seat: bot, other: random_bot}, seed=hand)
        chips += rewards[seat]
    # The 200-iteration CFR+ policy wins about a chip and a half per hand from a random player.
    assert chips / hands > 0.5
