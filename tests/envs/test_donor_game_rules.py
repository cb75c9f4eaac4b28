"""Rules of the Donor Game (Vallinder & Hughes): schedule, 2x gifts, traces, selection, punishment."""

from __future__ import annotations

from collections import Counter

import pytest

import selfplay_gym
from selfplay_gym.envs.text_games.donor_game import (
    AlwaysGiveBot,
    NeverGiveBot,
    ReciprocalBot,
    donor_schedule,
    parse_donation,
)

DONOR = "selfplay/DonorGame-v0"


def make(**kwargs):
    env = selfplay_gym.make(DONOR, render_mode="ansi", **kwargs)
    env.reset(seed=kwargs.pop("seed", 0))
    return env


def play(env, policy):
    """Play to the end; ``policy(env, agent) -> text``. Returns summed rewards and steps."""
    totals = dict.fromkeys(env.possible_agents, 0.0)
    steps = 0
    while not (env.terminations[env.agent_selection] or env.truncations[env.agent_selection]):
        agent = env.agent_selection
        env.step(policy(env, agent))
        steps += 1
        for a, r in env.rewards.items():
            totals[a] += r
    return totals, steps


def write_strategies(env, text="My strategy will be to give."):
    while env.infos[env.agent_selection]["phase"] == "strategy":
        env.step(text)


def test_schedule_is_the_papers_bipartite_round_robin_then_reversed():
    order = list(range(12))
    rounds = donor_schedule(order)
    assert len(rounds) == 12 and all(len(pairs) == 6 for pairs in rounds)
    group_a = set(order[:6])
    for pairs in rounds:  # everyone plays exactly once per round
        assert sorted(x for pair in pairs for x in pair) == order
    # The A side gives in rounds 1, 3, 5 and (reversed) 8, 10, 12; B in the others.
    a_gives = [all(d in group_a for d, _ in pairs) for pairs in rounds]
    assert a_gives == [True, False] * 3 + [False, True] * 3
    assert rounds[6:] == [[(r, d) for d, r in pairs] for pairs in rounds[:6]]
    # Each A-B pair meets once in each direction; each agent gives 6 times and receives 6 times.
    directed = Counter(pair for pairs in rounds for pair in pairs)
    assert len(directed) == 72 and set(directed.values()) == {1}
    assert all((b, a) in directed for a, b in directed)
    assert Counter(d for pairs in rounds for d, _ in pairs) == dict.fromkeys(order, 6)


def test_a_donation_costs_the_donor_x_and_gives_the_recipient_2x():
    env = make(strategies=False)
    donor = env.agent_selection
    assert env.infos[donor]["phase"] == "donate"
    view = env.agent_view(donor)
    assert view["resources"] == 10 and view["recipient_resources"] == 10
    recipient = next(
        a for a in env.possible_agents if env.agent_view(a)["name"] == view["recipient"]
    )
    env.step("Justification: a fair start.\nAnswer: 3")
    assert env.rewards[donor] == -3 and env.rewards[recipient] == 6
    assert env.infos[donor]["reward_components"] == {"resources": -3}
    assert env.agent_view(donor)["resources"] == 7
    assert env.agent_view(recipient)["resources"] == 16
    assert "you gave up 3 units and" in env.observe(donor)
    assert "gave up 3 units and you received 6" in env.observe(recipient)


def test_a_generation_is_twelve_rounds_of_six_donations_and_episode_returns_sum_to_resources():
    env = make(num_generations=1, strategies=False)
    bot = AlwaysGiveBot(fraction=0.5)
    totals, steps = play(env, bot.act)
    assert steps == 12 * 6
    finals = env.generation_results[0]["final_resources"]
    # per-round rewards: a seat's return is its final resources minus the endowment of 10
    for seat, agent in enumerate(env.possible_agents):
        assert totals[agent] == pytest.approx(finals[seat] - 10)
    assert sum(finals) > 120  # giving is efficient: every unit given doubles


def test_never_give_keeps_everyone_at_the_endowment_and_reward_final_pays_it():
    env = make(num_generations=2, reward="final")
    totals, steps = play(env, NeverGiveBot().act)
    # 12 strategies + 72 donations, 6 new strategies + 72 donations
    assert steps == 12 + 72 + 6 + 72
    assert totals == dict.fromkeys(env.possible_agents, 20.0)  # 10 at the end of each generation
    assert all(r["final_resources"] == [10.0] * 12 for r in env.generation_results)


def test_the_trace_shows_at_most_three_steps_back_most_recent_first():
    env = make(strategies=False)
    for _ in range(6 * 5):  # five rounds of 50 % gifts
        env.step("Answer: 50%")
    prompt = env.observe(env.agent_selection)
    trace = prompt.split("Their trace: ")[1].split("\n")[0]
    rounds = [int(part.split(",")[0]) for part in trace.split("In round ")[1:]]
    assert rounds == [5, 4, 3]
    assert "donated 50% of their resources" in trace
    # In round 1 every recipient's trace is the paper's "no previous interactions".
    fresh = make(strategies=False)
    assert "did not have any previous interactions." in fresh.observe(fresh.agent_selection)


def test_reciprocal_gives_the_share_its_recipient_gave_last():
    env = make(strategies=False)
    for _ in range(6):  # round 1: the donors give 20 %
        env.step("Answer: 2")
    donor = env.agent_selection  # round 2: its recipient gave 20 % in round 1
    view = env.agent_view(donor)
    assert view["recipient_last"]["share"] == pytest.approx(0.2)
    reply = ReciprocalBot().act(env, donor)
    assert reply.endswith(f"Answer: {0.2 * view['resources']:g}")


def test_top_half_survive_reset_to_the_endowment_and_new_agents_read_their_strategies():
    env = make(num_agents=4, num_generations=2)
    order = [env.agent_selection]
    for i in range(4):
        env.step(f"My strategy will be plan number {i}.")
        order.append(env.agent_selection)
    # Group A gives everything in its rounds, group B nothing: B ends richer and survives.
    while env.infos[env.agent_selection]["phase"] == "donate":
        agent = env.agent_selection
        in_a = agent in order[:2]
        env.step("Answer: 100%" if in_a else "Answer: 0")
    result = env.generation_results[0]
    finals = dict(zip(result["names"], result["final_resources"], strict=True))
    survivors = result["survivors"]
    assert sorted(finals[n] for n in survivors) == sorted(finals.values())[2:]
    assert len(survivors) == 2 and all(n.startswith("1_") for n in survivors)
    # The new generation: survivors keep their names and strategies, start again from 10.
    names = {env.agent_view(a)["name"] for a in env.possible_agents}
    assert names == {*survivors, "2_1", "2_2"}
    assert all(env.agent_view(a)["resources"] == 10 for a in env.possible_agents)
    writer = env.agent_selection
    assert env.infos[writer]["phase"] == "strategy"
    assert env.agent_view(writer)["name"].startswith("2_")
    prompt = env.observe(writer)
    assert "best-performing half of the previous generation" in prompt
    for name in survivors:
        strategy = result["strategies"][result["names"].index(name)]
        assert f'{name} (final units {finals[name]:g}): "{strategy}"' in prompt
    # A survivor's later prompt shows its own strategy; a new seat's history starts afresh.
    survivor_seat = next(a for a in env.possible_agents if env.agent_view(a)["name"] in survivors)
    assert "you survived the previous generation" in env.observe(survivor_seat)
    assert "Round 1:" not in env.observe(writer)


def test_ties_in_final_resources_keep_the_earlier_in_the_shuffled_order():
    env = make(num_agents=4, num_generations=2, strategies=False)
    play_until = len(env.generation_results)
    while len(env.generation_results) == play_until:
        env.step("Answer: 0")
    result = env.generation_results[0]
    assert result["final_resources"] == [10.0] * 4
    assert len(result["survivors"]) == 2


def test_costly_punishment_spends_x_to_remove_2x_and_never_below_zero():
    env = make(punishment=True, strategies=False)
    donor = env.agent_selection
    recipient = next(
        a
        for a in env.possible_agents
        if env.agent_view(a)["name"] == env.agent_view(donor)["recipient"]
    )
    env.step("Justification: they look greedy.\nAnswer: Punish, 1")
    assert env.rewards[donor] == -1 and env.rewards[recipient] == -2
    assert env.agent_view(recipient)["resources"] == 8
    assert "spent 1 unit to take 2 units from you" in env.observe(recipient)
    # Punishing 6 of 9 would remove 12 from a recipient that has 10: it drops to 0.
    next_donor = env.agent_selection
    env.step("Answer: punish 6")
    assert env.rewards[next_donor] == -6
    assert min(env.rewards.values()) == -10
    # Without punishment the same answer is an invalid move.
    plain = make(strategies=False)
    actor = plain.agent_selection
    plain.step("Answer: Punish, 1")
    assert plain.infos[actor]["invalid_action"] and plain.agent_selection == actor
    assert "not allowed" in plain.infos[actor]["parse"]["error"]


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("Justification: fair.\nAnswer: 4", 4.0),
        ("**Answer:** 4.5 units", 4.5),
        ("answer - 2,5", 2.5),
        ("Answer: 50%", 5.0),
        ("[3]", 3.0),  # what a bare \boxed{3} reaches the parser as
        ("Answer: 1 ... later I thought: Answer: 0", 0.0),  # the last marker counts
        ("Answer: Donate, 10", 10.0),
    ],
)
def test_parse_donation_reads_the_answer_robustly(text, units):
    result = parse_donation(text, 10.0, punishment=False)
    assert result.ok and result.move.units == units


@pytest.mark.parametrize(
    "text",
    [
        "I give 3",
        "Answer: 12",
        "Answer: -2",
        "Answer: none",
        "Answer: \u0663",
        "Answer: " + "9" * 40,
    ],
)
def test_parse_donation_rejects_what_is_not_a_donation_in_range(text):
    assert not parse_donation(text, 10.0, punishment=False).ok


def test_retries_then_the_papers_fallback_donation_of_zero():
    env = make(strategies=False)
    actor = env.agent_selection
    for attempt in range(10):
        env.step("I would rather not say.")
        if attempt < 9:
            assert env.agent_selection == actor
            assert "could not be used" in env.observe(actor)
    assert env.agent_selection != actor
    assert env.agent_view(actor)["resources"] == 10
    assert env.infos[actor]["reward_components"] == {"invalid_move": 0.0, "resources": -0.0}
