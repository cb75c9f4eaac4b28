"""Rules of the repeated matrix games (Akata et al.): payoffs, simultaneity, option order, bots."""

from __future__ import annotations

import numpy as np
import pytest

import selfplay_gym
from selfplay_gym.registry import resolve_opponent

PD = "selfplay/RepeatedPrisonersDilemma-v0"
BOS = "selfplay/RepeatedBattleOfTheSexes-v0"

# The paper's tables: (player_0's choice, player_1's choice) -> (player_0's, player_1's points).
PD_TABLE = {("J", "J"): (8, 8), ("J", "F"): (0, 10), ("F", "J"): (10, 0), ("F", "F"): (5, 5)}
BOS_TABLE = {("J", "J"): (10, 7), ("J", "F"): (0, 0), ("F", "J"): (0, 0), ("F", "F"): (7, 10)}


def play(env_id, first, second, seed=0, **kwargs):
    """Play a full game between two bots (names or Bot objects); return the summed rewards."""
    env = selfplay_gym.make(env_id, **kwargs)
    env.reset(seed=seed)
    bots = {
        "player_0": resolve_opponent(env_id, first),
        "player_1": resolve_opponent(env_id, second),
    }
    for bot in bots.values():
        bot.reset(seed)
    totals = dict.fromkeys(env.possible_agents, 0.0)
    steps = 0
    while not env.terminations[env.agent_selection]:
        agent = env.agent_selection
        env.step(bots[agent].act(env, agent))
        steps += 1
        for a, r in env.rewards.items():
            totals[a] += r
    return env, totals, steps


@pytest.mark.parametrize(("env_id", "table"), [(PD, PD_TABLE), (BOS, BOS_TABLE)])
@pytest.mark.parametrize("cell", [("J", "J"), ("J", "F"), ("F", "J"), ("F", "F")])
def test_each_cell_pays_the_papers_points_for_ten_rounds(env_id, table, cell):
    bot = {"J": "always_j", "F": "always_f"}
    env, totals, steps = play(env_id, bot[cell[0]], bot[cell[1]])
    a, b = table[cell]
    assert totals == {"player_0": 10 * a, "player_1": 10 * b}
    assert steps == 20 and all(env.terminations.values())


def test_always_j_against_always_f_in_the_prisoners_dilemma_scores_0_to_100():
    _, totals, _ = play(PD, "always_j", "always_f")
    assert totals == {"player_0": 0.0, "player_1": 100.0}


def test_tit_for_tat_against_always_f_scores_45_to_55():
    # Round 1: J against F, 0/10; rounds 2-10: F against F, 9 x 5/5.
    _, totals, _ = play(PD, "tit_for_tat", "always_f")
    assert totals == {"player_0": 0 + 9 * 5, "player_1": 10 + 9 * 5}


def test_defect_once_against_tit_for_tat_and_grim():
    # defect_once: F, then J. TFT answers F in round 2 only: 10/0, 0/10, then 8 x 8/8.
    _, totals, _ = play(PD, "defect_once", "tit_for_tat")
    assert totals == {"player_0": 10 + 0 + 8 * 8, "player_1": 0 + 10 + 8 * 8}
    # grim never forgives: 10/0, then 9 x (J against F) 0/10.
    _, totals, _ = play(PD, "defect_once", "grim")
    assert totals == {"player_0": 10.0, "player_1": 90.0}


def test_battle_of_the_sexes_bots_yield_to_the_other_players_preference():
    # player_0 prefers J, player_1 prefers F. defect_once (player_0): J, then F (yields);
    # always_f: F. Round 1 mismatch 0/0, then 9 x FF 7/10.
    _, totals, _ = play(BOS, "defect_once", "always_f")
    assert totals == {"player_0": 63.0, "player_1": 90.0}
    # tit_for_tat as player_1 opens with J (player_0's preference), then copies: always JJ.
    _, totals, _ = play(BOS, "always_j", "tit_for_tat")
    assert totals == {"player_0": 100.0, "player_1": 70.0}


def test_rewards_are_paid_each_round_and_sum_to_the_points():
    env = selfplay_gym.make(PD)
    env.reset(seed=0)
    env.step("[F]")
    assert env.rewards == {"player_0": 0.0, "player_1": 0.0}
    env.step("[J]")
    assert env.rewards == {"player_0": 10.0, "player_1": 0.0}
    assert env.infos["player_0"]["reward_components"] == {"points": 10.0}


def test_player_1_does_not_see_player_0s_choice_of_the_current_round():
    seen = {}
    for choice in ("[J]", "[F]"):
        env = selfplay_gym.make(PD, render_mode="ansi")
        env.reset(seed=4)
        env.step("[J]")
        env.step("[J]")  # round 1 is public from here on
        env.step(choice)
        assert env.agent_selection == "player_1"
        seen[choice] = (
            env.observe("player_1"),
            env.state_tensor("player_1"),
            env.agent_view("player_1"),
            env.infos["player_1"]["messages"],
        )
        assert f"Option {choice[1]} (not shown to player_1)" in env.render()
    (obs_j, x_j, view_j, msg_j), (obs_f, x_f, view_f, msg_f) = seen["[J]"], seen["[F]"]
    assert obs_j == obs_f and msg_j == msg_f and view_j == view_f
    assert np.array_equal(x_j, x_f)
    # Once both have chosen, the round is told to both.
    env.step("[J]")
    assert "In round 2, you chose Option J and the other player chose Option F." in env.observe(
        "player_1"
    )
    assert "In round 2, you chose Option F and the other player chose Option J." in env.observe(
        "player_0"
    )


def test_option_order_is_drawn_per_episode_from_the_seed():
    def question(seed):
        env = selfplay_gym.make(PD)
        env.reset(seed=seed)
        return env.observe("player_0").rsplit("Q: ", 1)[1]

    questions = {seed: question(seed) for seed in range(20)}
    assert set(questions.values()) == {
        "Which Option do you choose, Option J or Option F?\nLegal moves: [J], [F]",
        "Which Option do you choose, Option F or Option J?\nLegal moves: [F], [J]",
    }
    assert all(question(seed) == q for seed, q in questions.items())
    # Unseeded resets continue the seeded generator: a sequence of episodes replays too.
    orders = []
    for _ in range(2):
        env = selfplay_gym.make(PD)
        env.reset(seed=1)
        seq = []
        for _ in range(10):
            seq.append(env.observe("player_0").rsplit("Q: ", 1)[1])
            env.reset()
        orders.append(seq)
    assert orders[0] == orders[1] and len(set(orders[0])) == 2


def test_episode_ends_after_the_configured_number_of_rounds():
    env, totals, steps = play(PD, "always_f", "always_f", rounds=3)
    assert steps == 6 and totals == {"player_0": 15.0, "player_1": 15.0}
    assert "Game over: after 3 rounds" in env.observe("player_0")
    assert env.legal_actions("player_0") == []


def test_answer_formats_are_parsed_like_the_other_text_games():
    for reply, expected in [
        ("\\boxed{[F]}", "[F]"),
        ("\\boxed{J}", "[J]"),
        ("<answer>[f]</answer>", "[F]"),
        ("[Option J]", "[J]"),
        ("[J] on second thought [F]", "[F]"),
        (1, "[F]"),
    ]:
        env = selfplay_gym.make(PD)
        env.reset(seed=0)
        env.step(reply)
        assert env.infos["player_0"]["parse"] == {"ok": True, "extracted": expected, "error": None}


def test_invalid_moves_follow_the_base_policies():
    env = selfplay_gym.make(PD)  # default: forfeit
    env.reset(seed=0)
    env.step("[J]")
    env.step("[G]")
    assert all(env.terminations.values())
    assert env.infos["player_1"]["reward_components"] == {"forfeit": -1.5}

    env = selfplay_gym.make(PD, invalid_move={"mode": "retry", "retry_budget": 1})
    env.reset(seed=0)
    env.step("Option F")
    assert env.agent_selection == "player_0"
    assert "Your last reply could not be used" in env.observe("player_0")
    env.step("[F]")
    assert env.agent_selection == "player_1"

    # penalize: the option presented first this episode is played for the offender.
    env = selfplay_gym.make(PD, invalid_move={"mode": "penalize", "penalty": -1.0})
    env.reset(seed=0)
    first = env.observe("player_0").rsplit("Legal moves: ", 1)[1][1]
    env.step("[J]")
    env.step("nothing")
    assert env.rewards["player_1"] == -1.0 + PD_TABLE["J", first][1]
    assert f"player_1 chooses Option {first}" in "\n".join(env.transcript)


def test_payoff_table_is_validated():
    with pytest.raises(ValueError, match="JJ, JF, FJ, FF"):
        selfplay_gym.make(PD, payoffs={"JJ": (1, 1)})
    with pytest.raises(ValueError, match="positive int"):
        selfplay_gym.make(PD, rounds=0)
