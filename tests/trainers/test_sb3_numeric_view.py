"""The numeric view is what Stable-Baselines3 (and sb3-contrib's MaskablePPO) train on unchanged."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest

import selfplay_gym

sb3 = pytest.importorskip("stable_baselines3")
sb3_contrib = pytest.importorskip("sb3_contrib")
torch = pytest.importorskip("torch")

IDS = [s.id for s in selfplay_gym.ENV_SPECS if s.numeric]


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


@pytest.mark.parametrize("env_id", IDS)
def test_sb3_env_checker_accepts_the_numeric_view(env_id):
    from stable_baselines3.common.env_checker import check_env

    check_env(gymnasium.make(env_id, numeric=True), warn=True)


@pytest.mark.parametrize("env_id", IDS)
def test_maskable_ppo_trains_and_never_plays_an_illegal_move(env_id):
    from sb3_contrib import MaskablePPO
    from sb3_contrib.common.maskable.utils import get_action_masks
    from stable_baselines3.common.env_util import make_vec_env

    vec = make_vec_env(
        lambda: gymnasium.make(env_id, numeric=True, opponent="random"), n_envs=2, seed=0
    )
    model = MaskablePPO(
        "MlpPolicy", vec, n_steps=64, batch_size=64, n_epochs=1, seed=0, device="cpu"
    )
    model.learn(total_timesteps=128)

    env = gymnasium.make(env_id, numeric=True, opponent="random")
    for episode in range(5):
        obs, info = env.reset(seed=episode)
        done = False
        while not done:
            masks = get_action_masks(env)
            action, _ = model.predict(obs, action_masks=masks, deterministic=True)
            assert masks[int(action)], "a masked policy chose an illegal move"
            obs, reward, terminated, truncated, info = env.step(action)
            assert not info["invalid_action"]
            done = terminated or truncated


def test_ppo_learns_tictactoe_against_random_a_little():
    """A short PPO run on the numeric view beats its untrained self against a random opponent."""
    from sb3_contrib import MaskablePPO
    from sb3_contrib.common.maskable.utils import get_action_masks
    from stable_baselines3.common.env_util import make_vec_env

    env_id = "selfplay/TicTacToe-v0"

    def score(model, games=200):
        env = gymnasium.make(env_id, numeric=True, opponent="random")
        total = 0.0
        for g in range(games):
            obs, _ = env.reset(seed=10_000 + g)
            done = False
            while not done:
                action, _ = model.predict(
                    obs, action_masks=get_action_masks(env), deterministic=True
                )
                obs, reward, terminated, truncated, _ = env.step(action)
                total += reward
                done = terminated or truncated
        return total / games

    vec = make_vec_env(
        lambda: gymnasium.make(env_id, numeric=True, opponent="random"), n_envs=4, seed=1
    )
    model = MaskablePPO("MlpPolicy", vec, n_steps=128, batch_size=128, seed=1, device="cpu")
    before = score(model)
    model.learn(total_timesteps=12_000)
    after = score(model)
    print(f"mean reward against random: {before:+.2f} before, {after:+.2f} after")
    assert after > before + 0.1 and after > 0.5, (before, after)
    assert np.isfinite(after)
