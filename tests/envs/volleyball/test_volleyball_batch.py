"""Batched courts: mirror symmetry of observations, batch == single courts, determinism, and
the Gymnasium vector env's autoreset, row order and opponent seats."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mujoco")

from selfplay_gym.envs.volleyball.bots import DroneBot, HoverBot  # noqa: E402
from selfplay_gym.envs.volleyball.env import VolleyballEnv, VolleyballVectorEnv  # noqa: E402
from selfplay_gym.envs.volleyball.tasks import (  # noqa: E402
    BumpAndPass,
    Match1v1,
    Match3v3,
    Match6v6,
    SoloBump,
    mirror_quat,
)

MIRROR = np.array([-1.0, -1.0, 1.0])


def random_actions(rng, task, scale=0.3):
    """Commands around hover: the drones wobble and drift but stay airborne for a while."""
    return np.clip(0.25 + scale * rng.standard_normal((task.num_courts, task.n_drones, 4)), -1, 1)


def mirror_into(src, dst):
    """Put into ``dst`` the state of ``src`` rotated by pi about z with the teams swapped."""
    n, m = src.n_drones, src.team_size()
    partner = (np.arange(n) + m) % n  # blue_i <-> red_i
    q = src.sim._qpos.reshape(src.num_courts, n + 1, 7).copy()
    v = src.sim._qvel.reshape(src.num_courts, n + 1, 6).copy()
    q2, v2 = q.copy(), v.copy()
    q2[:, partner, :3] = q[:, :n, :3] * MIRROR
    q2[:, partner, 3:] = mirror_quat(q[:, :n, 3:])
    v2[:, partner, :3] = v[:, :n, :3] * MIRROR
    v2[:, partner, 3:] = v[:, :n, 3:]  # body-frame angular velocity: unchanged by the rotation
    q2[:, n, :3], v2[:, n, :3] = q[:, n, :3] * MIRROR, v[:, n, :3] * MIRROR
    dst.sim._qpos[:] = q2.reshape(src.num_courts, -1)
    dst.sim._qvel[:] = v2.reshape(src.num_courts, -1)
    dst.sim.rotors.throttle[:, partner] = src.sim.rotors.throttle
    dst.sim.refresh()
    a, b = src.rules, dst.rules
    b.ball_side[:] = 1 - a.ball_side
    b.turn[:] = 1 - a.turn
    b.already_hit[:, partner] = a.already_hit
    b.touches[:] = a.touches[:, ::-1]
    b.last_team[:] = np.where(a.last_team >= 0, 1 - a.last_team, -1)
    return partner


@pytest.mark.parametrize("cls", [Match1v1, Match3v3, Match6v6])
def test_red_observes_a_mirrored_state_as_blue_observes_the_original(cls):
    rng = np.random.default_rng(7)
    src, dst = cls(2), cls(2)
    src.reset(np.arange(2), rng)
    dst.reset(np.arange(2), rng)
    for _ in range(12):  # a generic state: tilted, moving, spinning drones
        src.step(random_actions(rng, src))
    src.rules.already_hit[:] = rng.random(src.rules.already_hit.shape) < 0.5
    src.rules.turn[:] = [0, 1]
    partner = mirror_into(src, dst)
    before, after = src.observe(), dst.observe()
    np.testing.assert_allclose(after[:, partner], before, atol=1e-5)
    # Not trivially so: the two seats of a pair see different things in one state.
    assert not np.allclose(before[:, partner], before, atol=1e-3)


def copy_start(batch, singles, rng):
    """Different starting states per court, written identically into the batch and the singles."""
    k = batch.num_courts
    drones = np.asarray(batch.anchors, dtype=float) + rng.uniform(-0.3, 0.3, (k, batch.n_drones, 3))
    ball = drones[:, 0] + [0.0, 0.0, 1.5] + rng.uniform(-0.1, 0.1, (k, 3))
    yaw = rng.uniform(-np.pi, np.pi, (k, batch.n_drones))
    for task, ids in [(batch, np.arange(k))] + [(s, [c]) for c, s in enumerate(singles)]:
        task.reset(np.arange(task.num_courts), np.random.default_rng(0))
        rows = np.asarray(ids)
        task.sim.reset_courts(
            np.arange(task.num_courts),
            drone_pos=drones[rows],
            ball_pos=ball[rows],
            drone_yaw=yaw[rows],
        )
        task.hits.reset(np.arange(task.num_courts), task.sim.ball_vel, task.n_drones)
        if hasattr(task, "rules"):
            task.rules.reset(
                np.arange(task.num_courts), np.zeros(task.num_courts, int), task.sim.ball_pos
            )


@pytest.mark.parametrize("cls", [Match3v3, SoloBump, BumpAndPass])
def test_a_batch_of_courts_equals_single_courts_bit_for_bit(cls):
    k = 3
    options = {"random_serve": False} if cls is Match3v3 else {}
    batch = cls(k, **options)
    singles = [cls(1, **options) for _ in range(k)]
    rng = np.random.default_rng(3)
    copy_start(batch, singles, rng)
    for _ in range(60):
        actions = random_actions(rng, batch, scale=0.6)
        together = batch.step(actions)
        alone = [s.step(actions[[c]]) for c, s in enumerate(singles)]
        obs = batch.observe()
        for c, (s, r) in enumerate(zip(singles, alone, strict=True)):
            assert np.array_equal(obs[c], s.observe()[0])
            assert np.array_equal(together.rewards[c], r.rewards[0])
            assert together.terminated[c] == r.terminated[0]
            for key, value in together.components.items():
                assert np.array_equal(value[c], r.components[key][0]), key
            for key, value in together.info.items():
                assert np.array_equal(value[c], r.info[key][0]), key
    # The courts really were different.
    assert not np.allclose(obs[0], obs[1])


def play(env, seed, steps=40):
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(11)
    frames = [np.concatenate(list(obs.values()))]
    for _ in range(steps):
        if not env.agents:
            break
        actions = {a: rng.uniform(-1, 1, 4).astype(np.float32) for a in env.agents}
        obs, rewards, *_ = env.step(actions)
        frames.append(np.concatenate(list(obs.values()) + [np.array(list(rewards.values()))]))
    return frames


@pytest.mark.parametrize("task", ["hit_the_ball", "3v3"])
def test_same_seed_and_actions_give_identical_observations(task):
    first = play(VolleyballEnv(task), seed=5)
    second = play(VolleyballEnv(task), seed=5)
    assert len(first) == len(second)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(first, second, strict=True))
    # The seed matters: random starts (hit_the_ball) and serving sides (3v3) differ across seeds.
    env = VolleyballEnv(task)
    starts = {env.reset(seed=s)[0][env.possible_agents[0]].tobytes() for s in range(8)}
    assert len(starts) > 1


def test_two_envs_in_one_process_are_independent():
    a, b = VolleyballEnv("hit_the_ball"), VolleyballEnv("hit_the_ball")
    a.reset(seed=1)
    obs_b, _ = b.reset(seed=2)
    a.reset(seed=3)  # draws from a's generator only
    again, _ = VolleyballEnv("hit_the_ball").reset(seed=2)
    assert obs_b["drone_0"].tobytes() == again["drone_0"].tobytes()


def test_vector_env_is_deterministic_under_a_seed():
    def run():
        env = VolleyballVectorEnv("1v1", 3, max_steps=15)
        obs, _ = env.reset(seed=4)
        out = [obs]
        rng = np.random.default_rng(0)
        for _ in range(20):
            obs, *_ = env.step(rng.uniform(-1, 1, env.action_space.shape))
            out.append(obs)
        return np.stack(out)

    assert run().tobytes() == run().tobytes()


def test_vector_env_rows_are_court_major_over_learner_seats():
    env = VolleyballVectorEnv("3v3", 2)
    obs, _ = env.reset(seed=0)
    assert env.num_envs == 12 and obs.shape == (12, 57)
    np.testing.assert_array_equal(obs, env.task.observe().reshape(12, 57))
    actions = np.full((12, 4), -1.0)
    actions[7] = 1.0  # row 7 = court 1, seat 1 (blue_1): full thrust; every other drone falls
    for _ in range(5):
        obs, *_ = env.step(actions)
    assert env.task.steps.tolist() == [5, 5]
    vz = env.task.sim.drone_vel[..., 2]
    assert vz[1, 1] > 0 and np.all(np.delete(vz.ravel(), 7) < 0)
    np.testing.assert_array_equal(obs[7], env.task.observe()[1, 1])
    assert obs[7, 9] > 0  # the row's own observation shows the climb (velocity z)


def test_vector_env_autoresets_in_the_same_step_with_final_obs_and_episode_stats():
    def make(max_steps):
        return VolleyballVectorEnv(
            "3v3", 2, learners=["blue_0", "red_0"], opponent=HoverBot(), max_steps=max_steps
        )

    env, longer = make(20), make(21)  # the same episodes, one step longer before truncation
    obs, _ = env.reset(seed=1)
    longer.reset(seed=1)
    hover = np.full((4, 4), 0.24)
    returns = np.zeros(4)
    for _ in range(19):
        obs, rewards, terminated, truncated, infos = env.step(hover)
        longer.step(hover)
        returns += rewards
        assert not (terminated | truncated).any() and "final_obs" not in infos
    obs, rewards, terminated, truncated, infos = env.step(hover)
    last, *_ = longer.step(hover)
    returns += rewards
    assert truncated.all() and not terminated.any()
    assert infos["_final_obs"].all() and infos["_episode"].all()
    # final_obs is the last observation of the old episode; obs is the new episode's first.
    np.testing.assert_array_equal(infos["final_obs"], last)
    np.testing.assert_allclose(infos["episode"]["r"], returns)
    assert infos["episode"]["l"].tolist() == [20] * 4
    assert env.task.steps.tolist() == [0, 0]
    np.testing.assert_array_equal(obs, env.task.observe()[:, [0, 3]].reshape(4, -1))
    assert not np.abs(obs[:, 7:13]).any()  # drones at rest again
    assert np.abs(infos["final_obs"][:, 7:13]).max() > 1e-3
    # The per-court step info rides along, per row.
    assert infos["winner"].tolist() == [-1] * 4
    # The statistics restart with the new episode.
    *_, infos = env.step(hover)
    assert "episode" not in infos
    assert env.episode_length.tolist() == [1] * 4


def test_vector_env_terminated_rows_reset_alone():
    env = VolleyballVectorEnv("1v1", 2, max_steps=500)
    env.reset(seed=0)
    actions = np.full((4, 4), 0.25)
    actions[:2] = -1.0  # both drones of court 0 fall: a crash ends its rally first
    for _ in range(100):
        _, _, terminated, truncated, infos = env.step(actions)
        if terminated.any():
            break
    assert terminated.tolist() == [True, True, False, False] and not truncated.any()
    assert infos["_episode"].tolist() == [True, True, False, False]
    assert infos["episode"]["l"][2:].tolist() == [0, 0]
    assert env.task.steps[0] == 0 and env.task.steps[1] > 0
    assert infos["fault_name"][0].tolist() == ["drone_on_ground", "drone_on_ground"]


class RecordingBot(DroneBot):
    """Flies its drones 1 m above their anchors and records which drones it was asked for."""

    name = "recording"

    def __init__(self):
        super().__init__()
        self.calls = []

    def act_batch(self, task, drones):
        self.calls.append(np.asarray(drones).tolist())
        target = task.anchors[drones] + [0.0, 0.0, 1.0]
        return self.fly_to(task, drones, np.broadcast_to(target, (task.num_courts, len(drones), 3)))


def test_vector_env_opponent_seats_are_driven_by_the_bot():
    bot = RecordingBot()
    env = VolleyballVectorEnv("3v3", 2, learners=["blue_0", "blue_1", "blue_2"], opponent=bot)
    env.reset(seed=0)
    assert env.num_envs == 6
    for _ in range(25):
        env.step(np.full((6, 4), -1.0))  # the learners cut their thrust
    assert env.task.steps.tolist() == [25, 25]
    assert len(bot.calls) == 25 and all(c == [3, 4, 5] for c in bot.calls)
    z = env.task.sim.drone_pos[..., 2]
    assert np.all(z[:, 3:] > 2.3) and np.all(z[:, :3] < 1.6)


def test_vector_env_refuses_bad_seats_and_a_missing_opponent():
    with pytest.raises(ValueError, match="learner seats"):
        VolleyballVectorEnv("1v1", 1, learners=["green_0"])
    with pytest.raises(ValueError, match="opponent"):
        VolleyballVectorEnv("1v1", 1, learners=["blue_0"])
    env = VolleyballVectorEnv("1v1", 1)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="finite"):
        env.step(np.full((2, 4), np.nan))


def test_vector_env_rows_follow_the_given_learner_order():
    env = VolleyballVectorEnv("3v3", 2, learners=["red_1", "blue_0"], opponent=HoverBot())
    obs, _ = env.reset(seed=0)
    assert env.num_envs == 4
    np.testing.assert_array_equal(obs, env.task.observe()[:, [4, 0]].reshape(4, -1))
    actions = np.zeros((4, 4))
    actions[2] = 1.0  # row 2 = court 1, first learner (red_1)
    actions[[0, 1, 3]] = -1.0
    env.step(actions)
    env.step(actions)
    vz = env.task.sim.drone_vel[..., 2]
    assert vz[1, 4] > vz[0, 4] and vz[1, 4] > vz[1, 0]


def test_resetting_one_court_leaves_the_others_untouched():
    batch, alone = Match3v3(2, random_serve=False), Match3v3(1, random_serve=False)
    batch.reset(np.arange(2), np.random.default_rng(0))
    alone.reset(np.arange(1), np.random.default_rng(0))
    rng = np.random.default_rng(5)
    for step in range(40):
        actions = random_actions(rng, batch)
        if step == 15:
            batch.reset(np.array([0]), np.random.default_rng(1))
        together = batch.step(actions)
        single = alone.step(actions[[1]])
        assert np.array_equal(batch.observe()[1], alone.observe()[0])
        assert np.array_equal(together.rewards[1], single.rewards[0])
    assert batch.steps.tolist() == [25, 40]
