"""AZR code reasoning (selfplay/CodeReasoning-v0): validity rules, safe comparison, every reward, episodes.

Code runs in the real sandbox (a SnippetRunner fork server); the module skips when no isolating
backend (bwrap or unshare) is usable here.
"""

from __future__ import annotations

import os
import pickle
import time
import uuid
from pathlib import Path

import pytest

import selfplay_gym
from selfplay_gym.envs.code_reasoning import (
    AZRComposite,
    CodeReasoningEnv,
    CodeRewards,
    ScriptedCodePlayer,
)
from selfplay_gym.envs.code_reasoning.tasks import (
    answer_body,
    call_ok,
    fenced_blocks,
    literal_equal,
    run_calls,
    shared_runner,
    static_checks,
)


def _backend_problem() -> str | None:
    try:
        from selfplay_gym.sandbox import SnippetRunner, available_backends  # noqa: F401
    except ImportError as exc:
        return f"selfplay_gym.sandbox is not importable: {exc}"
    usable = [b for b in available_backends() if b != "unsafe"]
    if not usable:
        return "no isolating sandbox backend (bwrap, unshare) is usable here"
    return None


_PROBLEM = _backend_problem()
needs_sandbox = pytest.mark.skipif(_PROBLEM is not None, reason=_PROBLEM or "")

N = 8
DOUBLE = "def f(a):\n    return a * 2"


def marker_path() -> Path:
    return Path("/tmp") / f"selfplay-pwned-{uuid.uuid4().hex}"


def proposal(program: str | None, *inputs: str, message: str | None = None) -> str:
    parts = ["<think>a puzzle</think><answer>"]
    if program is not None:
        parts.append(f"```python\n{program}\n```\n")
    parts += [f"```input\n{i}\n```\n" for i in inputs]
    if message is not None:
        parts.append(f"```message\n{message}\n```\n")
    return "".join(parts) + "</answer>"


def reply(tag: str, body: str) -> str:
    return f"<think>hm</think><answer>```{tag}\n{body}\n```</answer>"


def run(env, proposer_reply, solver_replies=(), seed=0, options=None):
    """One episode; returns (returns by agent, final info by agent)."""
    env.reset(seed=seed, options=options)
    if isinstance(solver_replies, str):
        solver_replies = [solver_replies] * env.num_solvers
    queue = list(solver_replies)
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
        elif info["role"] == "proposer":
            env.step(proposer_reply)
        else:
            env.step(queue.pop(0))
    return returns, final


def make(task_type: str = "deduction", **kwargs) -> CodeReasoningEnv:
    kwargs.setdefault("timeout_s", 2.0)
    return CodeReasoningEnv(task_types=(task_type,), **kwargs)


# ---- reading and static rules (no sandbox) -----------------------------------------------------
def test_answer_body_and_blocks():
    text = "<answer>```python\nold\n```</answer> <answer>```python\ndef f(a): pass\n```"
    assert fenced_blocks(answer_body(text)) == [("python", "def f(a): pass\n")]
    assert fenced_blocks("```input\n1\n") == []  # unclosed
    assert fenced_blocks("```1, 2```") == [("", "1, 2")]


def test_block_scan_is_linear():
    def best(text):
        t = time.perf_counter()
        fenced_blocks(answer_body(text))
        return time.perf_counter() - t

    small, large = "```" * 20_000 + "<answer>" * 20_000, "```" * 80_000 + "<answer>" * 80_000
    assert min(best(large) for _ in range(3)) / max(min(best(small) for _ in range(3)), 1e-6) < 12


@pytest.mark.parametrize(
    ("program", "failed"),
    [
        ("def f(a)\n    return a", "parses"),
        ("def f(a):\n    return a\n\ndef g(b):\n    return b", "one_function_f"),
        ("def g(a):\n    return a", "one_function_f"),
        ("async def f(a):\n    return a", "one_function_f"),
        ("def f(a):\n    return a\nprint(f(1))", "one_function_f"),
        ("def f(a):\n    return a\nimport math", "imports_at_top"),
        ("import random\ndef f(a):\n    return random.random()", "no_banned_imports"),
        ("from datetime import date\ndef f(a):\n    return a", "no_banned_imports"),
        ("from os import environ\ndef f(a):\n    return a", "no_banned_imports"),
        ("import os\ndef f(a):\n    return os.path.join(a, 'b')", "no_banned_imports"),
        ("import sys\ndef f(a):\n    sys.exit(0)", "no_banned_imports"),
        ("import logging.handlers\ndef f(a):\n    return a", "no_banned_imports"),
        (
            "def f(a):\n    __import__('os').system('touch /tmp/pwned')\n    return a",
            "no_dynamic_imports",
        ),
        (
            "import importlib\ndef f(a):\n    return importlib.import_module('os')",
            "no_dynamic_imports",
        ),
        ("def f(a):\n    return eval('1 + 1')", "no_dynamic_imports"),
        ("def f(a):\n    return __builtins__", "no_dynamic_imports"),
        ("from . import x\ndef f(a):\n    return a", "no_dynamic_imports"),
    ],
)
def test_each_static_rule_has_a_failing_case(program, failed):
    checks = static_checks(program)
    assert checks[failed] is False
    assert [k for k, ok in checks.items() if not ok] == [failed]


def test_static_rules_accept_azr_style_programs():
    program = 'import math\nfrom collections import Counter\n"""doc"""\nK = 3\ndef f(a, b=2):\n    return math.gcd(a, b) + K'
    assert all(static_checks(program).values())
    assert static_checks("x" * 9000) == {"parses": False}
    assert static_checks("(" * 500 + ")" * 500) == {"parses": False}  # nesting limit, no crash


def test_inputs_must_be_the_arguments_of_one_call():
    assert call_ok("'Hello world'") and call_ok("[1, 2], k=3") and call_ok("1 # comment")
    for bad in ("1) or (2", "1)(2", "", "x := 1", "(yield 1)", "lambda: 1", "1" * 3000):
        assert not call_ok(bad), bad


def test_literal_comparison_never_runs_code():
    assert literal_equal("[1, 2]", "[1,2]") and literal_equal("{'a': (1, 2)}", '{"a": (1, 2)}')
    assert literal_equal("set()", "set()") and not literal_equal("1", "2")
    assert literal_equal("f(x)", " f(x) ")  # not literals: normalised text
    marker = marker_path()
    hostile = f"__import__('os').system('touch {marker}')"
    assert not literal_equal(hostile, "0")
    assert not literal_equal("[" * 100_000, "[1]") and not literal_equal("9" * 5000, "9" * 5000)
    assert not marker.exists()


def test_azr_composite_rule_on_hand_computed_cases():
    rule = AZRComposite()
    assert rule(0.0) == {"no_signal": -0.5} and rule(1.0) == {"no_signal": -0.5}
    assert rule(0.375) == {"learnability": 0.625} and rule.invalid_reward == -1.0
    assert AZRComposite(no_signal=0.0, invalid=-2.0)(1.0) == {"no_signal": 0.0}
    with pytest.raises(ValueError):
        rule(1.5)


def test_constructor_rejects_bad_arguments():
    for kwargs in (
        {"task_types": ("poetry",)},
        {"task_types": ()},
        {"sandbox": "docker"},
        {"sandbox": 42},
        {"num_inputs": 1},
        {"num_visible": 10},
        {"induction_source": "web"},
        {"timeout_s": 0},
    ):
        with pytest.raises((ValueError, TypeError)):
            CodeReasoningEnv(**kwargs)


def test_reset_needs_no_sandbox_and_the_env_pickles_without_one():
    env = CodeReasoningEnv(sandbox="unshare")
    env.reset(seed=3)
    info = env.infos["proposer_0"]
    assert info["sandbox"] is None and info["task_type"] in ("deduction", "abduction", "induction")
    assert "Hello world" in env.observe("proposer_0")  # the seed triplet is a reference
    clone = pickle.loads(pickle.dumps(env))
    assert clone.observe("proposer_0") == env.observe("proposer_0")
    with pytest.raises(ValueError):
        env.reset(options={"task_type": "poetry"})


# ---- validity through the sandbox -------------------------------------------------------------------
@needs_sandbox
@pytest.mark.parametrize(
    ("program", "inputs", "failed"),
    [
        (DOUBLE, ["1) or (2"], "inputs_parse"),
        ("def f(a):\n    return 1 // a", ["0"], "runs"),
        ("def f(a):\n    while True:\n        pass", ["1"], "runs"),
        ("def f(a):\n    return 'x' * 5000", ["1"], "output_size"),
        ("import os\ndef f(a):\n    return os.urandom(8).hex()", ["1"], "deterministic"),
        (
            "def f(a):\n    return list({'apple', 'pear', 'fig', 'kiwi', 'lime', 'plum', 'date', 'yam', 'nut', 'oat'})",
            ["1"],
            "deterministic",
        ),
        ("def f(a):\n    return range(a)", ["3"], "output_literal"),
        ("def f(a):\n    return float('nan')", ["1"], "output_literal"),
    ],
)
def test_each_run_rule_has_a_failing_case(program, inputs, failed):
    env = make(timeout_s=1.0)
    returns, final = run(env, proposal(program, *inputs))
    validity = final["proposer_0"]["validity"]
    assert validity[failed] is False
    assert [k for k, ok in validity.items() if not ok] == [failed]
    assert returns["proposer_0"] == -1.0
    assert final["proposer_0"]["reward_components"] == {"invalid_task": -1.0}
    assert all(returns[f"solver_{i}"] == 0.0 for i in range(N))


@needs_sandbox
def test_induction_needs_exactly_num_inputs():
    env = make("induction")
    returns, final = run(env, proposal(None, *[str(i) for i in range(9)], message="m"))
    assert final["proposer_0"]["validity"]["num_inputs"] is False
    assert returns["proposer_0"] == -1.0


@needs_sandbox
def test_unreadable_proposals_are_invalid():
    env = make()
    returns, final = run(env, "def f(a): return a  (no blocks)")
    assert final["proposer_0"]["validity"] == {"parsed": False}
    assert returns["proposer_0"] == -1.0
    env = make("induction")
    _, final = run(env, proposal(None, "1", "2"))  # no message block
    assert final["proposer_0"]["validity"] == {"parsed": False}


@needs_sandbox
def test_escape_attempts_are_rejected_and_confined():
    marker = marker_path()
    escape = f"def f(a):\n    __import__('os').system('touch {marker}')\n    return a"
    _, final = run(make(), proposal(escape, "1"))
    assert final["proposer_0"]["validity"]["no_dynamic_imports"] is False
    # AZR's list lets `import os` through; the program then runs -- confined by the sandbox.
    sneaky = (
        f"import os\ndef f(a):\n    os.system('touch {marker}')\n"
        "    open('/tmp/inside', 'w').write('x')\n    return a + 1"
    )
    returns, final = run(make(), proposal(sneaky, "1"), reply("output", "2"))
    assert final["proposer_0"]["task_valid"] is True and returns["solver_0"] == 1.0
    assert final["proposer_0"]["sandbox"] in ("bwrap", "unshare")
    assert not marker.exists() and not Path("/tmp/inside").exists()
    # writing to the host (outside the sandbox's own tmpfs) fails
    runner = shared_runner("auto")
    results, _ = run_calls(
        runner, f"def f(a):\n    open('{Path.cwd()}/pwned', 'w')\n    return a", ["1"]
    )
    assert results is not None and results[0][0] is False
    assert not (Path.cwd() / "pwned").exists()


# ---- solvers and rewards ------------------------------------------------------------------------------
@needs_sandbox
@pytest.mark.parametrize(("k", "proposer"), [(0, -0.5), (3, 0.625), (8, -0.5)])
def test_deduction_rewards_on_hand_computed_cases(k, proposer):
    replies = [
        reply("output", "[1, 2, 1, 2]") if i < k else reply("output", "[2, 4]") for i in range(N)
    ]
    returns, final = run(make(), proposal(DOUBLE, "[1, 2]"), replies)
    assert returns["proposer_0"] == pytest.approx(proposer)
    assert final["proposer_0"]["solve_rate"] == k / N
    key = "learnability" if 0 < k < N else "no_signal"
    assert final["proposer_0"]["reward_components"] == {key: pytest.approx(proposer)}
    for i in range(N):
        assert returns[f"solver_{i}"] == (1.0 if i < k else -0.5)
    assert final["proposer_0"]["reference"] == "[1, 2, 1, 2]"


@needs_sandbox
def test_solver_format_errors_cost_minus_one_and_count_as_wrong():
    replies = [
        reply("output", "[1, 2, 1, 2]"),
        "[1, 2, 1, 2]",  # a bare literal is an answer
        "I think it doubles the list",  # no block and no literal: format error
        "",
        reply("output", "x" * 5000),  # over max_answer_chars
        reply("output", "[1,2,1,2]"),
        reply("output", "(1, 2, 1, 2)"),  # a tuple is not the list
        reply("output", "[1, 2, 1, 2, ]"),
    ]
    returns, final = run(make(), proposal(DOUBLE, "[1, 2]"), replies)
    assert [returns[f"solver_{i}"] for i in range(N)] == [1, 1, -1, -1, -1, 1, -0.5, 1]
    assert final["solver_2"]["reward_components"] == {"format_error": -1.0}
    assert final["proposer_0"]["solve_rate"] == 4 / 8
    assert returns["proposer_0"] == pytest.approx(0.5)


@needs_sandbox
def test_hostile_deduction_predictions_are_never_evaluated_on_the_host():
    marker = marker_path()
    hostile = f"__import__('os').system('touch {marker}')"
    replies = [reply("output", hostile), hostile, reply("output", "[" * 3000)] + [
        reply("output", "2")
    ] * 5
    returns, final = run(make(), proposal(DOUBLE, "1"), replies)
    assert not marker.exists()
    assert returns["solver_0"] == -0.5  # a block that is no literal: compared as text, wrong
    assert returns["solver_1"] == -1.0  # bare and no literal: unreadable
    assert returns["solver_2"] == -0.5
    assert returns["proposer_0"] == pytest.approx(1 - 5 / 8)


@needs_sandbox
def test_abduction_runs_the_solvers_input_in_the_sandbox():
    program = "def f(a, b):\n    return (a % 3) + b"
    marker = marker_path()
    replies = [
        reply("input", "4, 1"),  # 1 + 1 = 2: right, though not the proposer's input
        reply("input", "2, 0"),  # 2: right
        reply("input", "0, 0"),  # wrong
        reply("input", "1) or (2"),  # not a call: format error
        reply("input", f"__import__('os').system('touch {marker}'), 0"),  # runs in the sandbox
        reply("input", "'a', 1"),  # raises in f: wrong
        "7, 1",  # bare call arguments
        reply("input", "b=0, a=2"),
    ]
    returns, final = run(make("abduction"), proposal(program, "1, 1"), replies)
    assert "Output: 2" in final["solver_0"]["messages"][1]["content"]
    assert "1, 1" not in final["solver_0"]["messages"][1]["content"]
    assert [returns[f"solver_{i}"] for i in range(N)] == [1, 1, -0.5, -1, -0.5, -0.5, 1, 1]
    assert not marker.exists()
    assert returns["proposer_0"] == pytest.approx(1 - 4 / 8)
    assert final["proposer_0"]["reference"] == "1, 1"


@needs_sandbox
def test_induction_is_checked_on_the_hidden_pairs_only():
    program = "def f(a):\n    return a * a"
    inputs = [str(i) for i in range(1, 11)]  # visible 1..5, hidden 6..10
    table = "{1: 1, 2: 4, 3: 9, 4: 16, 5: 25}"
    replies = [
        reply("python", "def f(x):\n    return x ** 2"),
        reply("python", f"def f(x):\n    return {table}[x]"),  # fits the visible pairs only
        reply("python", "import random\ndef f(x):\n    return x * x"),  # banned: format error
        reply("python", "def f(x):\n    return x * x + (x == 10)"),  # one hidden pair off
        "def f(x):\n    return x*x",  # bare program
        reply("python", "def f(x)\n    return x"),  # syntax: format error
        reply("python", "def f(x):\n    while True:\n        pass"),  # timeout: wrong
        reply("python", "def f(x):\n    return x * x"),
    ]
    env = make("induction", induction_source="proposer", timeout_s=1.0)
    returns, final = run(env, proposal(program, *inputs, message="squares"), replies)
    question = final["solver_0"]["messages"][1]["content"]
    assert "f(5) == 25" in question and "f(6)" not in question and "squares" in question
    assert [returns[f"solver_{i}"] for i in range(N)] == [1, -0.5, -1, -0.5, 1, -1, -0.5, 1]
    assert returns["proposer_0"] == pytest.approx(1 - 3 / 8)


@needs_sandbox
def test_induction_program_comes_from_the_buffer_by_default():
    env = make("induction")
    inputs = [repr(w) for w in "ab cd ef gh ij kl mn op qr st".split()]
    returns, final = run(
        env, proposal(None, *inputs, message="same"), reply("python", "def f(a):\n    return a")
    )
    assert (
        final["proposer_0"]["task_valid"]
        and final["proposer_0"]["reference"] == "def f(a):\n    return a"
    )
    assert returns["proposer_0"] == -0.5  # every solver right: no learning signal
    assert len(env.buffers["induction"]) == 2


@needs_sandbox
def test_reward_constants_are_configurable():
    rewards = CodeRewards(correct=2.0, wrong=0.0, format_error=-3.0, invalid=-4.0, no_signal=0.0)
    env = make(rewards=rewards)
    returns, _ = run(
        env, proposal(DOUBLE, "1"), [reply("output", "2"), "", *[reply("output", "3")] * 6]
    )
    assert returns["solver_0"] == 2.0 and returns["solver_1"] == -3.0 and returns["solver_2"] == 0.0
    returns, _ = run(env, "junk")
    assert returns["proposer_0"] == -4.0


@needs_sandbox
def test_valid_tasks_join_the_buffer_and_become_references():
    env = make()
    run(env, proposal("def f(a):\n    return a[::-1]", "'zyxwvut'"), reply("output", "'tuvwxyz'"))
    assert len(env.buffers["deduction"]) == 2
    env.reset(seed=1)
    assert "zyxwvut" in env.observe("proposer_0")
    clone = pickle.loads(pickle.dumps(env))
    assert len(clone.buffers["deduction"]) == 2


@needs_sandbox
def test_a_given_task_skips_the_proposer():
    env = make()
    task = {"type": "deduction", "program": DOUBLE, "input": "21"}
    returns, final = run(env, None, reply("output", "42"), options={"task": task})
    assert all(returns[f"solver_{i}"] == 1.0 for i in range(N)) and returns["proposer_0"] == 0.0
    with pytest.raises(ValueError, match="invalid"):
        env.reset(
            options={
                "task": {"type": "deduction", "program": "import time\n" + DOUBLE, "input": "1"}
            }
        )


# ---- scripted episodes ---------------------------------------------------------------------------------
@needs_sandbox
@pytest.mark.parametrize("task_type", ["deduction", "abduction", "induction"])
def test_scripted_players_produce_every_outcome(task_type):
    env = CodeReasoningEnv(task_types=(task_type,))
    bot = ScriptedCodePlayer(seed=1, mistakes=0.3)
    proposer, solver = set(), set()
    for seed in range(12):
        env.reset(seed=seed)
        while env.agents:
            agent = env.agent_selection
            _, reward, term, trunc, info = env.last()
            assert reward == pytest.approx(sum(info["reward_components"].values()))
            if term or trunc:
                (proposer if agent == "proposer_0" else solver).update(info["reward_components"])
                env.step(None)
            else:
                env.step(bot.act(env, agent))
    assert {"invalid_task"} < proposer and ({"learnability", "no_signal"} & proposer)
    assert {"correct", "wrong"} <= solver
    assert len(env.buffers[task_type]) > 1


@needs_sandbox
def test_registered_id_and_gymnasium_view():
    import gymnasium

    env = selfplay_gym.make("selfplay/CodeReasoning-v0")
    assert env.num_solvers == 8 and env.num_references == 6 and env.num_inputs == 10
    view = gymnasium.make("selfplay/CodeReasoning-v0")
    obs, info = view.reset(seed=0)
    assert info["role"] == "proposer"
    bot = ScriptedCodePlayer(seed=0, mistakes=0.0)
    _, reward, term, trunc, info = view.step(bot.act(view.unwrapped.aec_env, "proposer_0"))
    assert term and reward == pytest.approx(sum(info["reward_components"].values()))


def test_no_marker_left_behind():
    names = os.listdir("/tmp")
    assert not any(n.startswith("selfplay-pwned-") or n.startswith("pwned_by_") for n in names)


@needs_sandbox
def test_a_program_that_kills_the_fork_server_is_invalid_and_the_next_episode_runs():
    killer = "import os\nimport signal\ndef f(a):\n    os.kill(os.getppid(), signal.SIGKILL)\n    return a"
    env = make()
    returns, final = run(env, proposal(killer, "1"))
    assert final["proposer_0"]["validity"]["runs"] is False and returns["proposer_0"] == -1.0
    returns, final = run(env, proposal(DOUBLE, "4"), reply("output", "8"))
    assert final["proposer_0"]["task_valid"] and returns["solver_0"] == 1.0


@needs_sandbox
def test_a_runner_object_is_used_and_left_out_of_pickles():
    from selfplay_gym.sandbox import SnippetRunner

    with SnippetRunner("auto") as runner:
        env = make(sandbox=runner)
        returns, final = run(env, proposal(DOUBLE, "'ab'"), reply("output", "'abab'"))
        assert returns["solver_0"] == 1.0 and final["proposer_0"]["sandbox"] == runner.backend
        clone = pickle.loads(pickle.dumps(env))
        assert clone.sandbox == runner.backend


@needs_sandbox
def test_a_program_cannot_forge_its_outputs_by_rebinding_repr():
    forger = "def f(a):\n    return a * 3\n\n\nrepr = lambda value: '0'\nlen = lambda value: 0"
    returns, final = run(make(), proposal(forger, "2"), reply("output", "0"))
    assert final["proposer_0"]["reference"] == "6" and returns["solver_0"] == -0.5
