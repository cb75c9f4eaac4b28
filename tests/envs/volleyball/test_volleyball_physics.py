"""Physics of drone volleyball: ball bounces, rotor model, hover, free fall and the controllers.

The numbers checked are VolleyBots' (``shared/reference/drone-volleyball.md`` sections 2.3-2.5
and 7.6): restitution 0.8, thrust-to-weight 1.61, a 0.43 throttle gain per 20 ms control step.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("mujoco")

from selfplay_gym.envs.volleyball.controllers import PositionController  # noqa: E402
from selfplay_gym.envs.volleyball.physics import (  # noqa: E402
    COURTS,
    GRAVITY,
    IrisParams,
    PhysicsConfig,
    RotorModel,
    hover_thrusts,
)
from selfplay_gym.envs.volleyball.sim import CourtBatch  # noqa: E402

IRIS = IrisParams()
HOVER = RotorModel.command_for(hover_thrusts(IRIS), IRIS)
PARKED_BALL = np.array([-7.0, -3.5, 0.1])  # a ball at rest in a far corner, away from the drone
RACKET_TOP = IRIS.racket_offset + 0.01  # the racket disc is 1 cm thick, centred racket_offset up
E = 0.8
# The reference's band for the bounce (section 7.6): e in [0.75, 0.85], i.e. a rebound to
# e^2 in [0.5625, 0.7225] of the drop height.
E_LOW, E_HIGH = 0.75, 0.85


def batch(num_courts=1, *, timestep=0.005, action_mode="prt") -> CourtBatch:
    return CourtBatch(
        num_courts, 1, COURTS["drill"], PhysicsConfig(timestep=timestep), action_mode=action_mode
    )


def place(b: CourtBatch, drone, ball=PARKED_BALL, ball_vel=None) -> None:
    k = b.num_courts
    b.reset_courts(
        np.arange(k),
        drone_pos=np.broadcast_to(np.asarray(drone, dtype=float), (k, 1, 3)).copy(),
        ball_pos=np.broadcast_to(np.asarray(ball, dtype=float), (k, 3)).copy(),
        ball_vel=None if ball_vel is None else np.broadcast_to(ball_vel, (k, 3)).copy(),
    )


def hover_commands(b: CourtBatch) -> np.ndarray:
    return np.broadcast_to(HOVER, (b.num_courts, 1, 4)).copy()


def rebound_apex(b: CourtBatch, commands, steps: int = 300) -> np.ndarray:
    """Apex (z of the ball centre) of the first rebound on every court.

    The apex comes from the ballistic formula z + v^2 / 2g a few steps into the climb (no drag),
    so it is not limited by the 20 ms sampling.
    """
    apex = np.full(b.num_courts, np.nan)
    climbing = np.zeros(b.num_courts, dtype=int)
    for _ in range(steps):
        b.step(commands(b))
        up = b.ball_vel[:, 2] > 0
        climbing = np.where(up, climbing + 1, 0)
        fresh = np.isnan(apex) & (climbing == 3)
        apex[fresh] = b.ball_pos[fresh, 2] + b.ball_vel[fresh, 2] ** 2 / (2 * GRAVITY)
        if not np.isnan(apex).any():
            return apex
    raise AssertionError(f"no rebound within {steps} steps: {apex}")


@pytest.mark.parametrize("timestep", [0.005, 0.002])
def test_ball_dropped_on_the_floor_rebounds_to_e_squared_of_the_drop(timestep):
    heights = np.array([1.0, 2.5, 4.0, 6.0])  # drop heights of the ball's bottom above the floor
    b = batch(len(heights), timestep=timestep)
    r = b.physics.ball.radius
    k = len(heights)
    b.reset_courts(
        np.arange(k),
        drone_pos=np.tile([8.0, 4.0, 2.0], (k, 1, 1)),
        ball_pos=np.stack([np.zeros(k), np.zeros(k), heights + r], axis=1),
    )
    ratio = (rebound_apex(b, hover_commands) - r) / heights
    assert np.all((ratio > E_LOW**2) & (ratio < E_HIGH**2)), ratio
    assert abs(float(np.mean(np.sqrt(ratio))) - E) < 0.03


@pytest.mark.parametrize("timestep", [0.005, 0.002])
def test_ball_dropped_on_a_hovering_racket_rebounds_to_e_squared(timestep):
    heights = np.array([1.0, 2.0, 3.0])  # drop heights above the racket disc
    k = len(heights)
    b = batch(k, timestep=timestep)
    r = b.physics.ball.radius
    contact = 2.0 + RACKET_TOP + r  # ball centre when it touches the disc of a drone at z = 2
    b.reset_courts(
        np.arange(k),
        drone_pos=np.tile([4.5, 0.0, 2.0], (k, 1, 1)),
        ball_pos=np.stack([np.full(k, 4.5), np.zeros(k), contact + heights], axis=1),
    )
    controller = PositionController(IRIS)
    target = np.tile([4.5, 0.0, 2.0], (k, 1, 1))

    def hold(b):
        return controller.commands(
            b.drone_pos, b.drone_vel, b.drone_rot, b.drone_angvel_body, target
        )

    ratio = (rebound_apex(b, hold) - contact) / heights
    assert np.all((ratio > E_LOW**2) & (ratio < E_HIGH**2)), ratio
    # The 5 g ball barely moves the 1.52 kg drone.
    assert np.all(np.abs(b.drone_pos[:, 0, 2] - 2.0) < 0.02)


def test_hover_commands_hold_altitude_for_five_seconds():
    b = batch()
    place(b, [4.5, 0.0, 2.0])
    worst_z, worst_tilt = 0.0, 0.0
    for _ in range(250):  # 5 s at 50 Hz
        b.step(hover_commands(b))
        worst_z = max(worst_z, abs(b.drone_pos[0, 0, 2] - 2.0))
        worst_tilt = max(worst_tilt, math.acos(min(1.0, b.drone_up[0, 0, 2])))
    assert worst_z < 0.01
    assert worst_tilt < 0.01  # rad: the unequal hover thrusts cancel the asymmetric layout's torque
    assert np.linalg.norm(b.drone_pos[0, 0, :2] - [4.5, 0.0]) < 0.1


def test_hover_thrusts_balance_weight_and_torques():
    thrusts = hover_thrusts(IRIS)
    assert thrusts.sum() == pytest.approx(IRIS.mass * GRAVITY)
    xy = np.asarray(IRIS.rotor_xy)
    assert float(xy[:, 1] @ thrusts) == pytest.approx(0.0, abs=1e-9)
    assert float(xy[:, 0] @ thrusts) == pytest.approx(0.0, abs=1e-9)
    # Front and back rotors carry different loads (3.55 / 3.91 N in the reference).
    assert thrusts == pytest.approx([3.55, 3.91, 3.55, 3.91], abs=0.01)


def test_zero_thrust_falls_freely_until_the_floor():
    b = batch()
    place(b, [4.5, 0.0, 3.0])
    # The expected fall: the throttle decays by 0.43 of the gap per step from hover (the motor
    # lag), integrated with MuJoCo's semi-implicit Euler at the physics timestep.
    throttle = np.sqrt(hover_thrusts(IRIS) / IRIS.max_thrust)
    h, z, vz = b.physics.timestep, 3.0, 0.0
    expected, seen, accel = [], [], []
    for _ in range(100):
        throttle = throttle * (1 - IRIS.throttle_gain)
        thrust = float(np.sum(throttle**2)) * IRIS.max_thrust
        for _ in range(b.physics.substeps):
            vz += h * (thrust / IRIS.mass - GRAVITY)
            z += h * vz
        expected.append(z)
        before = b.drone_vel[0, 0, 2]
        b.step(np.full((1, 1, 4), -1.0))
        seen.append(b.drone_pos[0, 0, 2])
        accel.append((b.drone_vel[0, 0, 2] - before) / b.physics.control_dt)
    seen, expected = np.array(seen), np.array(expected)
    airborne = np.flatnonzero(expected > 0.1)
    assert len(airborne) > 30
    np.testing.assert_allclose(seen[airborne], expected[airborne], atol=1e-6)
    # Once the rotors have spun down, the drone accelerates at g.
    assert accel[10] == pytest.approx(-GRAVITY, abs=0.01)
    # It lands and rests on its hull (half height 4 cm), not through the floor.
    assert seen[-1] == pytest.approx(IRIS.hull_half[2], abs=0.01)
    assert abs(b.drone_vel[0, 0, 2]) < 1e-3


def test_thrust_to_weight_is_1_61():
    assert IRIS.thrust_to_weight == pytest.approx(1.61, abs=0.005)
    assert IRIS.max_thrust == pytest.approx(6.003, abs=0.001)
    # Flown: full commands settle (after the lag) to 1.61 g of specific thrust.
    b = batch()
    place(b, [4.5, 0.0, 2.0])
    vel = []
    for _ in range(15):
        b.step(np.ones((1, 1, 4)))
        vel.append(b.drone_vel[0, 0].copy())
    specific = (vel[14] - vel[11]) / (3 * b.physics.control_dt) + [0.0, 0.0, GRAVITY]
    assert np.linalg.norm(specific) / GRAVITY == pytest.approx(1.61, abs=0.01)
    assert b._ctrl == pytest.approx(IRIS.max_thrust, rel=1e-3)


def test_rotor_lag_reaches_63_percent_of_a_step_in_36_ms():
    rotors = RotorModel(IRIS, (1,))
    rotors.throttle[:] = 0.0
    gap = []
    for _ in range(6):
        rotors.step(np.ones((1, 4)))
        gap.append(1.0 - rotors.throttle[0, 0])  # the target throttle is 1
    np.testing.assert_allclose(gap, (1 - 0.43) ** np.arange(1, 7))
    # Time to close 1 - 1/e of the gap, interpolating the geometric decay between steps.
    tau = 0.02 * math.log(math.exp(-1)) / math.log(gap[1] / gap[0])
    assert tau == pytest.approx(0.036, abs=0.001)
    # At steady state the thrust is linear in the command: (c + 1) / 2 * KF.
    for _ in range(60):
        thrust = rotors.step(np.full((1, 4), 0.2))
    assert thrust == pytest.approx(0.6 * IRIS.max_thrust)


def test_rotor_lag_shapes_the_simulated_thrust():
    b = batch()
    place(b, [4.5, 0.0, 3.0])
    start = hover_thrusts(IRIS)
    b.step(np.ones((1, 1, 4)))
    first = b._ctrl.reshape(4)
    hover_throttle = np.sqrt(start / IRIS.max_thrust)
    assert first == pytest.approx(
        (hover_throttle + 0.43 * (1 - hover_throttle)) ** 2 * IRIS.max_thrust
    )


def test_ctbr_zero_rates_and_hover_thrust_hold_attitude():
    b = batch(action_mode="ctbr")
    place(b, [4.5, 0.0, 3.0])
    # Collective thrust equal to the weight: (a + 1) / 2 * KF per rotor = m g / 4.
    thrust = 2.0 * IRIS.mass * GRAVITY / (4 * IRIS.max_thrust) - 1.0
    action = np.array([[[0.0, 0.0, 0.0, thrust]]])
    tilts, rates = [], []
    for _ in range(250):
        b.step(action)
        tilts.append(math.degrees(math.acos(min(1.0, b.drone_up[0, 0, 2]))))
        rates.append(np.linalg.norm(b.drone_angvel_body[0, 0]))
    # A rate controller holds the attitude it settles at: equal thrusts on the asymmetric Iris
    # pitch it (3.9 degrees) while the rate integrator builds up, then the angle stays put.
    assert max(tilts) < 5.0
    assert max(tilts[150:]) - min(tilts[150:]) < 0.01
    assert max(rates[150:]) < 1e-3
    assert rates[-1] < rates[100] < rates[50]
    assert abs(b.drone_pos[0, 0, 2] - 3.0) < 0.5


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_ctbr_rate_command_turns_the_right_way(axis):
    b = batch(action_mode="ctbr")
    place(b, [4.5, 0.0, 3.0])
    action = np.zeros((1, 1, 4))
    action[0, 0, 3] = 2.0 * IRIS.mass * GRAVITY / (4 * IRIS.max_thrust) - 1.0
    action[0, 0, axis] = 0.25  # 36 deg/s about body x, y or z
    for _ in range(15):
        b.step(action)
    rates = np.degrees(b.drone_angvel_body[0, 0])
    assert rates[axis] > 3.0
    if axis < 2:  # roll and pitch track within 15%; yaw (ki 16.7) is much slower
        assert rates[axis] == pytest.approx(36.0, rel=0.15)


def test_position_controller_reaches_a_target_and_holds_it():
    b = batch()
    place(b, [4.5, 0.0, 2.0])
    controller = PositionController(IRIS)
    target = np.array([[[6.0, 1.0, 3.0]]])
    errors = []
    for _ in range(250):
        commands = controller.commands(
            b.drone_pos, b.drone_vel, b.drone_rot, b.drone_angvel_body, target
        )
        assert np.all(np.abs(commands) <= 1.0)
        b.step(commands)
        errors.append(float(np.linalg.norm(b.drone_pos[0, 0] - target[0, 0])))
    assert errors[149] < 0.1  # within 10 cm after 3 s (1.9 m away at the start)
    assert max(errors[200:]) < 0.01  # and within 1 cm over the last second


def test_a_tilted_racket_pushes_the_ball_along_its_normal():
    from selfplay_gym.envs.volleyball.rules import HitDetector

    phi = 0.3  # roll (rad): the racket normal is (0, -sin phi, cos phi)
    normal = np.array([0.0, -math.sin(phi), math.cos(phi)])
    b = batch()
    place(b, [4.5, 0.0, 2.0])
    q = b._qpos.reshape(1, 2, 7)
    q[0, 0, 3:] = [math.cos(phi / 2), math.sin(phi / 2), 0.0, 0.0]
    q[0, 1, :3] = np.array([4.5, 0.0, 2.0]) + normal * (RACKET_TOP + 0.1) + [0.0, 0.0, 0.4]
    b.refresh()
    detector = HitDetector(1)
    detector.reset(np.array([0]), b.ball_vel, 1)
    for _ in range(40):
        before = b.ball_vel[0].copy()
        b.step(hover_commands(b))
        events = detector.update(b.drone_pos, b.drone_up, b.ball_pos, b.ball_vel)
        if events.hit[0]:
            break
    assert events.hit[0] and events.hitter[0] == 0  # the detector follows the tilted racket
    for _ in range(2):  # let the soft contact finish
        b.step(hover_commands(b))
    # The contact impulse (velocity change less gravity's share) points along the racket normal.
    impulse = b.ball_vel[0] - before + [0.0, 0.0, 3 * b.physics.control_dt * GRAVITY]
    angle = math.degrees(math.acos(impulse @ normal / np.linalg.norm(impulse)))
    assert angle < 0.5
    assert b.ball_vel[0, 1] < -1.0 and b.ball_vel[0, 2] > 1.0  # up and away to -y
