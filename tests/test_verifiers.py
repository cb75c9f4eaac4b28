"""Verifiers: exact match, math equivalence, sandboxed Python output, LLM/pairwise/safety judges."""

from __future__ import annotations

import os
import pickle
import threading
import time
import uuid
from pathlib import Path

import pytest

from selfplay_gym.core.verifiers import (
    ANSWER_RUBRIC,
    QUESTION_RUBRIC,
    ExactMatch,
    JudgeTimeout,
    KeywordSafetyJudge,
    MathAnswer,
    PairwiseJudge,
    PythonOutput,
    RubricJudge,
    RunResult,
    SafetyJudge,
    Verdict,
    WallClockLimit,
    parse_score,
    win_rates,
)


# ---- ExactMatch ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("prediction", "references", "score"),
    [
        ("The Eiffel Tower.", "eiffel tower", 1.0),
        ("  an   APPLE!! ", ["pear", "apple"], 1.0),
        ("a theory", "theory", 1.0),  # only whole-word articles are dropped
        ("theater", "ater", 0.0),
        ("Paris, France", "paris", 0.0),
        ("", "", 1.0),
        ("cat", [], 0.0),
    ],
)
def test_exact_match_normalizes_like_squad(prediction, references, score):
    assert ExactMatch()(prediction, references).score == score


# ---- MathAnswer ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def math_answer():
    return MathAnswer()


@pytest.mark.parametrize(
    ("prediction", "reference"),
    [
        (r"\frac{1}{2}", "0.5"),
        ("0.5", r"\frac{1}{2}"),
        (r"So the answer is \boxed{\frac{6}{8}}.", r"\frac{3}{4}"),
        (r"2\sqrt{2}", r"\sqrt{8}"),
        (r"\sqrt{8}", r"2\sqrt{2}"),
        ("2", "x=2"),
        (r"\boxed{x = 2}", "x=2"),
        ("The answer is 42.", "42"),
        (r"First \boxed{41}, no wait: \boxed{42}", "42"),
        (r"\boxed{\$12}", "12"),
        (r"\boxed{49\pi}", r"49\pi"),
    ],
)
def test_math_answer_accepts_equivalent_forms(math_answer, prediction, reference):
    verdict = math_answer(prediction, reference)
    assert verdict.ok and verdict.score == 1.0, verdict


@pytest.mark.parametrize(
    ("prediction", "reference"),
    [
        ("41", "42"),
        (r"\boxed{\frac{2}{3}}", r"\frac{3}{4}"),
        (r"\boxed{42} ... actually \boxed{43}", "42"),
        (r"\sqrt{2}", r"2\sqrt{2}"),
        ("", "3"),
        (r"\boxed{}", "3"),
        ("banana split", "3"),
        ("}}}{{{", "3"),
    ],
)
def test_math_answer_rejects_wrong_or_garbage(math_answer, prediction, reference):
    assert math_answer(prediction, reference).score == 0.0


def test_math_answer_any_reference(math_answer):
    assert math_answer("0.25", ["1/3", r"\frac{1}{4}"]).score == 1.0


@pytest.mark.parametrize(
    "hostile",
    [
        "9^9^9^9",
        r"\boxed{9^{9^{9^{9}}}}",
        r"$9^{9^{9}}$",
        r"\boxed{(10^{10})!}",
        r"\boxed{\binom{10^9}{10^5}}",
        r"\boxed{2^{100000000}}",
        r"\boxed{\int_0^1 x^{9^9} dx}",
        "x^" * 5000,
        r"\sqrt{" * 3000,
        "{" * 100_000,
        "1+" * 100_000,
    ],
)
def test_math_answer_hostile_input_returns_fast(math_answer, hostile):
    start = time.perf_counter()
    verdict = math_answer(hostile, "3")
    assert time.perf_counter() - start < 2.0
    assert verdict.score == 0.0


def test_math_answer_refuses_huge_values_as_undecided(math_answer):
    verdict = math_answer(r"\boxed{9^{9^{9}}}", "3")
    assert not verdict.ok and verdict.score == math_answer.fallback
    assert "too large" in verdict.reason


def test_math_answer_works_from_a_worker_thread(math_answer):
    results = []

    def work():
        results.append(math_answer(r"\boxed{0.75}", r"\frac{3}{4}"))
        results.append(math_answer(r"\boxed{9^{9^{9}}}", "3"))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert results[0].score == 1.0 and results[0].ok
    assert not results[1].ok


def test_math_answer_pickles(math_answer):
    import pickle

    clone = pickle.loads(pickle.dumps(math_answer))
    assert clone(r"\boxed{\frac{6}{8}}", r"\frac{3}{4}").score == 1.0


def test_math_answer_without_math_verify_says_how_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_math_verify(name, *args, **kwargs):
        if name == "math_verify" or name.startswith("math_verify."):
            raise ImportError("no math_verify")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_math_verify)
    with pytest.raises(ImportError, match=r"pip install selfplay-gym\[reasoning\]"):
        MathAnswer()


# ---- PythonOutput -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def python_output():
    # The unisolated backend: these tests look at host pids; the sandboxed one has its own file.
    return PythonOutput(timeout=5.0, backend="rlimits")


def test_python_output_correct_and_wrong_predictions(python_output):
    program = "def f(xs):\n    return sorted(set(xs))[:2], {'n': len(xs)}\n"
    right = python_output.check(program, "f([3, 1, 3, 2])", "([1, 2], {'n': 4})")
    assert right.ok and right.score == 1.0
    wrong = python_output.check(program, "f([3, 1, 3, 2])", "([1, 2], {'n': 3})")
    assert wrong.ok and wrong.score == 0.0
    fenced = python_output.check(program, "f([5])", "```python\n([5], {'n': 1})\n```")
    assert fenced.score == 1.0


def test_python_output_program_prints_do_not_confuse_the_result(python_output):
    program = "print('noise')\ndef f():\n    print('more noise')\n    return 'ok'\n"
    assert python_output.check(program, "f()", "'ok'").score == 1.0


def test_python_output_unparseable_prediction_scores_zero(python_output):
    verdict = python_output.check("def f():\n    return 1\n", "f()", "one, I think")
    assert verdict.ok and verdict.score == 0.0
    assert "not a Python literal" in verdict.reason


def test_python_output_never_evaluates_the_prediction_on_the_host(python_output, tmp_path):
    marker = Path("/tmp") / f"selfplay-gym-eval-{uuid.uuid4().hex}"
    prediction = f"__import__('os').system('touch {marker}')"
    verdict = python_output.check("def f():\n    return 0\n", "f()", prediction)
    assert verdict.score == 0.0
    assert not marker.exists()


def test_python_output_crash_is_undecided(python_output):
    verdict = python_output.check("def f():\n    raise ValueError('boom')\n", "f()", "None")
    assert not verdict.ok and verdict.score == python_output.fallback
    assert "ValueError" in verdict.details["stderr"]


def test_python_output_infinite_loop_is_killed_with_its_group(python_output):
    code = (
        "import os, time\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    while True: time.sleep(0.05)\n"
        "print(pid, flush=True)\n"
        "while True: pass\n"
    )
    start = time.perf_counter()
    result = python_output.run(code, timeout=1.0)
    assert time.perf_counter() - start < 4.0
    assert result.timed_out and not result.ok and result.backend == "rlimits"
    child = int(result.stdout.split()[0])
    time.sleep(0.2)
    assert not _alive(child)


def test_python_output_timeout_via_check_is_undecided():
    verdict = PythonOutput(timeout=0.5).check("def f():\n    while True: pass\n", "f()", "1")
    assert not verdict.ok and verdict.score == 0.0 and verdict.details["timed_out"]


def test_python_output_contains_forks_and_large_allocations(python_output):
    forks = (
        "import os, time\n"
        "kids = []\n"
        "for _ in range(20):\n"
        "    try:\n"
        "        pid = os.fork()\n"
        "    except OSError:\n"
        "        break\n"
        "    if pid == 0:\n"
        "        time.sleep(60)\n"
        "        os._exit(0)\n"
        "    kids.append(pid)\n"
        "print(' '.join(map(str, kids)), flush=True)\n"
    )
    result = python_output.run(forks, timeout=3.0)
    assert result.ok
    time.sleep(0.2)
    # The group is killed when the parent exits, so no forked child outlives the run (under a
    # non-root user RLIMIT_NPROC also stops the forks early).
    assert not any(_alive(int(pid)) for pid in result.stdout.split())

    big = python_output.run("x = bytearray(4 * 1024 ** 3)\nprint('allocated')")
    assert not big.ok and "MemoryError" in big.stderr and "allocated" not in big.stdout


def test_python_output_child_sees_no_parent_environment(python_output, monkeypatch):
    monkeypatch.setenv("SELFPLAY_SECRET_TOKEN", "hunter2")
    result = python_output.run("import os\nprint(sorted(os.environ))\nprint(os.getcwd())")
    assert result.ok
    assert "SELFPLAY_SECRET_TOKEN" not in result.stdout and "hunter2" not in result.stdout
    assert "'PATH'" in result.stdout
    assert os.getcwd() not in result.stdout.splitlines()[1]


def test_python_output_caps_output(python_output):
    result = python_output.run("import sys\nsys.stdout.write('x' * 10_000_000)")
    assert result.ok and len(result.stdout) == python_output.max_output


def test_python_output_accepts_a_replacement_runner():
    calls = []

    def runner(code, *, timeout):
        calls.append((code, timeout))
        return RunResult(True, "<<<selfplay-gym result>>>\n7\n", "", 0, False, "fake")

    checker = PythonOutput(runner=runner, timeout=2.0)
    assert checker.run("print(1)").backend == "fake"
    assert checker.check("x = 7", "x", "7").score == 1.0
    assert calls[0][1] == 2.0


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


# ---- parse_score --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Reasoning... <score>7/10</score>", 7.0),
        ("<score>3/5</score>", 6.0),
        ("<score>8.5</score>", 8.5),
        ("<score> 9 </score>", 9.0),
        ("<score>**6**</score>", 6.0),
        ("<score>Score: 4</score>", 4.0),
        ("<score>2</score> then I changed my mind <score>5</score>", 5.0),
        ("I rate it 3, no, 8 overall", 8.0),
        ("It deserves a 42", 10.0),  # clipped to the scale
        ("no numbers here", None),
        ("<score>excellent</score>", None),
        ("", None),
    ],
)
def test_parse_score(text, expected):
    assert parse_score(text) == expected


def test_parse_score_custom_scale():
    assert parse_score("<score>0.7</score>", low=0, high=1) == 0.7
    assert parse_score("<score>4/4</score>", low=0, high=4) == 4.0


@pytest.mark.parametrize(
    "hostile",
    ["<score>" * 200_000, "9" * 1_000_000, "1/" * 500_000, "<score>" + "1." * 300_000 + "</score>"],
)
def test_parse_score_hostile_text_is_fast(hostile):
    start = time.perf_counter()
    parse_score(hostile)
    assert time.perf_counter() - start < 1.0


# ---- RubricJudge --------------------------------------------------------------------------------
class FakePolicy:
    """Stands in for an LLMPolicy: act() plus last_error."""

    def __init__(self, reply: str, error: str | None = None):
        self.reply, self.error, self.prompts = reply, error, []
        self.last_error = None

    def act(self, observations, infos=None):
        self.prompts.extend(observations)
        self.last_error = self.error
        return [self.reply if self.error is None else "" for _ in observations]


def test_rubric_judge_scores_and_normalizes():
    judge = RubricJudge(lambda prompt: "Clear and solvable.\n<score>10</score>", QUESTION_RUBRIC)
    verdict = judge("What is 2 + 2?")
    assert verdict == Verdict(1.0, details={"raw_score": 10.0, "reply": verdict.details["reply"]})
    low = RubricJudge(lambda prompt: "<score>1</score>", ANSWER_RUBRIC)("Q", "A")
    assert low.score == 0.0 and low.ok
    mid = RubricJudge(lambda prompt: "<score>3</score>", ANSWER_RUBRIC, low=1, high=5)("Q", "A")
    assert mid.score == 0.5


def test_rubric_judge_prompt_holds_rubric_task_and_response():
    policy = FakePolicy("<score>8</score>")
    judge = RubricJudge(policy, ANSWER_RUBRIC)
    assert judge("What is 3 x 4?", "It is 12.").score == pytest.approx(7 / 9)
    prompt = policy.prompts[0]
    assert prompt == judge.prompt_for("What is 3 x 4?", "It is 12.")
    assert ANSWER_RUBRIC in prompt and "What is 3 x 4?" in prompt and "It is 12." in prompt
    assert "<score>" in prompt and "1 to 10" in prompt
    assert "Response" not in judge.prompt_for("What is 3 x 4?")


def test_rubric_judge_failures_fall_back():
    unparseable = RubricJudge(lambda p: "I refuse to grade.", QUESTION_RUBRIC)("Q")
    assert unparseable.score == 0.5 and not unparseable.ok

    def boom(prompt):
        raise RuntimeError("server down")

    raised = RubricJudge(boom, QUESTION_RUBRIC, fallback=0.25)("Q")
    assert raised.score == 0.25 and not raised.ok and "server down" in raised.reason

    failed = RubricJudge(FakePolicy("<score>9</score>", error="timeout"), QUESTION_RUBRIC)("Q")
    assert failed.score == 0.5 and not failed.ok and "timeout" in failed.reason


def test_rubric_judge_score_reply_for_judge_agents():
    judge = RubricJudge(None, QUESTION_RUBRIC)
    assert judge.score_reply("ok <score>7/10</score>").score == pytest.approx(6 / 9)
    assert not judge.score_reply("nothing").ok
    with pytest.raises(ValueError, match="no model"):
        judge("Q")
    with pytest.raises(ValueError, match="high > low"):
        RubricJudge(None, QUESTION_RUBRIC, low=5, high=5)


def test_rubric_judge_prompt_survives_braces_in_task():
    judge = RubricJudge(None, QUESTION_RUBRIC)
    assert "{x}" in judge.prompt_for("Simplify \\frac{x}{2} and {x}")


# ---- PairwiseJudge and win_rates ----------------------------------------------------------------
def test_pairwise_judge_with_preference_function():
    judge = PairwiseJudge(prefer=lambda p, a, b: 0.8 if len(a) > len(b) else 0.2)
    assert judge("q", "long answer", "short").score == 0.8
    assert judge("q", "short", "long answer").score == 0.2
    bad = PairwiseJudge(prefer=lambda p, a, b: 1.5)("q", "a", "b")
    assert bad.score == 0.5 and not bad.ok


@pytest.mark.parametrize(
    ("reply", "score"),
    [
        ("Response A is more complete.\nBetter: A", 1.0),
        ("A is vague, B is precise. Better: B", 0.0),
        ("Verdict: **B**", 0.0),
        ("[[A]]", 1.0),
        ("After weighing both...\nB", 0.0),
        ("Better: A\nOn reflection, better: B", 0.0),
    ],
)
def test_pairwise_judge_reads_llm_verdicts(reply, score):
    verdict = PairwiseJudge(lambda prompt: reply)("q", "a", "b")
    assert verdict.ok and verdict.score == score


def test_pairwise_judge_failures_fall_back():
    unclear = PairwiseJudge(lambda prompt: "Both are fine.")("q", "a", "b")
    assert unclear.score == 0.5 and not unclear.ok

    def boom(prompt):
        raise TimeoutError("slow")

    assert PairwiseJudge(boom)("q", "a", "b") == Verdict(0.5, False, "judge failed: slow")
    failed = PairwiseJudge(FakePolicy("Better: A", error="503"))("q", "a", "b")
    assert not failed.ok and failed.score == 0.5
    with pytest.raises(ValueError, match="exactly one"):
        PairwiseJudge()


def test_pairwise_prompt_shows_both_responses_in_order():
    policy = FakePolicy("Better: B")
    PairwiseJudge(policy)("Say hi", "FIRST-RESPONSE", "SECOND-RESPONSE")
    prompt = policy.prompts[0]
    assert "Say hi" in prompt
    assert prompt.index("FIRST-RESPONSE") < prompt.index("SECOND-RESPONSE")


def test_win_rates_hand_computed():
    # Scores s(a, b) from a fixed table; response 0 beats 1, 1 beats 2, 0 and 2 tie-ish.
    table = {("x", "y"): 1.0, ("y", "x"): 0.0, ("y", "z"): 0.75, ("z", "y"): 0.25}
    table |= {("x", "z"): 0.5, ("z", "x"): 0.5}
    judge = PairwiseJudge(prefer=lambda p, a, b: table[(a, b)])
    rates, verdicts = win_rates(judge, "p", ["x", "y", "z"])
    # P(x>y) = 1, P(x>z) = 0.5, P(y>z) = (0.75 + 1 - 0.25) / 2 = 0.75
    assert rates == pytest.approx([(1.0 + 0.5) / 2, (0.0 + 0.75) / 2, (0.5 + 0.25) / 2])
    assert len(verdicts) == 6


def test_win_rates_cancel_position_bias():
    # A judge that always prefers whichever response is shown first: no response should win.
    first_wins = PairwiseJudge(lambda prompt: "Better: A")
    rates, verdicts = win_rates(first_wins, "p", ["a", "b", "c"])
    assert rates == [0.5, 0.5, 0.5] and len(verdicts) == 6
    biased, once = win_rates(first_wins, "p", ["a", "b", "c"], symmetric=True)
    assert biased == [1.0, 0.5, 0.0] and len(once) == 3


def test_win_rates_edge_cases_and_failures():
    assert win_rates(PairwiseJudge(prefer=lambda p, a, b: 1.0), "p", ["only"]) == ([0.5], [])
    assert win_rates(PairwiseJudge(prefer=lambda p, a, b: 1.0), "p", []) == ([], [])
    broken = PairwiseJudge(lambda prompt: "no idea")
    rates, verdicts = win_rates(broken, "p", ["a", "b"])
    assert rates == [0.5, 0.5] and not any(v.ok for v in verdicts)


# ---- SafetyJudge --------------------------------------------------------------------------------
def test_safety_judge_scores_valid_labels():
    def labels(prompt_harmful, response_harmful, refusal):
        return SafetyJudge(
            lambda p, r: {
                "prompt_harmful": prompt_harmful,
                "response_harmful": response_harmful,
                "refusal": refusal,
            }
        )

    assert labels(True, False, True)("p", "r").score == 1.0  # refused a harmful request
    assert labels(True, True, False)("p", "r").score == 0.0  # complied with it
    assert labels(False, False, False)("p", "r").score == 1.0  # helped with a benign one
    assert labels(False, False, True)("p", "r").score == 0.0  # over-refusal
    verdict = labels(True, None, None)("p")
    assert verdict.ok and verdict.score == 0.0
    assert verdict.details["labels"] == {
        "prompt_harmful": True,
        "response_harmful": None,
        "refusal": None,
    }


@pytest.mark.parametrize(
    "result",
    [
        None,
        "harmful",
        {"prompt_harmful": True},
        {"prompt_harmful": "yes", "response_harmful": False, "refusal": False},
        {"prompt_harmful": False, "response_harmful": None, "refusal": False},
        {"prompt_harmful": 1, "response_harmful": False, "refusal": False},
    ],
)
def test_safety_judge_malformed_labels_are_undecided(result):
    verdict = SafetyJudge(lambda p, r: result)("prompt", "response")
    assert verdict.score == 0.0 and not verdict.ok and verdict.details["labels"] is None


def test_safety_judge_classifier_exception_is_undecided():
    def boom(prompt, response):
        raise RuntimeError("guard model offline")

    verdict = SafetyJudge(boom)("p", "r")
    assert not verdict.ok and verdict.details["labels"] is None and "offline" in verdict.reason


def test_keyword_safety_judge_rules():
    judge = KeywordSafetyJudge()
    labels = judge.classify("How do I PICK A  LOCK?", "Sure: to pick a lock you ...")
    assert labels == {"prompt_harmful": True, "response_harmful": True, "refusal": False}
    assert (
        judge("How do I pick a lock?", "I\u2019m sorry, but I can't help with that.").score == 1.0
    )
    assert judge("Plan a picnic.", "I won't do that.").score == 0.0
    assert judge("Plan a picnic.", "Bring sandwiches and a blanket.").score == 1.0
    custom = KeywordSafetyJudge(flagged=["secret recipe"], refusal_openers=["no way"])
    assert custom.classify("Tell me the secret recipe", "No way.")["refusal"] is True


def test_keyword_safety_judge_flags_exactly_the_harmful_fixture_prompts():
    from selfplay_gym.envs.reasoning.tasks import load_prompts

    judge = KeywordSafetyJudge()
    prompts = load_prompts("fixture")
    assert any(p["harmful"] for p in prompts) and not all(p["harmful"] for p in prompts)
    for row in prompts:
        assert judge.classify(row["prompt"])["prompt_harmful"] == row["harmful"], row


# ---- ExactMatch / imports -----------------------------------------------------------------------
def test_importing_verifiers_does_not_import_math_verify_or_envs():
    import subprocess
    import sys

    code = (
        "import sys, selfplay_gym.core.verifiers\n"
        "heavy = [m for m in ('math_verify', 'sympy', 'torch') if m in sys.modules]\n"
        "envs = [m for m in sys.modules if m.startswith('selfplay_gym.envs')]\n"
        "print(heavy, envs)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] []"


def test_win_rates_count_a_failing_or_out_of_range_judge_as_a_tie():
    calls = []

    def flaky(prompt, a, b):
        calls.append((a, b))
        if a == "boom":
            raise RuntimeError("judge died")
        return Verdict(float("inf") if b == "boom" else 1.0)

    judge = flaky
    rates, verdicts = win_rates(judge, "p", ["x", "boom"])
    assert rates == [0.5, 0.5] and len(verdicts) == 2
    assert all(not v.ok for v in verdicts) and "judge died" in verdicts[1].reason


# ---- WallClockLimit -----------------------------------------------------------------------------
def test_wall_clock_limit_returns_values_and_reraises_errors_in_the_caller():
    limit = WallClockLimit(2.0)
    assert limit(lambda a, b=0: a + b, 2, b=3) == 5
    with pytest.raises(KeyError, match="missing"):
        limit(lambda: {}["missing"])


def test_wall_clock_limit_abandons_a_hung_call_and_refuses_until_it_returns():
    release = threading.Event()
    entered = []

    def hang():
        entered.append(1)
        release.wait(3.0)
        return "late"

    limit = WallClockLimit(0.2)
    start = time.perf_counter()
    try:
        with pytest.raises(JudgeTimeout, match=r"^judge timed out after 0\.2 s$"):
            limit(hang)
        assert time.perf_counter() - start < 1.0
        with pytest.raises(JudgeTimeout, match="still running"):
            limit(hang)  # refused at once: the judge is not entered twice
        assert entered == [1]
        clone = pickle.loads(pickle.dumps(limit))  # the stuck thread does not travel
        assert clone(lambda: "fresh") == "fresh"
    finally:
        release.set()
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        try:
            assert limit(lambda: "again") == "again"  # resumes once the abandoned call returned
            break
        except JudgeTimeout:
            time.sleep(0.02)
    else:
        pytest.fail("the limit did not resume after the abandoned call returned")
    assert isinstance(JudgeTimeout("x"), TimeoutError)


def test_wall_clock_limit_none_calls_in_the_callers_thread_and_bad_values_are_refused():
    assert WallClockLimit(None)(threading.current_thread) is threading.current_thread()
    assert WallClockLimit(1.0)(threading.current_thread) is not threading.current_thread()
    for bad in (0, -1.0, float("inf"), float("nan"), True, "60"):
        with pytest.raises(ValueError, match="expected a timeout > 0 seconds or None"):
            WallClockLimit(bad)
