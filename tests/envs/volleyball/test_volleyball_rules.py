"""Rules of drone volleyball, scenario by scenario: every fault case, the outcome, the rewards.

Each scenario stages a court (drones and ball teleported with ``task.sim.reset_courts`` /
``set_ball``), flies the drones with the position controller holding their staged spots (or
cuts a drone's thrust), and checks what the task reports: ``info["fault"]`` per team, the
winner, and the reward components. Cases follow ``rules.py`` (VolleyBots' six plus the two
misbehaviours).
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mujoco")

from selfplay_gym.envs.volleyball.controllers import PositionController  # noqa: E402
from selfplay_gym.envs.volleyball.rules import (  # noqa: E402
    FAULT_NAMES,
    HitDetector,
    RallyConfig,
    outcome,
)
from selfplay_gym.envs.volleyball.tasks import (  # noqa: E402
    BackAndForth,
    BumpAndPass,
    HitTheBall,
    Match1v1,
    Match3v3,
    Match6v6,
    SetAndSpike,
    SoloBump,
)

COURT = np.array([0])
ABOVE = np.array([0.0, 0.0, 1.0])  # a ball dropped 1 m above a drone lands on its racket


def stage(task, *, ball, drones=None, ball_vel=None, server=0):
    """Reset court 0 of ``task`` to drones at ``drones`` (default: the anchors) and this ball."""
    task.reset(COURT, np.random.default_rng(0))
    drones = np.array(task.anchors if drones is None else drones, dtype=float)
    yaw = np.where(task.team_arr == 1, np.pi, 0.0)[None]
    task.sim.reset_courts(
        COURT,
        drone_pos=drones[None],
        ball_pos=np.asarray(ball, dtype=float)[None],
        drone_yaw=yaw,
        ball_vel=None if ball_vel is None else np.asarray(ball_vel, dtype=float)[None],
    )
    task.hits.reset(COURT, task.sim.ball_vel[COURT], task.n_drones)
    if hasattr(task, "rules"):
        task.rules.reset(COURT, np.array([server]), task.sim.ball_pos[COURT])
    task.spots = drones


def hold(task, spots=None, *, dead=()):
    """Commands holding every drone at its staged spot; drones in ``dead`` get zero thrust."""
    s = task.sim
    target = task.spots if spots is None else np.asarray(spots, dtype=float)
    yaw = np.where(task.team_arr == 1, np.pi, 0.0)[None]
    controller = PositionController(s.physics.iris)
    commands = controller.commands(
        s.drone_pos, s.drone_vel, s.drone_rot, s.drone_angvel_body, target[None], target_yaw=yaw
    )
    commands[0, list(dead)] = -1.0
    return commands


def play(task, steps=200, *, stop_on_hit=False, **kwargs):
    """Step until the episode ends (or the first hit); returns the list of TaskSteps."""
    results = []
    for _ in range(steps):
        result = task.step(hold(task, **kwargs))
        results.append(result)
        if result.terminated[0] or result.truncated[0]:
            break
        if stop_on_hit and result.drone_info["hit"].any():
            break
    return results


def hits(results):
    """(step, drone) of every racket hit."""
    return [
        (i, int(np.flatnonzero(r.drone_info["hit"][0])[0]))
        for i, r in enumerate(results)
        if r.drone_info["hit"].any()
    ]


def check_rewards(result):
    total = sum(result.components.values())
    np.testing.assert_allclose(result.rewards, total)


def assert_point(result, *, faults, winner):
    assert result.terminated[0]
    assert result.info["fault"][0].tolist() == faults
    assert result.info["winner"][0] == winner
    assert result.info["fault_name"][0].tolist() == [FAULT_NAMES[f] for f in faults]
    check_rewards(result)


def outcome_of(task, winner):
    """The dense outcome component for a rally won by ``winner``: +-100 per team."""
    return np.where(task.team_arr == winner, 100.0, -100.0)[None]


@pytest.fixture
def match():
    return Match3v3(1, random_serve=False)


# ---- the fault cases ------------------------------------------------------------------------------
def test_case1_a_drone_hitting_twice_in_a_possession_loses_the_point(match):
    stage(match, ball=match.anchors[0] + ABOVE)
    results = play(match)
    # The ball bounces off blue_0's racket and comes back down on it.
    assert [d for _, d in hits(results)] == [0, 0]
    assert_point(results[-1], faults=[1, 0], winner=1)
    np.testing.assert_allclose(results[-1].components["outcome"], outcome_of(match, 1))
    # The first hit was valid: +10 to the whole blue team; the faulty one pays nothing.
    first = results[hits(results)[0][0]]
    assert first.components["hit"][0].tolist() == [10, 10, 10, 0, 0, 0]
    assert results[-1].components["hit"][0].tolist() == [0] * 6


def test_case2_a_hull_touch_loses_the_point(match):
    # Thrown sideways at blue_0's hull, below the racket plane (outside the racket cylinder).
    stage(match, ball=match.anchors[0] + [0.6, 0.0, -0.05], ball_vel=[-4.0, 0.0, 0.6])
    results = play(match, 50)
    assert hits(results) == []
    assert_point(results[-1], faults=[2, 0], winner=1)
    assert len(results) < 10


def test_case3_a_drone_crossing_the_net_loses_the_point(match):
    spots = match.anchors.copy()
    spots[0, 0] = 0.4
    stage(match, ball=[4.0, 0.0, 4.0], drones=spots)
    over = spots.copy()
    over[0, 0] = -1.0  # blue_0 flies toward the far side
    results = play(match, spots=over)
    assert_point(results[-1], faults=[3, 0], winner=1)
    assert match.sim.drone_pos[0, 0, 0] < 0.0 < results[-1].rewards[0, 3]


def test_case4_the_ball_down_in_a_teams_half_loses_it_the_point(match):
    stage(match, ball=[-4.0, 1.0, 1.0])
    results = play(match)
    assert_point(results[-1], faults=[0, 4], winner=0)
    np.testing.assert_allclose(results[-1].components["outcome"], outcome_of(match, 0))
    assert match.sim.ball_pos[0, 2] < 0.2


def land_after_a_blue_hit(match, ball, ball_vel):
    stage(match, ball=match.anchors[0] + ABOVE)
    assert hits(play(match, stop_on_hit=True)) != []
    match.sim.set_ball(COURT, np.array([ball]), np.array([ball_vel]))
    return play(match, 50)


def test_case5_the_ball_out_of_bounds_loses_the_point_of_the_last_toucher(match):
    # Out over the far end of blue's own half (|x| > 6): blue touched it last.
    results = land_after_a_blue_hit(match, [7.5, 0.0, 0.5], [0.0, 0.0, -3.0])
    assert_point(results[-1], faults=[5, 0], winner=1)


def test_case5_out_on_the_far_side_is_still_the_hitters_fault(match):
    results = land_after_a_blue_hit(match, [-2.0, 3.5, 0.5], [0.0, 0.0, -3.0])
    assert_point(results[-1], faults=[5, 0], winner=1)


def test_a_ball_out_of_bounds_untouched_is_down_on_its_side(match):
    stage(match, ball=[-7.0, 0.0, 0.5])
    results = play(match)
    assert_point(results[-1], faults=[0, 4], winner=0)


def test_case6_the_ball_in_the_net_loses_the_point_of_the_last_toucher(match):
    results = land_after_a_blue_hit(match, [0.5, 0.0, 1.5], [-5.0, 0.0, 0.0])
    assert_point(results[-1], faults=[6, 0], winner=1)
    assert abs(match.sim.ball_pos[0, 0]) < 0.3


def test_case7_a_drone_on_the_ground_loses_the_point(match):
    stage(match, ball=[4.0, 0.0, 6.0])
    results = play(match, 300, dead=(1,))
    assert_point(results[-1], faults=[7, 0], winner=1)
    last = results[-1].components
    assert last["crash"][0].tolist() == [-100, -100, -100, 0, 0, 0]
    assert match.sim.drone_pos[0, 1, 2] < 0.3


def test_case8_teammates_too_close_lose_the_point(match):
    spots = match.anchors.copy()
    spots[4] = spots[3] + [0.0, 0.5, 0.0]  # red_0 and red_1 half a metre apart
    stage(match, ball=[4.0, 0.0, 4.0], drones=spots)
    results = play(match)
    assert len(results) == 1
    assert_point(results[-1], faults=[0, 8], winner=0)
    assert results[-1].components["separation"][0].tolist() == [0, 0, 0, -100, -100, -100]


def test_both_teams_faulting_in_one_step_is_a_draw(match):
    spots = match.anchors.copy()
    spots[0, 0], spots[3, 0] = -0.05, 0.05  # a blue and a red drone both over the net
    stage(match, ball=[4.0, 0.0, 4.0], drones=spots)
    result = play(match, 5)[-1]
    assert_point(result, faults=[3, 3], winner=2)
    assert result.components["outcome"][0].tolist() == [0] * 6


def test_outcome_table():
    faults = np.array([[0, 0], [3, 0], [0, 4], [1, 7]])
    assert outcome(faults).tolist() == [-1, 1, 0, 2]


# ---- reward modes -----------------------------------------------------------------------------
def test_sparse_mode_pays_plus_minus_one_at_the_end_only():
    match = Match3v3(1, random_serve=False, reward_mode="sparse")
    stage(match, ball=[-4.0, 1.0, 1.0])
    results = play(match)
    assert all(set(r.components) == {"outcome"} for r in results)
    assert all(not r.rewards.any() for r in results[:-1])
    assert results[-1].rewards[0].tolist() == [1, 1, 1, -1, -1, -1]
    spots = match.anchors.copy()
    spots[0, 0], spots[3, 0] = -0.05, 0.05
    stage(match, ball=[4.0, 0.0, 4.0], drones=spots)
    draw = play(match, 5)[-1]
    assert draw.info["winner"][0] == 2 and not draw.rewards.any()


def test_dense_shaping_terms(match):
    stage(match, ball=[-4.0, 1.0, 3.0])  # the ball on red's side, falling untouched
    first = match.step(hold(match))
    check_rewards(first)
    s = match.sim
    d_ball = np.linalg.norm(s.drone_pos[0] - s.ball_pos[0], axis=-1)
    d_anchor = np.linalg.norm(s.drone_pos[0] - match.anchors, axis=-1)
    # Approach shaping only for drones on the ball's side that may still touch it.
    expected = np.where(match.team_arr == 1, 0.5 / (1 + d_ball), 0.0)
    np.testing.assert_allclose(first.components["approach"][0], expected)
    np.testing.assert_allclose(first.components["anchor"][0], 0.05 / (1 + d_anchor))
    assert not first.components["outcome"].any() and not first.terminated[0]


# ---- turns and possessions ----------------------------------------------------------------------
def test_1v1_the_side_not_serving_may_not_hit_first():
    match = Match1v1(1, random_serve=False)
    stage(match, ball=match.anchors[1] + ABOVE, server=0)  # blue serves, the ball drops on red
    results = play(match)
    assert [d for _, d in hits(results)] == [1]
    assert_point(results[-1], faults=[0, 1], winner=0)
    assert results[-1].components["hit"][0].tolist() == [0, 0]


def test_1v1_sides_alternate():
    match = Match1v1(1, random_serve=False)
    stage(match, ball=match.anchors[1] + ABOVE, server=1)  # red serves
    results = play(match)
    steps = hits(results)
    assert [d for _, d in steps] == [1, 1]
    # The serve was red's turn (+5 to the hitter only); then it was blue's turn.
    assert results[steps[0][0]].components["hit"][0].tolist() == [0, 5]
    assert_point(results[-1], faults=[0, 1], winner=0)
    # And a blue touch after red's is in turn.
    stage(match, ball=match.anchors[1] + ABOVE, server=1)
    play(match, stop_on_hit=True)
    assert match.rules.turn[0] == 0
    match.sim.set_ball(COURT, match.anchors[[0]] + ABOVE, np.zeros((1, 3)))
    results = play(match, stop_on_hit=True)
    assert hits(results)[-1][1] == 0
    assert results[-1].info["fault"][0].tolist() == [0, 0]
    assert results[-1].components["hit"][0].tolist() == [5, 0]


def test_3v3_possession_resets_when_the_ball_crosses_the_net(match):
    stage(match, ball=match.anchors[0] + ABOVE)
    play(match, stop_on_hit=True)
    assert match.rules.already_hit[0].tolist() == [True] + [False] * 5
    match.sim.set_ball(COURT, np.array([[-0.5, 0.0, 3.5]]), np.zeros((1, 3)))  # over to red
    result = match.step(hold(match))
    assert match.rules.ball_side[0] == 1 and not match.rules.already_hit.any()
    assert result.info["fault"][0].tolist() == [0, 0]
    # Back on blue's side blue_0 may touch again: the first touch of a new possession is valid.
    match.sim.set_ball(COURT, match.anchors[[0]] + ABOVE, np.zeros((1, 3)))
    results = play(match, stop_on_hit=True)
    assert results[-1].info["fault"][0].tolist() == [0, 0]
    assert results[-1].components["hit"][0, 0] == 10


def test_3v3_teammates_may_each_touch_once(match):
    stage(match, ball=match.anchors[0] + ABOVE)
    play(match, stop_on_hit=True)
    match.sim.set_ball(COURT, match.anchors[[1]] + ABOVE, np.zeros((1, 3)))
    results = play(match, stop_on_hit=True)
    assert hits(results)[-1][1] == 1
    assert results[-1].info["fault"][0].tolist() == [0, 0]
    assert match.rules.touches[0].tolist() == [2, 0]


def test_a_hit_is_counted_once_across_a_multi_step_contact(match):
    stage(match, ball=match.anchors[0] + ABOVE)
    results = play(match, 40)
    assert len(hits(results)) == 1 and match.hit_count[0, 0] == 1
    # Without the debounce the same soft contact (spanning two control steps) counts twice.
    match.hits.debounce = 0
    stage(match, ball=match.anchors[0] + ABOVE)
    play(match, 40)
    assert match.hit_count[0, 0] == 2


def test_hit_detector_debounce_and_hull_touch_on_synthetic_states():
    detector = HitDetector(1)
    detector.reset(COURT, np.zeros((1, 3)), 1)
    drone, up = np.array([[[0.0, 0.0, 2.0]]]), np.array([[[0.0, 0.0, 1.0]]])
    on_racket = np.array([[0.0, 0.0, 2.15]])
    falling, rising = np.array([[0.0, 0.0, -3.0]]), np.array([[0.0, 0.0, 2.0]])
    seen = []
    for vel in (falling, rising, falling, rising, falling, rising, falling, rising):
        seen.append(bool(detector.update(drone, up, on_racket, vel).hit[0]))
    # Jumps up at steps 1, 3, 5, 7: the one at 3 is within the 3-step debounce of 1.
    assert seen == [False, True, False, False, False, True, False, False]
    # A velocity jump within 0.5 m but outside the cylinder is a hull touch.
    detector.reset(COURT, falling, 1)
    events = detector.update(drone, up, np.array([[0.3, 0.0, 1.9]]), rising)
    assert not events.hit[0] and events.touch[0] and events.toucher[0] == 0


def test_hcsp_role_order_makes_seats_touch_in_order():
    match = Match3v3(1, random_serve=False, rally=RallyConfig(role_order=True))
    stage(match, ball=match.anchors[1] + ABOVE)  # the setter (seat 1) touches first
    assert_point(play(match)[-1], faults=[1, 0], winner=1)
    stage(match, ball=match.anchors[0] + ABOVE)  # seat 0, then seat 2 skipping seat 1
    play(match, stop_on_hit=True)
    match.sim.set_ball(COURT, match.anchors[[2]] + ABOVE, np.zeros((1, 3)))
    assert_point(play(match)[-1], faults=[1, 0], winner=1)
    stage(match, ball=match.anchors[0] + ABOVE)  # seat 0, then seat 1: in order
    play(match, stop_on_hit=True)
    match.sim.set_ball(COURT, match.anchors[[1]] + ABOVE, np.zeros((1, 3)))
    results = play(match, stop_on_hit=True)
    assert hits(results)[-1][1] == 1
    assert results[-1].info["fault"][0].tolist() == [0, 0]
    # Without the option the same skip is legal.
    free = Match3v3(1, random_serve=False)
    stage(free, ball=free.anchors[0] + ABOVE)
    play(free, stop_on_hit=True)
    free.sim.set_ball(COURT, free.anchors[[2]] + ABOVE, np.zeros((1, 3)))
    assert play(free, stop_on_hit=True)[-1].info["fault"][0].tolist() == [0, 0]


# ---- drills ---------------------------------------------------------------------------------------
def test_back_and_forth_counts_reaches_and_toggles_the_target():
    task = BackAndForth(1)
    far, start = np.array(task.config.far), np.array(task.config.start)
    stage(task, ball=[-7.0, -3.5, 0.1], drones=[far])  # already at the first target
    assert task.target[0].tolist() == far.tolist()
    stays, reached = [], []
    for _ in range(6):
        result = task.step(hold(task))
        check_rewards(result)
        stays.append(float(result.components["stay"][0, 0]))
        reached.append(int(result.info["targets_reached"][0]))
    # 2.5 x consecutive steps near the target; the 5th step reaches it and the count restarts.
    assert stays == [2.5, 5.0, 7.5, 10.0, 12.5, 0.0]
    assert reached == [0, 0, 0, 0, 1, 1]
    assert task.target[0].tolist() == start.tolist()
    # Approach shaping 0.5 / (1 + d^2) x 0.02 x (50 - stay); 6.4 m from the new target now.
    d = np.linalg.norm(task.sim.drone_pos[0, 0] - start)
    assert result.components["approach"][0, 0] == pytest.approx(0.5 / (1 + d**2) * 0.02 * 50)
    # Flown back to the start, the second reach toggles the target again.
    task.sim.reset_courts(COURT, drone_pos=start[None, None], ball_pos=np.array([[-7, -3.5, 0.1]]))
    task.spots = start[None]
    for _ in range(5):
        result = task.step(hold(task))
    assert result.info["targets_reached"][0] == 2
    assert task.target[0].tolist() == far.tolist()


def test_back_and_forth_misbehaviour_ends_the_episode():
    task = BackAndForth(1)
    stage(task, ball=[-7.0, -3.5, 0.1], drones=[[4.5, 0.0, 0.6]])
    results = play(task, dead=(0,))
    assert results[-1].terminated[0] and results[-1].components["misbehave"][0, 0] == -10
    assert task.sim.drone_pos[0, 0, 2] < 0.4


def drill_spot(task):
    return np.array([task.config.anchor])


def test_hit_the_ball_pays_each_hit_and_the_distance_toward_the_net():
    task = HitTheBall(1)
    spot = drill_spot(task)
    stage(task, ball=spot[0] + [0.0, 0.0, 3.0], drones=spot)
    results = play(task, stop_on_hit=True)
    assert results[-1].components["hit"][0, 0] == 1.0 and not results[-1].terminated[0]
    # The ball, now past the hit, falls through 2 m at x = 2.4: 2 x (4.5 - x) at the end.
    task.sim.set_ball(COURT, np.array([[2.4, 0.0, 2.03]]), np.array([[-1.0, 0.0, -2.0]]))
    result = task.step(hold(task))
    assert result.terminated[0]
    x = task.sim.ball_pos[0, 0]
    assert result.components["distance"][0, 0] == pytest.approx(2 * (4.5 - x))
    assert result.info["ball_distance"][0] == pytest.approx(4.5 - x)
    check_rewards(result)


def test_hit_the_ball_rehit_within_25_steps_is_a_fault():
    task = HitTheBall(1)
    spot = drill_spot(task)
    stage(task, ball=spot[0] + [0.0, 0.0, 3.0], drones=spot)
    first = len(play(task, stop_on_hit=True))
    task.sim.set_ball(COURT, spot + [0.0, 0.0, 0.6], np.array([[0.0, 0.0, -2.0]]))
    results = play(task, 40)
    last = results[-1]
    assert last.terminated[0] and last.drone_info["hit"][0, 0]
    assert len(results) <= 25 and first > 25
    assert last.components["hit"][0, 0] == 0 and last.components["misbehave"][0, 0] == -10


def test_hit_the_ball_a_missed_ball_ends_the_episode():
    task = HitTheBall(1)
    spot = drill_spot(task)
    stage(task, ball=spot[0] + [1.0, 0.0, 1.0], drones=spot)  # falls beside the drone
    results = play(task)
    assert hits(results) == [] and results[-1].terminated[0]
    assert task.sim.ball_pos[0, 2] < 0.2 and not results[-1].components["misbehave"].any()


def test_solo_bump_apex_bonus_and_rehit():
    task = SoloBump(1)
    spot = drill_spot(task)
    stage(task, ball=spot[0] + [0.0, 0.0, 2.0], drones=spot)
    first = play(task, stop_on_hit=True)[-1]
    # The first bump pays 2 and no apex bonus (no apex before it).
    assert first.components["hit"][0, 0] == 2 and first.components["apex"][0, 0] == 0
    for _ in range(30):  # past the 25-step window
        task.step(hold(task))
    # Dropped from 3.8 m: the apex since the last bump exceeds 3.5 m, the next bump pays 2 + 8.
    task.sim.set_ball(COURT, spot + [0.0, 0.0, 1.8], np.zeros((1, 3)))
    second = play(task, stop_on_hit=True)[-1]
    assert second.components["hit"][0, 0] == 2 and second.components["apex"][0, 0] == 8
    # The ball rebounds to about 2.8 m: the third bump pays no bonus.
    third = play(task, stop_on_hit=True)[-1]
    assert third.components["hit"][0, 0] == 2 and third.components["apex"][0, 0] == 0
    # A bump within 25 steps of the last one is a fault.
    task.sim.set_ball(COURT, spot + [0.0, 0.0, 0.5], np.array([[0.0, 0.0, -2.0]]))
    last = play(task, 30)[-1]
    assert last.terminated[0] and last.components["misbehave"][0, 0] == -10
    assert last.components["hit"][0, 0] == 0


def test_bump_and_pass_turns_and_passes():
    task = BumpAndPass(1)
    # Drone 1 touching first is out of turn.
    stage(task, ball=task.anchors[1] + ABOVE)
    last = play(task)[-1]
    assert last.terminated[0] and last.components["misbehave"][0].tolist() == [-10, -10]
    # Drone 0 first: +1 shared; then it is drone 1's turn.
    stage(task, ball=task.anchors[0] + ABOVE)
    result = play(task, stop_on_hit=True)[-1]
    assert result.components["hit"][0].tolist() == [1, 1] and task.turn[0] == 1
    # The ball crossing y = 0 at 4.2 m is a pass; at 3 m it is not.
    task.sim.set_ball(COURT, np.array([[4.5, -0.02, 4.2]]), np.array([[0.0, 2.0, 0.0]]))
    result = task.step(hold(task))
    assert result.components["pass"][0].tolist() == [1, 1] and result.info["passes"][0] == 1
    task.sim.set_ball(COURT, np.array([[4.5, -0.02, 3.0]]), np.array([[0.0, 2.0, 0.0]]))
    result = task.step(hold(task))
    assert not result.components["pass"].any() and result.info["passes"][0] == 1
    # Drone 1 touches in turn, then touching again is out of turn.
    task.sim.set_ball(COURT, task.anchors[[1]] + ABOVE, np.zeros((1, 3)))
    results = play(task)
    assert [d for _, d in hits(results)] == [1, 1]
    assert results[hits(results)[0][0]].components["hit"][0].tolist() == [1, 1]
    assert results[-1].terminated[0] and results[-1].components["misbehave"][0, 0] == -10


def test_set_and_spike_set_then_spike_then_target():
    task = SetAndSpike(1)
    stage(task, ball=task.anchors[0] + ABOVE)
    result = play(task, stop_on_hit=True)[-1]
    assert result.components["set"][0].tolist() == [5, 5] and task.phase[0] == 1
    task.sim.set_ball(COURT, task.anchors[[1]] + ABOVE, np.zeros((1, 3)))
    result = play(task, stop_on_hit=True)[-1]
    assert result.components["spike"][0].tolist() == [5, 5] and task.phase[0] == 2
    # The ball passes over the net high, then lands in the target circle.
    task.sim.set_ball(COURT, np.array([[0.02, 0.0, 2.6]]), np.array([[-3.0, 0.0, 0.0]]))
    result = task.step(hold(task))
    assert result.components["over_net"][0].tolist() == [5, 5]
    task.sim.set_ball(COURT, np.array([[-4.4, 0.1, 0.3]]), np.array([[-1.0, 0.0, -3.0]]))
    results = play(task, 10)
    assert results[-1].terminated[0] and results[-1].info["in_target"][0]
    assert results[-1].components["in_target"][0].tolist() == [5, 5]
    for r in results:
        check_rewards(r)


def test_set_and_spike_attacker_first_is_a_fault():
    task = SetAndSpike(1)
    stage(task, ball=task.anchors[1] + ABOVE)
    last = play(task)[-1]
    assert last.terminated[0] and last.components["misbehave"][0].tolist() == [-10, -10]
    assert not last.components["spike"].any()


def test_set_and_spike_a_landing_outside_the_target_pays_nothing():
    task = SetAndSpike(1)
    stage(task, ball=task.anchors[0] + ABOVE)
    play(task, stop_on_hit=True)
    task.sim.set_ball(COURT, task.anchors[[1]] + ABOVE, np.zeros((1, 3)))
    play(task, stop_on_hit=True)
    task.sim.set_ball(COURT, np.array([[-1.5, 3.0, 0.3]]), np.array([[0.0, 0.0, -3.0]]))
    last = play(task, 10)[-1]
    assert last.terminated[0] and not last.info["in_target"][0]
    assert not last.components["in_target"].any()


def spike_on_a_level_racket(task):
    stage(task, ball=task.anchors[0] + ABOVE)
    play(task, stop_on_hit=True)
    task.sim.set_ball(COURT, task.anchors[[1]] + [0.0, 0.0, 2.0], np.zeros((1, 3)))
    return play(task, stop_on_hit=True)[-1]


def test_set_and_spike_judges_the_spike_by_the_velocity_the_ball_leaves_with():
    # A ball dropped 2 m onto the attacker's level racket is detected mid-contact (the soft
    # contact spans two control steps, the ball may still be moving down); it leaves upward,
    # straight up: no downward bonus, no direction credit, and the speed term of its exit speed.
    task = SetAndSpike(1)
    hit = spike_on_a_level_racket(task)
    assert hit.components["spike"][0, 0] == 5
    results, v_z = [hit], [task.sim.ball_vel[0, 2]]
    for _ in range(4):
        results.append(task.step(hold(task)))
        v_z.append(task.sim.ball_vel[0, 2])
    paid = np.flatnonzero([r.components["speed"][0, 0] for r in results])
    assert len(paid) == 1 and paid[0] > 0
    exit_speed = v_z[paid[0]]
    assert exit_speed > 3.0
    assert results[paid[0]].components["speed"][0, 0] == pytest.approx(0.2 * (5.0 - exit_speed))
    for r in results:
        assert r.components["downward"][0, 0] == 0 and r.components["direction"][0, 0] == 0


def test_set_and_spike_a_downward_spike_toward_the_target_earns_its_terms():
    task = SetAndSpike(1)
    spike_on_a_level_racket(task)
    # As if the racket had driven it down and across: 4 m/s toward -x, 1 m/s down.
    task.sim.set_ball(COURT, np.array([[1.7, 2.5, 3.9]]), np.array([[-4.0, 0.0, -1.0]]))
    results = [task.step(hold(task)) for _ in range(3)]
    judged = [r for r in results if r.components["speed"].any()]
    assert len(judged) == 1
    terms = judged[0].components
    assert terms["downward"][0].tolist() == [5, 5]
    # Attacker (2, 2.5) -> target (-4.5, 0) against a ball moving along -x: cos = 6.5 / 6.96.
    assert terms["direction"][0, 0] == pytest.approx(6.5 / np.hypot(6.5, 2.5), abs=1e-3)
    assert terms["speed"][0, 0] > 0.2 * 5


def test_1v1_shaping_pays_the_drone_in_turn_and_penalizes_bad_positions():
    match = Match1v1(1, random_serve=False)
    spots = match.anchors.copy()
    spots[0] = [0.3, 0.0, 2.0]  # blue hugs the net (x < 0.5)
    spots[1] = [-1.5, 0.0, 3.3]  # red flies more than 1 m above 2 m
    stage(match, ball=[1.5, 0.0, 3.5], drones=spots, server=0)
    result = match.step(hold(match))
    check_rewards(result)
    s = match.sim
    d_ball = np.linalg.norm(s.drone_pos[0, 0] - s.ball_pos[0])
    parts = result.components
    assert parts["approach"][0].tolist() == pytest.approx([0.5 / (1 + d_ball), 0.0])
    assert parts["position"][0].tolist() == [-0.2, -0.2]
    assert not parts["anchor"].any() and not parts["outcome"].any()
    # Back in place, no position penalty for red.
    spots[1] = match.anchors[1]
    stage(match, ball=[1.5, 0.0, 3.5], drones=spots, server=0)
    assert match.step(hold(match)).components["position"][0].tolist() == [-0.2, 0.0]


MIRROR = np.array([-1.0, -1.0, 1.0])
PARTNER = np.array([3, 4, 5, 0, 1, 2])  # blue_i <-> red_i in 3v3


def scenario(name, anchors):
    """(drones, ball, ball_vel, dead drones, flight targets or None, expected faults) for blue."""
    spots = anchors.copy()
    if name == "hit twice":
        return spots, anchors[0] + ABOVE, None, (), None, [1, 0]
    if name == "hull touch":
        return spots, anchors[0] + [0.6, 0.0, -0.05], [-4.0, 0.0, 0.6], (), None, [2, 0]
    if name == "crossed net":
        spots[0, 0] = 0.4
        over = spots.copy()
        over[0, 0] = -1.0
        return spots, [4.0, 0.0, 4.0], None, (), over, [3, 0]
    if name == "ball down":
        return spots, [-4.0, 1.0, 1.0], None, (), None, [0, 4]
    if name == "crash":
        return spots, [4.0, 0.0, 6.0], None, (1,), None, [7, 0]
    if name == "too close":
        spots[4] = spots[3] + [0.0, 0.5, 0.0]
        return spots, [4.0, 0.0, 4.0], None, (), None, [0, 8]
    raise KeyError(name)


@pytest.mark.parametrize(
    "name", ["hit twice", "hull touch", "crossed net", "ball down", "crash", "too close"]
)
def test_faults_are_symmetric_between_the_teams(name):
    match = Match3v3(1, random_serve=False)
    drones, ball, vel, dead, over, faults = scenario(name, match.anchors)
    stage(match, ball=ball, drones=drones, ball_vel=vel, server=0)
    blue = play(match, 300, dead=dead, spots=over)[-1]
    assert_point(blue, faults=faults, winner=0 if faults[1] else 1)
    # The same scenario rotated by pi about z with the teams swapped.
    mirrored = np.empty_like(drones)
    mirrored[PARTNER] = drones * MIRROR
    flown = None
    if over is not None:
        flown = np.empty_like(over)
        flown[PARTNER] = over * MIRROR
    stage(
        match,
        ball=np.asarray(ball) * MIRROR,
        drones=mirrored,
        ball_vel=None if vel is None else np.asarray(vel) * MIRROR,
        server=1,
    )
    red = play(match, 300, dead=tuple(PARTNER[list(dead)]), spots=flown)[-1]
    assert_point(red, faults=faults[::-1], winner=1 if faults[1] else 0)
    np.testing.assert_allclose(red.rewards[0, PARTNER], blue.rewards[0], atol=1e-6)


@pytest.mark.parametrize("defender", [False, True])
def test_set_and_spike_hard_board_returns_a_spike_headed_for_the_target(defender):
    task = SetAndSpike(1, defender=defender)
    spike_on_a_level_racket(task)
    assert task.phase[0] == 2
    # Over the net at 3 m, 6.6 m/s: without a defender it lands in the target circle.
    task.sim.set_ball(COURT, np.array([[0.5, 0.0, 3.0]]), np.array([[-6.6, 0.0, 0.0]]))
    results, board_x = [], []
    for _ in range(120):
        results.append(task.step(hold(task)))
        if defender:
            board_x.append(task.board[0, 0])
        if results[-1].terminated[0]:
            break
    last = results[-1]
    assert last.terminated[0]
    blocked = [bool(r.info["blocked"][0]) for r in results]
    if not defender:
        assert last.info["in_target"][0] and not any(blocked)
        return
    # The board meets the ball once, sends it back over to the attackers' side, and stays home.
    assert blocked.count(True) == 1
    assert not last.info["in_target"][0] and not any(
        r.components["in_target"].any() for r in results
    )
    assert task.sim.ball_pos[0, 0] > 0
    assert max(board_x) < 0
    after = board_x[blocked.index(True) :]
    assert max(after) - min(after) < 1e-9


def test_6v6_every_drone_may_touch_once_no_three_touch_cap():
    match = Match6v6(1, random_serve=False)
    stage(match, ball=match.anchors[0] + ABOVE)
    for drone in range(6):  # all six blue drones touch in one possession
        if drone:
            match.sim.set_ball(COURT, match.anchors[[drone]] + ABOVE, np.zeros((1, 3)))
        results = play(match, stop_on_hit=True)
        assert hits(results)[-1][1] == drone
        assert results[-1].info["fault"][0].tolist() == [0, 0]
    assert match.rules.touches[0].tolist() == [6, 0]
    # A second touch by any of them is the fault.
    match.sim.set_ball(COURT, match.anchors[[3]] + ABOVE, np.zeros((1, 3)))
    assert_point(play(match)[-1], faults=[1, 0], winner=1)


def test_drill_shaping_terms():
    # Hit the Ball: -0.05 per step farther than 1 m from the anchor.
    task = HitTheBall(1)
    spot = drill_spot(task)
    stage(task, ball=[-7.0, -3.5, 0.1], drones=spot + [0.0, 1.5, 0.0])
    assert task.step(hold(task)).components["anchor"][0, 0] == -0.05
    stage(task, ball=[-7.0, -3.5, 0.1], drones=spot + [0.0, 0.5, 0.0])
    assert task.step(hold(task)).components["anchor"][0, 0] == 0.0
    # Solo Bump: 1 / (1 + xy distance to the ball) + 0.5 clip(ball z - max(drone z, 1), 0, 2).
    task = SoloBump(1)
    stage(task, ball=spot[0] + [0.6, 0.8, 1.5], drones=spot)
    result = task.step(hold(task))
    s = task.sim
    dxy = np.linalg.norm(s.drone_pos[0, 0, :2] - s.ball_pos[0, :2])
    height = np.clip(s.ball_pos[0, 2] - max(s.drone_pos[0, 0, 2], 1.0), 0.0, 2.0)
    assert result.components["align"][0, 0] == pytest.approx(1 / (1 + dxy))
    assert result.components["height"][0, 0] == pytest.approx(0.5 * height)
    assert 0.6 < height < 1.5
    # Bump and Pass (shared by the pair): -0.05 per metre beyond 0.5 m from each anchor, and
    # +-0.05 / (1 + xy distance to the ball) for the drone in turn and the other one.
    task = BumpAndPass(1)
    spots = task.anchors + [[0.0, 0.0, 0.0], [1.5, 0.0, 0.0]]
    stage(task, ball=[6.0, 0.0, 4.0], drones=spots)
    result = task.step(hold(task))
    s = task.sim
    away = np.maximum(np.linalg.norm(s.drone_pos[0] - task.anchors, axis=-1) - 0.5, 0.0)
    dxy = np.linalg.norm(s.drone_pos[0, :, :2] - s.ball_pos[0, :2], axis=-1)
    assert result.components["anchor"][0].tolist() == pytest.approx([-0.05 * away.sum()] * 2)
    align = 0.05 / (1 + dxy[0]) - 0.05 / (1 + dxy[1])
    assert result.components["align"][0].tolist() == pytest.approx([align] * 2)
    check_rewards(result)
