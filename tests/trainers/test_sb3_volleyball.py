"""The SB3 volleyball recipe: tiny runs end to end, its VecEnv adapter, and its league opponent."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("stable_baselines3")
pytest.importorskip("mujoco")
torch = pytest.importorskip("torch")

from selfplay_gym.envs.volleyball import VolleyballVectorEnv  # noqa: E402
from selfplay_gym.envs.volleyball.bots import HoverBot  # noqa: E402
from selfplay_gym.envs.volleyball.sb3 import SB3VolleyballVecEnv  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


# 4 updates of 4 courts x 64 steps; a curve point every 2 updates.
TINY = [
    "--total-timesteps", "1024",
    "--num-courts", "4",
    "--n-steps", "64",
    "--batch-size", "128",
    "--n-epochs", "1",
    "--net-arch", "16",
    "--eval-every", "2",
    "--eval-episodes", "2",
    "--final-eval-episodes", "4",
    "--snapshot-every", "1",
    "--no-save-model",
]  # fmt: skip


def _no_constants(name):
    raise ValueError(f"summary.json is not strict JSON: {name}")


def run_recipe(task, out):
    proc = subprocess.run(
        [sys.executable, "-m", "selfplay_gym.baselines.sb3_volleyball", "--task", task, *TINY]
        + ["--out", str(out)],
        capture_output=True,
        text=True,
        timeout=150,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads((out / "summary.json").read_text(), parse_constant=_no_constants)
    png = (out / "curve.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5000
    assert not (out / "model.zip").exists()  # --no-save-model
    # The untrained policy, after update 2 (before the third rollout), and the end.
    assert [p["timesteps"] for p in summary["curve"]] == [0, 512, 1024]
    assert summary["timesteps"] == 1024
    return proc, summary


def test_a_tiny_drill_run_compares_ppo_with_hovering_and_random_commands(tmp_path):
    proc, summary = run_recipe("back_and_forth", tmp_path)
    assert summary["measure_key"] == "targets_reached"
    table = summary["evaluation"]
    # The drill flies velocity actions by default, so holding still (zero velocity) is a row too.
    assert summary["args"]["action_mode"] == "vel" and summary["args"]["gamma"] == 0.995
    assert set(table) == {"ppo", "hold", "hover", "random"}
    for row in table.values():
        assert row["episodes"] == 4 and row["targets_reached"] >= 0
    # Hovering or holding at the start never reaches the far waypoint, never misbehaves.
    for still in ("hover", "hold"):
        assert table[still]["targets_reached"] == 0
        assert table[still]["mean_length"] == 800
    # Random rotor commands tumble the drone into the floor long before that.
    assert table["random"]["mean_length"] < 200
    assert table["random"]["mean_return"] < 0 < table["hover"]["mean_return"]
    for point in summary["curve"]:
        assert point["measure"] == point["eval_targets_reached"]
    assert "hover" in proc.stdout and "random" in proc.stdout


def test_a_tiny_self_play_run_fills_the_league_with_snapshots(tmp_path):
    proc, summary = run_recipe("1v1", tmp_path)
    table = summary["evaluation"]
    assert set(table) == {
        "ppo vs hover",
        "ppo vs random",
        "ppo vs first snapshot",
        "hover vs hover",
    }
    for row in table.values():
        assert row["episodes"] == 4
        assert row["win_rate"] + row["draw_rate"] + row["loss_rate"] == pytest.approx(1.0)
    # A snapshot before each rollout after the first: updates 1, 2, 3.
    assert summary["snapshots"] == [256, 512, 768]
    league = {e["name"]: e for e in summary["league"]}
    assert league["hover"]["kind"] == "bot"
    assert [n for n, e in league.items() if e["kind"] == "snapshot"] == [
        "snapshot@256",
        "snapshot@512",
        "snapshot@768",
    ]
    # Every finished training episode was recorded against the entry its court played.
    assert sum(e["games"] for e in league.values()) > 0
    assert all(e["games"] == e["wins"] + e["draws"] + e["losses"] for e in league.values())
    assert "League (uniform)" in proc.stdout


def test_the_sb3_adapter_reports_episode_ends_as_sb3_expects():
    def make():
        return VolleyballVectorEnv("back_and_forth", num_courts=3, max_steps=5)

    venv, reference = SB3VolleyballVecEnv(make()), make()
    venv.seed(7)
    obs = venv.reset()
    ref_obs, _ = reference.reset(seed=7)
    assert np.array_equal(obs, ref_obs)
    hover = HoverBot()
    for _ in range(5):
        actions = hover.act_batch(reference.task, reference.learner_idx).reshape(3, 4)
        obs, rewards, dones, infos = venv.step(actions)
        ref_obs, ref_rewards, terminated, truncated, ref_infos = reference.step(actions)
        assert np.array_equal(obs, ref_obs) and np.allclose(rewards, ref_rewards)
        assert rewards.dtype == np.float32 and len(infos) == 3
    # Hovering lasts the 5 steps: every court is truncated, not terminated, and reset.
    assert dones.all() and truncated.all() and not terminated.any()
    for row, info in enumerate(infos):
        assert info["TimeLimit.truncated"] is True
        assert np.array_equal(info["terminal_observation"], ref_infos["final_obs"][row])
        assert info["episode"]["l"] == 5
        assert info["episode"]["r"] == pytest.approx(ref_infos["episode"]["r"][row])
        assert info["targets_reached"] == 0 and isinstance(info["targets_reached"], int)
    assert not np.array_equal(obs, ref_infos["final_obs"])  # the new episodes' observations


def test_the_league_opponent_keeps_one_draw_per_court_episode():
    from selfplay_gym.baselines.sb3_volleyball import LeagueOpponent
    from selfplay_gym.league import League

    league = League(rule="uniform", seed=0)
    league.add("hover", HoverBot())
    league.add("hover_again", HoverBot())
    opponent = LeagueOpponent(league, seed=1)
    env = VolleyballVectorEnv("1v1", num_courts=16, learners=["blue_0"], opponent=opponent)
    env.reset(seed=0)
    hover = np.zeros((16, 4))
    env.step(hover)
    first = list(opponent.current)
    assert set(first) == {"hover", "hover_again"}  # 16 courts drew from both entries
    for _ in range(3):
        _, _, terminated, truncated, _ = env.step(hover)
        if (terminated | truncated).any():
            break
        assert opponent.current == first  # no new draw mid-episode


def test_evaluate_measures_hits_of_a_drone_holding_still_under_the_ball():
    from selfplay_gym.baselines.sb3_volleyball import evaluate

    def hold(obs, env):
        return np.zeros((env.num_envs, 4))  # zero velocity targets: stay at the start

    # The ball drops from 3 m straight above the start: holding still in vel mode hits it.
    held = evaluate("hit_the_ball", hold, 3, seed=0, action_mode="vel")
    assert held["episodes"] == 3 and held["hit_rate"] == 1.0 and held["hits"] >= 1
    # Zero rotor commands in prt mode (thrust below the weight): the drone sinks away.
    sinking = evaluate("hit_the_ball", hold, 3, seed=0)
    assert sinking["hits"] < held["hits"]
