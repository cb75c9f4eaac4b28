"""Rendering and the ``selfplay-gym volleyball video`` command (skipped where no GL works)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("mujoco")

from selfplay_gym.cli import main  # noqa: E402
from selfplay_gym.envs.volleyball.env import VolleyballEnv, episode_frames  # noqa: E402


@pytest.fixture(scope="module")
def gl():
    env = VolleyballEnv("1v1", render_mode="rgb_array", width=64, height=48)
    env.reset(seed=0)
    try:
        frame = env.render()
    except Exception as exc:  # no EGL/OSMesa on this machine
        pytest.skip(f"offscreen rendering unavailable: {exc}")
    finally:
        env.close()
    return frame


def test_rgb_array_frames_show_the_scene_and_change_as_the_ball_falls(gl):
    assert gl.shape == (48, 64, 3) and gl.dtype == np.uint8
    env = VolleyballEnv("hit_the_ball", render_mode="rgb_array", width=96, height=64, camera="end")
    hover = np.zeros(4, dtype=np.float32)
    frames = episode_frames(
        env, lambda obs, infos: {a: hover for a in obs}, seed=1, max_frames=6, every=5
    )
    env.close()
    assert len(frames) == 6
    assert all(f.shape == (64, 96, 3) for f in frames)
    assert frames[0].std() > 5  # not a blank image
    assert np.abs(frames[-1].astype(int) - frames[0].astype(int)).sum() > 0  # time moves


def test_video_command_writes_a_gif_of_the_episode(gl, tmp_path, capsys):
    import imageio.v2 as imageio

    out = tmp_path / "rally.gif"
    code = main(
        [
            "volleyball",
            "video",
            "--id",
            "selfplay/Volleyball1v1-v0",
            "--bot",
            "blue=hover",
            "--bot",
            "red=random",
            "--out",
            str(out),
            "--max-steps",
            "30",
            "--fps",
            "25",
            "--width",
            "80",
            "--height",
            "60",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["bots"] == {"blue_0": "HoverBot", "red_0": "RandomBot"}
    frames = imageio.mimread(out)
    assert len(frames) == summary["frames"] == 1 + summary["steps"] // 2
    assert frames[0].shape[:2] == (60, 80)


def test_video_command_rejects_an_id_of_another_family(capsys):
    assert main(["volleyball", "video", "--id", "selfplay/TicTacToe-v0"]) == 2
    assert "expected a volleyball id" in capsys.readouterr().err
