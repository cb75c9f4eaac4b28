"""Golden playthroughs: replay every tests/golden/*.json episode and compare it exactly.

A failure here means an env id changed behaviour. Read tests/golden/regenerate.py before
regenerating: any diff of a golden file needs a version bump of the id or an explicit reason.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

import selfplay_gym
from selfplay_gym.core.text_game import TurnBasedTextEnv
from selfplay_gym.registry import load_entry_point

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
FILES = sorted(GOLDEN.glob("*.json"))
TEXT_GAME_IDS = [
    s.id
    for s in selfplay_gym.ENV_SPECS
    if issubclass(load_entry_point(s.entry_point), TurnBasedTextEnv)
]


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def replay(env_id, kwargs, seed, actions):
    """Play the raw actions; collect what the golden files record (independent of regenerate.py)."""
    env = selfplay_gym.make(env_id, render_mode="ansi", **kwargs)
    env.reset(seed=seed)
    totals = dict.fromkeys(env.possible_agents, 0.0)
    steps = 0
    for action in actions:
        if env.terminations[env.agent_selection] or env.truncations[env.agent_selection]:
            break
        env.step(action)
        steps += 1
        for agent, reward in env.rewards.items():
            totals[agent] += reward
    return env, totals, steps


def test_golden_files_exist_for_every_text_game():
    covered = {load(p)["env_id"] for p in FILES}
    assert {
        "selfplay/TicTacToe-v0",
        "selfplay/KuhnPoker-v0",
        "selfplay/SimpleNegotiation-v0",
    } <= set(TEXT_GAME_IDS)
    missing = sorted(set(TEXT_GAME_IDS) - covered)
    assert not missing, f"add a scenario to tests/golden/regenerate.py for {missing}"


def test_some_golden_file_exercises_invalid_moves_under_retry():
    retried = [
        p.name
        for p in FILES
        if isinstance(load(p)["kwargs"].get("invalid_move"), dict)
        and load(p)["kwargs"]["invalid_move"].get("mode") == "retry"
        and any("may try again" in line for line in load(p)["expected"]["transcript"])
    ]
    assert retried


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_golden_playthrough_replays_exactly(path):
    golden = load(path)
    assert set(golden) >= {"env_id", "kwargs", "seed", "actions", "expected"}
    assert all(isinstance(a, str) for a in golden["actions"])
    expected = golden["expected"]
    env, totals, steps = replay(
        golden["env_id"], golden["kwargs"], golden["seed"], golden["actions"]
    )
    assert steps == expected["steps"] == len(golden["actions"])
    assert env.render().split("\n") == expected["transcript"]
    assert totals == expected["rewards"]
    for agent, observation in expected["final_observations"].items():
        assert env.observe(agent) == observation, agent
    assert dict(env.terminations) == expected["terminations"]
    assert dict(env.truncations) == expected["truncations"]


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_golden_playthrough_is_deterministic_across_resets(path):
    # The same env object, reset with the same seed after another episode, replays identically.
    golden = load(path)
    env = selfplay_gym.make(golden["env_id"], render_mode="ansi", **golden["kwargs"])
    for _ in range(2):
        env.reset(seed=golden["seed"] + 1)
        env.step(golden["actions"][0])
        env.reset(seed=golden["seed"])
        for action in golden["actions"]:
            env.step(action)
        assert env.render().split("\n") == golden["expected"]["transcript"]


def test_regenerate_script_matches_the_files():
    spec = importlib.util.spec_from_file_location("golden_regenerate", GOLDEN / "regenerate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert sorted(module.SCENARIOS) == [p.stem for p in FILES]
    assert "version bump" in module.__doc__ and "explicit reason" in module.__doc__
    for path in FILES:
        assert module.dump(module.build(path.stem)) == path.read_text(encoding="utf-8"), path.name
