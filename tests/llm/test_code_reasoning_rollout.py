"""AZR code reasoning through the batched rollout engine: scripted players, and the tiny model as solver.

Skips when no isolating sandbox backend (bwrap, unshare) is usable here.
"""

from __future__ import annotations

import pytest
from rollout_checks import rollout

CODE = "selfplay/CodeReasoning-v0"


def _problem() -> str | None:
    try:
        from selfplay_gym.sandbox import SnippetRunner, available_backends  # noqa: F401
    except ImportError as exc:
        return f"selfplay_gym.sandbox is not importable: {exc}"
    if not [b for b in available_backends() if b != "unsafe"]:
        return "no isolating sandbox backend (bwrap, unshare) is usable here"
    return None


pytestmark = pytest.mark.skipif(_problem() is not None, reason=_problem() or "")


def test_scripted_rollout_credits_the_proposer_by_azr():
    _, episodes = rollout(
        CODE,
        {"scripted": "scripted"},
        6,
        mapping={"proposer": "scripted", "solver": "scripted"},
        num_envs=2,
        seed=1,
    )
    assert len(episodes) == 6
    for ep in episodes:
        solvers = [ep["returns"][f"solver_{i}"] for i in range(8)]
        proposer = ep["returns"]["proposer_0"]
        if proposer == -1.0:  # invalid task: the solvers never played
            assert solvers == [0.0] * 8
            continue
        s = sum(r == 1.0 for r in solvers) / 8
        assert proposer == pytest.approx(1 - s if 0 < s < 1 else -0.5)


def test_tiny_model_solves_through_the_rollout_engine(tiny_text_policy):
    policy = tiny_text_policy()
    steps, episodes = rollout(
        CODE,
        {"tiny": policy, "scripted": "scripted"},
        3,
        mapping={"proposer": "scripted", "solver": "tiny"},
        num_envs=2,
        env_kwargs={"num_solvers": 2, "task_types": ("deduction",)},
        seed=0,
    )
    assert len(episodes) == 3
    solver_steps = [r for r in steps if r["role"] == "solver"]
    assert solver_steps, "the scripted proposer's valid tasks reach the model"
    for r in solver_steps:
        assert "Predict the output" in r["prompt"] and r["token_ids"]
        assert r["invalid_action"] == (not r["parse_ok"])
    allowed = {1.0, -0.5, -1.0, 0.0}
    assert all(ep["returns"][f"solver_{i}"] in allowed for ep in episodes for i in range(2))
