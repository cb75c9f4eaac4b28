"""Scripted volleyball skills and the rule-based team: each skill does its job in a scripted
scenario over many courts at once, and the scripted team beats a random one."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mujoco")

from selfplay_gym.envs.volleyball.bots import (  # noqa: E402
    HoverBot,
    RandomDroneBot,
    ScriptedTeam,
    team_plan,
)
from selfplay_gym.envs.volleyball.skills import (  # noqa: E402
    GRAVITY,
    Goto,
    PolicySkill,
    arc_top,
    ball_at,
    ballistic_velocity,
    hit_height,
    make_skill,
    plan_hit,
    time_to_height,
)
from selfplay_gym.envs.volleyball.tasks import make_task  # noqa: E402

COURTS = 24


# ---- the predictor and the hit formula (pure numpy) ---------------------------------------------
def test_ballistic_velocity_peaks_at_the_apex_and_lands_on_the_target():
    rng = np.random.default_rng(0)
    start = rng.uniform([-3, -2, 1.5], [3, 2, 2.5], (50, 3))
    target = rng.uniform([-3, -2, 1.0], [3, 2, 2.5], (50, 3))
    apex = rng.uniform(3.0, 5.0, 50)
    v = ballistic_velocity(start, target, apex)
    assert np.allclose(start[:, 2] + v[:, 2] ** 2 / (2 * GRAVITY), apex)
    t = time_to_height(start, v, target[:, 2])
    landed, velocity = ball_at(start, v, t)
    assert np.allclose(landed, target, atol=1e-9)
    assert (velocity[:, 2] < 0).all()  # it arrives coming down


def test_time_to_height_is_infinite_for_a_ball_that_never_gets_there():
    pos = np.array([[0.0, 0.0, 2.0], [0.0, 0.0, 1.0]])
    vel = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, -1.0]])
    t = time_to_height(pos, vel, 3.0)
    assert np.isinf(t).all()
    assert np.isclose(time_to_height(pos[:1], np.zeros((1, 3)), 0.0)[0], np.sqrt(4 / GRAVITY))


def test_plan_hit_gives_the_racket_that_makes_the_restitution_law_send_the_ball_out():
    rng = np.random.default_rng(1)
    ball_in = rng.uniform([-2, -1, -7], [2, 1, -3], (40, 3))
    ball_out = rng.uniform([-3, -1, 4], [3, 1, 7], (40, 3))
    e = 0.8
    plan = plan_hit(
        ball_in, ball_out, np.zeros((40, 3)), np.full(40, 0.1), restitution=e, max_tilt=1.5
    )
    n, speed = plan.normal, plan.racket_speed
    v_r = speed[:, None] * n  # only the normal part of the racket's velocity matters
    rel = ball_in - v_r
    out = v_r + rel - (1 + e) * np.einsum("ij,ij->i", rel, n)[:, None] * n
    assert np.allclose(out, ball_out, atol=1e-9)
    assert np.allclose(np.linalg.norm(n, axis=1), 1.0)


def test_plan_hit_ends_on_the_contact_point_with_the_racket_speed():
    contact = np.array([[1.0, 0.5, 2.2]])
    plan = plan_hit(
        np.array([[0.0, 0.0, -5.0]]),
        np.array([[-2.0, 0.0, 5.0]]),
        contact,
        np.array([0.0]),
        offset=0.17,
    )
    assert np.allclose(plan.pos, contact - 0.17 * plan.normal)
    assert np.allclose(plan.vel @ plan.normal[0], plan.racket_speed)
    waiting = plan_hit(
        np.array([[0.0, 0.0, -5.0]]), np.array([[-2.0, 0.0, 5.0]]), contact, np.array([2.0])
    )
    assert np.allclose(waiting.vel, 0.0) and np.allclose(waiting.acc, 0.0)


def test_arc_top_remembers_the_apex_once_the_ball_falls():
    task = make_task("1v1", 2, random_serve=False)
    task.reset(np.arange(2), np.random.default_rng(0))
    task.sim.set_ball(
        np.arange(2), np.array([[1.0, 0, 2.0], [1.0, 0, 3.0]]), np.array([[0, 0, 4.0], [0, 0, 0]])
    )
    assert np.allclose(arc_top(task), [2.0 + 16 / (2 * GRAVITY), 3.0])
    # Later on the way down, the first ball's top is still its apex, not its height.
    task.sim.set_ball(
        np.arange(2),
        np.array([[1.0, 0, 2.5], [1.0, 0, 2.0]]),
        np.array([[0, 0, -2.0], [0, 0, -3.0]]),
    )
    assert np.allclose(arc_top(task), [2.0 + 16 / (2 * GRAVITY), 3.0])
    assert np.allclose(hit_height(task), [2.2, 2.2])


# ---- skills in the simulator --------------------------------------------------------------------
def _match(name: str, courts: int = COURTS, seed: int = 0):
    task = make_task(name, courts, random_serve=False)
    task.reset(np.arange(courts), np.random.default_rng(seed))
    return task


def _launch_toward(task, rng, land: np.ndarray, start_x: float):
    """Throw every court's ball from the far side so it comes down at ``land`` (courts, 3)."""
    c = task.num_courts
    start = np.stack([np.full(c, start_x), rng.uniform(-1, 1, c), np.full(c, 2.4)], -1)
    task.sim.set_ball(
        np.arange(c), start, ballistic_velocity(start, land, rng.uniform(4.0, 4.6, c))
    )
    task.hits.last_ball_vel[:] = task.sim.ball_vel
    task.rules.ball_side[:] = np.where(start[:, 0] > 0, 0, 1)


def _play(task, controls, steps: int, until_first_hit_of: int | None = None):
    """Step with ``controls(task) -> actions``; returns the ball state 4 steps after the first
    hit by drone ``until_first_hit_of`` on each court (NaN where it never hit)."""
    c = task.num_courts
    hit_step = np.full(c, -1)
    after = np.full((c, 2, 3), np.nan)
    for step in range(steps):
        result = task.step(controls(task))
        if until_first_hit_of is not None:
            new = result.drone_info["hit"][:, until_first_hit_of] & (hit_step < 0)
            hit_step[new] = step
            rows = np.flatnonzero(hit_step == step - 4)
            after[rows, 0], after[rows, 1] = task.sim.ball_pos[rows], task.sim.ball_vel[rows]
    return after


def _hold_others(task, active: int, skill, params):
    others = np.array([d for d in range(task.n_drones) if d != active])
    goto = Goto()

    def controls(t):
        actions = np.zeros((t.num_courts, t.n_drones, 4))
        actions[:, [active]] = skill.act(t, np.array([active]), params)
        actions[:, others] = goto.act(t, others)
        return actions

    return controls


def test_goto_reaches_its_target_and_holds_it():
    task = _match("3v3", courts=8)
    rng = np.random.default_rng(2)
    drones = np.arange(6)
    target = task.anchors + rng.uniform([-1, -1, -0.5], [1, 1, 0.8], (8, 6, 3))
    goto = Goto()
    task.sim.set_ball(np.arange(8), np.tile([0.0, -5.0, 6.0], (8, 1)), np.zeros((8, 3)))
    for _ in range(100):  # 2 s
        task.sim.set_ball(np.arange(8), np.tile([0.0, -5.0, 6.0], (8, 1)), np.zeros((8, 3)))
        task.sim.step(goto.act(task, drones, {"target": target}))
    error = np.linalg.norm(task.sim.drone_pos - target, axis=-1)
    assert error.max() < 0.1, error.max()
    assert np.abs(task.sim.drone_vel).max() < 0.3


def test_receive_sends_a_served_ball_up_toward_the_setter():
    # 3v3: the ball comes over the net to blue's back drone (seat 2); it receives toward seat 0.
    task = _match("3v3")
    rng = np.random.default_rng(3)
    land = task.anchors[2] + np.stack(
        [rng.uniform(-0.5, 0.5, COURTS), rng.uniform(-0.5, 0.5, COURTS), np.full(COURTS, 0.2)], -1
    )
    _launch_toward(task, rng, land, start_x=-3.0)
    setter = task.anchors[0].copy()
    setter[2] = 2.2
    receive = make_skill("receive")
    after = _play(
        task, _hold_others(task, 2, receive, {"target": setter}), 120, until_first_hit_of=2
    )
    hit = ~np.isnan(after[:, 0, 0])
    assert hit.mean() >= 0.9, hit.mean()
    pos, vel = after[hit, 0], after[hit, 1]
    assert (vel[:, 2] > 2.0).all()  # sent up
    # It comes back down near the setter (within 1.5 m; the setter moves to meet it).
    t = time_to_height(pos, vel, 2.2)
    down, _ = ball_at(pos, vel, t)
    miss = np.linalg.norm(down[:, :2] - setter[:2], axis=-1)
    assert np.median(miss) < 1.0 and (miss < 1.5).mean() >= 0.8, miss


def test_set_sends_the_ball_up_to_the_attacker():
    task = _match("3v3")
    rng = np.random.default_rng(4)
    # A pass from the back drone comes down near the setter (seat 0).
    start = np.tile(task.anchors[2] + [0, 0, 0.3], (COURTS, 1))
    land = task.anchors[0] + np.stack(
        [rng.uniform(-0.4, 0.4, COURTS), rng.uniform(-0.4, 0.4, COURTS), np.full(COURTS, 0.2)], -1
    )
    task.sim.set_ball(np.arange(COURTS), start, ballistic_velocity(start, land, 4.5))
    task.hits.last_ball_vel[:] = task.sim.ball_vel
    attacker = task.anchors[1].copy()
    attacker[2] = 2.2
    after = _play(
        task,
        _hold_others(task, 0, make_skill("set"), {"target": attacker}),
        100,
        until_first_hit_of=0,
    )
    hit = ~np.isnan(after[:, 0, 0])
    assert hit.mean() >= 0.9, hit.mean()
    pos, vel = after[hit, 0], after[hit, 1]
    down, _ = ball_at(pos, vel, time_to_height(pos, vel, 2.2))
    toward = down[:, 1] - pos[:, 1]  # the attacker is on the other side of y = 0
    assert (vel[:, 2] > 2.0).all() and (toward < -1.0).mean() >= 0.8
    miss = np.linalg.norm(down[:, :2] - attacker[:2], axis=-1)
    assert np.median(miss) < 1.0, miss


def test_attack_sends_the_ball_over_the_net_into_the_far_half():
    task = _match("1v1")  # blue serves: the ball drops onto its racket from 1.5 m
    after = _play(
        task, _hold_others(task, 0, make_skill("attack"), {"target": [-1.5, 0.0, 2.2]}), 60, 0
    )
    hit = ~np.isnan(after[:, 0, 0])
    assert hit.all()
    pos, vel = after[:, 0], after[:, 1]
    # Where the ball crosses the net plane, and where it comes down.
    t_net = pos[:, 0] / -vel[:, 0]
    at_net, _ = ball_at(pos, vel, t_net)
    assert (vel[:, 0] < 0).all() and (at_net[:, 2] > task.court.net_height + 0.3).all()
    down, _ = ball_at(pos, vel, time_to_height(pos, vel, 0.2))
    assert ((down[:, 0] < -0.3) & (down[:, 0] > -task.court.half_length)).all(), down[:, 0]


def test_policy_skill_wraps_a_callable_or_a_predict_model():
    task = _match("1v1", courts=3)
    seen = []

    def policy(obs):
        seen.append(obs.shape)
        return np.full((len(obs), 4), 3.0)  # clipped to 1

    skill = PolicySkill(policy)
    out = skill.act(task, np.array([0, 1]))
    assert out.shape == (3, 2, 4) and np.all(out == 1.0)
    assert seen == [(6, task.obs_dim)]

    class Model:
        def predict(self, obs, deterministic=True):
            return -np.ones((len(obs), 4)) * deterministic, None

    assert np.all(PolicySkill(Model()).act(task, np.array([1])) == -1.0)


def test_make_skill_knows_hcsps_names_and_rejects_others():
    assert make_skill("set", apex=5.0).config.apex == 5.0
    with pytest.raises(ValueError, match="expected a skill in"):
        make_skill("spike")


# ---- the scripted team --------------------------------------------------------------------------
def _games(name: str, blue, red, courts: int, seed: int = 0, max_steps: int | None = None):
    """Play one rally per court; returns (winner per court, hits per court)."""
    task = make_task(name, courts, max_steps=max_steps)
    task.reset(np.arange(courts), np.random.default_rng(seed))
    team0, team1 = np.flatnonzero(task.team_arr == 0), np.flatnonzero(task.team_arr == 1)
    winner = np.full(courts, -1)
    hits = np.zeros(courts, dtype=int)
    for _ in range(task.max_steps):
        actions = np.zeros((courts, task.n_drones, 4))
        actions[:, team0] = blue.act_batch(task, team0)
        actions[:, team1] = red.act_batch(task, team1)
        result = task.step(actions)
        live = winner < 0
        hits += result.drone_info["hit"].any(axis=1) & live
        end = live & (result.terminated | result.truncated)
        winner[end] = np.where(result.terminated[end], result.info["winner"][end], 2)
        if (winner >= 0).all():
            break
    return winner, hits


def test_scripted_team_beats_a_random_team_in_at_least_90_percent_of_1v1_games():
    winner, _ = _games("1v1", ScriptedTeam(0), RandomDroneBot(1), courts=64)
    assert (winner == 0).mean() >= 0.9, np.bincount(winner + 1)


def test_scripted_team_beats_a_random_team_in_3v3():
    winner, _ = _games("3v3", ScriptedTeam(0), RandomDroneBot(1), courts=32, seed=1)
    assert (winner == 0).mean() >= 0.9, np.bincount(winner + 1)


def test_scripted_players_rally_against_each_other_in_1v1():
    winner, hits = _games("1v1", ScriptedTeam(0), ScriptedTeam(1), courts=16, seed=2, max_steps=400)
    assert hits.mean() >= 3.0, hits
    assert (winner >= 0).all()


def test_scripted_team_plays_pass_set_attack_in_3v3():
    # Against itself: the serving team passes, sets and attacks before anyone can fault.
    winner, hits = _games("3v3", ScriptedTeam(0), ScriptedTeam(1), courts=16, seed=3, max_steps=400)
    assert np.median(hits) >= 3, hits


def test_scripted_team_leaves_an_opponents_ball_that_lands_out():
    task = _match("3v3", courts=2)
    task.rules.last_team[:] = 1  # red touched it last
    task.rules.touches[:] = 0
    start = np.array([[-2.0, 0.0, 2.5], [-2.0, 0.0, 2.5]])
    land = np.array([[5.5, 0.0, 0.2], [5.5, 3.6, 0.2]])  # in, and out past the side line
    task.sim.set_ball(np.arange(2), start, ballistic_velocity(start, land, 4.5))
    plan = team_plan(task, 0)
    assert plan.playing.tolist() == [True, False]
    assert plan.skill[0] == "pass" and plan.members[plan.active[0]] == 2  # the back drone


def test_scripted_team_answers_per_seat_as_in_a_batch():
    task = _match("3v3", courts=2)
    bot = ScriptedTeam(0)
    for _ in range(30):
        task.step(
            np.concatenate(
                [bot.act_batch(task, np.arange(3)), HoverBot().act_batch(task, np.arange(3, 6))], 1
            )
        )
    batch = bot.act_batch(task, np.arange(3))
    seats = np.concatenate([bot.act_batch(task, np.array([d])) for d in range(3)], axis=1)
    assert np.allclose(batch, seats)


def test_scripted_team_refuses_the_drills():
    task = make_task("solo_bump", 1)
    with pytest.raises(ValueError, match="plays the matches"):
        ScriptedTeam().act_batch(task, np.array([0]))
