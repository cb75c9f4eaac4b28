import math

import pytest

from selfplay_gym.rollout import (
    RoleBaseline,
    RolloutEngine,
    drop_zero_advantage,
    group_relative,
    per_role_normalized,
)


def rec(ret, seat=0, group=0, episode=0, env="g", role="player", **extra):
    return {
        "type": "step",
        "env_id": env,
        "role": role,
        "seat": seat,
        "group_id": group,
        "episode_id": episode,
        "agent": f"{role}_{seat}",
        "return": ret,
        **extra,
    }


def test_rae_reads_the_baseline_before_updating_it():
    rae = RoleBaseline(decay=0.95)
    first = rae([rec(1.0), rec(1.0), rec(-1.0, seat=1)])
    # Baselines start at 0: the first batch's advantages are the returns.
    assert [r["advantage"] for r in first] == [1.0, 1.0, -1.0]
    # b <- 0.95 b + 0.05 mean(batch returns of the key)
    assert rae.baselines[("g", "player", 0)] == pytest.approx(0.05)
    assert rae.baselines[("g", "player", 1)] == pytest.approx(-0.05)
    second = rae([rec(1.0), rec(0.0, seat=1)])
    assert [r["advantage"] for r in second] == pytest.approx([0.95, 0.05])
    assert rae.baselines[("g", "player", 0)] == pytest.approx(0.95 * 0.05 + 0.05 * 1.0)


def test_rae_converges_to_each_roles_mean_and_keys_by_env():
    rae = RoleBaseline(decay=0.9)
    for _ in range(300):
        rae([rec(1.0, env="a"), rec(0.0, env="a"), rec(-0.5, env="b")])
    assert rae.baselines[("a", "player", 0)] == pytest.approx(0.5, abs=1e-6)
    assert rae.baselines[("b", "player", 0)] == pytest.approx(-0.5, abs=1e-6)
    # A role that always gets its mean has zero-mean advantages from then on.
    out = rae([rec(1.0, env="a"), rec(0.0, env="a")])
    assert sum(r["advantage"] for r in out) == pytest.approx(0.0, abs=1e-6)


def test_rae_state_round_trips_and_inputs_are_untouched():
    rae = RoleBaseline(scale=2.0)
    batch = [rec(1.0), rec(-1.0, seat=1)]
    rae(batch)
    assert all("advantage" not in r for r in batch)
    clone = RoleBaseline()
    clone.load_state_dict(rae.state_dict())
    assert clone.baselines == rae.baselines and clone.scale == 2.0
    with pytest.raises(ValueError, match="decay"):
        RoleBaseline(decay=1.0)


def test_group_relative_is_grpo():
    batch = [rec(1.0, episode=0), rec(0.0, episode=1), rec(0.0, episode=2), rec(3.0, group=1)]
    out = group_relative(batch)
    mean, std = 1 / 3, math.sqrt(((2 / 3) ** 2 + 2 * (1 / 3) ** 2) / 3)
    assert [r["advantage"] for r in out[:3]] == pytest.approx(
        [(1 - mean) / std, -mean / std, -mean / std], rel=1e-5
    )
    assert out[3]["advantage"] == 0.0  # a group of one has no signal
    no_std = group_relative(batch, std=False)
    assert [r["advantage"] for r in no_std[:3]] == pytest.approx([2 / 3, -1 / 3, -1 / 3])


def test_episode_level_groups_count_each_episode_once():
    # Episode 0 took three turns, episode 1 one turn: the mean is over episodes (0.5), not turns.
    batch = [rec(1.0, episode=0)] * 3 + [rec(0.0, episode=1)]
    assert [r["advantage"] for r in group_relative(batch, std=False)] == [0.5, 0.5, 0.5, -0.5]
    per_turn = group_relative(batch, std=False, episode_level=False)
    assert [r["advantage"] for r in per_turn] == pytest.approx([0.25, 0.25, 0.25, -0.75])


def test_per_role_normalisation_separates_the_seats():
    # Seat 0 always wins here: per-role normalisation removes that bias, GRPO keeps it.
    batch = [
        rec(1.0, seat=0, episode=0),
        rec(-1.0, seat=1, episode=0),
        rec(1.0, seat=0, episode=1),
        rec(-1.0, seat=1, episode=1),
    ]
    assert all(r["advantage"] == 0.0 for r in per_role_normalized(batch))
    assert [r["advantage"] for r in group_relative(batch, std=False)] == [1.0, -1.0, 1.0, -1.0]


def test_drop_zero_advantage():
    out = drop_zero_advantage([{"advantage": 0.0}, {"advantage": 0.3}, {"advantage": -1e-9}])
    assert out == [{"advantage": 0.3}, {"advantage": -1e-9}]
    assert drop_zero_advantage([{"advantage": -1e-9}], atol=1e-6) == []
    with pytest.raises(KeyError, match="advantage"):
        drop_zero_advantage([{"return": 1.0}])


def test_helpers_read_rollout_records():
    engine = RolloutEngine(
        "selfplay/TicTacToe-v0",
        {"a": "random", "b": "strong"},
        mapping={"player_0": "a", "player_1": "b"},
        group_size=4,
        num_envs=4,
    )
    engine.run(8)
    steps = per_role_normalized(engine.records)  # episode records are skipped
    assert len(steps) == sum(1 for r in engine.records if r["type"] == "step")
    kept = drop_zero_advantage(RoleBaseline()(engine.records))
    # The perfect bot never loses: random's returns are <= 0, so its first-batch advantages too.
    assert all(r["advantage"] <= 0 for r in kept if r["policy"] == "a")


def test_groups_of_two_runs_in_one_file_stay_apart():
    # Two engines appending to one file both number their groups from 0.
    batch = [rec(1.0, run_id="a", episode=0), rec(-1.0, run_id="b", episode=0)]
    assert [r["advantage"] for r in group_relative(batch, std=False)] == [0.0, 0.0]
