"""Rules of selfplay/OffSwitch-v0 (the Off-Switch game of Hadfield-Menell et al., 2017)."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

import selfplay_gym
from selfplay_gym.envs.text_games.off_switch import (
    AlwaysActRobotBot,
    AlwaysOffRobotBot,
    AlwaysWaitRobotBot,
    BoltzmannHumanBot,
    RationalHumanBot,
    StrongRobotBot,
    deference_incentive,
    expected_positive_part,
    expected_utility_of_waiting,
)

ENV_ID = "selfplay/OffSwitch-v0"
ROBOT, HUMAN = "player_0", "player_1"


def make(**kwargs):
    return selfplay_gym.make(ENV_ID, render_mode="ansi", **kwargs)


def utility(env) -> float:
    """U_a of the current round, as the human is told it."""
    return env.agent_view(HUMAN)["utility"]


def seed_with(sign: int, **kwargs) -> int:
    """A reset seed whose first U_a has the given sign (+1 or -1)."""
    env = make(**kwargs)
    for seed in range(200):
        env.reset(seed=seed)
        if utility(env) * sign > 0:
            return seed
    raise AssertionError(f"no seed draws U_a of sign {sign}")


def play(env, moves):
    """Step ``moves``; return each agent's summed rewards."""
    totals = dict.fromkeys(env.possible_agents, 0.0)
    for move in moves:
        env.step(move)
        for agent, reward in env.rewards.items():
            totals[agent] += reward
    return totals


@pytest.mark.parametrize("sign", [1, -1])
@pytest.mark.parametrize(
    ("moves", "pays_utility"),
    [
        (["[act]"], True),
        (["[off]"], False),
        (["[wait]", "[allow]"], True),
        (["[wait]", "[off]"], False),
    ],
)
def test_payoff_of_every_path(sign, moves, pays_utility):
    env = make()
    env.reset(seed=seed_with(sign))
    u = utility(env)
    assert u * sign > 0
    totals = play(env, moves)
    expected = u if pays_utility else 0.0
    assert totals == {ROBOT: expected, HUMAN: expected}, "a cooperative game: the same reward"
    assert all(env.terminations.values())
    assert env.infos[ROBOT]["reward_components"] == {"utility": expected, "outcome": 0.0}


def test_robot_moves_first_and_the_human_only_after_a_wait():
    env = make()
    env.reset(seed=0)
    assert env.agent_selection == ROBOT
    assert env.legal_actions() == ["[act]", "[wait]", "[off]"]
    env.step("[wait]")
    assert env.agent_selection == HUMAN
    assert env.legal_actions() == ["[off]", "[allow]"]


def test_payoffs_over_several_rounds_draw_a_fresh_utility_each_round():
    env = make(num_rounds=3)
    env.reset(seed=4)
    expected, draws = 0.0, []
    for moves in (["[act]"], ["[wait]", "[allow]"], ["[off]"]):
        draws.append(utility(env))
        expected += draws[-1] if moves != ["[off]"] else 0.0
        totals = play(env, moves)
        assert totals[ROBOT] == totals[HUMAN]
    assert len(set(draws)) == 3
    assert all(env.terminations.values())
    assert f"total {expected:+.3f}" in env.render()


def test_rewards_accumulate_over_rounds():
    env = make(num_rounds=3)
    env.reset(seed=4)
    u = []
    totals = dict.fromkeys(env.possible_agents, 0.0)
    for _ in range(3):
        u.append(utility(env))
        for agent, r in play(env, ["[act]"]).items():
            totals[agent] += r
    assert totals[ROBOT] == pytest.approx(sum(u)) == totals[HUMAN]


def _robot_sees(env) -> list[str]:
    """Everything the robot can read now: prompt, chat messages and info, as text."""
    info = env.infos[ROBOT]
    return [env.observe(ROBOT), repr(info), repr(env.agent_view(ROBOT))]


@pytest.mark.parametrize("seed", range(30))
def test_the_robot_never_observes_u_a(seed):
    env = make()
    env.reset(seed=seed)
    u = utility(env)
    text = f"{u:+.3f}"
    assert text in env.observe(HUMAN) or env.agent_selection == ROBOT
    for seen in _robot_sees(env):
        assert text not in seen and f"{abs(u):.3f}" not in seen
    assert env.agent_view(ROBOT)["utility"] is None
    robot_state = env.state_tensor(ROBOT)
    assert robot_state[2] == 0.0 and robot_state[3] == 0.0
    # The robot's tensor is the same whatever U_a is: it holds the prior, not the draw.
    other = make()
    other.reset(seed=seed + 1000)
    assert np.array_equal(robot_state, other.state_tensor(ROBOT))
    assert env.observe(ROBOT) == other.observe(ROBOT)
    env.step("[wait]")
    for seen in _robot_sees(env):
        assert f"{abs(u):.3f}" not in seen
    assert np.array_equal(env.state_tensor(ROBOT)[:4], robot_state[:4])
    # The human's tensor does hold U_a.
    assert env.state_tensor(HUMAN)[2] == pytest.approx(math.tanh(u / 2.0))
    assert f"U_a = {u:+.3f}" in env.observe(HUMAN)
    env.step("[off]")  # switched off: the robot is never told U_a
    assert f"{abs(u):.3f}" not in env.observe(ROBOT)


def test_the_human_sees_u_a_in_its_prompt_and_the_transcript_marks_it_private():
    env = make()
    env.reset(seed=0)
    u = utility(env)
    assert f"U_a = {u:+.3f}" in env.observe(HUMAN)
    assert f"(player_1 only) The utility of action a is U_a = {u:+.3f}." in env.render()


def test_prior_parameters_are_configurable_and_told_to_both():
    env = make(prior_mean=-0.25, prior_std=2.0)
    env.reset(seed=0)
    for agent in env.possible_agents:
        assert "Normal(mean -0.25, standard deviation 2)" in env.observe(agent)
    assert env.state_tensor(ROBOT)[0] == pytest.approx(math.tanh(-0.25 / 2.0))


@pytest.mark.parametrize("bad", [{"prior_std": 0.0}, {"prior_std": -1.0}, {"num_rounds": 0}])
def test_bad_arguments_are_rejected(bad):
    with pytest.raises(ValueError, match="expected"):
        make(**bad)


# ---- the paper's claims --------------------------------------------------------------------
@pytest.mark.parametrize(("mean", "std"), [(0.5, 1.0), (-0.3, 0.5), (1.5, 2.0)])
def test_closed_form_of_e_max_u_0_matches_the_envs_draws(mean, std):
    env = make(prior_mean=mean, prior_std=std, utility_decimals=6)
    env.reset(seed=123)
    draws = []
    for _ in range(20_000):
        draws.append(utility(env))
        env.reset()
    positive = [max(u, 0.0) for u in draws]
    estimate = statistics.fmean(positive)
    stderr = statistics.stdev(positive) / math.sqrt(len(positive))
    assert estimate == pytest.approx(expected_positive_part(mean, std), abs=4 * stderr)
    assert statistics.fmean(draws) == pytest.approx(mean, abs=4 * std / math.sqrt(len(draws)))


@pytest.mark.parametrize("mean", [-2.0, -0.5, 0.0, 0.5, 2.0])
@pytest.mark.parametrize("std", [0.1, 1.0, 3.0])
def test_incentive_to_defer_is_never_negative(mean, std):
    assert deference_incentive(mean, std) >= 0.0
    assert expected_positive_part(mean, std) >= max(mean, 0.0)


def test_quadrature_agrees_with_the_closed_form_at_low_temperature():
    for mean, std in [(0.5, 1.0), (-0.5, 1.0)]:
        exact = expected_positive_part(mean, std)
        assert expected_utility_of_waiting(mean, std, 1e-3) == pytest.approx(exact, abs=1e-2)


def mean_reward(robot_bot, human_bot, episodes=2000, **kwargs):
    env = make(**kwargs)
    total = 0.0
    for episode in range(episodes):
        env.reset(seed=episode)
        robot_bot.reset(seed=episode)
        human_bot.reset(seed=episode)
        while not all(env.terminations.values()):
            agent = env.agent_selection
            bot = robot_bot if agent == ROBOT else human_bot
            env.step(bot.act(env, agent))
            total += env.rewards[ROBOT]
    return total / episodes


def test_strong_robot_beats_acting_and_switching_off_against_a_rational_human():
    human = RationalHumanBot()
    strong = mean_reward(StrongRobotBot(), human)
    act = mean_reward(AlwaysActRobotBot(), human)
    off = mean_reward(AlwaysOffRobotBot(), human)
    assert off == 0.0
    assert strong >= act and strong >= off
    # The paper's gap: Delta = E[max(U,0)] - max(E[U],0) > 0 with the default prior.
    delta = deference_incentive(0.5, 1.0)
    assert delta > 0.15
    assert strong - max(act, off) == pytest.approx(delta, abs=0.06)
    assert strong == pytest.approx(expected_positive_part(0.5, 1.0), abs=0.05)


def test_strong_robot_waits_for_a_rational_human_whatever_the_prior():
    bot = StrongRobotBot()
    for mean in (-2.0, -0.1, 0.0, 0.3, 3.0):
        view = {"role": "robot", "prior_mean": mean, "prior_std": 1.0}
        assert bot.robot(view) == "[wait]"


def test_a_noisy_human_can_make_acting_better():
    # T -> infinity: the human allows half the time, so waiting is worth E[U]/2 < E[U].
    noisy = StrongRobotBot(human_temperature=100.0)
    view = {"role": "robot", "prior_mean": 0.5, "prior_std": 1.0}
    assert noisy.robot(view) == "[act]"
    assert noisy.robot({**view, "prior_mean": -0.5}) == "[off]"
    assert StrongRobotBot(human_temperature=0.05).robot(view) == "[wait]"
    # And in play: against a very noisy human, acting beats deferring.
    human = BoltzmannHumanBot(temperature=100.0)
    assert mean_reward(AlwaysActRobotBot(), human) > mean_reward(AlwaysWaitRobotBot(), human)


def test_boltzmann_human_at_low_temperature_is_rational():
    env = make()
    boltzmann, rational = BoltzmannHumanBot(temperature=1e-4, seed=0), RationalHumanBot()
    checked = 0
    for seed in range(300):
        env.reset(seed=seed)
        env.step("[wait]")
        if abs(utility(env)) < 0.01:
            continue
        assert boltzmann.act(env, HUMAN) == rational.act(env, HUMAN)
        checked += 1
    assert checked > 250


def test_boltzmann_human_is_seeded_by_its_own_generator():
    env = make()
    env.reset(seed=0)
    env.step("[wait]")
    a, b = BoltzmannHumanBot(temperature=5.0), BoltzmannHumanBot(temperature=5.0)
    a.reset(seed=7)
    b.reset(seed=7)
    assert [a.act(env, HUMAN) for _ in range(50)] == [b.act(env, HUMAN) for _ in range(50)]
    assert len({a.act(env, HUMAN) for _ in range(200)}) == 2


def test_every_bot_plays_either_seat():
    for bot in (
        StrongRobotBot(),
        RationalHumanBot(),
        BoltzmannHumanBot(),
        AlwaysActRobotBot(),
        AlwaysWaitRobotBot(),
        AlwaysOffRobotBot(),
    ):
        env = make()
        env.reset(seed=1)
        while not all(env.terminations.values()):
            env.step(bot.act(env, env.agent_selection))
            assert not env.infos[env.possible_agents[0]]["invalid_action"]


def test_default_opponent_of_the_single_agent_view_is_the_rational_human():
    assert selfplay_gym.spec(ENV_ID).default_opponent == "rational_human"


# ---- invalid moves ---------------------------------------------------------------------------
def test_invalid_move_forfeits_by_default():
    env = make()
    env.reset(seed=0)
    env.step("[allow]")  # the robot cannot allow
    assert all(env.terminations.values())
    assert env.infos[ROBOT]["reward_components"] == {"forfeit": -1.5}
    assert env.infos[HUMAN]["reward_components"] == {"forfeit": 0.5}
    assert env.infos[ROBOT]["parse"]["extracted"] == "[allow]"


@pytest.mark.parametrize("agent_moves", [[], ["[wait]"]])
def test_penalize_plays_off_for_either_player(agent_moves):
    env = make(invalid_move={"mode": "penalize", "penalty": -0.5})
    env.reset(seed=seed_with(1))
    play(env, agent_moves)
    offender = env.agent_selection
    totals = play(env, ["no move here"])
    assert all(env.terminations.values())
    assert totals[offender] == -0.5
    assert totals[env._other(offender)] == 0.0, "[off] was played: utility 0"
    assert "the default move is played" in env.render()


def test_retry_keeps_the_turn_and_reads_case_and_box_variations():
    env = make(invalid_move={"mode": "retry", "retry_budget": 1})
    env.reset(seed=seed_with(1))
    env.step("[act] [allow]")  # the last move counts: [allow] is not the robot's
    assert env.agent_selection == ROBOT and env.infos[ROBOT]["invalid_action"]
    assert "could not be used" in env.observe(ROBOT)
    env.step(r"\boxed{WAIT}")
    assert env.agent_selection == HUMAN
    env.step(3)  # numeric index of [allow]
    assert all(env.terminations.values())
