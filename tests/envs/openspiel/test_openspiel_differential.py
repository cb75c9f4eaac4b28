"""Differential tests: the OpenSpiel-bridged TicTacToe and Kuhn Poker against the native envs.

Both stacks are driven through their env API (``reset``/``step``) with the same random move
sequence, mapped between their move names; after every step they must agree on who moves and on
the legal moves, and at the end on the outcome. 10,000 games of each; one game in ten is played
with text replies (the parse path) instead of move indices.
"""

from __future__ import annotations

import random

import pytest

from selfplay_gym.envs.openspiel import OpenSpielEnv
from selfplay_gym.envs.text_games import KuhnPokerEnv, TicTacToeEnv

GAMES = 10_000
TEXT_EVERY = 10  # every tenth game uses text replies

# Native Kuhn moves -> OpenSpiel's kuhn_poker actions (0 = Pass: check or fold; 1 = Bet: bet or call).
KUHN_TO_OPENSPIEL = {"[check]": 0, "[fold]": 0, "[bet]": 1, "[call]": 1}


def test_tictactoe_agrees_with_the_native_game_over_10000_random_games():
    native = TicTacToeEnv()
    bridged = OpenSpielEnv("tic_tac_toe")
    # OpenSpiel's action r*3+c is cell r*3+c of the native board (both read rows top to bottom).
    assert [name for name in bridged.move_names] == [
        f"[({cell // 3},{cell % 3})]" for cell in range(9)
    ]
    rng = random.Random(0)
    outcomes = {1.0: 0, -1.0: 0, 0.0: 0}
    for game in range(GAMES):
        native.reset(seed=game)
        bridged.reset(seed=game)
        text = game % TEXT_EVERY == 0
        while True:
            agent = native.agent_selection
            assert bridged.agent_selection == agent
            done = native.terminations[agent]
            assert bridged.terminations[agent] == done
            if done:
                break
            legal_native = [int(name[1:-1]) for name in native.legal_actions()]
            legal_bridged = [bridged.move_names.index(name) for name in bridged.legal_actions()]
            assert legal_native == legal_bridged
            cell = rng.choice(legal_native)
            if text:
                mark = "X" if agent == "player_0" else "O"
                native.step(f"\\boxed{{[{cell}]}}")
                bridged.step(f"<answer><{mark}({cell // 3},{cell % 3})></answer>")
                assert bridged.infos[agent]["parse"]["ok"]
            else:
                native.step(cell)
                bridged.step(cell)
        assert native.rewards == bridged.rewards
        outcomes[native.rewards["player_0"]] += 1
    # Random play reaches every outcome (X wins most often).
    assert outcomes[1.0] > outcomes[-1.0] > outcomes[0.0] > 0


def _seed_per_deal(env, deal_of) -> dict[tuple[int, int], int]:
    """A reset seed for each of the six Kuhn deals of ``env`` (cards of player_0, player_1)."""
    seeds: dict[tuple[int, int], int] = {}
    seed = 0
    while len(seeds) < 6:
        env.reset(seed=seed)
        seeds.setdefault(deal_of(env), seed)
        seed += 1
    return seeds


def test_kuhn_poker_agrees_with_the_native_game_over_10000_random_hands():
    # One hand, player_0 opens, payoff in chips: the native env plays OpenSpiel's kuhn_poker.
    native = KuhnPokerEnv(num_hands=1, first_opener=0, payoff="chips")
    bridged = OpenSpielEnv("kuhn_poker")
    native_seeds = _seed_per_deal(
        native, lambda env: (env._cards["player_0"], env._cards["player_1"])
    )
    bridged_seeds = _seed_per_deal(bridged, lambda env: tuple(env.state.history()[:2]))
    deals = sorted(native_seeds)
    assert deals == sorted(bridged_seeds)
    rng = random.Random(1)
    payoffs: dict[float, int] = {}
    for game in range(GAMES):
        deal = rng.choice(deals)  # the same deal on both sides
        native.reset(seed=native_seeds[deal])
        bridged.reset(seed=bridged_seeds[deal])
        assert native.agent_view("player_0")["card"] == "JQK"[bridged.state.history()[0]]
        text = game % TEXT_EVERY == 0
        total = dict.fromkeys(native.possible_agents, 0.0)
        while True:
            agent = native.agent_selection
            assert bridged.agent_selection == agent
            done = native.terminations[agent]
            assert bridged.terminations[agent] == done
            if done:
                break
            by_action = {KUHN_TO_OPENSPIEL[name]: name for name in native.legal_actions()}
            legal_bridged = [bridged.move_names.index(name) for name in bridged.legal_actions()]
            assert sorted(by_action) == legal_bridged
            action = rng.choice(legal_bridged)
            if text:
                native.step(f"<answer>{by_action[action]}</answer>")
                bridged.step(f"<answer><{('PASS', 'BET')[action]}></answer>")
                assert bridged.infos[agent]["parse"]["ok"]
            else:
                native.step(native.move_names.index(by_action[action]))
                bridged.step(action)
            for a in total:
                total[a] += native.rewards[a]
        # The native chips are paid when the hand ends; OpenSpiel's returns are the same chips.
        assert total == pytest.approx(bridged.rewards)
        assert list(bridged.rewards.values()) == list(bridged.state.returns())
        payoffs[total["player_0"]] = payoffs.get(total["player_0"], 0) + 1
    assert set(payoffs) == {-2.0, -1.0, 1.0, 2.0}
