"""Multi-Agent Evolve (selfplay/ProposerSolverJudge-v0): protocol, judge parsing, every reward, judge failures."""

from __future__ import annotations

import pickle
import random
import threading
import time

import pytest
from gymnasium.utils.env_checker import data_equivalence

import selfplay_gym
from selfplay_gym.core.rewards import MAEBlend
from selfplay_gym.core.verifiers import QUESTION_RUBRIC, RubricJudge, Verdict
from selfplay_gym.envs.reasoning.mae import (
    ProposerSolverJudgeEnv,
    ScriptedMAEPlayer,
    arithmetic_value,
    read_score,
)

SEEDS = ["What is 2 + 2?", {"problem": "Solve 2x = 10 for x.", "answer": "5"}]
PROPOSAL = "<think>ok</think><question>What is 6 * 7?</question><answer>42</answer>"
N = 5


def make(**kwargs):
    kwargs.setdefault("seed_tasks", SEEDS)
    return ProposerSolverJudgeEnv(**kwargs)


def run(env, replies, seed=0, options=None):
    """Play one episode; ``replies[role]`` is a str, a list consumed in order, or f(env, agent).

    Returns the returns per agent and each agent's info when it left.
    """
    env.reset(seed=seed, options=options)
    queues = {k: list(v) for k, v in replies.items() if isinstance(v, list)}
    returns: dict[str, float] = {}
    final: dict[str, dict] = {}
    while env.agents:
        agent = env.agent_selection
        _, reward, term, trunc, info = env.last()
        assert reward == pytest.approx(sum(info["reward_components"].values()))
        returns[agent] = returns.get(agent, 0.0) + reward
        if term or trunc:
            final[agent] = info
            env.step(None)
            continue
        role = info["role"]
        reply = replies[role]
        if role in queues:
            reply = queues[role].pop(0)
        elif callable(reply):
            reply = reply(env, agent)
        env.step(reply)
    return returns, final


def score(x):
    return f"<think>reasons</think><score>{x}</score>"


# ---- parsing ----------------------------------------------------------------------------------
def test_read_score_normalises_mae_style():
    assert read_score(score(10)) == (1.0, 1)
    assert read_score(score(1)) == (0.0, 1)
    assert read_score(score(7))[0] == pytest.approx(6 / 9)
    assert read_score("<score>7/10</score>")[0] == pytest.approx(6 / 9)
    assert read_score("<score>14</score>")[0] == 1.0  # clipped
    assert read_score("no tag, but I'd say 4")[0] == pytest.approx(3 / 9)
    assert read_score("nothing here") == (None, 0)
    assert read_score(score(3) + score(9)) == (pytest.approx(8 / 9), 2)  # the last tag counts


def test_arithmetic_value_reads_the_first_expression():
    assert arithmetic_value("What is 6 * 7?") == 42
    assert arithmetic_value("What is 2 + 3 * 4 - 5?") == 9
    assert arithmetic_value("What is 10 - -3?") == 13
    assert arithmetic_value("no numbers") is None
    assert arithmetic_value("9" * 100_000) is None


# ---- the protocol -----------------------------------------------------------------------------
def test_agents_and_order_with_the_judge_as_an_agent():
    env = make()
    assert env.possible_agents == ["proposer_0", *[f"solver_{i}" for i in range(N)], "judge_0"]
    env.reset(seed=0)
    order = []
    while env.agents:
        agent = env.agent_selection
        if env.terminations[agent]:
            env.step(None)
            continue
        order.append(agent)
        role = env.infos[agent]["role"]
        env.step({"proposer": PROPOSAL, "solver": "<answer>42</answer>", "judge": score(9)}[role])
    assert order == [
        "proposer_0",
        "judge_0",
        *[f"solver_{i}" for i in range(N)],
        *["judge_0"] * N,
    ]


def test_solvers_and_judge_see_the_question_but_not_the_proposers_answer():
    env = make()
    env.reset(seed=0, options={"reference": None})
    env.step(PROPOSAL)
    assert env.agent_selection == "judge_0"
    judge_prompt = env.observe("judge_0")
    assert "What is 6 * 7?" in judge_prompt and "<score>" in judge_prompt
    assert env.agent_view("judge_0") == {
        "role": "judge",
        "turn": 0,
        "phase": "validate",
        "question": "What is 6 * 7?",
        "judging": "question",
        "answer": None,
    }
    env.step(score(9))
    assert "What is 6 * 7?" in env.observe("solver_0")
    assert "42" not in env.observe("solver_0")
    assert env.agent_view("solver_0")["question"] == "What is 6 * 7?"
    assert "answer" not in env.agent_view("solver_0")
    for i in range(N):
        env.step(f"<answer>{40 + i}</answer>")
    view = env.agent_view("judge_0")
    assert view["judging"] == "answer" and view["answer"] == "40"
    assert "40" in env.observe("judge_0") and env.infos["judge_0"]["judging"] == "solver_0"


def test_reference_prompts_and_the_half_reference_default():
    env = make(include_references=1.0)
    env.reset(seed=0)
    view = env.agent_view("proposer_0")
    assert view["reference"] in ("What is 2 + 2?", "Solve 2x = 10 for x.")
    assert "harder variant" in env.observe("proposer_0")
    assert env.infos["proposer_0"]["reference_task"] == view["reference"]
    env = make(include_references=0.0)
    env.reset(seed=0)
    assert env.agent_view("proposer_0")["reference"] is None
    assert "new, original" in env.observe("proposer_0")
    env = make()
    with_ref = 0
    for seed in range(60):
        env.reset(seed=seed)
        with_ref += env.agent_view("proposer_0")["reference"] is not None
    assert 15 < with_ref < 45
    env.reset(seed=1, options={"reference": "Count the primes below 30."})
    assert "Count the primes below 30." in env.observe("proposer_0")
    env.reset(seed=1, options={"reference": 12345})  # malformed: no reference, no crash
    assert env.agent_view("proposer_0")["reference"] is None


def test_the_buffer_is_seeded_from_the_fixture_problems_by_default():
    from selfplay_gym.envs.reasoning.tasks import load_problems

    env = ProposerSolverJudgeEnv()
    problems = [p["problem"] for p in load_problems("fixture")]
    assert [t["question"] for t in env.buffer] == problems
    assert len(make(seed_tasks=None).buffer) == 0


# ---- rewards -----------------------------------------------------------------------------------
def test_s_equal_1_and_q_equal_1():
    env = make()
    returns, final = run(
        env, {"proposer": PROPOSAL, "solver": "<answer>42</answer>", "judge": score(10)}
    )
    assert final["proposer_0"]["reward_components"] == pytest.approx(
        {"quality": 1 / 3, "difficulty": 0.0, "format": 1 / 3}
    )
    assert returns["proposer_0"] == pytest.approx(2 / 3)
    assert final["proposer_0"]["solve_rate"] == 1.0 and final["proposer_0"]["quality"] == 1.0
    for i in range(N):
        assert final[f"solver_{i}"]["reward_components"] == {"judge": 0.5, "format": 0.5}
        assert returns[f"solver_{i}"] == 1.0
    assert returns["judge_0"] == pytest.approx(1.0)  # 6 well-formed judgements of 1/6


def test_s_equal_0_with_a_perfect_question():
    env = make()
    judge = [score(10), *[score(1)] * N]
    returns, final = run(
        env, {"proposer": PROPOSAL, "solver": "<answer>41</answer>", "judge": judge}
    )
    assert returns["proposer_0"] == pytest.approx(1.0)  # (1 + 1 + 1) / 3
    assert final["proposer_0"]["solve_rate"] == 0.0
    assert all(returns[f"solver_{i}"] == pytest.approx(0.5) for i in range(N))  # format only


def test_mixed_answers_hand_computed():
    env = make()
    # q = (9-1)/9; answers judged 10, 10, 1, 4, 7 -> scores 1, 1, 0, 1/3, 2/3; s = 0.6
    judge = [score(9), score(10), score(10), score(1), score(4), score(7)]
    returns, final = run(
        env, {"proposer": PROPOSAL, "solver": "<answer>x</answer>", "judge": judge}
    )
    q, s = 8 / 9, 0.6
    assert final["proposer_0"]["solve_rate"] == pytest.approx(s)
    assert returns["proposer_0"] == pytest.approx((q + (1 - s) + 1) / 3)
    assert returns["solver_3"] == pytest.approx(0.5 * (1 / 3) + 0.5)
    assert returns["solver_4"] == pytest.approx(0.5 * (2 / 3) + 0.5)


@pytest.mark.parametrize(("raw", "gated_in"), [(7.29, False), (7.31, True), (1, False), (10, True)])
def test_quality_gate_just_below_and_above_0_7(raw, gated_in):
    env = make()
    before = len(env.buffer)
    judge = [score(raw), *[score(4)] * N]  # every answer 1/3: s = 1/3
    returns, final = run(
        env, {"proposer": PROPOSAL, "solver": "<answer>1</answer>", "judge": judge}
    )
    q = (raw - 1) / 9
    parts = final["proposer_0"]["reward_components"]
    assert ("difficulty" in parts) == gated_in
    expected = (q + (1 - 1 / 3) + 1) / 3 if gated_in else (q + 1) / 3
    assert returns["proposer_0"] == pytest.approx(expected)
    assert final["proposer_0"]["pooled"] == gated_in
    assert len(env.buffer) == before + gated_in
    if gated_in:
        assert list(env.buffer)[-1]["question"] == "What is 6 * 7?"
        assert list(env.buffer)[-1]["answer"] == "42"


def test_mae_blend_rule_matches_the_reference_formula():
    rule = MAEBlend(gate=0.7)
    assert sum(rule(0.0, quality=1.0).values()) == pytest.approx(1.0)
    assert sum(rule(1.0, quality=1.0).values()) == pytest.approx(2 / 3)
    assert sum(rule(0.0, quality=0.69).values()) == pytest.approx((0.69 + 1) / 3)
    assert sum(rule(0.5, quality=0.7).values()) == pytest.approx((0.7 + 0.5 + 1) / 3)


def test_no_question_is_an_invalid_task_worth_zero():
    env = make()
    returns, final = run(env, {"proposer": "I will not write one.", "solver": "", "judge": ""})
    assert final["proposer_0"]["reward_components"] == {"invalid_task": 0.0}
    assert final["proposer_0"]["parse"]["ok"] is False
    assert final["proposer_0"]["validity"] == {"parsed": False}
    assert all(final[f"solver_{i}"]["reward_components"] == {"invalid_task": 0.0} for i in range(N))
    assert final["judge_0"]["turn"] == 0
    assert (
        run(make(), {"proposer": "<question>  </question>", "solver": "", "judge": ""})[0][
            "proposer_0"
        ]
        == 0.0
    )


def test_an_answer_without_a_tag_is_not_judged_and_scores_zero():
    env = make()
    solvers = ["<answer>42</answer>", "42 is my answer", *["<answer>42</answer>"] * 3]
    judge = [score(10), *[score(10)] * 4]  # only four answers reach the judge
    returns, final = run(env, {"proposer": PROPOSAL, "solver": solvers, "judge": judge})
    assert final["solver_1"]["reward_components"] == {"judge": 0.0, "format": 0.0}
    assert final["solver_1"]["answer_format"] is False and final["solver_1"]["invalid_action"]
    assert final["proposer_0"]["solve_rate"] == pytest.approx(0.8)
    assert returns["proposer_0"] == pytest.approx((1 + 0.2 + 1) / 3)
    assert final["judge_0"]["turn"] == 5
    assert returns["judge_0"] == pytest.approx(5 / 6)


# ---- judge failures ----------------------------------------------------------------------------
def test_unreadable_judge_agent_replies_fall_back_to_half():
    env = make()
    judge = ["I cannot decide.", score(10), "no idea", score(10), score(10), score(10)]
    returns, final = run(
        env, {"proposer": PROPOSAL, "solver": "<answer>42</answer>", "judge": judge}
    )
    assert final["proposer_0"]["quality"] == 0.5 and final["proposer_0"]["quality_ok"] is False
    assert "difficulty" not in final["proposer_0"]["reward_components"]  # 0.5 < 0.7
    assert returns["proposer_0"] == pytest.approx((0.5 + 1) / 3)
    assert final["solver_1"]["score"] == 0.5 and final["solver_1"]["verdict_ok"] is False
    assert returns["solver_1"] == pytest.approx(0.75)
    assert returns["judge_0"] == pytest.approx(4 / 6)  # no format credit for the two failures


def test_a_score_without_a_tag_is_read_but_earns_no_format():
    env = make()
    judge = ["I would say 10 overall.", *[score(10)] * N]
    returns, final = run(
        env, {"proposer": PROPOSAL, "solver": "<answer>42</answer>", "judge": judge}
    )
    assert final["proposer_0"]["quality"] == 1.0
    assert returns["judge_0"] == pytest.approx(5 / 6)


def test_judge_retries_with_feedback():
    env = make(retries=1)
    judge = ["hmm", score(10), *[score(10)] * N]
    returns, final = run(
        env, {"proposer": PROPOSAL, "solver": "<answer>42</answer>", "judge": judge}
    )
    assert final["proposer_0"]["quality"] == 1.0
    assert returns["judge_0"] == pytest.approx(1.0)


def test_callable_judge_replaces_the_agent():
    calls = []

    def judge(question, answer):
        calls.append((question, answer))
        return Verdict(1.0 if answer is None else (1.0 if answer == "42" else 0.0))

    env = make(judge=judge)
    assert "judge_0" not in env.possible_agents
    solvers = ["<answer>42</answer>", "<answer>41</answer>", *["<answer>42</answer>"] * 3]
    returns, final = run(env, {"proposer": PROPOSAL, "solver": solvers})
    assert calls[0] == ("What is 6 * 7?", None) and len(calls) == 1 + N
    assert returns["proposer_0"] == pytest.approx((1 + 0.2 + 1) / 3)
    assert returns["solver_1"] == 0.5 and returns["solver_0"] == 1.0


def test_rubric_judge_as_the_callable():
    judge = RubricJudge(lambda prompt: "Clear. <score>10</score>", QUESTION_RUBRIC)
    returns, _ = run(make(judge=judge), {"proposer": PROPOSAL, "solver": "<answer>42</answer>"})
    assert returns["proposer_0"] == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    "bad",
    [
        lambda q, a: 1 / 0,
        lambda q, a: "garbage",
        lambda q, a: float("nan"),
        lambda q, a: Verdict(0.9, ok=False, reason="could not grade"),
    ],
)
def test_failing_callable_judges_fall_back_to_half(bad):
    returns, final = run(make(judge=bad), {"proposer": PROPOSAL, "solver": "<answer>42</answer>"})
    assert final["proposer_0"]["quality"] == 0.5 and final["proposer_0"]["quality_ok"] is False
    assert final["proposer_0"]["quality_error"]
    assert returns["proposer_0"] == pytest.approx((0.5 + 1) / 3)
    for i in range(N):
        assert final[f"solver_{i}"]["score"] == 0.5 and final[f"solver_{i}"]["verdict_ok"] is False
        assert returns[f"solver_{i}"] == pytest.approx(0.75)


def test_judge_none_is_refused():
    with pytest.raises(ValueError, match="needs a judge"):
        make(judge=None)


# ---- whole episodes ----------------------------------------------------------------------------
def test_scripted_players_produce_every_outcome():
    env = make(render_mode="ansi")
    bot = ScriptedMAEPlayer(seed=0)
    seen = set()
    for seed in range(80):
        returns, final = run(env, {r: bot.act for r in ("proposer", "solver", "judge")}, seed)
        p = final["proposer_0"]
        if not p.get("task_valid", False):
            seen.add("invalid")
        else:
            seen.add("pooled" if p["pooled"] else "below_gate")
            if not p["quality_ok"]:
                seen.add("judge_fallback")
        for i in range(N):
            seen.add(("solver", final[f"solver_{i}"]["reward_components"].get("format")))
        assert env.render()
    assert {"invalid", "pooled", "below_gate", "judge_fallback"} <= seen
    assert {("solver", 0.0), ("solver", 0.5)} <= seen


def test_pickle_mid_episode_keeps_the_buffer_and_replays():
    env = make()
    env.reset(seed=3)
    env.step(PROPOSAL)
    env.step(score(9))
    clone = pickle.loads(pickle.dumps(env))
    assert len(clone.buffer) == len(env.buffer)
    rng = random.Random(0)
    while env.agents:
        agent = env.agent_selection
        done = env.terminations[agent]
        action = (
            None
            if done
            else {"solver": "<answer>42</answer>", "judge": score(rng.randint(1, 10))}[
                env.infos[agent]["role"]
            ]
        )
        env.step(action)
        clone.step(action)
        if not env.agents:
            assert not clone.agents
            break
        assert data_equivalence(env.last(), clone.last(), exact=True)


def test_registered_id_uses_the_papers_constants():
    env = selfplay_gym.make("selfplay/ProposerSolverJudge-v0")
    assert env.num_solvers == 5 and env.judge_is_agent and env.include_references == 0.5
    assert env.proposer_reward == MAEBlend(gate=0.7)


def test_a_hung_callable_judge_times_out_to_half_and_the_episode_goes_on():
    release = threading.Event()
    calls = []

    def hangs(question, answer=None):
        calls.append(answer)
        release.wait(3.0)
        return Verdict(1.0)

    start = time.perf_counter()
    try:
        returns, final = run(
            make(judge=hangs, judge_timeout=0.2),
            {"proposer": PROPOSAL, "solver": "<answer>42</answer>"},
        )
        elapsed = time.perf_counter() - start
    finally:
        release.set()
    assert elapsed < 1.5 and calls == [None]  # one timeout; the stuck judge is not re-entered
    assert final["proposer_0"]["quality"] == 0.5 and final["proposer_0"]["quality_ok"] is False
    assert final["proposer_0"]["quality_error"] == "judge timed out after 0.2 s"
    assert returns["proposer_0"] == pytest.approx((0.5 + 1) / 3)
    for i in range(N):
        assert final[f"solver_{i}"]["score"] == 0.5 and final[f"solver_{i}"]["verdict_ok"] is False
        assert "timed out after 0.2 s is still running" in final[f"solver_{i}"]["verdict"]
        assert returns[f"solver_{i}"] == pytest.approx(0.75)
