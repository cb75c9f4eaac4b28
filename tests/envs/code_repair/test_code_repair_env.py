"""SSR bug inject/repair (selfplay/BugInjectRepair-v0): full episodes, both rewards, repair-only, order 2.

Everything runs on the embedded repository in the real sandbox; the module skips when no
isolating backend (bwrap, unshare) is usable. The rule artifacts are made once per process
(players.rule_artifact caches them), so most of the time goes into a few harness test runs.
"""

from __future__ import annotations

import json
import pickle

import gymnasium
import pytest

import selfplay_gym
from selfplay_gym.core.rewards import SSRInjector


def _problem() -> str | None:
    try:
        from selfplay_gym.envs.code_repair import artifact, injector  # noqa: F401
        from selfplay_gym.sandbox import available_backends
    except ImportError as exc:
        return f"the SSR engine is not importable: {exc}"
    if not [b for b in available_backends() if b != "unsafe"]:
        return "no isolating sandbox backend (bwrap, unshare) is usable here"
    return None


_PROBLEM = _problem()
pytestmark = pytest.mark.skipif(_PROBLEM is not None, reason=_PROBLEM or "")

ID = "selfplay/BugInjectRepair-v0"


def _env(**kwargs):
    from selfplay_gym.envs.code_repair.env import BugInjectRepairEnv

    kwargs.setdefault("num_solvers", 4)
    kwargs.setdefault("order2_prob", 0.0)
    return BugInjectRepairEnv(**kwargs)


def _players(**kinds):
    from selfplay_gym.envs.code_repair import players

    table = {
        "oracle": players.OracleSolver,
        "lazy": players.LazySolver,
        "random_edit": players.RandomEditSolver,
        "scripted": players.ScriptedSSRPlayer,
    }
    return {a: table[k](seed=i, mistakes=0.0) for i, (a, k) in enumerate(kinds.items())}


def play(env, players, *, seed=0, options=None, max_steps=400):
    """Run one episode; returns each agent's summed reward and its last info."""
    env.reset(seed=seed, options=options)
    totals = dict.fromkeys(env.possible_agents, 0.0)
    infos = {}
    for _ in range(max_steps):
        if not env.agents:
            break
        agent = env.agent_selection
        _, reward, term, trunc, info = env.last()
        totals[agent] += reward
        infos[agent] = info
        assert reward == pytest.approx(sum(info["reward_components"].values()))
        env.step(None if term or trunc else players[agent].act(env, agent))
    assert not env.agents, "the episode ended"
    return totals, infos


def act(env, action):
    """Step ``action`` for the agent to move, after the None steps of finished agents."""
    while env.terminations[env.agent_selection] or env.truncations[env.agent_selection]:
        env.step(None)
    env.step(action)


@pytest.fixture(scope="module")
def artifact():
    from selfplay_gym.envs.code_repair.artifact import SSRConfig
    from selfplay_gym.envs.code_repair.env import load_repo_cached
    from selfplay_gym.envs.code_repair.players import rule_artifact

    art, report = rule_artifact(load_repo_cached("embedded"), "auto", "mutate", 0, SSRConfig())
    assert report.valid
    return art


# ---- full episodes: the scripted injector and solvers -------------------------------------------
@pytest.mark.parametrize(
    "kinds, s",
    [
        (("lazy",) * 4, 0.0),
        (("oracle",) * 4, 1.0),
        (("oracle", "lazy", "lazy", "lazy"), 0.25),
        (("oracle", "oracle", "lazy", "random_edit"), 0.5),
        (("oracle", "random_edit", "oracle", "lazy", "oracle"), 0.6),
    ],
)
def test_full_episode_rewards_follow_ssr(kinds, s):
    env = _env(num_solvers=len(kinds))
    players = _players(injector_0="oracle", **{f"solver_{i}": k for i, k in enumerate(kinds)})
    totals, infos = play(env, players, seed=3)
    inj = infos["injector_0"]
    assert inj["artifact_valid"] and all(inj["validity"].values()), inj["validity"]
    assert inj["fail_to_pass"] >= 1 and inj["pass_to_pass"] >= 5
    assert inj["solve_rate"] == pytest.approx(s)
    expected = -0.8 if s in (0.0, 1.0) else 1 - 1.8 * s  # SSR Eq. 1 by hand
    assert totals["injector_0"] == pytest.approx(expected)
    assert inj["reward_components"] == {"injector": pytest.approx(expected)}
    assert SSRInjector(0.8)(s) == {"injector": pytest.approx(expected)}
    for i, kind in enumerate(kinds):
        agent = f"solver_{i}"
        solved = kind == "oracle"
        assert infos[agent]["solved"] is solved
        assert totals[agent] == (1.0 if solved else -1.0)
        assert infos[agent]["reward_components"] == (
            {"solved": 1.0} if solved else {"unsolved": -1.0}
        )
    assert inj["sandbox"] in ("bwrap", "unshare")


def test_solvers_see_only_the_reversed_weakening(artifact):
    env = _env()
    env.reset(seed=0, options={"artifact": artifact})
    prompt = env.observe("solver_0")
    assert "restores tests" in prompt and "<bash>" in prompt
    assert artifact.bug_inject_diff not in prompt
    bug_lines = [
        line[1:].strip()
        for line in artifact.bug_inject_diff.splitlines()
        if line.startswith("+") and not line.startswith("+++") and line[1:].strip()
    ]
    assert bug_lines and not any(b in prompt for b in bug_lines if len(b) > 12)
    view = env.agent_view("solver_0")
    assert "bug_inject_diff" not in json.dumps({k: str(v) for k, v in view.items()})
    assert "validity" not in env.infos["solver_0"]


def test_injector_explores_with_bash_then_submits():
    from selfplay_gym.envs.code_repair.players import OracleSolver

    env = _env(num_solvers=2)
    bots = {"injector_0": OracleSolver(seed=1, explore=1.0, mistakes=0.0)}
    bots.update(_players(solver_0="oracle", solver_1="lazy"))
    totals, infos = play(env, bots, seed=1)
    first = infos["injector_0"]["messages"]
    assert "src" in first[3]["content"] and "[exit code 0]" in first[3]["content"]
    assert totals["injector_0"] == pytest.approx(1 - 1.8 * 0.5)


def test_an_injector_can_make_its_diffs_with_git_in_the_sandbox(artifact, tmp_path):
    """The tool route a model takes: edit files, `git diff` in the sandbox, submit the JSON."""
    from selfplay_gym.envs.code_repair.diffs import apply_diff
    from selfplay_gym.envs.code_repair.env import load_repo_cached

    repo = load_repo_cached("embedded")
    target = repo.fresh_copy(tmp_path / "t")
    touched = apply_diff(target, artifact.bug_inject_diff)
    touched += apply_diff(target, artifact.test_weaken_diff)
    env = _env(num_solvers=2)
    env.reset(seed=0)
    for rel in touched:
        env.step(f'<create path="{rel}">\n{(target / rel).read_text()}</create>')

    def diff(where):
        env.step(f"<bash>git diff -- {where}</bash>")
        out = env.infos["injector_0"]["messages"][-1]["content"]
        return out.rsplit("\n[exit code 0]", 1)[0] + "\n"

    data = {
        "test_files": list(artifact.test_files),
        "bug_inject_diff": diff("src"),
        "test_weaken_diff": diff("tests"),
    }
    env.step("<submit>" + json.dumps(data) + "</submit>")
    info = env.infos["injector_0"]
    assert info["artifact_valid"] is True, info.get("first_failure")
    assert env.agent_selection == "solver_0"


# ---- invalid artifacts --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "reply, reason",
    [
        ("<submit>{not json</submit>", "could not be read"),
        ('<submit>["a list"]</submit>', "JSON object"),
        ("<submit/>", "could not be read"),
    ],
)
def test_unreadable_artifact_costs_the_injector_one(reply, reason):
    env = _env()
    env.reset(seed=0)
    env.step(reply)
    info = env.infos["injector_0"]
    assert info["validity"] == {"parsed": False} and reason in info["first_failure"]
    assert env.rewards["injector_0"] == -1.0
    assert info["reward_components"] == {"invalid_artifact": -1.0}
    assert all(env.terminations.values())


def test_artifact_failing_a_check_costs_one(artifact):
    data = json.loads(artifact.to_json())
    data["bug_inject_diff"] = ""
    env = _env()
    env.reset(seed=0)
    env.step("<submit>" + json.dumps(data) + "</submit>")
    info = env.infos["injector_0"]
    assert info["validity"]["parsed"] is True and not all(
        v for v in info["validity"].values() if v is not None
    )
    assert env.rewards["injector_0"] == -1.0 and info["artifact_valid"] is False
    with pytest.raises(ValueError, match="invalid"):
        env.reset(seed=0, options={"artifact": data})


def test_injector_out_of_turns_is_invalid():
    env = _env(max_turns=3)
    env.reset(seed=0)
    for _ in range(3):
        env.step('<view path="."/>')
    assert env.rewards["injector_0"] == -1.0 and env.infos["injector_0"]["out_of_turns"]


def test_junk_is_an_invalid_move_that_costs_a_turn():
    env = _env(max_turns=5)
    env.reset(seed=0)
    env.step("I think the bug should go in rle.py")
    info = env.infos["injector_0"]
    assert info["invalid_action"] and "no tool call" in info["parse"]["error"]
    assert env.agent_selection == "injector_0" and info["turns_left"] == 4
    assert "Error: no tool call" in env.observe("injector_0")


# ---- repair-only, truncation, pickling, order 2 -------------------------------------------------
def test_repair_only_skips_the_injector(artifact):
    env = _env(num_solvers=3)
    bots = _players(solver_0="oracle", solver_1="lazy", solver_2="random_edit")
    totals, infos = play(env, bots, seed=0, options={"artifact": artifact.to_json()})
    assert totals == {"injector_0": 0.0, "solver_0": 1.0, "solver_1": -1.0, "solver_2": -1.0}
    assert infos["injector_0"]["given_artifact"] and "solve_rate" not in infos["injector_0"]


def test_tools_work_on_the_solvers_copy_and_a_solver_out_of_turns_is_truncated(artifact):
    env = _env(num_solvers=1, max_turns=3)
    env.reset(seed=0, options={"artifact": artifact})
    act(env, '<view path="src/tallykit"/>')
    assert "rle.py" in env.observe("solver_0")
    act(env, "<bash>git log --format=%s; git status --short | wc -l</bash>")
    out = env.infos["solver_0"]["messages"][-1]["content"]
    assert out.split()[:2] == ["start", "0"], "one commit of the start state (SSR's re-init)"
    act(env, '<create path="notes.txt">hi</create>')
    assert env.truncations["solver_0"] and env.infos["solver_0"]["out_of_turns"]
    assert env.rewards["solver_0"] == -1.0


def test_pickle_mid_repair_carries_the_copies(artifact):
    env = _env(num_solvers=2)
    env.reset(seed=0, options={"artifact": artifact})
    files = env.oracle_files("solver_0")
    path, text = sorted(files.items())[0]
    act(env, f'<create path="{path}">\n{text}</create>')  # solver_0 repairs
    act(env, '<create path="scratch.txt">solver 1 was here</create>')
    clone = pickle.loads(pickle.dumps(env))
    assert clone.observe("solver_0") == env.observe("solver_0")
    for e in (env, clone):
        act(e, "<submit/>")
        assert e.infos["solver_0"]["solved"] is True, "the clone's copy has solver_0's repair"
        act(e, "<submit/>")
        assert e.infos["solver_1"]["solved"] is False
    env.close()
    clone.close()


def test_failed_repairs_feed_order_two_episodes(artifact):
    env = _env(num_solvers=2, order2_prob=1.0)
    bots = _players(solver_0="random_edit", solver_1="lazy")
    play(env, bots, seed=0, options={"artifact": artifact})
    assert len(env.pool) == 1, "the mistaken edit (a change) is pooled; the lazy submit is not"
    bots = _players(injector_0="oracle", solver_0="oracle", solver_1="lazy")
    totals, infos = play(env, bots, seed=1)
    assert (
        infos["solver_0"]["order"] == 2
        and "already tried" in infos["solver_0"]["messages"][1]["content"]
    )
    assert totals["solver_0"] == 1.0 and totals["solver_1"] == -1.0
    assert totals["injector_0"] == 0.0


def test_rule_injector_mode_is_repair_only_play():
    env = _env(num_solvers=2, injector="rule")
    totals, infos = play(env, _players(solver_0="oracle", solver_1="lazy"), seed=0)
    assert totals["solver_0"] == 1.0 and totals["solver_1"] == -1.0


# ---- single-agent views ---------------------------------------------------------------------------
def test_gymnasium_solver_view_repair_only(artifact):
    env = gymnasium.make(ID, learner="solver_0", opponent="oracle", num_solvers=2)
    obs, info = env.reset(seed=0, options={"artifact": artifact})
    assert "restores tests" in obs and info["role"] == "solver"
    _, reward, term, trunc, info = env.step("<submit/>")
    assert term and reward == -1.0 and info["solved"] is False


def test_gymnasium_injector_view_against_scripted_solvers(artifact):
    env = gymnasium.make(ID, learner="injector_0", opponent="oracle", num_solvers=2)
    obs, info = env.reset(seed=0)
    assert "Hand in" in obs and info["role"] == "injector"
    _, reward, term, _, info = env.step("<submit>\n" + artifact.to_json() + "\n</submit>")
    assert term and info["solve_rate"] == 1.0 and reward == pytest.approx(-0.8)


def test_registry_defaults():
    spec = selfplay_gym.spec(ID)
    env = spec.make()
    assert env.num_solvers == 4 and env.alpha == 0.8 and env.max_order == 2
    from selfplay_gym.envs.code_repair.env import BugInjectRepairEnv

    assert BugInjectRepairEnv().num_solvers == 8, "the paper's group size is the class default"
