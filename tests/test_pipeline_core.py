"""The pipeline base and the proposer reward rules: formulas on hand-computed cases and phase flows."""

from __future__ import annotations

import pickle
import re
import threading
import time

import numpy as np
import pytest
from pettingzoo.test import api_test

from selfplay_gym.core.pipeline import ProposeSolveEnv, Scored, TaskBuffer, as_scored
from selfplay_gym.core.rewards import (
    AZRLearnability,
    Band,
    IntermediateDifficulty,
    MAEBlend,
    OneMinusS,
    PasoDoble,
    QuestionHistory,
    SSRInjector,
    jaccard,
    proposer_rule,
)


def total(components):
    return sum(components.values())


# ---- reward rules ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rule", "s", "expected"),
    [
        (OneMinusS(), 0.0, 1.0),
        (OneMinusS(), 1.0, 0.0),
        (OneMinusS(), 0.4, 0.6),
        (AZRLearnability(), 0.0, 0.0),
        (AZRLearnability(), 1.0, 0.0),
        (AZRLearnability(), 0.25, 0.75),
        (IntermediateDifficulty(), 0.0, 0.0),
        (IntermediateDifficulty(), 1.0, 0.0),
        (IntermediateDifficulty(), 0.5, 1.0),
        (IntermediateDifficulty(), 0.2, 0.64),
        (Band(), 0.0, 0.0),
        (Band(), 0.125, 1.0),
        (Band(), 0.625, 1.0),
        (Band(), 0.75, 0.0),
        (Band(), 1.0, 0.0),
        (SSRInjector(), 0.0, -0.8),
        (SSRInjector(), 1.0, -0.8),
        (SSRInjector(), 0.25, 1 - 1.8 * 0.25),
        (SSRInjector(alpha=0.5), 0.5, 0.25),
    ],
)
def test_rules_match_their_formulas(rule, s, expected):
    assert total(rule(s)) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("s", "diversity", "expected"),
    [
        (0.0, 1.0, 0.0),  # p <= 0.2: nothing
        (0.2, 1.0, 0.0),
        (0.5, 0.3, 0.0),  # diversity <= 0.3: nothing
        (0.5, 0.31, 1.1 - 0.5 + 0.2 * 0.31),
        (1.0, 1.0, 1.1 - 1.0 + 0.2),
        (0.21, 0.5, 1.1 - 0.21 + 0.1),
    ],
)
def test_pasodoble(s, diversity, expected):
    assert total(PasoDoble()(s, diversity=diversity)) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("q", "s", "fmt", "expected"),
    [
        (0.7, 0.0, 1.0, (0.7 + 1.0 + 1.0) / 3),  # at the gate, difficulty counts
        (0.69, 0.0, 1.0, (0.69 + 1.0) / 3),  # just below: dropped
        (1.0, 1.0, 1.0, (1.0 + 0.0 + 1.0) / 3),
        (0.9, 0.4, 0.0, (0.9 + 0.6) / 3),
        (0.0, 0.0, 0.0, 0.0),
    ],
)
def test_mae_blend(q, s, fmt, expected):
    parts = MAEBlend()(s, quality=q, fmt=fmt)
    assert total(parts) == pytest.approx(expected)
    assert ("difficulty" in parts) == (q >= 0.7)


def test_rule_lookup_and_bad_rates():
    assert isinstance(proposer_rule("azr"), AZRLearnability)
    assert total(proposer_rule(lambda s: 2 * s)(0.25)) == 0.5
    assert SSRInjector().invalid_reward == -1.0 and OneMinusS().invalid_reward is None
    with pytest.raises(ValueError, match="proposer rule among"):
        proposer_rule("hardest")
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="solve rate in"):
            OneMinusS()(bad)
    with pytest.raises(ValueError, match="lo <= hi"):
        Band(0.7, 0.2)


def test_jaccard_diversity_over_a_bounded_history():
    assert jaccard("a b c", "b c d") == 0.5
    h = QuestionHistory(size=3)
    assert h.diversity("anything") == 1.0
    for q in ["what is 3 times 4", "name the largest prime below 20", "what is 3 times 5"]:
        h.add(q)
    # "what is 3 times 4 now": {what,is,3,times,4,now} vs the first: 5/6 > 0.8 -> a copy of it
    assert h.diversity("what is 3 times 4 now") == pytest.approx(2 / 3)
    h.add("x")
    assert len(h) == 3  # the oldest is forgotten
    assert h.diversity("what is 3 times 4 now") == pytest.approx(1.0)


def test_task_buffer_is_bounded_and_seeded():
    buf = TaskBuffer(maxlen=3, seed_tasks=[{"question": str(i)} for i in range(5)])
    assert [t["question"] for t in buf] == ["2", "3", "4"]
    a = buf.sample(np.random.default_rng(0), 2)
    b = buf.sample(np.random.default_rng(0), 2)
    assert a == b and len({t["question"] for t in a}) == 2
    assert TaskBuffer().sample(np.random.default_rng(0), 3) == []


def test_as_scored_reads_verdicts_and_refuses_garbage():
    class V:
        score, ok, reason = 0.9, False, "timeout"

    assert as_scored(V()) == Scored(0.9, False, "timeout")
    assert as_scored(2.0).score == 1.0 and as_scored(-1).score == 0.0
    assert as_scored("yes", 0.5) == Scored(0.5, False, "the verifier returned 'yes'")
    assert as_scored(None, 0.25).score == 0.25


def test_as_scored_reads_numpy_scalars():
    # Reward models and classifiers return numpy scalars; they are numbers, not garbage.
    assert as_scored(np.float32(0.75)) == Scored(0.75, True, "")
    assert as_scored(np.int64(1)) == Scored(1.0, True, "")
    assert as_scored(np.bool_(False)) == Scored(0.0, True, "")
    assert as_scored(np.float64("nan"), 0.5).ok is False


# ---- a toy pipeline ------------------------------------------------------------------------------
class SumTask(ProposeSolveEnv):
    """Propose a sum in <q>..</q><a>..</a>; solvers answer <a>..</a>."""

    def _proposer_prompt(self, options):
        return "You pose sums.", "Write <q>a sum</q><a>its value</a>."

    def _parse_proposal(self, text):
        q, a = re.search(r"<q>(.*?)</q>", text), re.search(r"<a>(.*?)</a>", text)
        if not q or not a:
            return None, "expected <q>...</q><a>...</a>"
        return {"question": q.group(1), "answer": a.group(1)}, None

    def _validate(self, task):
        return {"answer_not_in_question": task["answer"] not in task["question"]}

    def _solver_prompt(self, task):
        return "You solve sums.", f"Sum: {task['question']}"

    def _verify(self, task, reply):
        m = re.search(r"<a>(.*?)</a>", reply)
        if not m:
            return None, Scored(0.0, True, "no <a> tag")
        return m.group(1), m.group(1).strip() == task["answer"]

    def _judge_prompt(self, task, response):
        return "You judge.", f"Task: {task['question']}\nResponse: {response}"

    def _read_judgement(self, text):
        m = re.search(r"score (\d+)", text)
        return None if m is None else int(m.group(1)) / 10


def play(env, reply, seed=0, options=None):
    """Play until the end with ``reply(agent, observation)``; returns totals and last infos."""
    env.reset(seed=seed, options=options)
    totals, last = {}, {}
    for agent in env.agent_iter(200):
        obs, reward, term, trunc, info = env.last()
        totals[agent] = totals.get(agent, 0.0) + reward
        last[agent] = info
        assert reward == pytest.approx(sum(info["reward_components"].values()))
        env.step(None if term or trunc else reply(agent, obs))
    return totals, last


def sums(right=("solver_0", "solver_1")):
    def reply(agent, obs):
        if agent == "proposer_0":
            return "<q>2+2</q><a>4</a>"
        return "<a>4</a>" if agent in right else "<a>5</a>"

    return reply


def test_the_proposer_gets_its_rule_of_the_solve_rate_and_solvers_their_scores():
    totals, last = play(SumTask(num_solvers=3), sums())
    assert totals == pytest.approx(
        {"proposer_0": 1 - 2 / 3, "solver_0": 1.0, "solver_1": 1.0, "solver_2": 0.0}
    )
    assert last["proposer_0"]["solve_rate"] == pytest.approx(2 / 3)
    assert last["proposer_0"]["task_valid"] is True


@pytest.mark.parametrize(("right", "expected"), [((), 0.0), (("solver_0", "solver_1"), 0.0)])
def test_azr_gives_nothing_at_s_0_and_s_1(right, expected):
    env = SumTask(num_solvers=2, proposer_reward="azr")
    totals, _ = play(env, sums(right))
    assert totals["proposer_0"] == expected


def test_an_invalid_task_ends_the_episode_with_the_invalid_reward():
    env = SumTask(num_solvers=2, invalid_reward=-0.5)
    totals, last = play(env, lambda a, o: "<q>4 is 4</q><a>4</a>")
    assert totals["proposer_0"] == -0.5 and totals["solver_0"] == 0.0
    assert last["proposer_0"]["validity"] == {"parsed": True, "answer_not_in_question": False}
    assert last["proposer_0"]["reward_components"] == {"invalid_task": -0.5}
    # SSR's rule carries its own invalid reward
    totals, _ = play(SumTask(num_solvers=1, proposer_reward="ssr"), lambda a, o: "junk")
    assert totals["proposer_0"] == -1.0


def test_retries_give_feedback_and_a_second_chance():
    env = SumTask(num_solvers=1, retries=1)
    replies = iter(["nonsense", "<q>1+1</q><a>2</a>", "I think 2", "<a>2</a>"])
    totals, _ = play(env, lambda a, o: next(replies))
    assert totals == {"proposer_0": 0.0, "solver_0": 1.0}
    env.reset(seed=0)
    env.step("nonsense")
    assert env.agent_selection == "proposer_0" and env.infos["proposer_0"]["invalid_action"]
    assert "could not be read" in env.observe("proposer_0")


def test_an_unreadable_answer_scores_zero_and_the_phase_goes_on():
    totals, last = play(
        SumTask(num_solvers=2), lambda a, o: "<q>1+1</q><a>2</a>" if a == "proposer_0" else "two"
    )
    assert totals == {"proposer_0": 1.0, "solver_0": 0.0, "solver_1": 0.0}


def test_a_verifier_that_raises_is_recorded_as_a_wrong_answer():
    class Broken(SumTask):
        def _verify(self, task, reply):
            raise RuntimeError("sympy blew up")

    totals, last = play(Broken(num_solvers=1, retries=2), sums())
    assert totals["solver_0"] == 0.0 and last["solver_0"]["turn"] == 1  # scored, not retried
    assert last["solver_0"]["verdict_ok"] is False
    assert "verifier error: RuntimeError" in last["solver_0"]["verdict"]


def test_the_judge_agent_scores_the_task_and_each_answer():
    env = SumTask(num_solvers=2, judge="agent", judge_answers=True, proposer_reward="mae")
    assert env.possible_agents[-1] == "judge_0"
    seen = []

    def reply(agent, obs):
        if agent == "judge_0":
            seen.append(obs)
            return "score 8" if "Response: None" in obs else "score 6"
        return sums()(agent, obs)

    totals, last = play(env, reply)
    assert len(seen) == 3 and "Response: None" in seen[0]  # the task first, then each answer
    q, s = 0.8, 0.6
    assert totals["proposer_0"] == pytest.approx((q + (1 - s) + 1) / 3)
    assert totals["solver_0"] == pytest.approx(0.6) and totals["judge_0"] == pytest.approx(1.0)
    assert last["proposer_0"]["quality"] == pytest.approx(0.8)


def test_a_failing_judge_gives_the_fallback_never_a_crash():
    def judge(task, response):
        raise TimeoutError("judge server down")

    env = SumTask(num_solvers=1, judge=judge, judge_answers=True, proposer_reward="mae")
    totals, last = play(env, sums())
    assert last["solver_0"]["score"] == 0.5 and last["solver_0"]["verdict_ok"] is False
    assert totals["proposer_0"] == pytest.approx((0.5 + 1) / 3)  # q = 0.5 < 0.7: no difficulty
    # an agent judge that never writes a score: the fallback too
    env = SumTask(num_solvers=1, judge="agent", judge_answers=True, min_quality=0.6)
    totals, last = play(env, lambda a, o: "no idea" if a == "judge_0" else sums()(a, o))
    assert (
        last["proposer_0"]["task_valid"] is False
        and last["proposer_0"]["validity"]["quality"] is False
    )


def test_a_judge_that_hangs_times_out_to_the_fallback_and_the_episode_goes_on():
    release = threading.Event()
    calls = []

    def judge(task, response):
        calls.append(response)
        release.wait(3.0)  # hangs (until the test lets it go)
        return 1.0

    env = SumTask(
        num_solvers=2, judge=judge, judge_answers=True, proposer_reward="mae", judge_timeout=0.2
    )
    start = time.perf_counter()
    try:
        totals, last = play(env, sums())
        elapsed = time.perf_counter() - start
    finally:
        release.set()
    assert elapsed < 1.5  # one timeout, not three: the stuck call is never joined
    assert calls == [None]  # the judge is not entered again while its abandoned call runs
    assert last["proposer_0"]["quality"] == 0.5
    assert last["proposer_0"]["quality_error"] == "judge timed out after 0.2 s"
    for solver in ("solver_0", "solver_1"):
        assert last[solver]["score"] == 0.5 and last[solver]["verdict_ok"] is False
        assert last[solver]["verdict"].startswith("judge skipped: an earlier call that timed out")
    assert totals["proposer_0"] == pytest.approx((0.5 + 1) / 3)  # q = 0.5 < 0.7: no difficulty


def test_a_judge_that_was_slow_once_is_asked_again_when_its_call_returns():
    slow = [True]

    def judge(task, response):
        if slow[0]:
            slow[0] = False
            time.sleep(0.4)
        return 0.9

    env = SumTask(num_solvers=1, judge=judge, judge_answers=True, judge_timeout=0.2)
    _, last = play(env, sums())
    assert last["proposer_0"]["quality_error"] == "judge timed out after 0.2 s"
    time.sleep(0.5)  # the abandoned call has returned by now
    _, last = play(env, sums(), seed=1)
    assert last["proposer_0"]["quality"] == 0.9 and "quality_error" not in last["proposer_0"]
    assert last["solver_0"]["score"] == 0.9 and last["solver_0"]["verdict_ok"] is True
    # Without a limit the judge runs in the caller's thread.
    threads = []
    env = SumTask(
        num_solvers=1,
        judge=lambda t, r: threads.append(threading.current_thread()) or 0.9,
        judge_timeout=None,
    )
    play(env, sums())
    assert threads == [threading.main_thread()]
    assert pickle.loads(pickle.dumps(SumTask(judge_timeout=0.2))).judge_limit.seconds == 0.2


def test_a_given_task_is_the_solvers_side_alone():
    totals, _ = play(
        SumTask(num_solvers=2), sums(), options={"task": {"question": "2+2", "answer": "4"}}
    )
    assert totals["solver_0"] == 1.0 and totals["proposer_0"] == 0.0


def test_accepted_tasks_enter_the_buffer_and_survive_pickling():
    env = SumTask(num_solvers=1)
    play(env, sums())
    assert [t["question"] for t in env.buffer] == ["2+2"]
    env.reset(seed=3)
    copy = pickle.loads(pickle.dumps(env))
    assert [t["question"] for t in copy.buffer] == ["2+2"] and copy.agent_selection == "proposer_0"


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError, match="num_solvers"):
        SumTask(num_solvers=0)
    with pytest.raises(TypeError, match="judge"):
        SumTask(judge="yes please")
    with pytest.raises(ValueError, match="needs a judge"):
        SumTask(judge_answers=True)


@pytest.mark.parametrize("judge", [None, "agent"])
def test_pettingzoo_api(judge):
    api_test(SumTask(num_solvers=2, judge=judge, judge_answers=judge is not None), num_cycles=200)


def test_as_scored_refuses_infinities():
    assert as_scored(float("inf"), 0.5) == Scored(0.5, False, "the verifier returned inf")
    assert as_scored(float("-inf")).ok is False
