"""The conformance suite of simultaneous-move envs: every id registered with ``kind="parallel"``.

An id is checked here by being in ``selfplay_gym.ENV_SPECS``; nothing below names an env. The
checks: PettingZoo's ``parallel_api_test`` and ``parallel_seed_test`` (plus a whole-episode
determinism check, since the latter stops after one step), Gymnasium's ``check_env`` on the
single-agent view against every named opponent, the info schema of DESIGN.md section 3 on every
step, rewards that are the sum of their components, observations inside their spaces, pickling,
clear errors for bad input, untouched global RNGs, and ``rgb_array`` frames.
"""

from __future__ import annotations

import pickle
import random
import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env, data_equivalence
from pettingzoo.test import parallel_api_test, parallel_seed_test

import selfplay_gym

SPECS = [s for s in selfplay_gym.ENV_SPECS if s.kind == "parallel"]
IDS = [s.id for s in SPECS]
BOT_CASES = [(s.id, bot) for s in SPECS for bot in ("random", *s.bots)]
INFO_KEYS = {"role": str, "seat": int, "team": int, "turn": int, "reward_components": dict}
MAX_STEPS = 300  # enough for random play to end an episode of every registered id


def make(env_id, **kwargs):
    return selfplay_gym.spec(env_id).make(**kwargs)


def random_actions(env, rng):
    """A seeded random action for every live agent (bounded Box spaces sampled uniformly)."""
    actions = {}
    for agent in env.agents:
        space = env.action_space(agent)
        if isinstance(space, gymnasium.spaces.Box):
            actions[agent] = rng.uniform(space.low, space.high).astype(space.dtype)
        else:
            space.seed(int(rng.integers(2**31)))
            actions[agent] = space.sample()
    return actions


def episode(env, seed, actions_seed=0, steps=MAX_STEPS):
    """Reset with ``seed`` and play seeded random actions; yields each step's five dicts."""
    rng = np.random.default_rng(actions_seed)
    observations, infos = env.reset(seed=seed)
    yield observations, {}, {}, {}, infos
    for _ in range(steps):
        if not env.agents:
            return
        yield env.step(random_actions(env, rng))


@pytest.fixture(params=IDS)
def env_id(request):
    pytest.importorskip("mujoco")
    return request.param


def test_there_are_parallel_ids():
    assert len(IDS) >= 9 and all(s.entry_point for s in SPECS)


# ---- PettingZoo -----------------------------------------------------------------------------------
def test_parallel_api_test(env_id):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parallel_api_test(make(env_id), num_cycles=MAX_STEPS)


def test_parallel_seed_test(env_id):
    parallel_seed_test(lambda: make(env_id), num_cycles=MAX_STEPS)


def test_same_seed_same_actions_same_episode(env_id):
    # PettingZoo's seed test stops after its first step (``any`` of a dict of flags is true);
    # this plays the whole episode.
    first = list(episode(make(env_id), seed=3, actions_seed=4))
    second = list(episode(make(env_id), seed=3, actions_seed=4))
    assert len(first) == len(second) > 1
    for a, b in zip(first, second, strict=True):
        assert data_equivalence(a, b, exact=True)


def test_episodes_end_and_agents_leave_together(env_id):
    env = make(env_id)
    steps = list(episode(env, seed=0))
    assert not env.agents, f"random play did not end an episode in {MAX_STEPS} steps"
    *_, (obs, rewards, terms, truncs, infos) = steps
    assert set(obs) == set(rewards) == set(terms) == set(infos) == set(env.possible_agents)
    assert all(terms[a] or truncs[a] for a in env.possible_agents)


# ---- Gymnasium view -------------------------------------------------------------------------------
@pytest.mark.parametrize(("env_id", "bot"), BOT_CASES)
def test_gymnasium_check_env_with_each_named_opponent(env_id, bot):
    pytest.importorskip("mujoco")
    env = gymnasium.make(env_id, opponent=bot)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # Unbounded observations are the norm for physical state (as Gymnasium's MuJoCo envs).
        warnings.filterwarnings("ignore", message=".*Box observation space (min|max)imum value")
        check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=0)
    assert obs in env.observation_space
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert obs in env.observation_space and isinstance(reward, float)


def test_gym_make_passive_checker_is_silent(env_id):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        env = gymnasium.make(env_id)
        env.reset(seed=0)
        env.step(env.action_space.sample())


# ---- what every step reports ----------------------------------------------------------------------
def test_every_agent_has_the_info_schema_on_every_step(env_id):
    env = make(env_id)
    turn = None
    for i, (obs, _, _, _, infos) in enumerate(episode(env, seed=1)):
        assert set(infos) >= set(obs)
        turns = set()
        for agent in obs:
            info = infos[agent]
            for key, kind in INFO_KEYS.items():
                assert isinstance(info.get(key), kind), f"{agent} step {i}: {key}={info.get(key)!r}"
            assert agent == f"{info['role']}_{info['seat']}"
            assert info["team"] >= 0
            turns.add(info["turn"])
        assert len(turns) == 1, "agents of one step report one turn"
        (now,) = turns
        assert turn is None or now == turn + 1, "each step of a simultaneous game is one turn"
        turn = now


def test_reward_equals_sum_of_components(env_id):
    env = make(env_id)
    for i, (_, rewards, _, _, infos) in enumerate(episode(env, seed=2)):
        for agent, reward in rewards.items():
            parts = infos[agent]["reward_components"]
            assert parts, f"{agent} step {i}: a reward without components"
            assert all(isinstance(v, float) for v in parts.values())
            assert reward == pytest.approx(sum(parts.values()), rel=1e-9, abs=1e-9)


def test_observations_stay_in_their_spaces(env_id):
    env = make(env_id)
    for seed in range(2):
        for obs, *_ in episode(env, seed=seed):
            for agent, o in obs.items():
                assert o in env.observation_space(agent), f"{agent}: {o}"


def test_action_space_bounds_are_accepted(env_id):
    env = make(env_id)
    env.reset(seed=0)
    for bound in ("low", "high"):
        if not env.agents:
            env.reset(seed=0)
        actions = {}
        for agent in env.agents:
            space = env.action_space(agent)
            if not isinstance(space, gymnasium.spaces.Box):
                pytest.skip("bounds are a Box notion")
            actions[agent] = getattr(space, bound).astype(space.dtype)
        env.step(actions)


# ---- isolation and pickling ----------------------------------------------------------------------
def test_global_rngs_untouched_and_envs_isolated(env_id):
    random.seed(123)
    np.random.seed(123)
    py_state, np_state = random.getstate(), np.random.get_state()
    alone = list(episode(make(env_id), seed=6, steps=30))
    env, other = make(env_id), make(env_id)
    other.reset(seed=99)
    rng = np.random.default_rng(0)
    mixed = []
    for step in episode(env, seed=6, steps=30):
        mixed.append(step)
        if other.agents:
            other.step(random_actions(other, rng))  # another env playing meanwhile
    assert random.getstate() == py_state
    assert data_equivalence(np.random.get_state(), np_state, exact=True)
    assert len(alone) == len(mixed)
    for a, b in zip(alone, mixed, strict=True):
        assert data_equivalence(a, b, exact=True)


def test_pickled_env_works_and_plays(env_id):
    env = make(env_id)
    fresh = list(episode(make(env_id), seed=8, steps=20))
    clone = pickle.loads(pickle.dumps(env))
    assert data_equivalence(list(episode(clone, seed=8, steps=20)), fresh, exact=True)
    # Mid-episode: the copy is a fresh env with the same settings (physics state is not
    # shipped), so it asks for a reset instead of playing on from a different state.
    env.reset(seed=8)
    env.step(random_actions(env, np.random.default_rng(0)))
    clone = pickle.loads(pickle.dumps(env))
    assert clone.possible_agents == env.possible_agents and not clone.agents
    with pytest.raises(RuntimeError, match="reset"):
        clone.step(random_actions(env, np.random.default_rng(0)))
    assert data_equivalence(list(episode(clone, seed=8, steps=20)), fresh, exact=True)


def test_pickled_gymnasium_view_plays(env_id):
    env = gymnasium.make(env_id)
    env.reset(seed=0)
    clone = pickle.loads(pickle.dumps(env))
    obs, _ = clone.reset(seed=4)
    assert obs in clone.observation_space
    for _ in range(5):
        obs, reward, terminated, truncated, _ = clone.step(clone.action_space.sample())
        if terminated or truncated:
            break
    assert obs in clone.observation_space


# ---- bad input ------------------------------------------------------------------------------------
def test_bad_actions_give_clear_errors_and_change_nothing(env_id):
    env = make(env_id)
    env.reset(seed=0)
    good = random_actions(env, np.random.default_rng(0))
    agent = env.agents[0]
    space = env.action_space(agent)
    bad_cases = [
        ({a: v for a, v in good.items() if a != agent}, ValueError, agent),  # missing
        ({**good, "nobody_7": good[agent]}, ValueError, "nobody_7"),  # unknown
    ]
    if isinstance(space, gymnasium.spaces.Box):
        wrong = np.zeros((*space.shape, 2), dtype=space.dtype)
        bad_cases += [
            ({**good, agent: wrong}, ValueError, "shape"),
            (
                {**good, agent: np.full(space.shape, np.nan, dtype=space.dtype)},
                ValueError,
                "finite",
            ),
            (
                {**good, agent: np.full(space.shape, np.inf, dtype=space.dtype)},
                ValueError,
                "finite",
            ),
        ]
    with pytest.raises(TypeError, match="dict"):
        env.step(list(good.values()))
    for actions, error, words in bad_cases:
        with pytest.raises(error, match=words):
            env.step(actions)
    # Refused steps did not advance the game: the same seed and action give the same step.
    after = env.step(good)
    reference = make(env_id)
    reference.reset(seed=0)
    assert data_equivalence(after, reference.step(good), exact=True)


def test_step_after_the_end_is_refused(env_id):
    env = make(env_id)
    steps = list(episode(env, seed=0))
    assert not env.agents and len(steps) > 1
    last_actions = {a: env.action_space(a).sample() for a in env.possible_agents}
    with pytest.raises(RuntimeError, match="reset"):
        env.step(last_actions)
    env.reset(seed=0)
    env.step(random_actions(env, np.random.default_rng(0)))


# ---- rendering ------------------------------------------------------------------------------------
def test_render_rgb_array_frames(env_id):
    spec = selfplay_gym.spec(env_id)
    cls = selfplay_gym.registry.load_entry_point(spec.entry_point)
    modes = cls.metadata.get("render_modes", [])
    assert "render_fps" in cls.metadata
    if "rgb_array" not in modes:
        pytest.skip(f"{env_id} declares no rgb_array mode")
    env = make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    try:
        frame = env.render()
    except Exception as exc:  # no EGL or OSMesa here
        pytest.skip(f"offscreen rendering unavailable: {type(exc).__name__}: {exc}")
    assert isinstance(frame, np.ndarray) and frame.dtype == np.uint8
    assert frame.ndim == 3 and frame.shape[2] == 3 and min(frame.shape[:2]) > 0
    assert frame.std() > 0  # an image, not a blank buffer
    env.step(random_actions(env, np.random.default_rng(0)))
    assert env.render().shape == frame.shape
    env.close()
