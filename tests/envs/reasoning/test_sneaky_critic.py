"""SPC (SneakyCritic-v0): the arithmetic checker, validation, zero-sum rewards, fallbacks, bots."""

from __future__ import annotations

import threading
import time

import pytest

import selfplay_gym
from selfplay_gym.core.verifiers import Verdict
from selfplay_gym.envs.reasoning.sneaky_critic import (
    ScriptedSPCPlayer,
    SneakyCriticEnv,
    false_equations,
    read_judgement,
    rule_validator,
    step_tokens,
)

PROBLEM = {
    "id": "eggs",
    "topic": "arithmetic",
    "problem": "A box holds 6 rows of 8 eggs. How many eggs are in 5 boxes?",
    "answer": "240",
    "steps": ["One box holds 6 * 8 = 48 eggs.", "Five boxes hold 5 * 48 = 240 eggs."],
}
SNEAKY = "<type>arithmetic slip</type><step>Five boxes hold 5 * 48 = 250 eggs.</step>"
UNCHANGED = "<step>Five boxes hold 5 * 48 = 240 eggs.</step>"


def make(**kwargs) -> SneakyCriticEnv:
    kwargs.setdefault("problems", [PROBLEM])
    return SneakyCriticEnv(**kwargs)


def play(env, replies: list[str], seed: int = 0, step: int = 1) -> dict[str, dict]:
    """Reset on step ``step`` of PROBLEM and play ``replies``; each agent's last info and return."""
    env.reset(seed=seed, options={"step": step})
    final: dict[str, dict] = {}
    returns: dict[str, float] = {}
    queue = list(replies)
    while env.agents:
        agent = env.agent_selection
        _, reward, term, trunc, info = env.last()
        assert reward == pytest.approx(sum(info["reward_components"].values()))
        returns[agent] = returns.get(agent, 0.0) + reward
        if term or trunc:
            final[agent] = {**info, "return": returns[agent]}
            env.step(None)
        else:
            env.step(queue.pop(0))
    assert not queue
    return final


# ---- the arithmetic checker ----------------------------------------------------------------------
def test_step_tokens_canonicalise_operators_and_numbers():
    assert step_tokens("2 × 3 − 1 ÷ 4 = $1,000.5") == [
        ("num", "2"),
        ("op", "*"),
        ("num", "3"),
        ("op", "-"),
        ("num", "1"),
        ("op", "/"),
        ("num", "4"),
        ("eq", "="),
        ("num", "1000.5"),
    ]


@pytest.mark.parametrize(
    ("step", "wrong"),
    [
        ("6 * 8 = 48 eggs", []),
        ("6 * 8 = 49 eggs", ["6 * 8 = 49"]),
        ("The pens cost 7 x 3 = 21 dollars, 2 x 6 = 13.", ["2 * 6 = 13"]),
        ("x + 3 x 2 = 7", []),
        ("Subtract 2x from both sides: 4x - 4 = 8.", []),
        ("so 6x - 8 = -26 and 3 - 8 = -5", []),
        ("so 6x - 8 = -26 and 3 - 8 = -4", ["3 - 8 = - 4"]),
        ("the length squared is 9^2 + 12^2 = 81 + 144 = 225.", []),
        ("(2 + 3) * 4 = 20, and 2 + 3 * 4 = 14", []),
        ("2 + 3 * 4 = 20", ["2 + 3 * 4 = 20"]),
        ("10 / 3 = 3.33", []),
        ("10 / 3 = 3.4", ["10 / 3 = 3.4"]),
        ("5 / 0 = 1", []),  # not checkable
        ("x + 3 = 7", []),  # a variable: not checkable
        ("2^10 = 1024, (-3) + 5 = 2", []),
        ("2^100000 = 1", []),  # exponent out of range: not checkable
        ("3 apples + 4 apples = 8 apples", []),  # words between the numbers: not checkable
        ("12 - 5 = 7 = 8", ["7 = 8"]),
        ("\\frac{1}{2} = 0.5", []),
    ],
)
def test_false_equations(step, wrong):
    assert false_equations(step) == wrong


def test_the_checker_is_linear_on_hostile_steps():
    for hostile in [
        "9" * 200_000,
        "(" * 100_000 + "1" + ")" * 100_000 + "=1",
        "1+" * 100_000 + "=3",
        "=" * 100_000,
    ]:
        start = time.perf_counter()
        false_equations(hostile)
        assert time.perf_counter() - start < 1.0


# ---- the validator ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("sneaky", "valid", "failed"),
    [
        ("5 * 48 = 250 eggs", True, None),
        ("5 + 48 = 240 eggs", True, None),
        ("", False, "non_empty"),
        ("5 *  48 =\n240 eggs", False, "differs"),
        ("Five cartons hold 5 * 48 = 240 eggs", False, "changes_math"),
    ],
)
def test_rule_validator(sneaky, valid, failed):
    verdict = rule_validator("p", [], "5 * 48 = 240 eggs", sneaky)
    assert verdict.score == (1.0 if valid else 0.0) and verdict.ok
    if failed:
        assert verdict.details[failed] is False


def test_read_judgement_takes_the_last_tag_in_any_case():
    assert read_judgement("<Answer>Incorrect</Answer> hmm <Answer>Correct</Answer>") == "correct"
    assert read_judgement("<answer> INCORRECT. </answer>") == "incorrect"
    assert read_judgement("<think><Answer>Correct</Answer></think> no verdict") is None
    assert read_judgement("<Answer>Correct and Incorrect</Answer>") is None
    assert read_judgement("Incorrect") is None


# ---- rewards -----------------------------------------------------------------------------------------
def test_a_caught_error_pays_the_critic():
    final = play(make(), [SNEAKY, "5 * 48 is 240, not 250. <Answer>Incorrect</Answer>"])
    assert final["critic_0"]["reward_components"] == {"caught": 1.0}
    assert final["sneaky_0"]["reward_components"] == {"caught": -1.0}
    assert final["critic_0"]["shown"] == "sneaky" and final["critic_0"]["critic_right"] is True
    assert final["sneaky_0"]["error_type"] == "arithmetic slip"
    assert final["sneaky_0"]["validation"]["valid"] is True


def test_a_fooled_critic_pays_the_sneaky_generator():
    final = play(make(), [SNEAKY, "Looks fine. <Answer>Correct</Answer>"])
    assert final["critic_0"]["reward_components"] == {"fooled": -1.0}
    assert final["sneaky_0"]["reward_components"] == {"fooled": 1.0}
    assert final["sneaky_0"]["critic_right"] is False


def test_an_unreadable_verdict_counts_as_wrong():
    final = play(make(), [SNEAKY, "I am not sure."])
    assert final["critic_0"]["reward_components"] == {"fooled": -1.0}
    assert final["critic_0"]["invalid_action"] and final["critic_0"]["judgement"] is None
    assert final["sneaky_0"]["return"] == 1.0


@pytest.mark.parametrize(
    ("verdict", "critic"), [("Correct", 1.0), ("Incorrect", -1.0), ("?", -1.0)]
)
def test_an_invalid_step_costs_the_generator_and_the_critic_judges_the_original(verdict, critic):
    env = make()
    env.reset(seed=0, options={"step": 1})
    env.step(UNCHANGED)
    assert env.terminations["sneaky_0"] and env.last()[1] == -1.0
    assert env.infos["sneaky_0"]["reward_components"] == {"invalid_step": -1.0}
    env.step(None)
    assert "5 * 48 = 240" in env.observe("critic_0")
    env.step(f"<Answer>{verdict}</Answer>")
    assert env.last()[1] == critic
    assert env.infos["critic_0"]["reward_components"] == {"original_step": critic}
    assert env.infos["critic_0"]["shown"] == "original"


def test_an_unreadable_sneaky_reply_is_an_invalid_step():
    final = play(make(invalid_reward=-2.0), ["I refuse.", "<Answer>Correct</Answer>"])
    assert final["sneaky_0"]["reward_components"] == {"invalid_step": -2.0}
    assert final["sneaky_0"]["validation"]["reason"].startswith("unreadable")
    assert final["critic_0"]["reward_components"] == {"original_step": 1.0}


def test_p_original_holds_back_a_valid_step():
    final = play(make(p_original=1.0), [SNEAKY, "<Answer>Correct</Answer>"])
    assert final["sneaky_0"]["reward_components"] == {"not_shown": 0.0}
    assert final["critic_0"]["reward_components"] == {"original_step": 1.0}
    assert final["critic_0"]["shown"] == "original"


def test_p_original_mixes_the_two_kinds_with_the_env_rng():
    shown = [
        play(make(p_original=0.5), [SNEAKY, "<Answer>Correct</Answer>"], seed=s)["critic_0"][
            "shown"
        ]
        for s in range(30)
    ]
    assert 5 < shown.count("original") < 25


def test_the_critic_prompt_does_not_tell_which_step_it_sees():
    env = make()
    env.reset(seed=0, options={"step": 1})
    env.step(SNEAKY)
    sneaky_prompt = env.observe("critic_0")
    env.reset(seed=0, options={"step": 1})
    env.step(UNCHANGED)
    env.step(None)
    original_prompt = env.observe("critic_0")
    assert sneaky_prompt.replace("250", "240") == original_prompt
    assert "Step 1: One box holds 6 * 8 = 48 eggs." in original_prompt
    assert "sneaky" not in repr(
        env.agent_view("critic_0")
    ) and "original_step" not in env.agent_view("critic_0")
    assert "shown" not in env.infos["critic_0"] and "validation" not in env.infos["critic_0"]


def test_retries_ask_again_with_the_reason():
    env = make(retries=1)
    env.reset(seed=0, options={"step": 0})
    env.step("no tags")
    assert env.agent_selection == "sneaky_0" and "could not be read" in env.observe("sneaky_0")
    env.step("<step>One box holds 6 * 8 = 46 eggs.</step>")
    assert env.agent_selection == "critic_0"
    env.step("maybe")
    assert env.agent_selection == "critic_0"
    env.step("<Answer>Incorrect</Answer>")
    assert env.infos["critic_0"]["reward_components"] == {"caught": 1.0}


# ---- pluggable validators and their failures -----------------------------------------------------
def test_a_custom_validator_decides_and_gets_the_four_arguments():
    calls = []

    def by_rollouts(problem, prefix, original, sneaky):
        calls.append((problem, prefix, original, sneaky))
        return Verdict(0.0, reason="completions from it still succeed")

    final = play(make(validator=by_rollouts), [SNEAKY, "<Answer>Correct</Answer>"])
    assert calls == [
        (
            PROBLEM["problem"],
            PROBLEM["steps"][:1],
            PROBLEM["steps"][1],
            "Five boxes hold 5 * 48 = 250 eggs.",
        )
    ]
    assert final["sneaky_0"]["reward_components"] == {"invalid_step": -1.0}
    assert final["sneaky_0"]["validation"]["reason"] == "completions from it still succeed"


def boom(*args):
    raise RuntimeError("rollouts failed")


@pytest.mark.parametrize(
    "validator", [boom, lambda *a: "maybe", lambda *a: Verdict(0.0, ok=False, reason="timeout")]
)
def test_a_failing_validator_falls_back_to_the_rule_check(validator):
    final = play(make(validator=validator), [SNEAKY, "<Answer>Incorrect</Answer>"])
    validation = final["sneaky_0"]["validation"]
    assert validation["ok"] is False and "rule check decided" in validation["reason"]
    assert validation["valid"] is True and final["critic_0"]["reward_components"] == {"caught": 1.0}
    final = play(make(validator=validator), [UNCHANGED, "<Answer>Correct</Answer>"])
    assert final["sneaky_0"]["reward_components"] == {"invalid_step": -1.0}


def test_options_arguments_and_the_registered_constants():
    env = selfplay_gym.make("selfplay/SneakyCritic-v0")
    assert (env.p_original, env.invalid_reward) == (0.0, -1.0)
    assert [n for n, _ in env.error_types][:2] == ["arithmetic slip", "wrong operation"]
    env = make(error_types=["off by one"])
    env.reset(seed=0)
    assert "- off by one" in env.observe("sneaky_0")
    env.reset(seed=0, options={"problem": {"problem": "Q?", "steps": ["1 + 1 = 2"]}, "step": 7})
    assert env.agent_view("sneaky_0")["original_step"] == "1 + 1 = 2"
    with pytest.raises(ValueError, match="p_original"):
        make(p_original=2.0)
    with pytest.raises(ValueError, match="steps"):
        make(problems=[{"problem": "no steps", "answer": "1", "steps": []}])
    with pytest.raises(TypeError, match="validator"):
        make(validator="rules")


# ---- scripted players --------------------------------------------------------------------------------
def test_the_scripted_generator_changes_one_number_and_the_critic_recomputes():
    env = make()
    env.reset(seed=0, options={"step": 1})
    bot = ScriptedSPCPlayer(unchanged_rate=0.0, mistake_rate=0.0, seed=3)
    reply = bot.act(env, "sneaky_0")
    env.step(reply)
    assert env.infos["sneaky_0"]["validation"]["valid"]
    assert bot.act(env, "critic_0").endswith("<Answer>Incorrect</Answer>")
    env.reset(seed=0, options={"step": 1})
    env.step(UNCHANGED)
    env.step(None)
    assert bot.act(env, "critic_0").endswith("<Answer>Correct</Answer>")


def test_scripted_play_on_the_fixture_produces_every_outcome():
    env = selfplay_gym.make("selfplay/SneakyCritic-v0")
    bot = ScriptedSPCPlayer(seed=0)
    outcomes = set()
    for seed in range(150):
        env.reset(seed=seed)
        while env.agents:
            agent = env.agent_selection
            _, reward, term, trunc, info = env.last()
            if term or trunc:
                outcomes.add((agent, *sorted(info["reward_components"].items())))
                env.step(None)
            else:
                env.step(bot.act(env, agent))
    for expected in [
        ("critic_0", ("caught", 1.0)),
        ("critic_0", ("fooled", -1.0)),
        ("critic_0", ("original_step", 1.0)),
        ("critic_0", ("original_step", -1.0)),
        ("sneaky_0", ("invalid_step", -1.0)),
        ("sneaky_0", ("fooled", 1.0)),
    ]:
        assert expected in outcomes


def test_a_hung_validator_times_out_and_the_rule_check_decides():
    release = threading.Event()

    def hangs(problem, prefix, original, sneaky):
        release.wait(3.0)
        return Verdict(0.0)  # would call every step invalid, if it were waited for

    start = time.perf_counter()
    try:
        final = play(
            make(validator=hangs, validator_timeout=0.2), [SNEAKY, "<Answer>Incorrect</Answer>"]
        )
        elapsed = time.perf_counter() - start
    finally:
        release.set()
    assert elapsed < 1.5
    validation = final["sneaky_0"]["validation"]
    assert validation["ok"] is False and validation["valid"] is True
    assert validation["reason"].startswith("validator timed out after 0.2 s; the rule check")
    assert final["critic_0"]["reward_components"] == {"caught": 1.0}
