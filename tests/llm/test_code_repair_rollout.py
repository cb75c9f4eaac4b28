"""SSR bug inject/repair through the batched rollout engine: scripted players, and the tiny model as solver.

Skips when no isolating sandbox backend (bwrap, unshare) is usable here.
"""

from __future__ import annotations

import pytest
from rollout_checks import rollout

SSR = "selfplay/BugInjectRepair-v0"


def _problem() -> str | None:
    try:
        from selfplay_gym.envs.code_repair import artifact, injector  # noqa: F401
        from selfplay_gym.sandbox import available_backends
    except ImportError as exc:
        return f"the SSR engine is not importable: {exc}"
    if not [b for b in available_backends() if b != "unsafe"]:
        return "no isolating sandbox backend (bwrap, unshare) is usable here"
    return None


pytestmark = pytest.mark.skipif(_problem() is not None, reason=_problem() or "")


def test_scripted_rollout_credits_the_injector_by_ssr():
    _, episodes = rollout(
        SSR,
        {"scripted": "scripted"},
        6,
        mapping={"injector": "scripted", "solver": "scripted"},
        num_envs=2,
        env_kwargs={"order2_prob": 0.0},
        seed=1,
    )
    assert len(episodes) == 6
    for ep in episodes:
        solvers = [ep["returns"][f"solver_{i}"] for i in range(4)]
        injector = ep["returns"]["injector_0"]
        if injector == -1.0:  # invalid artifact: the solvers never played
            assert solvers == [0.0] * 4
            continue
        s = sum(r == 1.0 for r in solvers) / 4
        assert injector == pytest.approx(-0.8 if s in (0.0, 1.0) else 1 - 1.8 * s)


def test_tiny_model_repairs_through_the_rollout_engine(tiny_text_policy):
    policy = tiny_text_policy()
    steps, episodes = rollout(
        SSR,
        {"tiny": policy, "scripted": "scripted"},
        2,
        mapping={"injector": "scripted", "solver": "tiny"},
        num_envs=2,
        env_kwargs={"num_solvers": 2, "max_turns": 2, "injector": "rule"},
        seed=0,
    )
    assert len(episodes) == 2
    solver_steps = [r for r in steps if r["role"] == "solver" and r["token_ids"]]
    assert solver_steps, "the rule artifacts reach the model"
    for r in solver_steps:
        assert "restores tests" in r["prompt"]
        assert r["invalid_action"] == (not r["parse_ok"])
    assert all(ep["returns"][f"solver_{i}"] in (1.0, -1.0) for ep in episodes for i in range(2))
